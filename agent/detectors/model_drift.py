"""Model version drift: the served model changed, or the served model is not the one requested."""

from __future__ import annotations

import re
from collections import defaultdict

from agent.detectors.base import DetectorContext, detector
from agent.detectors.changes import change_evidence, find_changes, score_change
from agent.detectors.common import make, pct, when
from agent.detectors.stats import associate, novelty
from agent.models import Finding, span_ref
from retrieval.trace import Span

NAME = "model_drift"
_SUFFIXES = (
    r"-\d{4}-\d{2}-\d{2}$",
    r"-\d{8}$",
    r"-\d{4}$",
    r"-\d{3}$",
    r"@\d+$",
    r"-v\d+(?::\d+)?$",
    r"-(?:latest|preview|exp)$",
)


def model_family(name: str) -> str:
    """'gpt-4o-2024-08-06' -> 'gpt-4o'; 'us.anthropic.claude-3-5-sonnet-20240620-v1:0' -> 'claude-3-5-sonnet'."""
    n = name.lower().strip().split("/")[-1]
    while re.match(r"^[a-z]+\.(?=[a-z])", n):
        n = n.split(".", 1)[1]
    changed = True
    while changed:
        changed = False
        for pattern in _SUFFIXES:
            stripped = re.sub(pattern, "", n)
            if stripped != n and stripped:
                n, changed = stripped, True
    return n


@detector(NAME)
def detect(ctx: DetectorContext) -> list[Finding]:
    llm = [*ctx.baseline_llm_spans, *ctx.llm_spans]
    return [*_served_changes(ctx, llm), *_mismatches(ctx, llm)]


def _alias(a: str, b: str) -> bool:
    """One name is the undated alias of the other."""
    return (a == model_family(b) and a != b) or (b == model_family(a) and a != b)


def _route(span: Span) -> str:
    return span.prompt_template.id if span.prompt_template and span.prompt_template.id else span.name


def _served_changes(ctx: DetectorContext, llm: list[Span]) -> list[Finding]:
    """Per service and route, the model that answered (served version, else the requested one) over time."""
    groups: dict[tuple[str | None, str], list[tuple[Span, str]]] = defaultdict(list)
    for span in llm:
        if span.model:
            groups[(span.service, _route(span))].append((span, span.model))
    findings = []
    for (service, route), items in groups.items():
        for change in find_changes(items, group=f"{service}/{route}"):
            if _alias(change.old or "", change.new):
                continue  # "gpt-4o-mini" then "gpt-4o-mini-2024-07-18": the same model, now recorded with its version
            findings.append(_change_finding(ctx, change, service))
    return findings


def _change_finding(ctx: DetectorContext, change, service: str | None) -> Finding:
    score = score_change(ctx, change)
    data = score.as_data()
    old_req = {s.request_model for s in change.old_spans}
    new_req = {s.request_model for s in change.new_spans}
    silent = old_req == new_req and bool(change.first_new.response_model)
    where = f" in {service}" if service else ""
    if silent:
        title = f"Served model changed from {change.old} to {change.new}{where} (same requested model)"
        kind = "served_model_changed"
    else:
        title = f"Model changed from {change.old} to {change.new}{where}"
        kind = "model_changed"
    detail = (
        f"Calls{where} were answered by {change.old} ({change.n_old} calls) and then by {change.new} "
        f"({change.n_new} calls) from {when(change.first_new.start_time)}"
        + (", although the requested model stayed the same" if silent else "")
        + f"; bad-output rate {pct(data['flag_rate_before'])} before vs {pct(data['flag_rate_after'])} after."
    )
    if not ctx.in_scope(change.first_new):
        detail += " This is outside the incident's service."
    return make(
        NAME,
        title,
        strength=score.strength,
        layer_hint="model",
        evidence=change_evidence(change, score),
        detail=detail,
        onset=change.first_new.start_time,
        change=True,
        kind=kind,
        service=service,
        requested=sorted(x for x in new_req if x),
        old=change.old,
        new=change.new,
        **data,
    )


def _mismatches(ctx: DetectorContext, llm: list[Span]) -> list[Finding]:
    def mismatch(s: Span) -> bool:
        return bool(
            s.request_model
            and s.response_model
            and model_family(s.request_model) != model_family(s.response_model)
        )

    scoped = [s for s in llm if ctx.in_scope(s)]
    win = [s for s in scoped if ctx.is_window(s)]
    base = [s for s in scoped if not ctx.is_window(s)]
    bad_win = [s for s in win if mismatch(s)]
    if not bad_win:
        return []
    new = novelty(len(bad_win), len(win), sum(map(mismatch, base)), len(base))
    assoc = associate(ctx, ctx.answers, {s.trace_id for s in bad_win})
    effect = assoc.score if ctx.flags else 0.2
    strength = (0.15 + 0.5 * new) * (0.3 + 0.7 * effect)
    first = bad_win[0]
    pairs = sorted({(s.request_model, s.response_model) for s in bad_win})
    title = (
        f"Served model differs from the requested one: {first.request_model} served as {first.response_model}"
    )
    detail = (
        f"{len(bad_win)} of {len(win)} LLM calls in the window were served by a different model family than "
        f"requested ({', '.join(f'{a} -> {b}' for a, b in pairs[:3])})."
    )
    return [
        make(
            NAME,
            title,
            strength=strength,
            layer_hint="model",
            evidence=[span_ref(first.span_id)],
            detail=detail,
            onset=first.start_time,
            change=new >= 0.4,
            kind="served_differs_from_requested",
            pairs=[list(p) for p in pairs],
            rate_window=round(len(bad_win) / len(win), 3),
            novelty=round(new, 3),
            **assoc.as_data(),
        )
    ]
