"""A population of requests new in the window that marks the bad outputs: an attribute of the request (its root
span: a region, a queue, a channel, a locale, a client) takes a value that was rare or absent before, and requests
carrying it went bad far more often than the requests without it over the same period.

Compared side by side from the value's first appearance, so a step every later request carries (a release, an
image, a config) is not a segment: it leaves no requests without it to compare against (changes.py and stages.py
weigh steps). A value whose requests are served differently (another model or prompt version) is a deployment --
a canary, a partial rollout -- which model_drift and prompt_change own. What is left is who sends the requests:
the inputs changed, layer data (an input distribution shift)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator

from agent.detectors.base import DetectorContext, detector
from agent.detectors.common import make, pct, request_quote
from agent.detectors.stages import PER_CALL
from agent.detectors.stats import associate, novelty
from agent.models import Finding, span_ref
from agent.thresholds import T
from retrieval.trace import Span

NAME = "segments"


def _roots(ctx: DetectorContext, spans: list[Span]) -> dict[str, Span]:
    return {s.trace_id: s for s in spans if s.parent_span_id is None and ctx.in_scope(s)}


def _attributes(value: object, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(dotted key, value) of a request's attributes at any depth: short scalars, not per-call data."""
    if isinstance(value, dict):
        for key, inner in value.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if not any(part in str(key).lower() for part in PER_CALL):
                yield from _attributes(inner, name)
    elif isinstance(value, str | int | float | bool) and prefix and len(str(value)) <= T.stage_setting_chars:
        yield prefix, str(value)


def _served_differently(group: list[Span], others: list[Span]) -> bool:
    """Whether the usual model, or the usual prompt version, of the group's answers differs from the others'
    (each compared over the answers that record it: an attribute missing on some spans is not a difference)."""
    aspects = (
        lambda a: a.response_model or a.request_model,
        lambda a: a.prompt_template.version if a.prompt_template else None,
    )
    for aspect in aspects:
        mine = Counter(v for v in map(aspect, group) if v)
        theirs = Counter(v for v in map(aspect, others) if v)
        if mine and theirs and mine.most_common(1)[0][0] != theirs.most_common(1)[0][0]:
            return True
    return False


@detector(NAME)
def detect(ctx: DetectorContext) -> list[Finding]:
    if not ctx.flags:
        return []  # without bad outputs a value marks nothing
    # a short or missing baseline is not a reason to look away: `novelty` caps what it cannot tell new from usual
    roots = {**_roots(ctx, ctx.baseline), **_roots(ctx, ctx.spans)}
    values: dict[tuple[str, str], set[str]] = defaultdict(set)
    for trace_id, root in roots.items():
        for key, value in _attributes(root.attributes):
            values[(key, value)].add(trace_id)
    kinds = Counter(key for key, _ in values)
    best: dict[str, Finding] = {}
    for (key, value), traces in values.items():
        if kinds[key] > T.tool_field_max_values:
            continue  # free text or an identifier, not a population
        finding = _segment(ctx, key, value, traces)
        if finding is not None and (key not in best or finding.strength > best[key].strength):
            best[key] = finding
    return list(best.values())


def _segment(ctx: DetectorContext, key: str, value: str, traces: set[str]) -> Finding | None:
    win = [a for a in ctx.answers if a.trace_id in traces]
    if len(win) < T.stage_min_new:
        return None
    period = [a for a in ctx.answers if a.start_time >= win[0].start_time]
    assoc = associate(ctx, period, traces)
    if assoc.without_n < T.segment_min_others:
        return None  # every later request carries it: a step, not a population
    others = [a for a in period if a.trace_id not in traces]
    if _served_differently(win, others):
        return None  # served by another model or prompt: a deployment, not who sends the requests
    n_base = sum(1 for a in ctx.baseline_answers if a.trace_id in traces)
    new = novelty(len(win), len(ctx.answers), n_base, len(ctx.baseline_answers))
    strength = ctx.scope_weight(win[0]) * T.segment_gain * assoc.score * new
    if strength <= 0:
        return None
    bad = [a for a in win if ctx.is_flagged(a)]
    first = (bad or win)[0]
    return make(
        NAME,
        f"Requests with {key}={value}, new in the window, went bad far more often than the others",
        strength=strength,
        layer_hint="data",
        evidence=[span_ref(a.span_id) for a in (bad or win)[:3]],
        detail=(
            f"{len(win)} window requests carry {key}={value} ({n_base} before the window); from its first "
            f"appearance, bad outputs in {assoc.with_flag} of {assoc.with_n} requests with it "
            f"({pct(assoc.with_flag / assoc.with_n)}) vs {assoc.without_flag} of {assoc.without_n} without it, "
            "served by the same model and prompt: a new population of inputs."
        ),
        onset=win[0].start_time,
        quotes=[request_quote(ctx, first)],
        change=new >= T.novelty_change,
        kind="new_request_segment",
        key=key,
        value=value,
        novelty=round(new, 3),
        association=assoc.as_data(),
        lift=round(assoc.lift, 3),
    )
