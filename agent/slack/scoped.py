"""A view of the trace store limited to some services: what a Slack channel's request may read.

Every read the agent makes goes through it, so a trace id, a search hit or a past post-mortem of another
service never reaches the draft. Past post-mortems that name no service are shared knowledge and stay visible.
Writes (publishing an approved draft) pass through.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from retrieval.trace import PostmortemDoc, Span


class ScopedStore:
    def __init__(self, store: Any, services: Iterable[str]) -> None:
        self._store = store
        self.services = frozenset(services)

    def __getattr__(self, name: str) -> Any:  # embedder, location, add_postmortems, counts...
        if name == "_store":
            raise AttributeError(name)
        return getattr(self._store, name)

    def _span_ok(self, span: Span | None) -> bool:
        return span is not None and span.service in self.services

    def _doc_ok(self, doc: PostmortemDoc) -> bool:
        return doc.service is None or doc.service in self.services

    def get_span(self, span_id: str) -> Span | None:
        span = self._store.get_span(span_id)
        return span if self._span_ok(span) else None

    def get_trace(self, trace_id: str) -> list[Span]:
        return [s for s in self._store.get_trace(trace_id) if self._span_ok(s)]

    def query_spans(self, *, service: str | None = None, **filters: Any) -> list[Span]:
        if service is not None:
            return self._store.query_spans(service=service, **filters) if service in self.services else []
        out: list[Span] = []
        for name in sorted(self.services):
            out.extend(self._store.query_spans(service=name, **filters))
        return sorted(out, key=lambda s: s.start_time)

    def search_spans(self, query: str, *, service: str | None = None, **filters: Any) -> list[Any]:
        if service is not None and service not in self.services:
            return []
        hits = self._store.search_spans(query, service=service, **filters)
        return [hit for hit in hits if self._span_ok(hit.span)]

    def search_postmortems(self, query: str, *, k: int = 5, **kwargs: Any) -> list[Any]:
        hits = self._store.search_postmortems(query, k=k * 3, **kwargs)
        return [hit for hit in hits if self._doc_ok(hit.doc)][:k]

    def get_postmortem(self, postmortem_id: str) -> list[PostmortemDoc]:
        return [d for d in self._store.get_postmortem(postmortem_id) if self._doc_ok(d)]

    def list_postmortems(self) -> list[PostmortemDoc]:
        return [d for d in self._store.list_postmortems() if self._doc_ok(d)]

    def close(self) -> None:
        """The underlying store belongs to the bot; closing a view closes nothing."""
