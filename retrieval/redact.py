"""Redaction at ingest: e-mail addresses, phone numbers, payment cards (Luhn-checked), API keys and bearer
tokens become typed placeholders such as [REDACTED:email] in what is stored and embedded.

Identifiers, timestamps, model names and versions are never touched (the patterns are built not to match
ISO dates, times, version strings, hex ids or nanosecond timestamps, and those fields are skipped anyway).
Identifier fields that do contain PII (a user id that is an e-mail address) get the placeholder plus a
short hash, so distinct users stay distinct when counting the people affected.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from retrieval.redact_text import KINDS, TextRedactor
from retrieval.trace import PostmortemDoc, Span, SpanContent

ALL_KINDS: tuple[str, ...] = KINDS

# fields of a Span that are identifiers, times, names of models or versions: never redacted
_SPAN_KEEP = {
    "trace_id",
    "span_id",
    "parent_span_id",
    "service",
    "name",
    "kind",
    "start_time",
    "end_time",
    "operation",
    "provider",
    "request_model",
    "response_model",
    "finish_reasons",
    "dialect",
    "source",
    "code",
    "error_type",
    "role",
    "tool_call_id",
    "finish_reason",
    "timestamp",
    "version",
    "call_id",
    "usage",
    "sampling",
}
_ID_FIELDS = {"session_id", "user_id", "conversation_id"}
_KEEP_SUFFIXES = (
    "trace_id",
    "span_id",
    "traceid",
    "spanid",
    "observationid",
    "_time",
    "time",
    "timestamp",
    "unixnano",
    "model",
    "model_name",
    "version",
    "service.name",
    "finish_reason",
    "finish_reasons",
    ".role",
)
_ID_SUFFIXES = ("user.id", "user_id", "userid", "session.id", "session_id", "sessionid", "conversation.id")


@lru_cache(maxsize=4096)
def _key_category(key: str) -> str:
    """'id' (pseudonymize), 'keep' (ids, times, models, versions) or 'text' (redact)."""
    low = key.lower()
    if low.endswith(_ID_SUFFIXES):
        return "id"
    if low.endswith(_KEEP_SUFFIXES) or low.endswith(".id") or low == "id":
        return "keep"
    return "text"


class Redactor:
    """Replace PII and secrets in text with typed placeholders. `kinds` selects among ALL_KINDS."""

    def __init__(self, kinds: Iterable[str] = ALL_KINDS) -> None:
        chosen = list(dict.fromkeys(kinds))
        unknown = [k for k in chosen if k not in ALL_KINDS]
        if unknown:
            raise ValueError(f"unknown redaction kind(s) {', '.join(unknown)}; known: {', '.join(ALL_KINDS)}")
        self.kinds: tuple[str, ...] = tuple(chosen)
        self._text = TextRedactor(self.kinds)

    def text(self, s: str) -> str:
        """The text with every selected kind of PII or secret replaced."""
        return self._text(s) if s and self.kinds else s

    # ---- structures -------------------------------------------------------------------------------
    def value(self, value: Any, key: str = "") -> Any:
        """Redact strings inside nested dicts/lists; keys naming ids, times, models or versions are kept."""
        if isinstance(value, str):
            category = _key_category(key)
            if category == "text":
                return self.text(value)
            return self.identifier(value) if category == "id" else value
        if isinstance(value, dict):
            return {k: self.value(v, str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v, key) for v in value]
        return value

    def identifier(self, value: str | None) -> str | None:
        """An id that contains PII keeps its distinctness: placeholder plus a short hash of the original."""
        if not value:
            return value
        redacted = self.text(value)
        if redacted == value:
            return value
        digest = hashlib.sha256(value.encode("utf-8")).hexdigest()[:10]
        return f"{redacted}#{digest}"

    def span(self, span: Span) -> Span:
        """A copy of the span with every text field, message, document, tool I/O and raw attribute redacted."""
        if not self.kinds:
            return span
        data = span.model_dump()
        for field, content in data.items():
            if field in _SPAN_KEEP:
                continue
            if field in _ID_FIELDS:
                data[field] = self.identifier(content)
            elif field == "status":
                content["message"] = (
                    self.text(content["message"]) if content.get("message") else content["message"]
                )
            elif field in ("attributes", "resource"):
                data[field] = self.value(content)
            else:
                data[field] = self._model_value(content)
        return Span.model_validate(data)

    def content(self, content: SpanContent) -> SpanContent:
        """A copy of GenAI content read apart from its span (an OTLP log record) with its attributes redacted."""
        event = content.event.model_copy(update={"attributes": self.value(content.event.attributes)})
        return content.model_copy(update={"event": event})

    def _model_value(self, value: Any) -> Any:
        """Dumped sub-models: strings redacted except fields named like ids, roles, versions."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            out = {}
            for k, v in value.items():
                if k in _SPAN_KEEP or k == "id":
                    out[k] = v
                elif k in ("metadata", "variables", "attributes"):
                    out[k] = self.value(v)
                else:
                    out[k] = self._model_value(v)
            return out
        if isinstance(value, list):
            return [self._model_value(v) for v in value]
        return value

    def postmortem(self, doc: PostmortemDoc) -> PostmortemDoc:
        """A copy of the post-mortem chunk with its title, text and metadata redacted."""
        if not self.kinds:
            return doc
        return doc.model_copy(
            update={
                "title": self.text(doc.title),
                "text": self.text(doc.text),
                "metadata": self.value(doc.metadata),
            }
        )
