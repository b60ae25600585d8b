"""What happened between the model and the user: the delivered answer differs from the model's output (a
guardrail, filter or post-processor rewrote it), or answers were delivered without any model call (a cache or
fallback path). Layer system."""

from __future__ import annotations

from agent.detectors.base import DetectorContext, detector
from agent.detectors.common import make, pct, quote
from agent.detectors.stats import novelty
from agent.detectors.text import norm, snippet
from agent.models import Finding, span_ref
from agent.thresholds import T
from retrieval.trace import Span, SpanKind

NAME = "delivery"


def _rewritten(ctx: DetectorContext, answer: Span) -> bool:
    if answer.kind != SpanKind.llm:
        return False
    root = ctx.root_of(answer)
    if root.span_id == answer.span_id or not (root.output_value or "").strip():
        return False
    delivered, produced = norm(ctx.delivered_text(answer)).lower(), norm(answer.output_text).lower()
    return bool(delivered) and delivered not in produced and produced not in delivered


def _no_model(answer: Span) -> bool:
    return answer.kind != SpanKind.llm


@detector(NAME, phase=1)
def detect(ctx: DetectorContext) -> list[Finding]:
    findings = []
    for check, kind in ((_rewritten, "rewritten"), (_no_model, "no_model_call")):
        test = (lambda a, c=check: c(ctx, a)) if check is _rewritten else check
        win = [a for a in ctx.answers if test(a)]
        base = [a for a in ctx.baseline_answers if test(a)]
        if not win:
            continue
        new = novelty(len(win), len(ctx.answers), len(base), len(ctx.baseline_answers))
        if new < T.delivery_novelty:
            continue
        findings.append(_finding(ctx, kind, win, base, new))
    return findings


def _finding(ctx: DetectorContext, kind: str, win: list[Span], base: list[Span], new: float) -> Finding:
    first = win[0]
    root = ctx.root_of(first)
    n_win, n_base = len(ctx.answers), len(ctx.baseline_answers)
    shares = (
        f"{pct(len(win) / n_win)} of window answers vs {pct(len(base) / n_base) if n_base else 'n/a'} before"
    )
    if kind == "rewritten":
        title = f"Delivered answers differ from the model's output ({len(win)} of {n_win} requests)"
        detail = (
            f"Between the model and the user something rewrote {shares}: a guardrail, filter or post-processing "
            "step changed correct model output."
        )
        quotes = [
            quote(span_ref(root.span_id), snippet(root.output_value or "", 160), "output"),
            quote(span_ref(first.span_id), snippet(first.output_text, 160), "output"),
        ]
        evidence = [span_ref(root.span_id), span_ref(first.span_id)]
    else:
        title = f"Answers delivered without any model call ({len(win)} of {n_win} requests)"
        detail = (
            f"{shares} were answered with no LLM span in their trace: a cache or fallback path served them."
        )
        quotes = [quote(span_ref(first.span_id), snippet(first.output_value or "", 160), "output")]
        evidence = [span_ref(first.span_id)]
    return make(
        NAME,
        title,
        strength=T.delivery_base + T.delivery_gain * new,
        layer_hint="system",
        evidence=evidence,
        detail=detail,
        onset=first.start_time,
        quotes=quotes,
        change=new >= T.novelty_change,
        kind=kind,
        novelty=round(new, 3),
        bad_span_ids=[a.span_id for a in win],
        baseline_bad_span_ids=[a.span_id for a in base],
    )
