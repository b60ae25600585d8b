"""Sentence vectors by content: every distinct text is embedded once, however many records render to it.

A table in an SQLite file (the store keeps it in its keyword-index file, so it lives and goes with the
store); keys are the SHA-256 of the embedder's identity and the text, so another model or another text
misses and nothing can go stale. Re-ingests, repeated prompts, tool calls and documents, the agent's own
similarity checks and eval runs all read it. Nothing is held in memory but the batch being looked up.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

Embed = Callable[[list[str]], np.ndarray]


def embedder_identity(embedder: Any) -> str:
    """A string that changes whenever the embedder would produce different vectors."""
    parts = [type(embedder).__module__, type(embedder).__name__]
    name = getattr(embedder, "name", None)
    if callable(name):
        parts.append(str(name()))
    graph = getattr(embedder, "graph_path", None)
    if graph is not None:
        parts.append(Path(graph).name)  # model-<weights sha>-g<builder version>.onnx
    else:
        get_config = getattr(embedder, "get_config", None)
        if callable(get_config):
            with contextlib.suppress(Exception):  # some functions cannot describe themselves
                parts.append(json.dumps(get_config(), sort_keys=True, default=str))
    return "|".join(parts)


class VectorCache:
    """Vectors of texts, memoised in an SQLite table; safe to share between threads."""

    def __init__(self, path: Path, identity: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.identity = identity
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, dim INTEGER, vec BLOB)")
        self.hits = 0
        self.misses = 0
        self.embed_s = 0.0  # time spent in the embedder itself

    def key(self, text: str) -> str:
        return hashlib.sha256(f"{self.identity}\0{text}".encode()).hexdigest()

    def _load(self, keys: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for key, dim, blob in self._db.execute(
                    f"SELECT key, dim, vec FROM vectors WHERE key IN ({marks})", chunk
                ):
                    found[key] = np.frombuffer(blob, dtype=np.float32, count=dim)
        return found

    def _save(self, rows: list[tuple[str, int, bytes]]) -> None:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany("INSERT OR IGNORE INTO vectors VALUES (?, ?, ?)", rows)
                self._db.execute("COMMIT")
            except sqlite3.OperationalError:  # read-only or busy: the cache only saves time
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")

    def embed(self, texts: Sequence[str], embed: Embed) -> np.ndarray:
        """Vectors of `texts` in order: each distinct text missing from the cache is embedded once."""
        texts = list(texts)
        keys = [self.key(t) for t in texts]
        distinct = list(dict.fromkeys(keys))
        found = self._load(distinct)
        todo = {k: t for k, t in zip(keys, texts, strict=True) if k not in found}
        self.misses += len(todo)
        self.hits += len(texts) - len(todo)
        if todo:
            started = time.perf_counter()
            vectors = np.asarray(embed(list(todo.values())), dtype=np.float32)
            self.embed_s += time.perf_counter() - started
            for key, vector in zip(todo, vectors, strict=True):
                found[key] = vector
            self._save([(k, int(v.shape[0]), v.tobytes()) for k, v in zip(todo, vectors, strict=True)])
        if not texts:
            return np.asarray(embed([]), dtype=np.float32)
        return np.stack([found[k] for k in keys]).astype(np.float32, copy=False)

    def size(self) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM vectors").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()
