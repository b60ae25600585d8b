"""The trace store: spans and post-mortems in ChromaDB, with a BM25 keyword index beside it.

Embedded and persistent (`path`) or a Chroma server (`url`). Ids come from the records themselves
(`trace_id:span_id`, `postmortem_id#chunk`), so storing the same input twice adds nothing. Search fuses
vector similarity and BM25 by reciprocal rank (k=60); the same filters apply to both sides (`store_search`).

Writes go to the keyword index first, each new record's JSON queued beside it for its vector
(`store_writer`): a record is found by id, filters and keywords at once, by meaning once its vector is in
Chroma (`store_read` reads either). Chroma, holding every record with its vector and JSON, stays the durable
copy: before a read the keyword index is compared with it and completed (`store_sync`), so spans added to (or
rewritten on) a shared server from another machine become keyword-searchable too. One process writes a store at a time
(`store_lock`); each distinct text is embedded once (`vector_cache`, a table in the keyword-index file).

This module is the facade: opening (`store_chroma`), the write path and upkeep; reads and searches delegate.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from retrieval import store_read, store_search
from retrieval.keyword import KeywordIndex
from retrieval.masking import mask_url, mask_urls
from retrieval.render import postmortem_vector_parts, span_vector_parts
from retrieval.store_check import CollectionCheck
from retrieval.store_chroma import ChromaSide, open_embedded, open_server, reopen_embedded
from retrieval.store_chroma import keyword_file as _keyword_file
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
    epoch,
    keyword_filter,
    postmortem_key,
    postmortem_metadata,
    postmortem_row,
    rrf,
    span_key,
    span_metadata,
    span_row,
)
from retrieval.store_sync import SyncClock, stamped, sync_index, sync_vectors, writer_id
from retrieval.store_writer import RecordKind, VectorFiller, add_records, batches, write_vectors
from retrieval.trace import PostmortemDoc, Span, SpanContent, SpanKind
from retrieval.vector_cache import VectorCache, embedder_identity
from retrieval.vector_keys import VectorKeys

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
        path = Path(path) if path is not None else None
        self._chroma = self._open(path, url)
        if path is not None:
            keyword_file = (keyword_dir or path) / f"{prefix}keyword.sqlite3"
        else:
            if keyword_dir is None:
                from platformdirs import user_data_dir

                keyword_dir = Path(user_data_dir("postmortem")) / "keyword"
            keyword_file = _keyword_file(keyword_dir, f"{url}/{prefix}" if prefix else str(url))
        self.keyword_file = keyword_file
        self._path = path
        self._closed = False
        self._clock = SyncClock(shared=path is None)
        self._span_index = KeywordIndex(keyword_file, "spans")
        self._pm_index = KeywordIndex(keyword_file, "postmortems")
        self._writer = writer_id(self._span_index)  # stamped on what this machine stores (store_sync)
        self._span_keys = VectorKeys(keyword_file, "spans")
        self._pm_keys = VectorKeys(keyword_file, "postmortems")
        self.vector_cache = VectorCache(keyword_file, embedder_identity(embedder))
        self._content = ContentQueue(keyword_file, prefix)
        # The lock is per store folder (embedded) or per server URL on this machine.
        self._lock = WriterLock.for_path(
            path / "write.lock" if path is not None else keyword_file.with_suffix(".lock")
        )

    def _open(self, path: Path | None, url: str | None) -> ChromaSide:
        try:
            if path is not None:
                path.mkdir(parents=True, exist_ok=True)
                return open_embedded(path, self._prefix, self._embedder, self.location, self.on_wait)
            return open_server(str(url), self._prefix, self._embedder, self.location)
        except (StoreUnavailable, EmbedderMismatch):
            raise
        except Exception as exc:  # chromadb raises many types for "cannot connect/open"
            where = url or str(path)
            raise StoreUnavailable(mask_urls(f"cannot open the Chroma store at {where}: {exc}")) from exc

    @property
    def embedder(self) -> Any:
        """The embedding function in use (read-only: the collections were built with it)."""
        return self._embedder

    @property
    def _spans(self) -> Any:
        return self._chroma.spans

    @property
    def _pms(self) -> Any:
        return self._chroma.postmortems

    # ---- writing ---------------------------------------------------------------------------------

    def _span_kind(self) -> RecordKind[Span]:
        return RecordKind(
            self._spans, self._span_index, span_key, span_vector_parts, stamped(span_metadata, self._writer), span_row,
            _dump, Span.model_validate_json, self._chroma.span_vectors, self._span_keys,
            self._chroma.bare_spans,
        )  # fmt: skip

    def _pm_kind(self) -> RecordKind[PostmortemDoc]:
        return RecordKind(
            self._pms, self._pm_index, postmortem_key, postmortem_vector_parts, stamped(postmortem_metadata, self._writer),
            postmortem_row,
            _dump, PostmortemDoc.model_validate_json, self._chroma.postmortem_vectors, self._pm_keys,
        )  # fmt: skip

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Hold this store's writer lock (across processes) for the block; every write takes it."""
        with self._lock.hold(on_wait=self.on_wait, on_stale=self._reopen):
            yield

    def _reopen(self) -> None:
        """Another process wrote since this client read the vector index: drop the client's copy."""
        if self._path is None:
            return  # a server holds the one copy
        self._chroma = reopen_embedded(self._chroma, self._path, self._prefix, self._embedder, self.location)

    def _add(
        self,
        kind: Callable[[], RecordKind[Any]],
        items: Iterable[Any],
        batch_size: int,
        wait: bool,
        vectors: bool = True,
    ) -> AddResult:
        with self.writing():
            sync_index(kind(), self._clock.shared)
            sync_vectors(kind(), write=True)
            if not vectors:
                return add_records(kind(), items, batch_size, None)
            filler = VectorFiller(kind(), self._embed_cached, batch_size)
            try:
                result = add_records(kind(), items, batch_size, filler)
            except BaseException:
                with contextlib.suppress(Exception):  # stopped (an error, Ctrl-C): the queue keeps the rest
                    filler.finish(wait=False)
                raise
            filler.finish(wait=wait)
            return result

    def add_spans(
        self, spans: Iterable[Span], batch_size: int = 256, wait: bool = True, vectors: bool = True
    ) -> AddResult:
        """Store spans not stored yet; returns counts added and skipped. They are keyword-searchable at
        once; their vectors are written meanwhile, and before returning unless wait=False (then the next
        writer, or `embed_pending`, writes them). vectors=False: only the keyword stage, the writer lock held
        that long only; the vectors stay queued for `embed_pending`."""
        result = self._add(self._span_kind, spans, batch_size, wait, vectors)
        if result.added and self._content.count():
            with self.writing():
                self._attach_content(batch_size, wait, vectors)
        return result

    def add_span_content(
        self, contents: Iterable[SpanContent], batch_size: int = 256, wait: bool = True, vectors: bool = True
    ) -> ContentResult:
        """GenAI content recorded apart from its span (OTLP log records): merged into stored spans now, kept
        for the others until they are ingested (store_content). vectors: as for add_spans."""
        with self.writing():
            events = self._content.add(contents)
            attached = self._attach_content(batch_size, wait, vectors)
        return ContentResult(events=events, attached=attached, waiting=self._content.count())

    def _attach_content(self, batch_size: int, wait: bool, vectors: bool = True) -> int:
        """Merge waiting content into the spans stored (writer lock held): each such span is stored again.

        The merged span is queued before the old one leaves Chroma, so a reader (who looks in the queue first)
        finds one version or the other throughout; the new vectors are written after the old ones are gone."""
        kind = self._span_kind()
        sync_index(kind, self._clock.shared)
        sync_vectors(kind, write=True)
        keys = sorted(kind.index.existing(self._content.keys()))
        attached = 0
        for chunk in batches(keys, batch_size):
            spans = store_read.spans_by_key(kind, chunk)
            merged = [merge_content(spans[k], self._content.events(k)) for k in chunk if k in spans]
            old_vkeys = list(kind.keys.keys_of(chunk).values())
            kind.index.pending_done(list(chunk))
            kind.index.remove(chunk)
            add_records(kind, merged, batch_size, None)
            self._spans.delete(ids=list(chunk))  # the old records; the merged spans wait in the queue
            self._chroma.bare_spans.delete(ids=list(chunk))
            kind.keys.remove(chunk)
            self._content.done(chunk)
            if unused := kind.keys.unused(old_vkeys):  # vectors no record shares any more
                kind.vectors.delete(ids=unused)
            attached += len(merged)
        if attached and vectors:
            VectorFiller(kind, self._embed_cached, batch_size).finish(wait=wait)
        return attached

    def add_postmortems(self, docs: Iterable[PostmortemDoc], wait: bool = True) -> AddResult:
        """Store post-mortem chunks not stored yet; returns counts added and skipped."""
        return self._add(self._pm_kind, docs, 64, wait)

    def embed_pending(self, batch_size: int = 256, limit: int | None = None) -> int:
        """Write the vectors of every record still waiting for one; returns how many were written. limit: stop
        once about that many records were taken (a writer that must not hold the lock long does it in slices)."""
        written = taken = 0
        with self.writing():
            for kind in (self._span_kind(), self._pm_kind()):
                while (limit is None or taken < limit) and (rows := kind.index.pending_take(batch_size)):
                    taken += len(rows)
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
                # checked again under the lock (another writer may have been at work); a store from before
                # the searched collections gets them filled first
                for name, kind in kinds:
                    sync_vectors(kind(), write=True)
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

    # ---- reading (store_read, store_search) ------------------------------------------------------

    def _sync_spans(self) -> None:
        self._clock.sync(SPANS, self._span_kind(), lambda: self._fill_vectors(self._span_kind))

    def _sync_postmortems(self) -> None:
        self._clock.sync(POSTMORTEMS, self._pm_kind(), lambda: self._fill_vectors(self._pm_kind))

    def _fill_vectors(self, kind: Callable[[], RecordKind[Any]]) -> None:
        """Give the searched collection the vectors it lacks (a store written before it existed)."""
        with self.writing():
            sync_vectors(kind(), write=True)

    def count_spans(self) -> int:
        """Spans stored (with a vector or waiting for one)."""
        return self._spans.count() + self._chroma.bare_spans.count() + self._span_index.pending_count()

    def count_postmortems(self) -> int:
        return self._pms.count() + self._pm_index.pending_count()

    def get_span(self, span_id: str) -> Span | None:
        return store_read.get_span(self._span_kind(), span_id)

    def get_trace(self, trace_id: str) -> list[Span]:
        return store_read.get_trace(self._span_kind(), trace_id)

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
        keys = self._span_index.filter_ids(keyword_filter(service, start, end, model, kind, trace_id), limit)
        found = store_read.spans_by_key(self._span_kind(), keys)
        return [found[k] for k in keys if k in found]

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
        filters = keyword_filter(service, start, end, model, kind, trace_id)
        return store_search.search_spans(self._span_kind(), self._embed_cached, query, k, filters)

    def search_postmortems(
        self, query: str, *, k: int = 5, service: str | None = None, per_document: bool = True
    ) -> list[PostmortemHit]:
        """Past post-mortem chunks for a query (hybrid); with per_document, only each one's best chunk."""
        if k <= 0 or not query.strip():
            return []
        self._sync_postmortems()
        if self._pm_index.count() == 0:
            return []
        return store_search.search_postmortems(
            self._pm_kind(), self._embed_cached, query, k, service, per_document
        )

    def get_postmortem(self, postmortem_id: str) -> list[PostmortemDoc]:
        return store_read.get_postmortem(self._pms, postmortem_id)

    def list_postmortems(self) -> list[PostmortemDoc]:
        """Every post-mortem as one document (its chunks' texts joined in order), by id."""
        return store_read.list_postmortems(self._pms)

    def postmortem_vectors(self) -> dict[str, np.ndarray]:
        """Every post-mortem's stored vector, by id: the mean of its chunks' vectors, L2-normalised.

        Lets whole-corpus analyses (patterns) reuse the vectors computed when the post-mortems were added.
        """
        return store_read.postmortem_vectors(self._pms)

    def close(self) -> None:
        """Close the keyword index, caches and the Chroma client (giving back its file descriptors: a
        long-lived process opens stores again and again). Safe: a client persists nothing on close, and the
        next one to open the folder rebuilds what was not persisted from Chroma's log."""
        if self._closed:
            return
        self._closed = True
        for part in (self._span_index, self._pm_index, self._span_keys, self._pm_keys, self.vector_cache):
            part.close()
        self._content.close()
        self._chroma.client.close()

    def __enter__(self) -> TraceStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _log_wait(message: str) -> None:
    logging.getLogger("postmortem.store").warning("%s", message)


def _dump(record: Span | PostmortemDoc) -> str:
    return record.model_dump_json(exclude_defaults=True)
