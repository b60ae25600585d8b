"""GenAI content that arrived apart from its span (OTLP log records), kept until the span is stored.

The store attaches each event to its span whichever arrives first: events whose span is stored are merged into
it at once (the span is stored again, with its events, and re-mapped so the messages land in its fields);
the others wait here, keyed by span, and are merged when the span is ingested. Same table file as the keyword
index (`<prefix>keyword.sqlite3`), so a store's pending content lives and goes with it.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

from pydantic import BaseModel

from retrieval.ingest.mapping import map_attributes
from retrieval.trace import Span, SpanContent, SpanEvent


class ContentResult(BaseModel):
    events: int = 0  # GenAI events given (repeats included)
    attached: int = 0  # spans that received content
    waiting: int = 0  # spans not stored yet whose content waits for them (store-wide)


def _event_json(event: SpanEvent) -> str:
    return event.model_dump_json()


def merge_content(span: Span, events: Sequence[SpanEvent]) -> Span:
    """The span with the events it does not hold yet, its fields mapped again from attributes and events
    (so messages recorded as events fill input/output/system instructions). Status and ids are kept."""
    have = {_event_json(e) for e in span.events}
    new = [e for e in events if _event_json(e) not in have]
    if not new:
        return span
    merged = sorted([*span.events, *new], key=lambda e: (e.timestamp is None, e.timestamp or span.start_time))
    dialect, fields = map_attributes(span.attributes, merged, span.name)
    fields = {k: v for k, v in fields.items() if k in Span.model_fields and k != "status"}
    data = span.model_dump()
    data.update(fields, events=merged, dialect=dialect)
    return Span.model_validate(data)


class ContentQueue:
    """Events waiting for their span: (span key, event digest) -> event JSON."""

    def __init__(self, path: Path, prefix: str = "") -> None:
        self._t = f"{prefix.replace('-', '_')}span_content"
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute(
            f"CREATE TABLE IF NOT EXISTS {self._t} (span_key TEXT NOT NULL, digest TEXT NOT NULL, "
            "json TEXT NOT NULL, PRIMARY KEY (span_key, digest))"
        )

    def add(self, contents: Iterable[SpanContent]) -> int:
        rows = []
        for content in contents:
            raw = _event_json(content.event)
            rows.append((content.span_key, hashlib.sha1(raw.encode()).hexdigest(), raw))
        with self._lock:
            self._db.executemany(f"INSERT OR IGNORE INTO {self._t} VALUES (?, ?, ?)", rows)
        return len(rows)

    def keys(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute(f"SELECT DISTINCT span_key FROM {self._t}")]

    def count(self) -> int:
        """Spans with content waiting."""
        with self._lock:
            return self._db.execute(f"SELECT count(DISTINCT span_key) FROM {self._t}").fetchone()[0]

    def events(self, key: str) -> list[SpanEvent]:
        with self._lock:
            rows = self._db.execute(f"SELECT json FROM {self._t} WHERE span_key = ?", (key,)).fetchall()
        return [SpanEvent.model_validate_json(r[0]) for r in rows]

    def done(self, keys: Sequence[str]) -> None:
        with self._lock:
            self._db.executemany(f"DELETE FROM {self._t} WHERE span_key = ?", [(k,) for k in keys])

    def close(self) -> None:
        with self._lock:
            self._db.close()
