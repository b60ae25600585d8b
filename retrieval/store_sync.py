"""Keeping the keyword index level with Chroma, the durable copy.

Chroma holds every record with its vector and JSON; the keyword index holds a row per record plus those
waiting for a vector. Before a read the two are compared (cheaply, by counts, at most every `SYNC_EVERY`
seconds) and the index completed, so records another machine added to a shared server become
keyword-searchable here too. The map of record ids to vector keys (`vector_keys`) is kept level the same way,
from the records' own vectors; a store written before the searched collections existed gets them filled.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from retrieval.store_read import collections, records_json
from retrieval.store_writer import RecordKind, add_vectors, batches
from retrieval.vector_keys import content_key

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
    if sum(c.count() for c in collections(kind)) + waiting == index.count():
        return
    in_chroma = set().union(*(chroma_ids(c) for c in collections(kind)))
    pending = index.pending_ids() if waiting else set()
    index.pending_done(sorted(pending & in_chroma))  # written, but not yet taken off the queue
    indexed = index.all_ids()
    index.remove(indexed - in_chroma - pending)
    for chunk in batches(sorted(in_chroma - indexed), 256):
        index.add(kind.row_of(k, kind.load(raw)) for k, raw in records_json(kind, chunk).items())


def sync_vectors(kind: RecordKind[Any], write: bool) -> int:
    """Map every record in Chroma to its vector key (cheap when counts agree). A record whose vector the
    searched collection lacks (a store from before it existed) is mapped only with write=True, which adds
    the vector there: hold the writer lock for that. Returns how many vectors were missing."""
    if kind.keys.count() == kind.collection.count():
        return 0
    in_chroma = chroma_ids(kind.collection)
    kind.keys.remove(kind.keys.all_ids() - in_chroma)
    missing = 0
    for chunk in batches(sorted(in_chroma - kind.keys.all_ids()), 256):
        got = kind.collection.get(ids=chunk, include=["metadatas", "embeddings"])
        vectors: dict[str, np.ndarray] = {}
        vkeys: dict[str, str] = {}
        for key, meta, vector in zip(got["ids"], got["metadatas"], got["embeddings"], strict=True):
            vectors[key] = np.asarray(vector, dtype=np.float32)
            vkeys[key] = content_key(kind.parts_of(kind.load(meta["json"])))
        held = set(kind.vectors.get(ids=sorted(set(vkeys.values())), include=[])["ids"])
        lacking = {vkeys[k]: v for k, v in vectors.items() if vkeys[k] not in held}
        missing += len(lacking)
        if write:
            add_vectors(kind, lacking)
        kind.keys.add((k, vkey) for k, vkey in vkeys.items() if write or vkey in held)
    return missing


class SyncClock:
    """Syncs each collection's index at most every SYNC_EVERY seconds."""

    def __init__(self) -> None:
        self._last: dict[str, float] = {}

    def sync(self, name: str, kind: RecordKind[Any], fill: Callable[[], Any]) -> None:
        """fill(): called (to take the writer lock and add them) when the searched collection lacks vectors."""
        if time.monotonic() - self._last.get(name, -math.inf) > SYNC_EVERY:
            sync_index(kind)
            if sync_vectors(kind, write=False):
                fill()
            self._last[name] = time.monotonic()
