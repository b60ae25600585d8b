"""Finding version changes in a time line (served model, prompt version, sampling settings, document content)
and scoring them by what happened to the bad-output rate around them, not by their mere existence."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from agent.detectors.base import DetectorContext
from agent.detectors.stats import Association, all_clean_chance, associate, rate, step_effect
from agent.models import span_ref
from agent.thresholds import T
from retrieval.trace import Span


@dataclass
class Change:
    group: str
    old: str | None
    new: str
    first_new: Span
    last_old: Span | None
    n_old: int
    n_new: int
    mixed: bool  # the old value kept appearing after the new one did (partial rollout, A/B)
    new_spans: list[Span]
    old_spans: list[Span]


STEP_REACH = 50  # calls on each side of a new value's first appearance that judge whether it is a step
PERSIST_REACH = 10  # the calls just before it show which value was in use (an earlier step may precede them)
MIN_BEFORE = 3  # calls before it needed to say which value was in use


def find_changes(items: list[tuple[Span, str]], group: str = "", min_count: int = 2) -> list[Change]:
    """Each step in a persistent setting: a value that first appears after one other value held most of the
    calls (T.persistent_before) and then holds a share of the calls that follow (T.persistent_after). A setting
    that varies per request (sampling jitter, A/B arms from the start) has no step; one-off values are ignored."""
    items = sorted(items, key=lambda x: x[0].start_time)
    if not items:
        return []
    counts = Counter(key for _, key in items)
    min_count = 1 if len(items) <= 5 else min_count
    first_at: dict[str, int] = {}
    for i, (_, key) in enumerate(items):
        first_at.setdefault(key, i)
    changes = []
    for key, i in sorted(first_at.items(), key=lambda kv: kv[1]):
        if i == 0 or counts[key] < min_count:
            continue
        # the calls just before, back to where the value in use then first appeared: a step that follows soon after
        # another step (v4 -> v4.1 -> v5 within ten calls) is judged against the value it replaced, not a mix
        # (the stretch must span several requests: the calls of one request share its per-request settings)
        since = max(0, i - PERSIST_REACH, first_at[items[i - 1][1]])
        requests = len({span.trace_id for span, _ in items[since:i]})
        before = items[since:i] if requests >= MIN_BEFORE else items[max(0, i - PERSIST_REACH) : i]
        prior = Counter(k for _, k in before if k != key)
        if not prior or len(before) < min(MIN_BEFORE, len(items) - 1):
            continue
        old, n_prior = prior.most_common(1)[0]
        following = items[i : i + STEP_REACH]
        if n_prior < T.persistent_before * len(before) or sum(
            k == key for _, k in following
        ) < T.persistent_after * len(following):
            continue  # per-request variation, not a step
        last_old = next((s for s, k in reversed(items[:i]) if k == old), None)
        after = items[i:]
        changes.append(
            Change(
                group=group,
                old=old,
                new=key,
                first_new=items[i][0],
                last_old=last_old,
                n_old=counts[old],
                n_new=counts[key],
                mixed=any(k == old for _, k in after),
                new_spans=[s for s, k in items if k == key],
                old_spans=[s for s, k in items if k == old],
            )
        )
    return changes


@dataclass
class ChangeScore:
    strength: float
    effect: float
    step: Association
    mixed: Association | None
    scope: float

    example: Span | None = None  # a flagged answer under the new value, when the change marks bad outputs

    def as_data(self) -> dict[str, object]:
        data: dict[str, object] = {
            "effect": round(self.effect, 3),
            "scope_weight": self.scope,
            "flag_rate_before": round(rate(self.step.without_flag, self.step.without_n), 3),
            "flag_rate_after": round(rate(self.step.with_flag, self.step.with_n), 3),
            "answers_before": self.step.without_n,
            "answers_after": self.step.with_n,
        }
        if self.mixed is not None:
            data["mixed_rollout"] = self.mixed.as_data()
        return data


def score_change(ctx: DetectorContext, change: Change, gain: float | None = None) -> ChangeScore:
    """Strength of a change: in the incident's service? followed by a step up in bad outputs? and, when old
    and new ran side by side, were the new one's outputs worse? A change after which the bad-output rate stayed
    as it was weighs nothing, however close it is to the onset; the weight grows as the square root of the
    effect (0..1), so a clear partial step already counts and a full one saturates."""
    gain = T.model_change_gain if gain is None else gain
    scope = ctx.scope_weight(change.first_new)
    step, step_score = step_effect(ctx, change.first_new.start_time)
    mixed = None
    effect = step_score
    if change.mixed:
        lo = change.first_new.start_time
        hi = max(s.start_time for s in change.old_spans)
        units = [u for u in [*ctx.baseline_answers, *ctx.answers] if lo <= u.start_time <= hi]
        mixed = associate(ctx, units, {s.trace_id for s in change.new_spans})
        effect = max(effect, mixed.score)
    example = None
    effect *= _reach(ctx, change) * _lag(ctx, change)
    if not ctx.flags:
        effect = T.change_no_symptom * _recency(ctx, change)  # no symptom known: a change is only a candidate
    elif effect >= 0.3:
        new_traces = {s.trace_id for s in change.new_spans}
        example = next((u for u in ctx.answers if u.trace_id in new_traces and ctx.is_flagged(u)), None)
    return ChangeScore(
        strength=scope * gain * math.sqrt(effect),
        effect=effect,
        step=step,
        mixed=mixed,
        scope=scope,
        example=example,
    )


def _reach(ctx: DetectorContext, change: Change) -> float:
    """Share of the bad answers that followed a change (within the reach of step_effect) whose trace the change
    touched: a change explains only the bad outputs of requests it reached, so a change on a side route that
    two requests took does not take the credit for a step in the whole service's bad-output rate."""
    start = change.first_new.start_time
    after = [u for u in ctx.answers if start <= u.start_time <= start + T.step_reach * ctx.horizon]
    bad = {u.trace_id for u in after[: T.step_answers] if ctx.is_flagged(u)}
    if not bad:
        return 1.0
    touched = {s.trace_id for s in change.new_spans}
    return len(bad & touched) / len(bad)


def _recency(ctx: DetectorContext, change: Change) -> float:
    """With no bad output recognised, timing against the reports is what is left: the change the trouble was
    reported soonest after is the likeliest trigger (one made earlier ran longer without a complaint, the same
    reasoning as `_lag`). exp(-(|t_report - t_change| - horizon) / window), with the first report's time (else the
    window's end): changes within one horizon of it (`ctx.horizon`, the scale of 'near') keep their weight, two
    candidates days apart differ clearly."""
    reported = [r.timestamp for r in ctx.incident.reports if r.timestamp is not None]
    ref = min(reported) if reported else ctx.window_end
    if ref is None or ctx.window_start is None or ctx.window_end is None:
        return 1.0
    scale = max(ctx.window_end - ctx.window_start, ctx.horizon)
    return math.exp(-max(0.0, abs((ref - change.first_new.start_time) / scale) - ctx.horizon / scale))


def _lag(ctx: DetectorContext, change: Change) -> float:
    """How well the change's timing fits the bad outputs it would explain: a cause shows from its first request on.
    Among the requests the change touched, n ran before the first bad one; had the change made its requests go
    bad at the rate they did afterwards (p, over the next T.step_answers), all n staying clean had chance
    (1 - p)^n (`stats.all_clean_chance`). A change at the onset keeps its effect; a harmless edit that ran cleanly
    for a day before an unrelated onset keeps little. Sparse bad outputs (small p) make timing weak evidence, and the
    factor mild."""
    touched = {s.trace_id for s in change.new_spans}
    start = change.first_new.start_time
    units = [
        u for u in [*ctx.baseline_answers, *ctx.answers] if u.trace_id in touched and u.start_time >= start
    ]
    units.sort(key=lambda u: u.start_time)
    flags = [ctx.is_flagged(u) for u in units]
    if True not in flags:
        return 1.0
    gap = flags.index(True)
    after = flags[gap : gap + T.step_answers]
    return all_clean_chance(gap, sum(after) / len(after))


def change_evidence(change: Change, score: ChangeScore) -> list[str]:
    """The first span with the new value, the last with the old one, and a bad answer under the new one."""
    refs = [span_ref(change.first_new.span_id)]
    if change.last_old:
        refs.append(span_ref(change.last_old.span_id))
    if score.example is not None:
        refs.append(span_ref(score.example.span_id))
    return refs
