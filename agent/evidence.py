"""The evidence catalog: every object a draft may cite (spans, retrieved documents, reports, past
post-mortems), its full text for the verifier, and `models.Evidence` records with verbatim excerpts."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from agent.models import Evidence, Incident, doc_ref, pm_ref, report_ref, span_ref
from retrieval.trace import PostmortemDoc, Span

EXCERPT_CHARS = 280
_WS = re.compile(r"\s+")
_ELLIPSIS = ("…", "...")


def normalize(text: str) -> str:
    """Whitespace-normalised form used for every quote comparison."""
    return _WS.sub(" ", text).strip()


def clean_quote(quote: str) -> str:
    """A quote as it should appear in the source: normalised, without surrounding ellipses."""
    text = normalize(quote)
    for mark in _ELLIPSIS:
        text = text.removeprefix(mark).removesuffix(mark)
    return text.strip()


def span_text(span: Span) -> str:
    """Every piece of text a span recorded, the object a quote of `span:<id>` must come from."""
    parts: list[str | None] = [span.name, span.request_model, span.response_model, span.system_instructions]
    for message in [*span.input_messages, *span.output_messages]:
        parts.append(message.content)
        parts.extend(call.arguments for call in message.tool_calls)
    parts += [span.input_value, span.output_value, span.retrieval_query, " ".join(span.finish_reasons)]
    parts += [doc.content for doc in span.documents]
    if span.tool is not None:
        parts += [span.tool.name, span.tool.description, span.tool.arguments, span.tool.result]
    if span.prompt_template is not None:
        parts += [span.prompt_template.id, span.prompt_template.version, span.prompt_template.template]
    parts += [span.status.message, span.status.error_type]
    parts += [_flat(value) for value in span.attributes.values()]
    for event in span.events:
        parts.append(event.name)
        parts += [_flat(value) for value in event.attributes.values()]
    return "\n".join(p for p in parts if p)


def _flat(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return str(value)
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


def _span_excerpt(span: Span) -> str:
    for text in (span.output_text, span.status.message, span.retrieval_query, span.user_text):
        if text:
            return text
    if span.tool is not None and (span.tool.result or span.tool.arguments):
        return span.tool.result or span.tool.arguments or ""
    return span.name


def _span_label(span: Span) -> str:
    bits = [f"{span.kind.value} span “{span.name}”"]
    if span.model and span.model not in span.name:
        bits.append(span.model)
    if span.prompt_template is not None and span.prompt_template.version:
        bits.append(f"prompt {span.prompt_template.version}")
    label = " ".join(b for b in bits if b)
    return f"{label} ({span.service})" if span.service else label


def _window(text: str, focus: str | None) -> str:
    """A verbatim excerpt of `text`, around `focus` when it occurs there."""
    flat = normalize(text)
    if len(flat) <= EXCERPT_CHARS:
        return flat
    if focus:
        at = flat.find(clean_quote(focus))
        if at >= 0:
            start = max(0, at - 40)
            return flat[start : start + max(EXCERPT_CHARS, len(clean_quote(focus)) + 80)]
    return flat[:EXCERPT_CHARS]


class EvidenceCatalog:
    """Resolves evidence ids to the objects they name. Unknown span ids may be looked up in the store."""

    def __init__(
        self,
        spans: Iterable[Span] = (),
        incident: Incident | None = None,
        postmortems: Iterable[PostmortemDoc] = (),
        span_lookup: Callable[[str], Span | None] | None = None,
        pm_lookup: Callable[[str], list[PostmortemDoc]] | None = None,
    ) -> None:
        self._spans: dict[str, Span] = {}
        self.add_spans(spans)
        self._incident = incident
        self._pms: dict[str, list[PostmortemDoc]] = {}
        self.add_postmortems(postmortems)
        self._lookup = span_lookup
        self._pm_lookup = pm_lookup
        self._texts: dict[str, str] = {}

    def add_spans(self, spans: Iterable[Span]) -> None:
        for span in spans:
            self._spans.setdefault(span.span_id, span)

    def add_postmortems(self, docs: Iterable[PostmortemDoc]) -> None:
        for doc in docs:
            chunks = self._pms.setdefault(doc.id, [])
            if all(c.chunk_index != doc.chunk_index for c in chunks):
                chunks.append(doc)
                chunks.sort(key=lambda c: c.chunk_index)

    # -- resolution -------------------------------------------------------------------------------------------
    def span(self, span_id: str) -> Span | None:
        span = self._spans.get(span_id)
        if span is None and self._lookup is not None:
            span = self._lookup(span_id)
            if span is not None:
                self._spans[span_id] = span
        return span

    def _resolve(self, ref: str) -> tuple[str, Any] | None:
        kind, _, rest = ref.partition(":")
        if kind == "span" and rest:
            span = self.span(rest)
            return ("span", span) if span else None
        if kind == "doc":
            span_id, _, index = rest.rpartition(":")
            span = self.span(span_id) if span_id else None
            if span is None or not index.isdigit() or int(index) >= len(span.documents):
                return None
            return ("document", (span, int(index)))
        if kind == "report" and rest.isdigit() and self._incident is not None:
            n = int(rest)
            return (
                ("report", self._incident.reports[n - 1]) if 1 <= n <= len(self._incident.reports) else None
            )
        if kind == "pm" and rest:
            if rest not in self._pms and self._pm_lookup is not None:
                self.add_postmortems(self._pm_lookup(rest) or [])
            return ("postmortem", self._pms[rest]) if self._pms.get(rest) else None
        return None

    def has(self, ref: str) -> bool:
        return self._resolve(ref) is not None

    def full_text(self, ref: str) -> str | None:
        """The full text of the cited object (what a quote citing it must come from)."""
        if ref in self._texts:
            return self._texts[ref]
        resolved = self._resolve(ref)
        if resolved is None:
            return None
        kind, obj = resolved
        if kind == "span":
            text = span_text(obj)
        elif kind == "document":
            span, index = obj
            doc = span.documents[index]
            text = "\n".join(
                p for p in (doc.id, doc.content, _flat(doc.metadata) if doc.metadata else "") if p
            )
        elif kind == "report":
            text = "\n".join(p for p in (obj.text, obj.author, obj.source) if p)
        else:
            text = "\n".join([obj[0].title, *(c.section or "" for c in obj), *(c.text for c in obj)])
        self._texts[ref] = normalize(text)
        return self._texts[ref]

    def contains(self, ref: str, quote: str) -> bool:
        """True when `quote` appears verbatim (whitespace-normalised) in the object `ref` names."""
        text = self.full_text(ref)
        needle = clean_quote(quote)
        return text is not None and bool(needle) and needle in text

    def find_quote(self, quote: str, prefer: Iterable[str] = ()) -> str | None:
        """An id whose object contains `quote`: the preferred ids first, then reports, documents and spans."""
        for ref in [*prefer, *self.all_refs()]:
            if self.contains(ref, quote):
                return ref
        return None

    def all_refs(self) -> list[str]:
        refs = [report_ref(i) for i in range(1, len(self._incident.reports) + 1)] if self._incident else []
        refs += [pm_ref(pm_id) for pm_id in self._pms]
        for span in self._spans.values():
            refs.append(span_ref(span.span_id))
            refs += [doc_ref(span.span_id, i) for i in range(len(span.documents))]
        return refs

    def trace_of(self, ref: str) -> str | None:
        resolved = self._resolve(ref)
        if resolved is None or resolved[0] not in ("span", "document"):
            return None
        span = resolved[1] if resolved[0] == "span" else resolved[1][0]
        return span.trace_id

    def service_of(self, ref: str) -> str | None:
        resolved = self._resolve(ref)
        if resolved is None or resolved[0] not in ("span", "document"):
            return None
        span = resolved[1] if resolved[0] == "span" else resolved[1][0]
        return span.service

    def timestamp(self, ref: str) -> datetime | None:
        resolved = self._resolve(ref)
        if resolved is None:
            return None
        kind, obj = resolved
        if kind == "span":
            return obj.start_time
        if kind == "document":
            return obj[0].start_time
        if kind == "report":
            return obj.timestamp
        return None

    # -- models.Evidence --------------------------------------------------------------------------------------
    def evidence(self, ref: str, focus: str | None = None) -> Evidence | None:
        """The Evidence record for `ref`; its excerpt is verbatim and shows `focus` when the object holds it."""
        resolved = self._resolve(ref)
        if resolved is None:
            return None
        kind, obj = resolved
        if focus and not self.contains(ref, focus):
            focus = None
        if kind == "span":
            source = span_text(obj) if focus else _span_excerpt(obj)
            return Evidence(
                id=ref,
                kind="span",
                trace_id=obj.trace_id,
                span_id=obj.span_id,
                excerpt=_window(source, focus),
                timestamp=obj.start_time,
                label=_span_label(obj),
            )
        if kind == "document":
            span, index = obj
            doc = span.documents[index]
            label = " ".join(str(p) for p in ("document", doc.id, doc.source, doc.updated_at) if p)
            return Evidence(
                id=ref,
                kind="document",
                trace_id=span.trace_id,
                span_id=span.span_id,
                excerpt=_window(doc.content or doc.id or "", focus),
                timestamp=span.start_time,
                label=label,
            )
        if kind == "report":
            label = " ".join(p for p in ("report", obj.source, obj.author) if p)
            return Evidence(
                id=ref, kind="report", excerpt=_window(obj.text, focus), timestamp=obj.timestamp, label=label
            )
        first = obj[0]
        body = "\n".join(c.text for c in obj)
        return Evidence(
            id=ref,
            kind="postmortem",
            excerpt=_window(body, focus),
            label=f"past post-mortem: {first.title}" + (f" ({first.date})" if first.date else ""),
        )
