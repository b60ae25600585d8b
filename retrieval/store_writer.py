"""Adding records in batches: dedup against what is stored, embed only new records, and write each batch
(Chroma, then the keyword index) in a background thread while the next batch is being embedded.

The embedder (onnxruntime releases the GIL) is the limit; tokenising and writing overlap with it. At most
one batch is being written at a time, and a failed write is raised before anything else is written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from typing import Any, Generic, TypeVar

import numpy as np

from retrieval.keyword import KeywordIndex, KeywordRow
from retrieval.store_records import AddResult

T = TypeVar("T")


def batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


@dataclass(frozen=True)
class RecordKind(Generic[T]):
    """How one kind of record (span, post-mortem chunk) is keyed, embedded and stored."""

    collection: Any
    index: KeywordIndex
    key_of: Callable[[T], str]
    text_of: Callable[[T], str]
    meta_of: Callable[[T], dict[str, Any]]
    row_of: Callable[[str, T], KeywordRow]


def _write(
    kind: RecordKind[T], unique: dict[str, T], new: list[str], vectors: Any, check_index: bool
) -> None:
    if new:
        kind.collection.upsert(ids=new, embeddings=vectors, metadatas=[kind.meta_of(unique[k]) for k in new])
    # Chroma first, keyword index second: a batch cut between the two is completed on the next add.
    keys = list(unique)
    if check_index:
        indexed = kind.index.existing(keys)
        keys = [k for k in keys if k not in indexed]
    kind.index.add(kind.row_of(k, unique[k]) for k in keys)


def add_all(
    kind: RecordKind[T], items: Iterable[T], batch_size: int, embed: Callable[[list[str]], np.ndarray]
) -> AddResult:
    """Store the items not stored yet; returns how many were added and skipped (stored or repeated)."""
    total = AddResult()
    in_flight: set[str] = set()
    pending: Future[None] | None = None
    # On an error the pool's exit still waits for the batch being written: it lands whole or not at all.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-writer") as pool:
        for batch in batches(items, batch_size):
            unique: dict[str, T] = {}
            for item in batch:
                unique.setdefault(kind.key_of(item), item)
            keys = list(unique)
            stored = set(kind.collection.get(ids=keys, include=[])["ids"]) | (in_flight & unique.keys())
            new = [k for k in keys if k not in stored]
            vectors = embed([kind.text_of(unique[k]) for k in new]) if new else None
            if pending is not None:
                pending.result()  # the previous batch's write must have succeeded
            in_flight = set(new)
            pending = pool.submit(_write, kind, unique, new, vectors, bool(stored))
            total.added += len(new)
            total.skipped += len(batch) - len(new)
        if pending is not None:
            pending.result()
    return total
