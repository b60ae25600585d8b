"""Keeping the keyword index level with Chroma, the durable copy.

Chroma holds every record with its vector and JSON; the keyword index holds a row per record plus those
waiting for a vector, and `vector_keys` maps each record to its vector in the searched collection. Before a
read (at most every `SYNC_EVERY` seconds) the index is brought level:

- records another writer stored or stored again (a span rewritten when its GenAI content arrived from OTLP
  logs) since the last look are read back: every record's metadata carries when and by whom it was written
  (`stamped`), and each index keeps the newest time it has read from others (a mark in its file), so the
  query is for others' writes after that mark less `MARGIN`; a version already indexed here (the stamp of
  each is kept) is not indexed again;
- then the counts are compared and, when they differ, the ids: records missing here are added, records gone
  from Chroma removed.

So two machines sharing a Chroma server (two homes, receivers, the Slack bot) index the same records.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable
from typing import Any

import numpy as np

from retrieval.keyword import KeywordIndex
from retrieval.store_read import collections
from retrieval.store_writer import RecordKind, add_vectors, batches
from retrieval.vector_keys import content_key

_PAGE = 1000
# Seconds between checks that the keyword index holds what Chroma holds: one count and one small filtered
# read each, so a long-running process (Slack bot, receiver) sees another machine's writes within seconds.
SYNC_EVERY = 5.0
# Others' writes are read back from this many seconds before the newest one seen: the writers' clocks may
# differ by this much (NTP keeps them within a second), and a write stamped just before another's may land after.
MARGIN = 15.0
STORED_AT, STORED_BY = "stored_at", "stored_by"


def writer_id(index: KeywordIndex) -> str:
    """This machine's (this keyword file's) id as a writer of the shared store, made once."""
    known = index.meta("writer_id")
    if known is None:
        known = uuid.uuid4().hex[:16]
        index.set_meta("writer_id", known)
    return known


def stamped(meta_of: Callable[[Any], dict[str, Any]], writer: str) -> Callable[[Any], dict[str, Any]]:
    """Chroma metadata that also says when (epoch seconds) and by which writer the record was stored."""
    return lambda record: {**meta_of(record), STORED_AT: time.time(), STORED_BY: writer}


def chroma_ids(collection: Any) -> set[str]:
    """Every id in a Chroma collection, read page by page."""
    ids: set[str] = set()
    offset = 0
    while page := collection.get(include=[], limit=_PAGE, offset=offset)["ids"]:
        ids.update(page)
        offset += len(page)
    return ids


def metadatas(kind: RecordKind[Any], keys: list[str]) -> dict[str, dict[str, Any]]:
    """The Chroma metadata (JSON, stamp) of those of `keys` in Chroma (searched or bare), by key."""
    out: dict[str, dict[str, Any]] = {}
    for collection in collections(kind):
        rest = [k for k in keys if k not in out]
        if rest:
            got = collection.get(ids=rest, include=["metadatas"])
            out.update(zip(got["ids"], got["metadatas"], strict=True))
    return out


def sync_index(kind: RecordKind[Any], shared: bool = False) -> None:
    """Make the keyword index hold Chroma's records plus those waiting for vectors: others' recent writes
    read back (shared: a Chroma server, which other machines write too), then ids compared (cheap when
    counts agree). An embedded store's writers all share its keyword file, so they need no read-back."""
    if shared:
        refresh_others(kind)
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
        got = metadatas(kind, chunk)
        index.add(kind.row_of(k, kind.load(str(m["json"]))) for k, m in got.items())
        index.set_stamps({k: float(m[STORED_AT]) for k, m in got.items() if STORED_AT in m})


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


def refresh_others(kind: RecordKind[Any]) -> int:
    """Index again the records other writers stored since this index's mark (less MARGIN) in a version not
    indexed here yet (each version indexed is known by its stamp); returns how many."""
    index = kind.index
    key = f"sync_mark:{kind.collection.name}"
    mark = index.meta(key)
    if mark is None:  # a new index: the id comparison that follows reads everything
        index.set_meta(key, repr(time.time() - MARGIN))
        return 0
    where = {"$and": [{STORED_AT: {"$gt": float(mark) - MARGIN}}, {STORED_BY: {"$ne": writer_id(index)}}]}
    newest, changed = float(mark), 0
    for collection in collections(kind):  # a span rewritten elsewhere may have moved from bare to searched
        offset = 0
        while True:
            got = collection.get(where=where, include=["metadatas"], limit=_PAGE, offset=offset)
            if not got["ids"]:
                break
            offset += len(got["ids"])
            known = index.stamps(got["ids"])
            fresh = {
                k: m
                for k, m in zip(got["ids"], got["metadatas"], strict=True)
                if known.get(k) != m[STORED_AT]
            }
            if fresh:
                index.remove(fresh)
                kind.keys.remove(
                    set(fresh)
                )  # their vectors may have changed too: sync_vectors maps them again
                index.add(kind.row_of(k, kind.load(str(m["json"]))) for k, m in fresh.items())
                index.set_stamps({k: float(m[STORED_AT]) for k, m in fresh.items()})
            newest = max(newest, *(float(m[STORED_AT]) for m in got["metadatas"]))
            changed += len(fresh)
    index.set_meta(key, repr(newest))
    return changed


class SyncClock:
    """Syncs each collection's index at most every SYNC_EVERY seconds (shared: as for sync_index)."""

    def __init__(self, shared: bool = False) -> None:
        self._last: dict[str, float] = {}
        self.shared = shared

    def sync(self, name: str, kind: RecordKind[Any], fill: Callable[[], Any]) -> None:
        """fill(): called (to take the writer lock and add them) when the searched collection lacks vectors."""
        if time.monotonic() - self._last.get(name, -math.inf) > SYNC_EVERY:
            sync_index(kind, self.shared)
            if sync_vectors(kind, write=False):
                fill()
            self._last[name] = time.monotonic()
