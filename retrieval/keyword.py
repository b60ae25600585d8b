"""The keyword side of hybrid search: a persistent BM25 index (SQLite FTS5) with the store's filter columns.

The same table doubles as the filter index of the store (service, kind, models, trace, start time), so
filtered queries and listings by time never scan Chroma's metadata.

BM25 costs a few microseconds per matching row, so a query is planned from term document frequencies:
records holding every term are ranked first, then records holding any of the query's rarest terms (as
many as fit `scan_cap` matches together). Each BM25 pass scores at most `scan_cap` matches, the most
recently stored first, so a query of only very common words ranks among recent records.
"""

from __future__ import annotations

import contextlib
import functools
import re
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

from pydantic import BaseModel

from retrieval.keyword_tokens import identifier_terms, match_expression, quoted, tokens

__all__ = ["KeywordFilter", "KeywordIndex", "KeywordRow", "identifier_terms", "match_expression", "tokens"]

FILTER_COLUMNS = ("trace_id", "service", "kind", "model", "request_model", "response_model", "start_ts")
SCHEMA_VERSION = 3  # bump when tokenising changes: an index of another version is dropped and rebuilt


@functools.lru_cache(maxsize=2048)  # lines of <= 2,000 characters: a few MB at most
def _line_terms(line: str) -> str:
    return " ".join(tokens(line))


def _indexed(text: str) -> str:
    """The index terms of a text, line by line: a line repeated across records (a system prompt, a tool's
    description) is tokenised once. Lines split where words split anyway, so the terms are the same."""
    return " ".join(
        _line_terms(line) if len(line) <= 2000 else " ".join(tokens(line)) for line in text.split("\n")
    )


class KeywordRow(BaseModel):
    id: str
    key: str  # identifiers, names, errors: weighted higher
    body: str  # free text
    trace_id: str | None = None
    service: str | None = None
    kind: str | None = None
    model: str | None = None
    request_model: str | None = None
    response_model: str | None = None
    start_ts: float | None = None


class KeywordFilter(BaseModel):
    service: str | None = None
    kind: str | None = None
    model: str | None = None  # matches served, requested or response model
    trace_id: str | None = None
    start_ts: float | None = None  # inclusive lower bound on start_ts
    end_ts: float | None = None  # inclusive upper bound on start_ts

    @property
    def empty(self) -> bool:
        return all(v is None for v in self.model_dump().values())

    def sql(self, use_indexes: bool = True) -> tuple[str, list[object]]:
        """A WHERE clause over table alias `r`. use_indexes=False marks the columns with unary `+` so
        SQLite looks rows up by another constraint (an id list) instead of scanning a filter index."""
        c = "r." if use_indexes else "+r."
        clauses: list[str] = []
        args: list[object] = []
        for column in ("service", "kind", "trace_id"):
            value = getattr(self, column)
            if value is not None:
                clauses.append(f"{c}{column} = ?")
                args.append(value)
        if self.model is not None:  # served else requested, or requested: a served model is always in `model`
            clauses.append(f"({c}model = ? OR {c}request_model = ?)")
            args += [self.model] * 2
        if self.start_ts is not None:
            clauses.append(f"{c}start_ts >= ?")
            args.append(self.start_ts)
        if self.end_ts is not None:
            clauses.append(f"{c}start_ts <= ?")
            args.append(self.end_ts)
        return (" AND ".join(clauses) or "1"), args


class KeywordIndex:
    """One named BM25 + filter index in an SQLite file; safe to share between threads."""

    def __init__(self, path: Path, name: str, scan_cap: int = 2000) -> None:
        if not re.fullmatch(r"[a-z_]+", name):
            raise ValueError(f"bad index name {name!r}")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.scan_cap = scan_cap
        self._t = name
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA cache_size=-16000")  # 16 MB of page cache (mmap would add to RSS)
        self._create()

    def _create(self) -> None:
        t = self._t
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        exists = self._db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (t,)).fetchone()
        if exists and version != SCHEMA_VERSION:  # built by another tokeniser: drop, the store re-syncs it
            self._db.executescript(
                f"DROP TABLE IF EXISTS {t}_vocab; DROP TABLE IF EXISTS {t}_df; DROP TABLE IF EXISTS {t}_fts; DROP TABLE {t};"
                f" DROP TABLE IF EXISTS {t}_pending;"
            )
        cols = ", ".join(f"{c} {'REAL' if c == 'start_ts' else 'TEXT'}" for c in FILTER_COLUMNS)
        # Rows are never re-numbered (AUTOINCREMENT): an orphaned FTS entry can never point at a new row.
        self._db.executescript(
            f"""
            CREATE TABLE IF NOT EXISTS {t} (rid INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, {cols});
            CREATE INDEX IF NOT EXISTS {t}_trace ON {t}(trace_id);
            CREATE INDEX IF NOT EXISTS {t}_service ON {t}(service, kind, start_ts);
            CREATE INDEX IF NOT EXISTS {t}_kind ON {t}(kind, start_ts);
            CREATE INDEX IF NOT EXISTS {t}_model ON {t}(model, start_ts);
            CREATE INDEX IF NOT EXISTS {t}_request_model ON {t}(request_model, start_ts);
            CREATE INDEX IF NOT EXISTS {t}_start ON {t}(start_ts);
            CREATE VIRTUAL TABLE IF NOT EXISTS {t}_fts USING fts5(
                key, body, content='', tokenize="unicode61 remove_diacritics 2 tokenchars '_'");
            CREATE VIRTUAL TABLE IF NOT EXISTS {t}_vocab USING fts5vocab({t}_fts, row);
            CREATE TABLE IF NOT EXISTS {t}_df (term TEXT PRIMARY KEY, doc INTEGER, at_rows INTEGER);
            CREATE TABLE IF NOT EXISTS {t}_pending (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, json TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS {t}_stamps (id TEXT PRIMARY KEY, at REAL NOT NULL);
            CREATE TABLE IF NOT EXISTS keyword_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            PRAGMA user_version = {SCHEMA_VERSION};
            """
        )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def size(self) -> int:
        """About how many records are indexed (instant: the highest row number)."""
        with self._lock:
            return self._db.execute(f"SELECT max(rid) FROM {self._t}").fetchone()[0] or 0

    def count(self, filters: KeywordFilter | None = None) -> int:
        where, args = (filters or KeywordFilter()).sql()
        with self._lock:
            return self._db.execute(f"SELECT count(*) FROM {self._t} r WHERE {where}", args).fetchone()[0]

    def existing(self, ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        with self._lock:
            for i in range(0, len(ids), 500):
                chunk = list(ids[i : i + 500])
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(f"SELECT id FROM {self._t} WHERE id IN ({marks})", chunk)
                found.update(r[0] for r in rows)
        return found

    def all_ids(self) -> set[str]:
        with self._lock:
            return {r[0] for r in self._db.execute(f"SELECT id FROM {self._t}")}

    def add(self, rows: Iterable[KeywordRow], records: dict[str, str] | None = None) -> int:
        """Add rows whose id is not indexed yet (one transaction); returns how many were added.

        `records` (id -> JSON) queues the added rows' records for their vectors in the same transaction
        (see `pending`): a record is keyword-searchable and readable at once, its vector follows."""
        added = 0
        t = self._t
        insert_row = (
            f"INSERT OR IGNORE INTO {t} (id, {', '.join(FILTER_COLUMNS)}) "
            f"VALUES (?, {', '.join('?' * len(FILTER_COLUMNS))})"
        )
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for row in rows:
                    cur = self._db.execute(insert_row, [row.id, *(getattr(row, c) for c in FILTER_COLUMNS)])
                    if cur.rowcount:
                        self._db.execute(
                            f"INSERT INTO {t}_fts (rowid, key, body) VALUES (?, ?, ?)",
                            (cur.lastrowid, _indexed(row.key), _indexed(row.body)),
                        )
                        added += 1
                        if records is not None and row.id in records:
                            self._db.execute(
                                f"INSERT OR IGNORE INTO {t}_pending (id, json) VALUES (?, ?)",
                                (row.id, records[row.id]),
                            )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return added

    def meta(self, key: str) -> str | None:
        """A value kept beside the indexes in this file (this machine's writer id, sync marks)."""
        with self._lock:
            row = self._db.execute("SELECT value FROM keyword_meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO keyword_meta VALUES (?, ?)", (key, value))

    def remove(self, ids: Iterable[str]) -> None:
        """Forget rows (their FTS entries stay as unreachable orphans: contentless FTS cannot delete)."""
        gone = [(i,) for i in ids]
        with self._lock:
            self._db.executemany(f"DELETE FROM {self._t} WHERE id = ?", gone)
            self._db.executemany(f"DELETE FROM {self._t}_stamps WHERE id = ?", gone)

    def stamps(self, ids: Sequence[str]) -> dict[str, float]:
        """When the version of each record indexed here was written (as another writer stamped it)."""
        out: dict[str, float] = {}
        with self._lock:
            for i in range(0, len(ids), 500):
                chunk = list(ids[i : i + 500])
                sql = f"SELECT id, at FROM {self._t}_stamps WHERE id IN ({','.join('?' * len(chunk))})"
                out.update(self._db.execute(sql, chunk))
        return out

    def set_stamps(self, stamps: dict[str, float]) -> None:
        with self._lock:
            self._db.executemany(f"INSERT OR REPLACE INTO {self._t}_stamps VALUES (?, ?)", stamps.items())

    # ---- records waiting for their vectors -----------------------------------------------------------

    def pending_count(self) -> int:
        with self._lock:
            return self._db.execute(f"SELECT count(*) FROM {self._t}_pending").fetchone()[0]

    def pending_take(self, limit: int, after: int = 0) -> list[tuple[int, str, str]]:
        """The oldest waiting records after sequence number `after`: (seq, id, json)."""
        sql = f"SELECT seq, id, json FROM {self._t}_pending WHERE seq > ? ORDER BY seq LIMIT ?"
        with self._lock:
            return list(self._db.execute(sql, (after, limit)))

    def pending_done(self, ids: Sequence[str]) -> None:
        with self._lock:
            self._db.executemany(f"DELETE FROM {self._t}_pending WHERE id = ?", [(i,) for i in ids])

    def pending_queue(self, records: dict[str, str]) -> None:
        """Queue records (id -> JSON) for their vectors again (a repair: their vector went missing)."""
        with self._lock:
            self._db.executemany(
                f"INSERT OR IGNORE INTO {self._t}_pending (id, json) VALUES (?, ?)", list(records.items())
            )

    def pending_ids(self) -> set[str]:
        with self._lock:
            return {r[0] for r in self._db.execute(f"SELECT id FROM {self._t}_pending")}

    def pending_records(
        self, ids: Sequence[str] = (), prefix: str | None = None, suffix: str | None = None
    ) -> dict[str, str]:
        """JSON of waiting records by id: those of `ids`, or whose id starts with `prefix` / ends with `suffix`."""
        t = self._t
        out: dict[str, str] = {}
        with self._lock:
            if suffix is not None:
                sql = f"SELECT id, json FROM {t}_pending WHERE substr(id, -?) = ? LIMIT 1"
                out.update(self._db.execute(sql, (len(suffix), suffix)))
            if prefix is not None:  # ids are "trace:span": a range scan of the unique index
                sql = f"SELECT id, json FROM {t}_pending WHERE id >= ? AND id < ?"
                out.update(self._db.execute(sql, (prefix, prefix + "\U0010ffff")))
            for i in range(0, len(ids), 500):
                chunk = list(ids[i : i + 500])
                sql = f"SELECT id, json FROM {t}_pending WHERE id IN ({','.join('?' * len(chunk))})"
                out.update(self._db.execute(sql, chunk))
        return out

    # ---- search ----------------------------------------------------------------------------------

    def _frequencies(self, terms: list[str], rows: int) -> dict[str, int]:
        """Documents holding each term (absent terms left out). fts5vocab counts by walking the term's
        postings (milliseconds for a common term), so counts are cached until the index grows by 20%."""
        t = self._t
        marks = ",".join("?" * len(terms))
        cached = {
            term: (doc, at_rows)
            for term, doc, at_rows in self._db.execute(
                f"SELECT term, doc, at_rows FROM {t}_df WHERE term IN ({marks})", terms
            )
        }
        out: dict[str, int] = {}
        fresh: list[tuple[str, int, int]] = []
        for term in terms:
            doc, at_rows = cached.get(term, (0, 0))
            if not doc or rows > at_rows * 1.2 + 100:  # absent terms are re-checked: it costs nothing
                row = self._db.execute(f"SELECT doc FROM {t}_vocab WHERE term = ?", (term,)).fetchone()
                doc = row[0] if row else 0
                if doc:
                    fresh.append((term, doc, rows))
            if doc:
                out[term] = doc
        if fresh:  # read-only or busy: no matter, the counts are only a cache
            with contextlib.suppress(sqlite3.OperationalError):
                self._db.executemany(f"INSERT OR REPLACE INTO {t}_df VALUES (?, ?, ?)", fresh)
        return out

    def _bm25(self, expression: str, where: str, args: list[object], limit: int) -> list[str]:
        """Best `limit` ids for a MATCH expression, scoring at most scan_cap matches (newest first). Equal
        scores go by id, so two machines whose indexes hold the same records in another order (a shared
        Chroma server) rank them alike."""
        t = self._t
        sql = (
            f"SELECT id FROM (SELECT r.id AS id, bm25({t}_fts, 2.0, 1.0) AS score "
            f"FROM {t}_fts JOIN {t} r ON r.rid = {t}_fts.rowid WHERE {t}_fts MATCH ? AND {where} "
            f"ORDER BY {t}_fts.rowid DESC LIMIT ?) ORDER BY score, id LIMIT ?"
        )
        return [row[0] for row in self._db.execute(sql, [expression, *args, self.scan_cap, limit])]

    def search(self, query: str, filters: KeywordFilter | None = None, limit: int = 50) -> list[str]:
        """Ids best first by BM25 (identifier/name column weighted x2), filters applied in the same query."""
        terms = list(dict.fromkeys(tokens(query, query_mode=True)))
        where, args = (filters or KeywordFilter()).sql()
        if not terms:
            return []
        with self._lock:
            total = self._db.execute(f"SELECT max(rid) FROM {self._t}").fetchone()[0] or 0
            df = self._frequencies(terms, total)
            terms = [t for t in terms if t in df]
            if not terms:
                return []
            found: list[str] = []
            # A record quoting "gpt_4o_2024_11_20" holds its parts too: they would only slow the AND down.
            parts = {p for term in terms if "_" in term for p in term.split("_")}
            every = [t for t in terms if t not in parts]
            if len(every) > 1:
                found = self._bm25(quoted(every, "AND"), where, args, limit)
            if len(found) < limit:
                # Any of the rarest terms, as many as fit the scan cap together: their matches are all
                # scored; a term that would flood the cap alone adds little to BM25 and is left out.
                rare: list[str] = []
                budget = 0
                for term in sorted(terms, key=df.__getitem__):
                    if rare and budget + df[term] > self.scan_cap:
                        break
                    rare.append(term)
                    budget += df[term]
                seen = set(found)
                found += [i for i in self._bm25(quoted(rare), where, args, limit) if i not in seen]
        return found[:limit]

    def quoting(self, terms: Sequence[str], filters: KeywordFilter | None = None) -> set[str]:
        """Ids of records holding every one of `terms` (whole index terms), the newest scan_cap of them."""
        if not terms:
            return set()
        t = self._t
        where, args = (filters or KeywordFilter()).sql()
        sql = (
            f"SELECT r.id FROM {t}_fts JOIN {t} r ON r.rid = {t}_fts.rowid WHERE {t}_fts MATCH ? AND {where} "
            f"ORDER BY {t}_fts.rowid DESC LIMIT ?"
        )
        with self._lock:
            return {
                row[0] for row in self._db.execute(sql, [quoted(list(terms), "AND"), *args, self.scan_cap])
            }

    def keep(self, ids: Sequence[str], filters: KeywordFilter) -> list[str]:
        """Those of `ids` that match the filters, in the given order."""
        where, args = filters.sql(use_indexes=False)
        kept: set[str] = set()
        with self._lock:
            for i in range(0, len(ids), 500):
                chunk = list(ids[i : i + 500])
                sql = f"SELECT r.id FROM {self._t} r WHERE r.id IN ({','.join('?' * len(chunk))}) AND {where}"
                kept.update(row[0] for row in self._db.execute(sql, [*chunk, *args]))
        return [i for i in ids if i in kept]

    def filter_ids(self, filters: KeywordFilter, limit: int | None = None, ordered: bool = True) -> list[str]:
        """Ids matching the filters (by start time unless ordered=False)."""
        where, args = filters.sql()
        sql = f"SELECT r.id FROM {self._t} r WHERE {where}"
        if ordered:
            sql += " ORDER BY r.start_ts, r.id"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        with self._lock:
            return [r[0] for r in self._db.execute(sql, args)]
