"""Keeping the keyword index level with Chroma, the durable copy.

Chroma holds every record with its vector and JSON; the keyword index holds a row per record plus those
waiting for a vector. Before a read the two are compared (cheaply, by counts, at most every `SYNC_EVERY`
seconds) and the index completed, so records another machine added to a shared server become
keyword-searchable here too.
"""

from __future__ import annotations

import math
import time
from typing import Any

from retrieval.store_writer import RecordKind, batches

_PAGE = 1000
SYNC_EVERY = 30.0  # seconds between checks that the keyword index holds what Chroma holds


def chroma_ids(collection: Any) -> set[str]:
    """Every id in a Chroma collection, read page by page."""
    ids: set[str] = set()
    offset = 0
    while page := collection.get(include=[], limit=_PAGE, offset=offset)["ids"]:
        ids.update(page)
        offset += len(page)
    return ids


def sync_index(kind: RecordKind[Any]) -> None:
    """Make the keyword index hold Chroma's ids plus those waiting for vectors (cheap when counts agree)."""
    index = kind.index
    waiting = index.pending_count()
    if kind.collection.count() + waiting == index.count():
        return
    in_chroma = chroma_ids(kind.collection)
    pending = index.pending_ids() if waiting else set()
    index.pending_done(sorted(pending & in_chroma))  # written, but not yet taken off the queue
    indexed = index.all_ids()
    index.remove(indexed - in_chroma - pending)
    for chunk in batches(sorted(in_chroma - indexed), 256):
        got = kind.collection.get(ids=chunk, include=["metadatas"])
        index.add(
            kind.row_of(k, kind.load(m["json"])) for k, m in zip(got["ids"], got["metadatas"], strict=True)
        )


class SyncClock:
    """Syncs each collection's index at most every SYNC_EVERY seconds."""

    def __init__(self) -> None:
        self._last: dict[str, float] = {}

    def sync(self, name: str, kind: RecordKind[Any]) -> None:
        if time.monotonic() - self._last.get(name, -math.inf) > SYNC_EVERY:
            sync_index(kind)
            self._last[name] = time.monotonic()
