"""Sampling nondeterminism: sampling settings that changed, and identical requests with diverging outcomes.

High temperature that was already there in the baseline is reported as not new (a red herring by itself)."""

from __future__ import annotations

from collections import defaultdict
from statistics import median

from agent.detectors.base import DetectorContext, detector
from agent.detectors.changes import change_evidence, find_changes, score_change
from agent.detectors.common import make, pct, system_text, when
from agent.detectors.text import norm
from agent.models import Finding, span_ref
from agent.thresholds import T
from retrieval.trace import Span

NAME = "sampling"
HIGH_TEMPERATURE = 0.9


def _setting(span: Span) -> str | None:
    s = span.sampling
    if s.temperature is None and s.top_p is None:
        return None
    parts = []
    if s.temperature is not None:
        parts.append(f"temperature={s.temperature:g}")
    if s.top_p is not None:
        parts.append(f"top_p={s.top_p:g}")
    return ", ".join(parts)


@detector(NAME)
def detect(ctx: DetectorContext) -> list[Finding]:
    findings = _changes(ctx)
    if not any(
        f.data.get("kind") == "sampling_changed" and f.data.get("scope_weight") == 1.0 for f in findings
    ):
        findings += _usual_temperature(ctx)
    findings += _divergent_repeats(ctx)
    return findings


def _changes(ctx: DetectorContext) -> list[Finding]:
    groups: dict[str | None, list[tuple[Span, str]]] = defaultdict(list)
    for span in [*ctx.baseline_llm_spans, *ctx.llm_spans]:
        setting = _setting(span)
        if setting:
            groups[span.service].append((span, setting))
    findings = []
    for service, items in groups.items():
        for change in find_changes(items, group=service or ""):
            score = score_change(ctx, change, gain=T.sampling_change_gain)
            data = score.as_data()
            findings.append(
                make(
                    NAME,
                    f"Sampling settings changed from {change.old} to {change.new}"
                    + (f" in {service}" if service else ""),
                    strength=score.strength,
                    layer_hint="model",
                    evidence=change_evidence(change, score),
                    detail=(
                        f"From {when(change.first_new.start_time)} calls used {change.new} "
                        f"({change.n_new} calls; before: {change.old}). Bad-output rate "
                        f"{pct(data['flag_rate_before'])} before vs {pct(data['flag_rate_after'])} after."
                    ),
                    onset=change.first_new.start_time,
                    change=True,
                    kind="sampling_changed",
                    service=service,
                    old=change.old,
                    new=change.new,
                    **data,
                )
            )
    return findings


def _temps(spans: list[Span]) -> list[float]:
    return [s.sampling.temperature for s in spans if s.sampling.temperature is not None]


def _usual_temperature(ctx: DetectorContext) -> list[Finding]:
    """High temperature in the window: weak, and said to be not new when the baseline ran as hot."""
    win = [s for s in ctx.llm_spans if ctx.in_scope(s)]
    base = [s for s in ctx.baseline_llm_spans if ctx.in_scope(s)]
    t_win, t_base = _temps(win), _temps(base)
    if not t_win or median(t_win) < HIGH_TEMPERATURE:
        return []
    hot = next(s for s in win if (s.sampling.temperature or 0) >= HIGH_TEMPERATURE)
    same_as_before = bool(t_base) and median(t_base) >= median(t_win) - 0.1
    detail = f"Median temperature {median(t_win):g} in the window"
    detail += f", {median(t_base):g} in the baseline: not new." if t_base else " (no baseline to compare)."
    return [
        make(
            NAME,
            f"High sampling temperature ({median(t_win):g})"
            + (", as in the baseline" if same_as_before else ""),
            strength=T.usual_temperature if same_as_before else T.new_temperature,
            layer_hint="model",
            evidence=[span_ref(hot.span_id)],
            detail=detail,
            kind="high_temperature",
            new=not same_as_before,
            median_window=median(t_win),
            median_baseline=median(t_base) if t_base else None,
        )
    ]


def _divergent_repeats(ctx: DetectorContext) -> list[Finding]:
    """The same request (same instructions and user text) answered both well and badly in the window."""
    if not ctx.flags:
        return []
    groups: dict[str, list[Span]] = defaultdict(list)
    for answer in ctx.answers:
        if answer.user_text:
            groups[norm(answer.user_text).lower() + "|" + norm(system_text(answer))].append(answer)
    mixed = [g for g in groups.values() if len(g) >= 2 and 0 < sum(ctx.is_flagged(a) for a in g) < len(g)]
    if not mixed:
        return []
    repeated = [a for g in groups.values() if len(g) >= 2 for a in g]
    bad = next(a for a in mixed[0] if ctx.is_flagged(a))
    good = next(a for a in mixed[0] if not ctx.is_flagged(a))
    temps = _temps(repeated)
    hot = bool(temps) and median(temps) >= 0.5
    k = sum(ctx.is_flagged(a) for g in mixed for a in g)
    n = sum(len(g) for g in mixed)
    return [
        make(
            NAME,
            f"Identical requests got both good and bad answers ({len(mixed)} repeated requests)",
            strength=min(0.35, 0.1 + 0.03 * len(mixed)) * (1.0 if hot else 0.7),
            layer_hint="model",
            evidence=[span_ref(bad.span_id), span_ref(good.span_id)],
            detail=(
                f"{len(mixed)} requests were sent more than once with the same instructions and text; "
                f"{k} of their {n} answers were flagged, the others not: the failure is stochastic."
            ),
            kind="nondeterministic",
            # identical inputs also answered well, in enough requests not to be chance: the inputs were right
            inputs_checked=len(mixed) >= T.nondeterminism_requests,
            repeated_requests=len(mixed),
            flagged=k,
            answers=n,
            median_temperature=median(temps) if temps else None,
        )
    ]
