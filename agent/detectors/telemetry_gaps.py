"""Telemetry gaps: what the traces do not record that a post-mortem needs (is_gap=True, layer None).
Each is also an action item: what to start recording."""

from __future__ import annotations

from collections.abc import Callable

from agent.detectors.base import DetectorContext, detector
from agent.detectors.common import make, pct, system_text
from agent.models import Finding, span_ref
from agent.thresholds import T
from retrieval.trace import Span, SpanKind

NAME = "telemetry_gaps"

# which layer each gap leaves unexaminable
GAP_LAYER = {
    "system_prompt": "prompt",
    "prompt_version": "prompt",
    "response_model": "model",
    "sampling": "model",
    "retrieved_documents": "data",
    "finish_reason": "system",
    "token_usage": "system",
}
# (key, what is missing, test on an LLM span that is True when it is missing, what to record); its weight is
# T.gap_<key> (agent/detector_thresholds.py)
_LLM_CHECKS: list[tuple[str, str, Callable[[Span], bool], str]] = [
    (
        "content",
        "no prompt or completion content",
        lambda s: not s.input_messages and not s.output_messages and not s.input_value and not s.output_value,
        "enable content capture (gen_ai.input.messages / gen_ai.output.messages), redacted",
    ),
    (
        "system_prompt",
        "no system prompt",
        lambda s: not system_text(s) and bool(s.input_messages or s.input_value),
        "record the system instructions (gen_ai.system_instructions) or the prompt template and version",
    ),
    (
        "response_model",
        "no served model version",
        lambda s: not s.response_model,
        "record gen_ai.response.model (the version actually served), not only the requested model",
    ),
    (
        "prompt_version",
        "no prompt template version",
        lambda s: not (s.prompt_template and (s.prompt_template.version or s.prompt_template.id)),
        "record the prompt template id and version with every call",
    ),
    (
        "finish_reason",
        "no finish reason",
        lambda s: not s.finish_reasons and not any(m.finish_reason for m in s.output_messages),
        "record gen_ai.response.finish_reasons",
    ),
    (
        "token_usage",
        "no token usage",
        lambda s: s.usage.input_tokens is None and s.usage.total_tokens is None,
        "record gen_ai.usage.input_tokens / output_tokens",
    ),
    (
        "sampling",
        "no sampling settings",
        lambda s: s.sampling.temperature is None and s.sampling.top_p is None,
        "record gen_ai.request.temperature / top_p / seed",
    ),
]


@detector(NAME)
def detect(ctx: DetectorContext) -> list[Finding]:
    if not ctx.spans:
        return [_no_traces(ctx)]
    llm = [s for s in ctx.llm_spans if ctx.in_scope(s)]
    findings = []
    if not llm:
        findings.append(
            make(
                NAME,
                "No LLM calls recorded for the incident's service in the window",
                strength=T.gap_no_llm,
                layer_hint=None,
                is_gap=True,
                evidence=[span_ref(ctx.spans[0].span_id)],
                detail="Spans exist but none is an LLM call: the model's inputs and outputs cannot be examined.",
                gap="llm_calls",
                action="instrument the LLM client (OpenTelemetry GenAI, OpenInference or OpenLLMetry)",
            )
        )
        return findings
    base = [s for s in ctx.baseline_llm_spans if ctx.in_scope(s)]
    for key, what, missing, action in _LLM_CHECKS:
        hits = [s for s in llm if missing(s)]
        if len(hits) < T.gap_min_share * len(llm):
            continue
        if key == "system_prompt" and base and sum(map(missing, base)) <= T.gap_system_baseline * len(base):
            continue  # recorded before, absent now: the instructions were dropped (truncation reports it)
        share = len(hits) / len(llm)
        findings.append(
            make(
                NAME,
                f"Telemetry gap: {what} on {pct(share)} of LLM calls",
                strength=getattr(T, f"gap_{key}") * share,
                layer_hint=None,
                is_gap=True,
                evidence=[span_ref(hits[0].span_id)],
                detail=f"{len(hits)} of {len(llm)} LLM calls in the window have {what}. Action: {action}.",
                gap=key,
                layer=GAP_LAYER.get(key),
                share=round(share, 3),
                action=action,
            )
        )
    findings += _documents(ctx, llm)
    findings += _sessions(ctx, llm)
    return findings


def _no_traces(ctx: DetectorContext) -> Finding:
    where = f" of {ctx.incident.service}" if ctx.incident.service else ""
    return make(
        NAME,
        f"Telemetry gap: no traces{where} found for the incident window",
        strength=T.gap_no_traces,
        layer_hint=None,
        is_gap=True,
        evidence=[],
        detail="No spans matched the incident's service, window or trace ids: the draft rests on the reports alone.",
        gap="no_traces",
        action="export traces of the service (OpenTelemetry GenAI) and keep them for the incident window",
    )


def _documents(ctx: DetectorContext, llm: list[Span]) -> list[Finding]:
    retrievals = [s for s in ctx.spans if s.kind == SpanKind.retrieval and ctx.in_scope(s)]
    if not retrievals:
        return []
    blank = [s for s in retrievals if not s.documents or all(not d.content and not d.id for d in s.documents)]
    if len(blank) < T.gap_documents_share * len(retrievals):
        return []
    return [
        make(
            NAME,
            f"Telemetry gap: retrieval spans record no documents ({len(blank)} of {len(retrievals)})",
            strength=T.gap_documents * len(blank) / len(retrievals),
            layer_hint=None,
            is_gap=True,
            evidence=[span_ref(blank[0].span_id)],
            detail="Retrieval happened but what it returned is not recorded: staleness and grounding cannot be "
            "checked. Action: record retrieved document ids, sources, scores and updated_at.",
            gap="retrieved_documents",
            layer="data",
            action="record retrieval.documents (id, content or hash, score, source, updated_at)",
        )
    ]


def _sessions(ctx: DetectorContext, llm: list[Span]) -> list[Finding]:
    with_session = {s.trace_id for s in [*ctx.spans] if s.session or s.user_id}
    answers = ctx.answers
    if not answers or len(with_session) >= T.gap_sessions_share * len(answers):
        return []
    return [
        make(
            NAME,
            "Telemetry gap: no session or user ids",
            strength=T.gap_sessions,
            layer_hint=None,
            is_gap=True,
            evidence=[span_ref(answers[0].span_id)],
            detail="Requests carry no session or user id, so the number of affected users cannot be counted.",
            gap="session_ids",
            action="record session.id and user.id (hashed) on the root span",
        )
    ]
