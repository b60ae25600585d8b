"""One point per distinct vector in the searched vector index, and which records share it.

Records whose texts are the same get the same vector (the vector cache embeds each text once), and real traces
repeat themselves: in the demo's support trace 143 of 429 spans share one vector. An HNSW graph holding many
identical points cannot link them all (each point keeps at most 2*M links, and ties break arbitrarily), so
some points are left with no link pointing at them: readable by id, never returned by a query (issue 16). So
the searched collection (`vectors_<kind>`) holds each distinct vector once, keyed by `content_key` (a hash of
the texts the vector is made of: the same texts, the same vector), and this table maps every record id to its
key: a query finds keys and expands them to the records sharing them. The key is not a hash of the vector's
bytes: Chroma gives back a cosine collection's vectors re-normalised, a few differing in the last bit. The records collection keeps every record with its own vector and JSON, the durable copy
this table is rebuilt from (`store_sync.sync_vectors`); it lives in the keyword-index file.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

_CHUNK = 500


def content_key(parts: list[list[str]]) -> str:
    """The key of the vector made of these groups of texts (`store_writer.combine`)."""
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()[:32]


class VectorKeys:
    """Record id -> vector key, for one kind of record; safe to share between threads."""

    def __init__(self, path: Path, name: str) -> None:
        if not re.fullmatch(r"[a-z_]+", name):
            raise ValueError(f"bad table name {name!r}")
        path.parent.mkdir(parents=True, exist_ok=True)
        self._t = f"{name}_vector_keys"
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(
            f"""
            CREATE TABLE IF NOT EXISTS {self._t} (id TEXT PRIMARY KEY, vkey TEXT NOT NULL);
            CREATE INDEX IF NOT EXISTS {self._t}_vkey ON {self._t}(vkey);
            """
        )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def count(self) -> int:
        with self._lock:
            return self._db.execute(f"SELECT count(*) FROM {self._t}").fetchone()[0]

    def all_ids(self) -> set[str]:
        with self._lock:
            return {row[0] for row in self._db.execute(f"SELECT id FROM {self._t}")}

    def all_keys(self) -> set[str]:
        with self._lock:
            return {row[0] for row in self._db.execute(f"SELECT DISTINCT vkey FROM {self._t}")}

    def add(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Map (record id, vector key) pairs; an id mapped before takes the new key."""
        rows = list(pairs)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(f"INSERT OR REPLACE INTO {self._t} (id, vkey) VALUES (?, ?)", rows)
            self._db.execute("COMMIT")

    def remove(self, ids: Iterable[str]) -> None:
        rows = [(i,) for i in ids]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(f"DELETE FROM {self._t} WHERE id = ?", rows)
            self._db.execute("COMMIT")

    def _select(self, column: str, values: Sequence[str]) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        with self._lock:
            for start in range(0, len(values), _CHUNK):
                chunk = list(values[start : start + _CHUNK])
                marks = ",".join("?" * len(chunk))
                sql = f"SELECT id, vkey FROM {self._t} WHERE {column} IN ({marks}) ORDER BY id"
                out += self._db.execute(sql, chunk).fetchall()
        return out

    def keys_of(self, ids: Sequence[str]) -> dict[str, str]:
        """The vector key of each of these ids that has one."""
        return dict(self._select("id", ids))

    def expand(self, vkeys: Sequence[str], limit: int) -> list[str]:
        """The record ids sharing these vector keys, key by key in the given order (ids in order within a
        key), at most `limit`."""
        by_key: dict[str, list[str]] = {}
        for record, vkey in self._select("vkey", list(dict.fromkeys(vkeys))):
            by_key.setdefault(vkey, []).append(record)
        out: list[str] = []
        for vkey in dict.fromkeys(vkeys):
            out += by_key.get(vkey, [])
            if len(out) >= limit:
                break
        return out[:limit]

    def unused(self, vkeys: Iterable[str]) -> list[str]:
        """Those of these vector keys no record maps to any more."""
        wanted = list(dict.fromkeys(vkeys))
        used = {vkey for _, vkey in self._select("vkey", wanted)}
        return [vkey for vkey in wanted if vkey not in used]
