"""Verify a store's vector index against its keyword index and ids, and repair what differs.

What is checked, per collection (spans, post-mortem chunks):
- ids: every record in Chroma (with a vector, or kept bare: a span with no text of its own) is in the keyword
  index; every keyword row is in Chroma or waiting for its vector; nothing waits that is already in Chroma.
- vectors: Chroma can return every record's vector (a vector index overwritten by another process keeps the
  record but loses the vector: reading it fails); the searched collection holds that vector (`vector_keys`),
  the record is mapped to it, and a query with it finds it among its nearest neighbours; the searched
  collection holds no vector that no record has.

Repair (under the writer lock): records without a readable or reachable vector are deleted from Chroma and
written again from their stored JSON (the vector comes from the cache, or is embedded once), unreachable and
orphan vectors are taken out of the searched collection (the rewrite puts the needed ones back); the keyword
index is completed from Chroma, orphan rows dropped; waiting records get their vectors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from retrieval.store_read import records_json
from retrieval.store_search import SEARCH_WIDTH
from retrieval.store_writer import RecordKind, batches
from retrieval.vector_keys import content_key

_PAGE = 500
_QUERY_BATCH = 64
_NEIGHBOURS = 10
_SHOWN = 20  # ids listed per problem in the report


class CollectionCheck(BaseModel):
    name: str
    records: int = 0  # in Chroma with a vector
    bare: int = 0  # in Chroma without one: spans with no text of their own (found by id, filters, keywords)
    indexed: int = 0  # keyword rows
    waiting: int = 0  # stored, vector not written yet
    not_indexed: list[str] = Field(default_factory=list)  # in Chroma, no keyword row
    orphans: list[str] = Field(default_factory=list)  # keyword row, neither in Chroma nor waiting
    stale_waiting: list[str] = Field(default_factory=list)  # waiting although in Chroma
    lost_vectors: list[str] = Field(default_factory=list)  # record in Chroma, vector unreadable
    unreachable: list[str] = Field(default_factory=list)  # vector readable, not found by a query
    orphan_vectors: list[str] = Field(default_factory=list)  # searched vector no record has
    unreachable_vectors: list[str] = Field(default_factory=list)  # searched vector its query misses

    @property
    def problems(self) -> int:
        return sum(
            len(x)
            for x in (
                self.not_indexed,
                self.orphans,
                self.stale_waiting,
                self.lost_vectors,
                self.unreachable,
                self.orphan_vectors,
            )  # fmt: skip
        )

    def shown(self) -> CollectionCheck:
        """The same figures with each id list cut to a readable length."""
        cut = {k: v[:_SHOWN] for k, v in self.model_dump().items() if isinstance(v, list)}
        return self.model_copy(update=cut)


class CheckReport(BaseModel):
    """What `postmortem store check` prints: every collection's figures, ids cut to a readable length."""

    ok: bool
    repaired: bool = False
    collections: list[CollectionCheck] = Field(default_factory=list)


def _all_ids(collection: Any) -> list[str]:
    ids: list[str] = []
    while page := collection.get(include=[], limit=1000, offset=len(ids))["ids"]:
        ids += page
    return ids


def _vectors(collection: Any, ids: list[str]) -> tuple[dict[str, np.ndarray], list[str]]:
    """Readable vectors by id, and the ids whose vector cannot be read (found by halving failed batches)."""
    try:
        got = collection.get(ids=ids, include=["embeddings"])
    except Exception:  # noqa: BLE001 - chromadb: "Error finding id" when a vector is missing
        if len(ids) == 1:
            return {}, ids
        half = len(ids) // 2
        left, lost_left = _vectors(collection, ids[:half])
        right, lost_right = _vectors(collection, ids[half:])
        return {**left, **right}, lost_left + lost_right
    vectors = {
        key: np.asarray(v, dtype=np.float32) for key, v in zip(got["ids"], got["embeddings"], strict=True)
    }
    return vectors, [key for key in ids if key not in vectors]


def _missed(vectors: Any, vkeys: list[str]) -> list[str]:
    """Those of these keys of the searched collection that a query with their own vector does not find."""
    total = vectors.count()
    missing: list[str] = []
    for page in batches(vkeys, _PAGE):
        held, lost = _vectors(vectors, page)
        missing += lost
        for chunk in batches(sorted(held), _QUERY_BATCH):
            got = vectors.query(
                query_embeddings=[held[k] for k in chunk], n_results=min(total, SEARCH_WIDTH), include=[]
            )  # searched as wide as a search searches (store_search.SEARCH_WIDTH), judged on the first few
            missing += [
                key for key, found in zip(chunk, got["ids"], strict=True) if key not in found[:_NEIGHBOURS]
            ]
    return missing


def _check_vectors(kind: RecordKind[Any], report: CollectionCheck, records: list[str]) -> None:
    """The vectors part of the deep check: each record's own vector readable; the vector its texts make held
    once in the searched collection, found there by its own query, and the record mapped to it."""
    vkey_of: dict[str, str] = {}
    for chunk in batches(records, _PAGE):
        vectors, lost = _vectors(kind.collection, chunk)
        report.lost_vectors += lost
        got = kind.collection.get(ids=sorted(vectors), include=["metadatas"])
        for record, meta in zip(got["ids"], got["metadatas"], strict=True):
            vkey_of[record] = content_key(kind.parts_of(kind.load(meta["json"])))
    needed = set(vkey_of.values())
    searched = set(_all_ids(kind.vectors))
    report.orphan_vectors = sorted(searched - needed)
    report.unreachable_vectors = sorted(_missed(kind.vectors, sorted(needed & searched)))
    bad = set(report.unreachable_vectors) | (needed - searched)
    mapped = kind.keys.keys_of(sorted(vkey_of))
    report.unreachable = sorted(r for r, vkey in vkey_of.items() if vkey in bad or mapped.get(r) != vkey)


def check_collection(kind: RecordKind[Any], name: str, deep: bool = True) -> CollectionCheck:
    """Compare one collection's Chroma records, vectors and keyword index (read-only)."""
    index, collection = kind.index, kind.collection
    chroma = _all_ids(collection)
    bare = _all_ids(kind.bare) if kind.bare is not None else []
    chroma_set = set(chroma) | set(bare)
    indexed = index.all_ids()
    waiting = index.pending_ids()
    report = CollectionCheck(
        name=name, records=len(chroma), bare=len(bare), indexed=len(indexed), waiting=len(waiting)
    )
    report.not_indexed = sorted(chroma_set - indexed)
    report.orphans = sorted(indexed - chroma_set - waiting)
    report.stale_waiting = sorted(waiting & chroma_set)
    if deep:
        _check_vectors(kind, report, chroma)
    return report


def repair_collection(
    kind: RecordKind[Any], report: CollectionCheck, embed: Callable[[list[str]], np.ndarray]
) -> int:
    """Fix what `check_collection` found (hold the writer lock); returns how many records were rewritten."""
    index, collection = kind.index, kind.collection
    bad = sorted(set(report.lost_vectors) | set(report.unreachable))
    rewritten = 0
    for chunk in batches(bad, _PAGE):
        got = collection.get(ids=chunk, include=["metadatas"])
        records = {key: str(meta["json"]) for key, meta in zip(got["ids"], got["metadatas"], strict=True)}
        index.pending_queue(records)  # crash-safe: the JSON waits in the queue until the vector is back
        collection.delete(ids=chunk)
        kind.keys.remove(chunk)
    for chunk in batches(sorted({*report.unreachable_vectors, *report.orphan_vectors}), _PAGE):
        kind.vectors.delete(ids=chunk)  # the rewrite below puts back those a record needs
    index.pending_done(report.stale_waiting)
    index.remove(report.orphans)
    for chunk in batches(report.not_indexed, _PAGE):
        index.add(kind.row_of(k, kind.load(raw)) for k, raw in records_json(kind, chunk).items())
    from retrieval.store_writer import write_vectors

    while rows := index.pending_take(_PAGE):
        rewritten += write_vectors(kind, [(k, j) for _, k, j in rows], embed)
    return rewritten
