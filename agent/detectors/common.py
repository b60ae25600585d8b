"""Helpers to build findings: clamped strengths, verbatim quotes tied to the evidence they come from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from agent.detectors.base import DetectorContext
from agent.detectors.text import snippet
from agent.models import Finding, Layer, span_ref
from agent.thresholds import T
from retrieval.trace import Span


def quote(evidence_id: str, text: str, field: str) -> dict[str, str]:
    """A verbatim excerpt of the cited object (`field` names where it is: output, input, system, ...)."""
    return {"evidence": evidence_id, "text": text, "field": field}


def span_quote(span: Span, field: str, max_chars: int = 160) -> dict[str, str] | None:
    text = span_field(span, field)
    excerpt = snippet(text, max_chars)
    return quote(span_ref(span.span_id), excerpt, field) if excerpt else None


def request_quote(ctx: DetectorContext, span: Span, max_chars: int = 160) -> dict[str, str] | None:
    """A verbatim excerpt of the user's request in `span`'s trace, cited to a span whose recorded text holds it
    (a JSON input is unwrapped to find the question, so its escaped form may not match)."""
    holder, text = ctx.request_source(span)
    excerpt = snippet(text, max_chars)
    if not excerpt:
        return None
    for candidate in (holder, span):
        raw = " ".join([candidate.input_value or "", candidate.retrieval_query or "", candidate.user_text])
        if " ".join(excerpt.split()) in " ".join(raw.split()):
            return quote(span_ref(candidate.span_id), excerpt, "input")
    return None


def span_field(span: Span, field: str) -> str:
    if field == "output":
        return span.output_text
    if field == "input":
        return span.user_text
    if field == "system":
        return system_text(span)
    if field == "tool_result":
        return (span.tool.result if span.tool else None) or span.output_value or ""
    if field == "status":
        return span.status.message or ""
    raise ValueError(f"unknown span field {field!r}")


def system_text(span: Span) -> str:
    """The instructions the model saw: recorded system instructions, system messages, or the template."""
    if span.system_instructions:
        return span.system_instructions
    parts = [m.content for m in span.input_messages if m.role in {"system", "developer"} and m.content]
    if parts:
        return "\n".join(parts)
    if span.prompt_template and span.prompt_template.template:
        return span.prompt_template.template
    return ""


def make(
    detector: str,
    title: str,
    *,
    strength: float,
    layer_hint: Layer | None,
    evidence: list[str],
    detail: str = "",
    onset: Any = None,
    is_gap: bool = False,
    quotes: list[dict[str, str] | None] | None = None,
    **data: Any,
) -> Finding:
    kept = [q for q in (quotes or []) if q]
    if kept:
        data["quotes"] = kept
    return Finding(
        detector=detector,
        title=title,
        detail=detail,
        layer_hint=layer_hint,
        strength=round(min(1.0, max(0.0, strength)), 3),
        evidence=list(dict.fromkeys(evidence)),
        onset=onset,
        is_gap=is_gap,
        data=data,
    )


def shift_strength(new: float, effect: float) -> float:
    """A distribution shift's strength from its novelty and its effect on the bad outputs (the shift_* values of
    agent/detector_thresholds.py)."""
    return (T.shift_base + T.shift_novelty_gain * new) * (T.shift_effect_floor + T.shift_effect_gain * effect)


def pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def when(moment: datetime) -> str:
    """A span time as a reader wants it in a sentence: "2025-05-12 07:30 UTC"."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def human_delta(delta: timedelta) -> str:
    seconds = abs(delta.total_seconds())
    if seconds < 90:
        text = f"{seconds:.0f} s"
    elif seconds < 90 * 60:
        text = f"{seconds / 60:.0f} min"
    elif seconds < 48 * 3600:
        text = f"{seconds / 3600:.1f} h"
    else:
        text = f"{seconds / 86400:.1f} days"
    return text
