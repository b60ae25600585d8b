"""Tool and API errors, and answers that ignore them (no acknowledgement of the failure; worse when the answer
states figures that no input, document or tool result contains: a fabrication covering the outage)."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass

from agent.detectors.base import DetectorContext, detector
from agent.detectors.common import make, pct, span_quote
from agent.detectors.stats import novelty
from agent.detectors.text import ERROR_ACK, REFUSAL, TOOL_ERROR, norm, numbers
from agent.models import Finding, span_ref
from agent.thresholds import T
from retrieval.trace import Span, SpanKind

NAME = "tool_errors"


@dataclass
class Failure:
    span: Span
    name: str
    field: str  # where the error text is: tool_result or status


def failures(ctx: DetectorContext, spans: list[Span]) -> list[Failure]:
    out = []
    for span in spans:
        if not ctx.in_scope(span) or span.kind not in (SpanKind.tool, SpanKind.llm, SpanKind.retrieval):
            continue
        result = (span.tool.result if span.tool else None) or ""
        name = (span.tool.name if span.tool else None) or (
            f"LLM call {span.name}" if span.kind == SpanKind.llm else span.name
        )
        if span.kind == SpanKind.tool and result and error_result(result):
            out.append(Failure(span, name, "tool_result"))
        elif span.is_error:
            out.append(Failure(span, name, "status" if span.status.message else "tool_result"))
    return out


def error_result(result: str) -> bool:
    """A tool result that reports a failure: an error object, or error wording at its start."""
    text = result.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict):
            status = str(data.get("status", "")).lower()
            return (
                bool(data.get("error") or data.get("errors"))
                or status in {"error", "failed", "failure"}
                or (data.get("ok") is False)
            )
    return bool(TOOL_ERROR.search(text[:160]))


def _acknowledged(answer: Span) -> bool:
    text = answer.output_text
    return bool(ERROR_ACK.search(text) or REFUSAL.search(text))


def _fabricated(ctx: DetectorContext, answer: Span) -> bool:
    given = [answer.user_text, *(m.content or "" for m in answer.input_messages)]
    given += [d.content or "" for _, _, d in ctx.documents_for(answer)]
    given += [(s.tool.result or "") for s in ctx.before(answer) if s.tool]
    extra = numbers(answer.output_text) - numbers("\n".join(given))
    return any(len(n.lstrip("-").replace(".", "")) >= 2 for n in extra)


@detector(NAME, phase=1)
def detect(ctx: DetectorContext) -> list[Finding]:
    win = failures(ctx, ctx.spans)
    if not win:
        return []
    base = failures(ctx, ctx.baseline)
    by_name: dict[str, list[Failure]] = defaultdict(list)
    for f in win:
        by_name[f.name].append(f)
    base_by_name: dict[str, list[Failure]] = defaultdict(list)
    for f in base:
        base_by_name[f.name].append(f)
    return [_finding(ctx, name, fails, base_by_name.get(name, [])) for name, fails in by_name.items()]


def _ignored(ctx: DetectorContext, fails: list[Failure]) -> tuple[list[Span], list[Span]]:
    """(answers after a failure that do not acknowledge it, those that also state unsupported figures). An answer
    that the same request also got in a trace that never called the tool did not need the tool: not acknowledging
    its failure covers nothing up."""
    ignored, fabricated = [], []
    without = _answered_without(ctx, fails[0].span) if fails else {}
    for trace_id in dict.fromkeys(f.span.trace_id for f in fails):
        answer = ctx.answer_of(trace_id)
        first_fail = min((f.span for f in fails if f.span.trace_id == trace_id), key=lambda s: s.start_time)
        if (
            answer is None
            or not answer.output_text.strip()
            or answer.start_time < first_fail.start_time
            or _acknowledged(answer)
            or _norm(answer.output_text) in without.get(_norm(ctx.request_text(answer)), ())
        ):
            continue
        ignored.append(answer)
        if _fabricated(ctx, answer):
            fabricated.append(answer)
    return ignored, fabricated


def _norm(text: str) -> str:
    return norm(text).lower()


def _answered_without(ctx: DetectorContext, failed: Span) -> dict[str, set[str]]:
    """Request text -> the answers it got in traces that never called the failed tool (baseline and window), once
    per tool and analysis; empty for a failed model call, which every request makes."""
    if failed.kind != SpanKind.tool:
        return {}
    name = failed.tool.name if failed.tool and failed.tool.name else failed.name
    key = f"tool_errors.answered_without/{name}"
    if key in ctx.memo:
        return ctx.memo[key]  # type: ignore[return-value]
    out: dict[str, set[str]] = defaultdict(set)
    for answer in [*ctx.baseline_answers, *ctx.answers]:
        calls = ctx.traces.get(answer.trace_id, [])
        if any(
            s.kind == SpanKind.tool and ((s.tool.name if s.tool else None) or s.name) == name for s in calls
        ):
            continue
        out[_norm(ctx.request_text(answer))].add(_norm(answer.output_text))
    ctx.memo[key] = out
    return out


def _retried(ctx: DetectorContext, fails: list[Failure]) -> list[Span]:
    """The later call of the same tool, in the same trace and with the same arguments, that succeeded after each
    failed tool call (the retry), in time order."""
    out = []
    for fail in fails:
        span = fail.span
        if span.kind != SpanKind.tool or span.tool is None:
            continue
        retry = next(
            (
                s
                for s in ctx.traces.get(span.trace_id, [])
                if s.kind == SpanKind.tool
                and s.tool is not None
                and s.span_id != span.span_id
                and s.start_time >= span.start_time
                and s.name == span.name
                and s.tool.arguments == span.tool.arguments
                and not s.is_error
                and not error_result(s.tool.result or "")
            ),
            None,
        )
        if retry is not None:
            out.append(retry)
    return sorted(out, key=lambda s: s.start_time)


def _finding(ctx: DetectorContext, name: str, fails: list[Failure], base_fails: list[Failure]) -> Finding:
    n_win, n_base = max(1, len(ctx.answers)), len(ctx.baseline_answers)
    traces = {f.span.trace_id for f in fails}
    base_traces = {f.span.trace_id for f in base_fails}
    ignored, fabricated = _ignored(ctx, fails)
    base_ignored, _ = _ignored(ctx, base_fails)
    new_errors = novelty(len(traces), n_win, len(base_traces), n_base)
    new_ignored = novelty(len(ignored), n_win, len(base_ignored), n_base)
    evidence_of_harm = 0.35 * new_errors + 0.5 * new_ignored * (1.0 if fabricated else 0.7)
    strength = T.tool_error_base + evidence_of_harm
    first = fails[0]
    retries = _retried(ctx, fails)
    evidence = (
        [span_ref(first.span.span_id)]
        + [span_ref(r.span_id) for r in retries[:2]]
        + [span_ref(a.span_id) for a in (fabricated or ignored)[:3]]
    )
    detail = (
        f"{name} failed in {len(traces)} window requests ({pct(len(traces) / n_win)}) vs {len(base_traces)} "
        f"baseline requests ({pct(len(base_traces) / n_base) if n_base else 'n/a'}). "
        f"{len(ignored)} answers did not acknowledge the failure"
        + (
            f", {len(fabricated)} of them stating figures no input or tool result contains"
            if fabricated
            else ""
        )
        + "."
        + (
            f" {len(retries)} failed calls were run again with the same arguments and succeeded (a call that timed "
            "out may have taken effect: its retry does it twice unless the call is idempotent)."
            if retries
            else ""
        )
    )
    answered = [a for t in traces if (a := ctx.answer_of(t)) is not None and a.output_text.strip()]
    title = f"Tool {name} failed in {len(traces)} requests" + (
        f"; {len(ignored)} answers ignored the failure"
        if ignored
        else "; answers acknowledged it"
        if answered
        else "; no answer text recorded"
    )
    return make(
        NAME,
        title,
        strength=strength,
        layer_hint="system",
        evidence=evidence,
        detail=detail,
        onset=first.span.start_time,
        quotes=[
            span_quote(first.span, first.field),
            *(span_quote(a, "output") for a in (fabricated or ignored)[:1]),
        ],
        change=new_errors >= 0.4,
        kind="tool_error",
        tool=name,
        failed_requests=len(traces),
        failed_requests_baseline=len(base_traces),
        ignored=len(ignored),
        fabricated=len(fabricated),
        novelty_errors=round(new_errors, 3),
        novelty_ignored=round(new_ignored, 3),
        bad_span_ids=[a.span_id for a in ignored],
        request_span_ids=[a.span_id for a in answered],
        symptom_strength=round(T.tool_error_symptom_base + evidence_of_harm, 3),
        baseline_bad_span_ids=[a.span_id for a in base_ignored],
    )
