"""The trace store: spans and post-mortems in ChromaDB, with a BM25 keyword index beside it.

Embedded and persistent (`path`) or a Chroma server (`url`). Ids come from the records themselves
(`trace_id:span_id`, `postmortem_id#chunk`), so storing the same input twice adds nothing. Search fuses
vector similarity and BM25 by reciprocal rank (k=60); the same filters apply to both sides.

Writes go to Chroma first, then to the keyword index; before a read the keyword index is compared with
Chroma and repaired if they differ, so a batch interrupted midway is completed by re-ingesting (or by any
later search), and spans added to a shared server from another machine become keyword-searchable too.
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import chromadb
import numpy as np

from retrieval.keyword import KeywordFilter, KeywordIndex, KeywordRow, identifier_terms
from retrieval.masking import mask_url, mask_urls
from retrieval.render import postmortem_text, span_text
from retrieval.store_records import (
    POSTMORTEMS,
    RRF_K,
    SPANS,
    AddResult,
    EmbedderMismatch,
    PostmortemHit,
    SpanHit,
    StoreUnavailable,
    chroma_where,
    embedder_id,
    epoch,
    join_chunks,
    keyword_filter,
    load_postmortem,
    load_span,
    postmortem_key,
    postmortem_metadata,
    postmortem_row,
    rrf,
    span_key,
    span_metadata,
    span_row,
)
from retrieval.store_writer import RecordKind, add_all, batches
from retrieval.trace import PostmortemDoc, Span, SpanKind

__all__ = [
    "RRF_K",
    "AddResult",
    "EmbedderMismatch",
    "PostmortemHit",
    "SpanHit",
    "StoreUnavailable",
    "TraceStore",
    "epoch",
    "postmortem_key",
    "rrf",
    "span_key",
]
_HNSW = {"space": "cosine"}  # larger HNSW batch/sync thresholds insert faster but hold ~50 MB more
_PAGE = 1000
_CANDIDATES_MAX = 3_000  # filtered vector search: pass up to this many candidate ids to Chroma
_OVERSAMPLE_MAX = 4_000  # else query unfiltered, this many at most, and keep those passing the filters
_SYNC_EVERY = 30.0  # seconds between checks that the keyword index holds what Chroma holds


def _exact_first(
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


def _keyword_file(keyword_dir: Path, url: str) -> Path:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", mask_url(url)).strip("-")[:60]  # no credentials in a file name
    digest = hashlib.sha1(url.encode()).hexdigest()[:8]
    return keyword_dir / f"{slug}-{digest}.sqlite3"


class TraceStore:
    """Spans and post-mortems, stored once each, searchable by meaning, keywords and filters."""

    def __init__(
        self,
        *,
        path: Path | None = None,
        url: str | None = None,
        embedder: Any,
        keyword_dir: Path | None = None,
        prefix: str = "",
    ) -> None:
        """path: embedded store folder; url: Chroma server. prefix: namespace for the collection names
        (e.g. "eval-"), so several stores can share one server or folder."""
        if (path is None) == (url is None):
            raise ValueError("give exactly one of path (embedded store) or url (Chroma server)")
        if not re.fullmatch(r"[A-Za-z0-9_-]*", prefix):
            raise ValueError(f"collection prefix {prefix!r}: use letters, digits, '-' and '_'")
        self._embedder = embedder
        self.location = mask_url(str(url)) if url else str(path)  # shown to people: no credentials
        try:
            if path is not None:
                path = Path(path)
                path.mkdir(parents=True, exist_ok=True)
                self._client = chromadb.PersistentClient(path=str(path))
                keyword_file = (keyword_dir or path) / f"{prefix}keyword.sqlite3"
            else:
                parsed = urlparse(url if "://" in str(url) else f"http://{url}")
                ssl = parsed.scheme == "https"
                self._client = chromadb.HttpClient(
                    host=parsed.hostname or "127.0.0.1", port=parsed.port or (443 if ssl else 8000), ssl=ssl
                )
                self._client.heartbeat()
                if keyword_dir is None:
                    from platformdirs import user_data_dir

                    keyword_dir = Path(user_data_dir("postmortem")) / "keyword"
                keyword_file = _keyword_file(keyword_dir, f"{url}/{prefix}" if prefix else str(url))
            self._spans = self._collection(prefix + SPANS)
            self._pms = self._collection(prefix + POSTMORTEMS)
        except (StoreUnavailable, EmbedderMismatch):
            raise
        except Exception as exc:  # chromadb raises many types for "cannot connect/open"
            where = url or str(path)
            raise StoreUnavailable(mask_urls(f"cannot open the Chroma store at {where}: {exc}")) from exc
        self.keyword_file = keyword_file
        self._synced: dict[str, float] = {}
        self._span_index = KeywordIndex(keyword_file, "spans")
        self._pm_index = KeywordIndex(keyword_file, "postmortems")

    @property
    def embedder(self) -> Any:
        """The embedding function in use (read-only: the collections were built with it)."""
        return self._embedder

    def _collection(self, name: str) -> Any:
        config: Any = {"hnsw": _HNSW}
        want = embedder_id(self._embedder)
        collection = self._client.get_or_create_collection(
            name, configuration=config, metadata={"embedder": want}, embedding_function=None
        )
        have = (collection.metadata or {}).get("embedder")
        if have and have != want:
            raise EmbedderMismatch(
                f"the store at {self.location} was built with embedder {have!r}, not {want!r}: "
                "use the same embedder, or another POSTMORTEM_HOME / Chroma server"
            )
        return collection

    # ---- writing ---------------------------------------------------------------------------------

    def add_spans(self, spans: Iterable[Span], batch_size: int = 256) -> AddResult:
        """Store spans not stored yet (embedding only those); returns counts added and skipped."""
        kind = RecordKind(self._spans, self._span_index, span_key, span_text, span_metadata, span_row)
        return add_all(kind, spans, batch_size, self._embed)

    def add_postmortems(self, docs: Iterable[PostmortemDoc]) -> AddResult:
        """Store post-mortem chunks not stored yet; returns counts added and skipped."""
        kind = RecordKind(
            self._pms, self._pm_index, postmortem_key, postmortem_text, postmortem_metadata, postmortem_row
        )
        return add_all(kind, docs, 64, self._embed)

    def _embed(self, texts: list[str]) -> np.ndarray:
        from retrieval.embeddings import embed_texts

        return embed_texts(self._embedder, texts)

    # ---- keyword index upkeep --------------------------------------------------------------------

    def _sync(
        self, collection: Any, index: KeywordIndex, row_of: Callable[[str, dict[str, Any]], KeywordRow]
    ) -> None:
        """Make the keyword index hold exactly Chroma's ids (cheap when the counts agree)."""
        if collection.count() == index.count():
            return
        chroma_ids: set[str] = set()
        offset = 0
        while page := collection.get(include=[], limit=_PAGE, offset=offset)["ids"]:
            chroma_ids.update(page)
            offset += len(page)
        indexed = index.all_ids()
        index.remove(indexed - chroma_ids)
        missing = sorted(chroma_ids - indexed)
        for chunk in batches(missing, 256):
            got = collection.get(ids=chunk, include=["metadatas"])
            index.add(row_of(key, meta) for key, meta in zip(got["ids"], got["metadatas"], strict=True))

    def _sync_spans(self) -> None:
        if time.monotonic() - self._synced.get(SPANS, -math.inf) > _SYNC_EVERY:
            self._sync(self._spans, self._span_index, lambda key, meta: span_row(key, load_span(meta)))
            self._synced[SPANS] = time.monotonic()

    def _sync_postmortems(self) -> None:
        if time.monotonic() - self._synced.get(POSTMORTEMS, -math.inf) > _SYNC_EVERY:
            self._sync(
                self._pms, self._pm_index, lambda key, meta: postmortem_row(key, load_postmortem(meta))
            )
            self._synced[POSTMORTEMS] = time.monotonic()

    # ---- reading ---------------------------------------------------------------------------------

    def count_spans(self) -> int:
        return self._spans.count()

    def count_postmortems(self) -> int:
        return self._pms.count()

    def get_span(self, span_id: str) -> Span | None:
        got = self._spans.get(where={"span_id": span_id}, include=["metadatas"], limit=1)
        return load_span(got["metadatas"][0]) if got["ids"] else None

    def get_trace(self, trace_id: str) -> list[Span]:
        got = self._spans.get(where={"trace_id": trace_id}, include=["metadatas"])
        return sorted(
            (load_span(m) for m in got["metadatas"]), key=lambda s: (epoch(s.start_time), s.span_id)
        )

    def _spans_by_key(self, keys: Sequence[str]) -> dict[str, Span]:
        out: dict[str, Span] = {}
        for chunk in batches(keys, 500):
            got = self._spans.get(ids=chunk, include=["metadatas"])
            out.update((k, load_span(m)) for k, m in zip(got["ids"], got["metadatas"], strict=True))
        return out

    def query_spans(
        self,
        *,
        service: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        model: str | None = None,
        kind: SpanKind | str | None = None,
        trace_id: str | None = None,
        limit: int | None = None,
    ) -> list[Span]:
        """Spans matching every given filter, by start time (window: start <= span start <= end)."""
        self._sync_spans()
        filters = keyword_filter(service, start, end, model, kind, trace_id)
        keys = self._span_index.filter_ids(filters, limit)
        found = self._spans_by_key(keys)
        return [found[k] for k in keys if k in found]

    def _vector_ids(
        self, vector: np.ndarray, filters: KeywordFilter, where: dict[str, Any] | None, pool: int
    ) -> list[str]:
        """Nearest span ids under the filters. Chroma's own metadata filter is slow on large stores, so the
        filter index supplies the candidates when they are few, and otherwise checks the nearest spans of
        an unfiltered query (oversampled); Chroma's filter is the last resort."""
        query = self._spans.query
        if filters.empty:
            return query(query_embeddings=vector, n_results=pool, include=[])["ids"][0]
        matching = self._span_index.count(filters)
        if matching <= _CANDIDATES_MAX:
            if not matching:
                return []
            candidates = self._span_index.filter_ids(filters, ordered=False)
            got = query(
                query_embeddings=vector, n_results=min(pool, len(candidates)), ids=candidates, include=[]
            )
            return got["ids"][0]
        total = max(self._span_index.size(), matching)
        n = min(total, _OVERSAMPLE_MAX, math.ceil(1.3 * pool * total / matching) + pool)
        nearest = query(query_embeddings=vector, n_results=n, include=[])["ids"][0]
        kept = self._span_index.keep(nearest, filters)
        if len(kept) >= pool // 2 or n >= total:
            return kept[:pool]
        return query(query_embeddings=vector, n_results=pool, where=where, include=[])["ids"][0]

    def search_spans(
        self,
        query: str,
        *,
        k: int = 10,
        service: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        model: str | None = None,
        kind: SpanKind | str | None = None,
        trace_id: str | None = None,
    ) -> list[SpanHit]:
        """The k best spans for a query: vector and BM25 rankings fused by reciprocal rank."""
        if k <= 0 or not query.strip():
            return []
        self._sync_spans()
        pool = max(4 * k, 40)
        filters = keyword_filter(service, start, end, model, kind, trace_id)
        vector = self._embed([query])
        vec_ids = self._vector_ids(
            vector, filters, chroma_where(service, start, end, model, kind, trace_id), pool
        )
        kw_ids = self._span_index.search(query, filters, pool)
        fused, exact = _exact_first(rrf(vec_ids, kw_ids), self._span_index, query, filters)
        fused = fused[:k]
        spans = self._spans_by_key([key for key, _ in fused])
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
        self, query: str, *, k: int = 5, service: str | None = None, per_document: bool = True
    ) -> list[PostmortemHit]:
        """Past post-mortem chunks for a query (hybrid); with per_document, only each one's best chunk."""
        if k <= 0 or not query.strip():
            return []
        self._sync_postmortems()
        if self._pm_index.count() == 0:
            return []
        pool = max(8 * k, 40)
        vec = self._pms.query(
            query_embeddings=self._embed([query]),
            n_results=pool,
            where={"service": service} if service else None,
            include=[],
        )
        vec_ids: list[str] = vec["ids"][0]
        kw_ids = self._pm_index.search(query, KeywordFilter(service=service), pool)
        keys = list(dict.fromkeys([*vec_ids, *kw_ids]))
        got = self._pms.get(ids=keys, include=["metadatas"]) if keys else {"ids": [], "metadatas": []}
        docs = {key: load_postmortem(m) for key, m in zip(got["ids"], got["metadatas"], strict=True)}
        hits: list[PostmortemHit] = []
        seen: set[str] = set()
        fused, _ = _exact_first(rrf(vec_ids, kw_ids), self._pm_index, query, KeywordFilter(service=service))
        for key, score in fused:
            doc = docs.get(key)
            if doc is None or (per_document and doc.id in seen):
                continue
            seen.add(doc.id)
            hits.append(PostmortemHit(doc=doc, score=score))
            if len(hits) == k:
                break
        return hits

    def get_postmortem(self, postmortem_id: str) -> list[PostmortemDoc]:
        got = self._pms.get(where={"postmortem_id": postmortem_id}, include=["metadatas"])
        return sorted((load_postmortem(m) for m in got["metadatas"]), key=lambda d: d.chunk_index)

    def list_postmortems(self) -> list[PostmortemDoc]:
        """Every post-mortem as one document (its chunks' texts joined in order), by id."""
        chunks: dict[str, list[PostmortemDoc]] = {}
        offset = 0
        while True:
            got = self._pms.get(include=["metadatas"], limit=_PAGE, offset=offset)
            if not got["ids"]:
                break
            offset += len(got["ids"])
            for meta in got["metadatas"]:
                doc = load_postmortem(meta)
                chunks.setdefault(doc.id, []).append(doc)
        return [
            join_chunks(sorted(parts, key=lambda d: d.chunk_index)) for _, parts in sorted(chunks.items())
        ]

    def postmortem_vectors(self) -> dict[str, np.ndarray]:
        """Every post-mortem's stored vector, by id: the mean of its chunks' vectors, L2-normalised.

        Lets whole-corpus analyses (patterns) reuse the vectors computed when the post-mortems were added.
        """
        sums: dict[str, np.ndarray] = {}
        offset = 0
        while True:
            got = self._pms.get(include=["metadatas", "embeddings"], limit=_PAGE, offset=offset)
            if not got["ids"]:
                break
            offset += len(got["ids"])
            for meta, vector in zip(got["metadatas"], got["embeddings"], strict=True):
                key = str(meta["postmortem_id"])
                vec = np.asarray(vector, dtype=np.float32)
                sums[key] = sums[key] + vec if key in sums else vec.copy()
        return {key: vec / (float(np.linalg.norm(vec)) or 1.0) for key, vec in sums.items()}

    def close(self) -> None:
        self._span_index.close()
        self._pm_index.close()
