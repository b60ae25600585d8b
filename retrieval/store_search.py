"""Hybrid search: vector similarity (Chroma) and BM25 (the keyword index) fused by reciprocal rank.

The same filters apply to both sides; records quoting every identifier of the query verbatim come first.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from retrieval.keyword import KeywordFilter, KeywordIndex, identifier_terms
from retrieval.store_read import postmortems_by_key, spans_by_key
from retrieval.store_records import PostmortemHit, SpanHit, rrf
from retrieval.store_writer import RecordKind
from retrieval.trace import PostmortemDoc, Span

Embed = Callable[[list[str]], np.ndarray]

CANDIDATES_MAX = 3_000  # filtered vector search: pass up to this many candidate ids to Chroma
OVERSAMPLE_MAX = 4_000  # else query unfiltered, this many at most, and keep those passing the filters
# HNSW searches max(ef_search, n_results) candidates, and Chroma's ef_search is 100: at that width a distinct
# vector far from all others (nearest neighbour at cosine distance 0.55) was missed by a query with its own
# vector in 5 of 35 ingests of 3,000 production-mix spans (benchmarks/vector_reach --mix 3000); the two examined
# were found at 300 and 400. Asking Chroma for this many and keeping the first n: ~2 ms a query at 20,000.
SEARCH_WIDTH = 400


def exact_first(
    fused: list[tuple[str, float]], index: KeywordIndex, query: str, filters: KeywordFilter | None = None
) -> tuple[list[tuple[str, float]], set[str]]:
    """Records quoting every identifier of the query (error code, id, model version) verbatim come first.

    Fusion alone can rank a record that is merely close on both sides above the one record that quotes
    the code asked for; identifiers embed badly, so an exact quote outranks closeness.
    """
    terms = identifier_terms(query)
    exact = index.quoting(terms, filters) & {key for key, _ in fused} if terms else set()
    if not exact:
        return fused, exact
    return sorted(fused, key=lambda kv: kv[0] not in exact), exact


def nearest(kind: RecordKind[Any], vector: np.ndarray, n: int) -> list[str]:
    """The n record ids nearest to the vector: the nearest distinct vectors, each expanded to its records."""
    size = kind.vectors.count()
    if n <= 0 or not size:
        return []
    width = min(max(n, SEARCH_WIDTH), size)
    vkeys = kind.vectors.query(query_embeddings=vector, n_results=width, include=[])["ids"][0]
    return kind.keys.expand(vkeys[:n], n)


def nearest_among(kind: RecordKind[Any], vector: np.ndarray, candidates: list[str], n: int) -> list[str]:
    """The n ids of `candidates` nearest to the vector (those with a vector written)."""
    vkey_of = kind.keys.keys_of(candidates)
    sharing: dict[str, list[str]] = {}
    for record in sorted(vkey_of):
        sharing.setdefault(vkey_of[record], []).append(record)
    if n <= 0 or not sharing:
        return []
    got = kind.vectors.query(
        query_embeddings=vector,
        n_results=min(max(n, SEARCH_WIDTH), len(sharing)),
        ids=list(sharing),
        include=[],
    )
    return [record for vkey in got["ids"][0][:n] for record in sharing[vkey]][:n]


def vector_ids(kind: RecordKind[Span], vector: np.ndarray, filters: KeywordFilter, pool: int) -> list[str]:
    """Nearest span ids under the filters. The filter index supplies the candidates when they are few;
    otherwise the nearest spans of an unfiltered query (oversampled) are checked against the filters, and
    when too few pass, every matching span is a candidate."""
    index = kind.index
    if filters.empty:
        return nearest(kind, vector, pool)
    matching = index.count(filters)
    if matching <= CANDIDATES_MAX:
        return nearest_among(kind, vector, index.filter_ids(filters, ordered=False), pool) if matching else []
    total = max(index.size(), matching)
    n = min(total, OVERSAMPLE_MAX, math.ceil(1.3 * pool * total / matching) + pool)
    kept = index.keep(nearest(kind, vector, n), filters)
    if len(kept) >= pool // 2 or n >= total:
        return kept[:pool]
    return nearest_among(kind, vector, index.filter_ids(filters, ordered=False), pool)


def search_spans(
    kind: RecordKind[Span],
    embed: Embed,
    query: str,
    k: int,
    filters: KeywordFilter,
) -> list[SpanHit]:
    """The k best spans for a query: vector and BM25 rankings fused by reciprocal rank."""
    pool = max(4 * k, 40)
    vec_ids = vector_ids(kind, embed([query]), filters, pool)
    kw_ids = kind.index.search(query, filters, pool)
    fused, exact = exact_first(rrf(vec_ids, kw_ids), kind.index, query, filters)
    fused = fused[:k]
    spans = spans_by_key(kind, [key for key, _ in fused])
    vrank = {key: i for i, key in enumerate(vec_ids, start=1)}
    krank = {key: i for i, key in enumerate(kw_ids, start=1)}
    return [
        SpanHit(
            span=spans[key],
            score=score,
            vector_rank=vrank.get(key),
            keyword_rank=krank.get(key),
            exact=key in exact,
        )
        for key, score in fused
        if key in spans
    ]


def search_postmortems(
    kind: RecordKind[PostmortemDoc], embed: Embed, query: str, k: int, service: str | None, per_document: bool
) -> list[PostmortemHit]:
    """Past post-mortem chunks for a query (hybrid); with per_document, only each one's best chunk."""
    pool = max(8 * k, 40)
    filters = KeywordFilter(service=service)
    vector = embed([query])
    if service:
        vec_ids = nearest_among(kind, vector, kind.index.filter_ids(filters, ordered=False), pool)
    else:
        vec_ids = nearest(kind, vector, pool)
    kw_ids = kind.index.search(query, filters, pool)
    docs = postmortems_by_key(kind, list(dict.fromkeys([*vec_ids, *kw_ids])))
    hits: list[PostmortemHit] = []
    seen: set[str] = set()
    fused, _ = exact_first(rrf(vec_ids, kw_ids), kind.index, query, filters)
    for key, score in fused:
        doc = docs.get(key)
        if doc is None or (per_document and doc.id in seen):
            continue
        seen.add(doc.id)
        hits.append(PostmortemHit(doc=doc, score=score))
        if len(hits) == k:
            break
    return hits
