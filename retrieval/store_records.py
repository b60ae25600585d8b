"""What the trace store keeps and returns: ids, Chroma metadata, keyword rows, filters, hit models, fusion."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from retrieval.keyword import KeywordFilter, KeywordRow
from retrieval.render import postmortem_keywords, span_keywords
from retrieval.trace import PostmortemDoc, Span, SpanKind

SPANS = "spans"
SPANS_BARE = "spans_bare"  # spans with no text of their own: no vector, found by id, filters and keywords
POSTMORTEMS = "postmortems"
VECTORS = "vectors_"  # prefix of the searched collections: each distinct vector once (vector_keys)
RRF_K = 60


class StoreUnavailable(RuntimeError):
    """The Chroma server could not be reached (or the local store could not be opened)."""


class EmbedderMismatch(ValueError):
    """The store's vectors were made by another embedder than the one given."""


class AddResult(BaseModel):
    added: int = 0
    skipped: int = 0  # already stored (or repeated in the input)


class SpanHit(BaseModel):
    span: Span
    score: float  # reciprocal-rank-fusion score
    vector_rank: int | None = None  # 1-based rank on each side; None when absent from that side
    keyword_rank: int | None = None
    exact: bool = False  # quotes every identifier of the query verbatim (ranked first)


class PostmortemHit(BaseModel):
    doc: PostmortemDoc
    score: float


def span_key(span: Span) -> str:
    return f"{span.trace_id}:{span.span_id}"


def postmortem_key(doc: PostmortemDoc) -> str:
    return f"{doc.id}#{doc.chunk_index}"


def embedder_id(embedder: Any) -> str:
    """A stable name for an embedding function: its registered name and model."""
    name = embedder.name() if hasattr(embedder, "name") else type(embedder).__name__
    try:
        config = embedder.get_config() if hasattr(embedder, "get_config") else {}
    except Exception:  # noqa: BLE001 - some functions cannot describe themselves
        config = {}
    model = config.get("model") or config.get("model_name") or ""
    return f"{name}:{model}" if model else str(name)


def epoch(moment: datetime) -> float:
    """Epoch seconds; naive datetimes are taken as UTC."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def rrf(
    *rankings: Sequence[str], k: int = RRF_K, weights: Sequence[float] | None = None
) -> list[tuple[str, float]]:
    """Reciprocal rank fusion: sum of weight/(k + rank) over the rankings an id appears in, best first."""
    scores: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights or [1.0] * len(rankings), strict=True):
        for rank, key in enumerate(ranking, start=1):
            scores[key] = scores.get(key, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def where_all(clauses: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def span_metadata(span: Span) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "trace_id": span.trace_id,
        "span_id": span.span_id,
        "name": span.name,
        "kind": span.kind.value,
        "status": span.status.code,
        "start_ts": epoch(span.start_time),
        "json": span.model_dump_json(exclude_defaults=True),
    }
    optional = {
        "parent_span_id": span.parent_span_id,
        "service": span.service,
        "model": span.model,
        "request_model": span.request_model,
        "response_model": span.response_model,
        "provider": span.provider,
        "end_ts": epoch(span.end_time) if span.end_time else None,
        "session_id": span.session_id,
        "user_id": span.user_id,
    }
    meta.update({k: v for k, v in optional.items() if v is not None})
    return meta


def span_row(key: str, span: Span) -> KeywordRow:
    kw_key, kw_body = span_keywords(span)
    return KeywordRow(
        id=key,
        key=kw_key,
        body=kw_body,
        trace_id=span.trace_id,
        service=span.service,
        kind=span.kind.value,
        model=span.model,
        request_model=span.request_model,
        response_model=span.response_model,
        start_ts=epoch(span.start_time),
    )


def postmortem_metadata(doc: PostmortemDoc) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "postmortem_id": doc.id,
        "chunk_index": doc.chunk_index,
        "title": doc.title,
        "json": doc.model_dump_json(exclude_defaults=True),
    }
    optional = {
        "service": doc.service,
        "date": doc.date,
        "section": doc.section,
        "primary_layer": doc.primary_layer,
        "layers": ",".join(doc.layers) or None,
        "tags": ",".join(doc.tags) or None,
    }
    meta.update({k: v for k, v in optional.items() if v is not None})
    return meta


def postmortem_row(key: str, doc: PostmortemDoc) -> KeywordRow:
    kw_key, kw_body = postmortem_keywords(doc)
    return KeywordRow(id=key, key=kw_key, body=kw_body, service=doc.service)


def join_chunks(parts: list[PostmortemDoc]) -> PostmortemDoc:
    """One document from its chunks: each section's heading once (as `## heading`), then its text."""
    texts: list[str] = []
    previous: str | None = None
    for part in parts:
        text = part.text.strip()
        if part.section:
            if text.startswith(part.section):
                text = text[len(part.section) :].lstrip()
            if part.section != previous:
                texts.append(f"## {part.section}")
        texts.append(text)
        previous = part.section
    first = parts[0]
    return first.model_copy(
        update={"section": None, "chunk_index": 0, "text": "\n\n".join(t for t in texts if t)}
    )


def load_span(meta: dict[str, Any]) -> Span:
    return Span.model_validate_json(meta["json"])


def load_postmortem(meta: dict[str, Any]) -> PostmortemDoc:
    return PostmortemDoc.model_validate_json(meta["json"])


def kind_value(kind: SpanKind | str | None) -> str | None:
    return None if kind is None else SpanKind(kind).value


def keyword_filter(
    service: str | None,
    start: datetime | None,
    end: datetime | None,
    model: str | None,
    kind: SpanKind | str | None,
    trace_id: str | None,
) -> KeywordFilter:
    return KeywordFilter(
        service=service,
        kind=kind_value(kind),
        model=model,
        trace_id=trace_id,
        start_ts=epoch(start) if start else None,
        end_ts=epoch(end) if end else None,
    )


def chroma_where(
    service: str | None,
    start: datetime | None,
    end: datetime | None,
    model: str | None,
    kind: SpanKind | str | None,
    trace_id: str | None,
) -> dict[str, Any] | None:
    clauses: list[dict[str, Any]] = []
    if service is not None:
        clauses.append({"service": service})
    if kind is not None:
        clauses.append({"kind": kind_value(kind)})
    if trace_id is not None:
        clauses.append({"trace_id": trace_id})
    if model is not None:
        clauses.append({"$or": [{"model": model}, {"request_model": model}]})  # served is always in model
    if start is not None:
        clauses.append({"start_ts": {"$gte": epoch(start)}})
    if end is not None:
        clauses.append({"start_ts": {"$lte": epoch(end)}})
    return where_all(clauses)
