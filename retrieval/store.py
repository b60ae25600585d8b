"""The trace store: spans and post-mortems in ChromaDB, with a BM25 keyword index beside it.

Embedded and persistent (`path`) or a Chroma server (`url`). Ids come from the records themselves
(`trace_id:span_id`, `postmortem_id#chunk`), so storing the same input twice adds nothing. Search fuses
vector similarity and BM25 by reciprocal rank (k=60); the same filters apply to both sides.

Writes go to the keyword index first, each new record's JSON queued beside it for its vector
(`store_writer`): a record is found by id, filters and keywords at once, by meaning once its vector is in
Chroma. Chroma, holding every record with its vector and JSON, stays the durable copy: before a read the
keyword index is compared with it and completed, so spans added to a shared server from another machine
become keyword-searchable too. One process writes a store at a time (`store_lock`); each distinct text is
embedded once (`vector_cache`, a table in the keyword-index file).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import chromadb
import numpy as np

from retrieval.keyword import KeywordFilter, KeywordIndex, identifier_terms
from retrieval.masking import mask_url, mask_urls
from retrieval.render import postmortem_vector_parts, span_vector_parts
from retrieval.store_check import CollectionCheck
from retrieval.store_content import ContentQueue, ContentResult, merge_content
from retrieval.store_lock import WriterLock
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
from retrieval.store_writer import RecordKind, VectorFiller, add_records, batches, write_vectors
from retrieval.trace import PostmortemDoc, Span, SpanContent, SpanKind
from retrieval.vector_cache import VectorCache, embedder_identity

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
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        """path: embedded store folder; url: Chroma server. prefix: namespace for the collection names
        (e.g. "eval-"), so several stores can share one server or folder. on_wait(message): told when a
        write waits for another process writing the same store."""
        if (path is None) == (url is None):
            raise ValueError("give exactly one of path (embedded store) or url (Chroma server)")
        if not re.fullmatch(r"[A-Za-z0-9_-]*", prefix):
            raise ValueError(f"collection prefix {prefix!r}: use letters, digits, '-' and '_'")
        self._embedder = embedder
        self._prefix = prefix
        self.on_wait = on_wait or _log_wait
        self.location = mask_url(str(url)) if url else str(path)  # shown to people: no credentials
        try:
            if path is not None:
                path = Path(path)
                path.mkdir(parents=True, exist_ok=True)
                self._open_embedded(path)
                keyword_file = (keyword_dir or path) / f"{prefix}keyword.sqlite3"
            else:
                parsed = urlparse(url if "://" in str(url) else f"http://{url}")
                ssl = parsed.scheme == "https"
                self._client = chromadb.HttpClient(
                    host=parsed.hostname or "127.0.0.1", port=parsed.port or (443 if ssl else 8000), ssl=ssl
                )
                self._client.heartbeat()
                self._spans = self._collection(prefix + SPANS)
                self._pms = self._collection(prefix + POSTMORTEMS)
                if keyword_dir is None:
                    from platformdirs import user_data_dir

                    keyword_dir = Path(user_data_dir("postmortem")) / "keyword"
                keyword_file = _keyword_file(keyword_dir, f"{url}/{prefix}" if prefix else str(url))
        except (StoreUnavailable, EmbedderMismatch):
            raise
        except Exception as exc:  # chromadb raises many types for "cannot connect/open"
            where = url or str(path)
            raise StoreUnavailable(mask_urls(f"cannot open the Chroma store at {where}: {exc}")) from exc
        self.keyword_file = keyword_file
        self._path = path
        self._synced: dict[str, float] = {}
        self._span_index = KeywordIndex(keyword_file, "spans")
        self._pm_index = KeywordIndex(keyword_file, "postmortems")
        self.vector_cache = VectorCache(keyword_file, embedder_identity(embedder))
        self._content = ContentQueue(keyword_file, prefix)
        # The lock is per store folder (embedded) or per server URL on this machine.
        self._lock = WriterLock.for_path(
            path / "write.lock" if path is not None else keyword_file.with_suffix(".lock")
        )

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

    def _span_kind(self) -> RecordKind[Span]:
        return RecordKind(
            self._spans, self._span_index, span_key, span_vector_parts, span_metadata, span_row,
            _dump, Span.model_validate_json,
        )  # fmt: skip

    def _pm_kind(self) -> RecordKind[PostmortemDoc]:
        return RecordKind(
            self._pms, self._pm_index, postmortem_key, postmortem_vector_parts, postmortem_metadata, postmortem_row,
            _dump, PostmortemDoc.model_validate_json,
        )  # fmt: skip

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Hold this store's writer lock (across processes) for the block; every write takes it."""
        with self._lock.hold(on_wait=self.on_wait, on_stale=self._reopen):
            yield

    def _open_embedded(self, path: Path) -> None:
        """Open the folder's Chroma client and collections. Creating a store (or its collections) writes:
        two processes creating one at once would race, so creation holds the writer lock."""
        names = (self._prefix + SPANS, self._prefix + POSTMORTEMS)
        client = None
        if (path / "chroma.sqlite3").is_file():
            client = chromadb.PersistentClient(path=str(path))
            if set(names) <= {c.name for c in client.list_collections()}:
                self._client = client
                self._spans, self._pms = (self._collection(name) for name in names)
                return
        with WriterLock.for_path(path / "write.lock").hold(on_wait=self.on_wait):
            self._client = client or chromadb.PersistentClient(path=str(path))
            self._spans, self._pms = (self._collection(name) for name in names)

    def _reopen(self) -> None:
        """Another process wrote since this client read the vector index: drop the client's copy."""
        if self._path is None:
            return  # a server holds the one copy
        self._client.close()
        self._client = chromadb.PersistentClient(path=str(self._path))
        self._spans = self._collection(self._prefix + SPANS)
        self._pms = self._collection(self._prefix + POSTMORTEMS)

    def _add(
        self, kind: Callable[[], RecordKind[Any]], items: Iterable[Any], batch_size: int, wait: bool
    ) -> AddResult:
        with self.writing():
            self._sync(kind())
            filler = VectorFiller(kind(), self._embed_cached, batch_size)
            try:
                result = add_records(kind(), items, batch_size, filler)
            except BaseException:
                with contextlib.suppress(Exception):  # stopped (an error, Ctrl-C): the queue keeps the rest
                    filler.finish(wait=False)
                raise
            filler.finish(wait=wait)
            return result

    def add_spans(self, spans: Iterable[Span], batch_size: int = 256, wait: bool = True) -> AddResult:
        """Store spans not stored yet; returns counts added and skipped. They are keyword-searchable at
        once; their vectors are written meanwhile, and before returning unless wait=False (then the next
        writer, or `embed_pending`, writes them)."""
        result = self._add(self._span_kind, spans, batch_size, wait)
        if result.added and self._content.count():
            with self.writing():
                self._attach_content(batch_size, wait)
        return result

    def add_span_content(
        self, contents: Iterable[SpanContent], batch_size: int = 256, wait: bool = True
    ) -> ContentResult:
        """GenAI content recorded apart from its span (OTLP log records): merged into stored spans now, kept
        for the others until they are ingested (store_content)."""
        with self.writing():
            events = self._content.add(contents)
            attached = self._attach_content(batch_size, wait)
        return ContentResult(events=events, attached=attached, waiting=self._content.count())

    def _attach_content(self, batch_size: int, wait: bool) -> int:
        """Merge waiting content into the spans stored (writer lock held): each such span is stored again."""
        kind = self._span_kind()
        self._sync(kind)
        keys = sorted(kind.index.existing(self._content.keys()))
        attached = 0
        for chunk in batches(keys, batch_size):
            spans = self._spans_by_key(chunk)
            merged = [merge_content(spans[k], self._content.events(k)) for k in chunk if k in spans]
            self._spans.delete(ids=list(chunk))  # ids with no vector yet are only in the keyword index
            kind.index.pending_done(list(chunk))
            kind.index.remove(chunk)
            filler = VectorFiller(kind, self._embed_cached, batch_size)
            try:
                add_records(kind, merged, batch_size, filler)
            finally:
                filler.finish(wait=wait)
            self._content.done(chunk)
            attached += len(merged)
        return attached

    def add_postmortems(self, docs: Iterable[PostmortemDoc], wait: bool = True) -> AddResult:
        """Store post-mortem chunks not stored yet; returns counts added and skipped."""
        return self._add(self._pm_kind, docs, 64, wait)

    def embed_pending(self, batch_size: int = 256) -> int:
        """Write the vectors of every record still waiting for one; returns how many were written."""
        written = 0
        with self.writing():
            for kind in (self._span_kind(), self._pm_kind()):
                while rows := kind.index.pending_take(batch_size):
                    written += write_vectors(kind, [(k, j) for _, k, j in rows], self._embed_cached)
        return written

    def check(self, repair: bool = False, deep: bool = True) -> list[CollectionCheck]:
        """Verify Chroma's records and vectors against the keyword index and ids (store_check); with
        repair, fix what differs and check again. Returns the reports of the last check."""
        from retrieval.store_check import check_collection, repair_collection

        kinds = ((SPANS, self._span_kind), (POSTMORTEMS, self._pm_kind))
        reports = [check_collection(kind(), name, deep) for name, kind in kinds]
        if repair and any(r.problems or r.waiting for r in reports):
            with self.writing():
                for name, kind in kinds:  # checked again under the lock: another writer may have been at work
                    repair_collection(kind(), check_collection(kind(), name, deep), self._embed_cached)
                reports = [check_collection(kind(), name, deep) for name, kind in kinds]
        return reports

    def vectors_pending(self) -> int:
        """Records stored and keyword-searchable whose vector is not written yet."""
        return self._span_index.pending_count() + self._pm_index.pending_count()

    def _embed(self, texts: list[str]) -> np.ndarray:
        from retrieval.embeddings import embed_texts

        return embed_texts(self._embedder, texts)

    def _embed_cached(self, texts: list[str]) -> np.ndarray:
        return self.vector_cache.embed(texts, self._embed)

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """Vectors of any texts through the store's cache (the agent's similarity checks use it)."""
        return self._embed_cached(list(texts))

    # ---- keyword index upkeep --------------------------------------------------------------------

    def _chroma_ids(self, collection: Any) -> set[str]:
        ids: set[str] = set()
        offset = 0
        while page := collection.get(include=[], limit=_PAGE, offset=offset)["ids"]:
            ids.update(page)
            offset += len(page)
        return ids

    def _sync(self, kind: RecordKind[Any]) -> None:
        """Make the keyword index hold Chroma's ids plus those waiting for vectors (cheap when counts agree)."""
        index = kind.index
        waiting = index.pending_count()
        if kind.collection.count() + waiting == index.count():
            return
        chroma_ids = self._chroma_ids(kind.collection)
        pending = index.pending_ids() if waiting else set()
        index.pending_done(sorted(pending & chroma_ids))  # written, but not yet taken off the queue
        indexed = index.all_ids()
        index.remove(indexed - chroma_ids - pending)
        for chunk in batches(sorted(chroma_ids - indexed), 256):
            got = kind.collection.get(ids=chunk, include=["metadatas"])
            index.add(
                kind.row_of(k, kind.load(m["json"]))
                for k, m in zip(got["ids"], got["metadatas"], strict=True)
            )

    def _sync_spans(self) -> None:
        if time.monotonic() - self._synced.get(SPANS, -math.inf) > _SYNC_EVERY:
            self._sync(self._span_kind())
            self._synced[SPANS] = time.monotonic()

    def _sync_postmortems(self) -> None:
        if time.monotonic() - self._synced.get(POSTMORTEMS, -math.inf) > _SYNC_EVERY:
            self._sync(self._pm_kind())
            self._synced[POSTMORTEMS] = time.monotonic()

    # ---- reading ---------------------------------------------------------------------------------

    def count_spans(self) -> int:
        """Spans stored (with a vector or waiting for one)."""
        return self._spans.count() + self._span_index.pending_count()

    def count_postmortems(self) -> int:
        return self._pms.count() + self._pm_index.pending_count()

    def get_span(self, span_id: str) -> Span | None:
        got = self._spans.get(where={"span_id": span_id}, include=["metadatas"], limit=1)
        if got["ids"]:
            return load_span(got["metadatas"][0])
        waiting = self._span_index.pending_records(suffix=f":{span_id}")
        return Span.model_validate_json(next(iter(waiting.values()))) if waiting else None

    def get_trace(self, trace_id: str) -> list[Span]:
        got = self._spans.get(where={"trace_id": trace_id}, include=["metadatas"])
        spans = {span_key(s): s for s in (load_span(m) for m in got["metadatas"])}
        for key, raw in self._span_index.pending_records(prefix=f"{trace_id}:").items():
            spans.setdefault(key, Span.model_validate_json(raw))
        return sorted(spans.values(), key=lambda s: (epoch(s.start_time), s.span_id))

    def _spans_by_key(self, keys: Sequence[str]) -> dict[str, Span]:
        out: dict[str, Span] = {}
        for chunk in batches(keys, 500):
            got = self._spans.get(ids=chunk, include=["metadatas"])
            out.update((k, load_span(m)) for k, m in zip(got["ids"], got["metadatas"], strict=True))
        missing = [k for k in keys if k not in out]
        if missing:  # stored, vector not written yet
            out.update(
                (k, Span.model_validate_json(raw))
                for k, raw in self._span_index.pending_records(missing).items()
            )
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
        for key, raw in self._pm_index.pending_records([k for k in keys if k not in docs]).items():
            docs[key] = PostmortemDoc.model_validate_json(raw)  # stored, vector not written yet
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

    def close(self, *, release_vectors: bool = False) -> None:
        """Close the keyword index and caches. release_vectors=True also closes the Chroma client, which gives
        back its ~7 file descriptors: for a store no other process writes (an eval's temporary store). Not the
        default: a client holding an older copy of the vector index may persist it on close (issue 16)."""
        self._span_index.close()
        self._pm_index.close()
        self.vector_cache.close()
        self._content.close()
        if release_vectors:
            self._client.close()


def _log_wait(message: str) -> None:
    logging.getLogger("postmortem.store").warning("%s", message)


def _dump(record: Span | PostmortemDoc) -> str:
    return record.model_dump_json(exclude_defaults=True)
