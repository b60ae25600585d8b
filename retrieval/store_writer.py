"""Adding records in two stages: keyword index and record at parse speed, vectors following.

Stage 1 (the caller's thread) writes each batch of new records to the keyword index together with its JSON
in the index's `pending` queue, in one transaction: from then on the record is found by id, service, time
and keywords. Stage 2 (one background thread) takes the oldest pending records, embeds each distinct text
once (through the vector cache), writes vectors and metadata to Chroma, and takes them off the queue. Each
distinct vector goes once into the searched collection (`vector_keys`), before the records that share it.

The queue is on disk, so memory stays bounded however far the vectors lag, and records whose vectors were
not written (the process stopped, or was told not to wait) are embedded by the next writer: `store embed`,
the next ingest, or `store check --repair`. A vector already in Chroma is never written again.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any, Generic, TypeVar

import numpy as np

from retrieval.keyword import KeywordIndex, KeywordRow
from retrieval.store_records import AddResult
from retrieval.vector_keys import VectorKeys, content_key

T = TypeVar("T")


def batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


@dataclass(frozen=True)
class RecordKind(Generic[T]):
    """How one kind of record (span, post-mortem chunk) is keyed, embedded, serialised and stored."""

    collection: Any  # every record, with its vector and JSON: the durable copy
    index: KeywordIndex
    key_of: Callable[[T], str]
    parts_of: Callable[[T], list[list[str]]]  # what its vector is made of: groups of texts
    meta_of: Callable[[T], dict[str, Any]]  # Chroma metadata, holding the record's JSON under "json"
    row_of: Callable[[str, T], KeywordRow]
    dump: Callable[[T], str]  # the record as JSON
    load: Callable[[str], T]  # the record from its JSON
    vectors: Any  # the searched collection: each distinct vector once, by vector key
    keys: VectorKeys  # record id -> vector key
    # where records with nothing to embed (no parts) go: a collection never searched by vector
    bare: Any = None


def add_vectors(kind: RecordKind[Any], vectors: dict[str, np.ndarray]) -> int:
    """Put into the searched collection the vectors (by key) it does not hold yet; returns how many."""
    if not vectors:
        return 0
    present = set(kind.vectors.get(ids=list(vectors), include=[])["ids"])
    new = [vkey for vkey in vectors if vkey not in present]
    if new:
        kind.vectors.add(ids=new, embeddings=np.stack([vectors[k] for k in new]))
    return len(new)


def placeholder(key: str) -> list[float]:
    """The 1-d stand-in vector of a record kept without one (Chroma wants a vector per record): distinct
    per id, so the unsearched index holds no pile of identical points."""
    return [int(hashlib.sha1(key.encode()).hexdigest()[:8], 16) / 2**32]


def stored_ids(kind: RecordKind[Any], keys: list[str]) -> set[str]:
    """Those of `keys` already in Chroma (with a vector, or kept bare)."""
    present = set(kind.collection.get(ids=keys, include=[])["ids"])
    rest = [key for key in keys if key not in present]
    if kind.bare is not None and rest:
        present |= set(kind.bare.get(ids=rest, include=[])["ids"])
    return present


def write_vectors(
    kind: RecordKind[T], rows: list[tuple[str, str]], embed: Callable[[list[str]], np.ndarray]
) -> int:
    """Embed and store in Chroma the (id, JSON) records not in Chroma yet; returns how many were written."""
    keys = [key for key, _ in rows]
    present = stored_ids(kind, keys)
    todo = [(key, kind.load(raw)) for key, raw in rows if key not in present]
    parts = [kind.parts_of(record) for _, record in todo]
    embedded = [(row, p) for row, p in zip(todo, parts, strict=True) if p or kind.bare is None]
    if embedded:
        vectors = combine([p for _, p in embedded], embed)
        vkeys = [content_key(p) for _, p in embedded]
        add_vectors(kind, dict(zip(vkeys, vectors, strict=True)))  # first: a record is searchable once stored
        ids = [key for (key, _), _ in embedded]
        kind.collection.upsert(
            ids=ids, embeddings=vectors, metadatas=[kind.meta_of(r) for (_, r), _ in embedded]
        )
        kind.keys.add(zip(ids, vkeys, strict=True))
    if bare := [row for row, p in zip(todo, parts, strict=True) if not p and kind.bare is not None]:
        kind.bare.upsert(
            ids=[key for key, _ in bare],
            embeddings=[placeholder(key) for key, _ in bare],
            metadatas=[kind.meta_of(r) for _, r in bare],
        )
    kind.index.pending_done(keys)
    return len(todo)


def combine(records: list[list[list[str]]], embed: Callable[[list[str]], np.ndarray]) -> np.ndarray:
    """One unit vector per record: the mean of its groups' vectors, each the mean of its parts' vectors.

    All parts of the batch are embedded in one call (the vector cache embeds each distinct text once)."""
    flat = [part for groups in records for group in groups for part in group]
    vectors = embed(flat)
    out = np.empty((len(records), vectors.shape[1]), dtype=np.float32)
    at = 0
    for row, groups in enumerate(records):
        total = np.zeros(vectors.shape[1], dtype=np.float32)
        for group in groups:
            mean = vectors[at : at + len(group)].mean(axis=0)
            total += mean / (float(np.linalg.norm(mean)) or 1.0)
            at += len(group)
        out[row] = total / (float(np.linalg.norm(total)) or 1.0)
    return out


class VectorFiller:
    """Stage 2: a thread draining the pending queue while stage 1 fills it; `finish` waits or stops it."""

    def __init__(self, kind: RecordKind[Any], embed: Callable[[list[str]], np.ndarray], batch: int) -> None:
        self.kind = kind
        self.embed = embed
        self.batch = batch
        self.written = 0
        self.error: BaseException | None = None
        self._more = threading.Event()
        self._input_done = False
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="store-vectors", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop:
                self._more.clear()
                rows = self.kind.index.pending_take(self.batch)
                if rows:
                    self.written += write_vectors(self.kind, [(k, j) for _, k, j in rows], self.embed)
                elif self._input_done:
                    return
                else:
                    self._more.wait(0.5)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller by finish()
            self.error = exc

    def poke(self) -> None:
        """Stage 1 queued more records."""
        self._more.set()

    def finish(self, wait: bool = True) -> None:
        """No more input: drain the queue (wait) or stop after the batch under way; re-raise its error."""
        self._input_done = True
        self._stop = not wait
        self._more.set()
        self._thread.join()
        if self.error is not None:
            raise self.error


def add_records(
    kind: RecordKind[T], items: Iterable[T], batch_size: int, filler: VectorFiller | None
) -> AddResult:
    """Stage 1: index the items not stored yet (with their JSON queued for vectors); counts added/skipped."""
    total = AddResult()
    for batch in batches(items, batch_size):
        unique: dict[str, T] = {}
        for item in batch:
            unique.setdefault(kind.key_of(item), item)
        stored = kind.index.existing(list(unique))
        new = {key: item for key, item in unique.items() if key not in stored}
        if new:
            records = {key: kind.dump(item) for key, item in new.items()}
            kind.index.add((kind.row_of(key, item) for key, item in new.items()), records)
            if filler is not None:
                filler.poke()
        if filler is not None and filler.error is not None:
            break  # finish() raises it
        total.added += len(new)
        total.skipped += len(batch) - len(new)
    return total
