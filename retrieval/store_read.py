"""Reading records back: spans and post-mortem chunks from Chroma, or from the queue while their vector waits.

A record is stored in two places at two moments (store_writer): its JSON waits in the keyword index's queue
until its vector is written to Chroma with the JSON as metadata. Every read looks in Chroma first and in the
queue for the rest, so a record is readable the moment it is ingested. The queue is read first: a record leaves
it only once its vector is in Chroma, so a record moving between the two while it is read is found in one or the
other (read Chroma first and it could be in neither at the two moments).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from retrieval.store_records import epoch, join_chunks, load_postmortem, load_span, span_key
from retrieval.store_writer import RecordKind, batches
from retrieval.trace import PostmortemDoc, Span

_PAGE = 1000


def collections(kind: RecordKind[Any]) -> list[Any]:
    """Where a kind's records are in Chroma: its records collection (those with a vector), and the one of
    records kept bare (no text to embed)."""
    return [kind.collection] if kind.bare is None else [kind.collection, kind.bare]


def records_json(kind: RecordKind[Any], keys: Sequence[str]) -> dict[str, str]:
    """The JSON of those of `keys` that are in Chroma (searched or bare), by key."""
    out: dict[str, str] = {}
    for collection in collections(kind):
        for chunk in batches([k for k in keys if k not in out], 500):
            got = collection.get(ids=chunk, include=["metadatas"])
            out.update((k, str(m["json"])) for k, m in zip(got["ids"], got["metadatas"], strict=True))
    return out


def spans_by_key(kind: RecordKind[Span], keys: Sequence[str]) -> dict[str, Span]:
    """The stored spans of these keys (those found), by key."""
    waiting = kind.index.pending_records(keys) if kind.index.pending_count() else {}  # before Chroma
    out = {k: Span.model_validate_json(raw) for k, raw in records_json(kind, keys).items()}
    for key, raw in waiting.items():  # stored, vector not written yet
        if key not in out:
            out[key] = Span.model_validate_json(raw)
    return out


def get_span(kind: RecordKind[Span], span_id: str) -> Span | None:
    waiting = kind.index.pending_records(suffix=f":{span_id}")  # before Chroma
    for collection in collections(kind):
        got = collection.get(where={"span_id": span_id}, include=["metadatas"], limit=1)
        if got["ids"]:
            return load_span(got["metadatas"][0])
    return Span.model_validate_json(next(iter(waiting.values()))) if waiting else None


def get_trace(kind: RecordKind[Span], trace_id: str) -> list[Span]:
    waiting = kind.index.pending_records(prefix=f"{trace_id}:")  # before Chroma
    spans: dict[str, Span] = {}
    for collection in collections(kind):
        got = collection.get(where={"trace_id": trace_id}, include=["metadatas"])
        spans.update((span_key(s), s) for s in (load_span(m) for m in got["metadatas"]))
    for key, raw in waiting.items():
        if key not in spans:
            spans[key] = Span.model_validate_json(raw)
    return sorted(spans.values(), key=lambda s: (epoch(s.start_time), s.span_id))


def postmortems_by_key(kind: RecordKind[PostmortemDoc], keys: list[str]) -> dict[str, PostmortemDoc]:
    """The stored post-mortem chunks of these keys (those found), by key."""
    waiting = kind.index.pending_records(keys) if kind.index.pending_count() else {}  # before Chroma
    got = kind.collection.get(ids=keys, include=["metadatas"]) if keys else {"ids": [], "metadatas": []}
    docs = {key: load_postmortem(m) for key, m in zip(got["ids"], got["metadatas"], strict=True)}
    for key, raw in waiting.items():
        if key not in docs:
            docs[key] = PostmortemDoc.model_validate_json(raw)  # stored, vector not written yet
    return docs


def get_postmortem(collection: Any, postmortem_id: str) -> list[PostmortemDoc]:
    got = collection.get(where={"postmortem_id": postmortem_id}, include=["metadatas"])
    return sorted((load_postmortem(m) for m in got["metadatas"]), key=lambda d: d.chunk_index)


def list_postmortems(collection: Any) -> list[PostmortemDoc]:
    """Every post-mortem as one document (its chunks' texts joined in order), by id."""
    chunks: dict[str, list[PostmortemDoc]] = {}
    offset = 0
    while True:
        got = collection.get(include=["metadatas"], limit=_PAGE, offset=offset)
        if not got["ids"]:
            break
        offset += len(got["ids"])
        for meta in got["metadatas"]:
            doc = load_postmortem(meta)
            chunks.setdefault(doc.id, []).append(doc)
    return [join_chunks(sorted(parts, key=lambda d: d.chunk_index)) for _, parts in sorted(chunks.items())]


def postmortem_vectors(collection: Any) -> dict[str, np.ndarray]:
    """Every post-mortem's stored vector, by id: the mean of its chunks' vectors, L2-normalised."""
    sums: dict[str, np.ndarray] = {}
    offset = 0
    while True:
        got = collection.get(include=["metadatas", "embeddings"], limit=_PAGE, offset=offset)
        if not got["ids"]:
            break
        offset += len(got["ids"])
        for meta, vector in zip(got["metadatas"], got["embeddings"], strict=True):
            key = str(meta["postmortem_id"])
            vec = np.asarray(vector, dtype=np.float32)
            sums[key] = sums[key] + vec if key in sums else vec.copy()
    return {key: vec / (float(np.linalg.norm(vec)) or 1.0) for key, vec in sums.items()}
