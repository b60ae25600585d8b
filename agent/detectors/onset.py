"""When the bad outputs began, and which changes line up with it.

The onset is the change point of the flagged/not-flagged sequence of answers (baseline then window): the split
that best explains the series as a low rate followed by a higher one (Bernoulli likelihood ratio), so a single
early outlier does not move it. The onset reported is the first flagged answer after that split.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import numpy as np

from agent.detectors.base import DetectorContext
from agent.detectors.common import human_delta, make, pct, when
from agent.models import Finding, span_ref
from retrieval.trace import Span

NAME = "onset"
MIN_LLR = 3.0  # log-likelihood gain a split needs to count as a rise


def estimate_onset(ctx: DetectorContext, flagged: list[str]) -> datetime | None:
    split = onset_split(ctx, flagged)
    return split[0].start_time if split else None


def onset_split(ctx: DetectorContext, flagged: list[str]) -> tuple[Span, float, float] | None:
    """(first bad answer after the rise, rate before, rate after), or None without flagged answers."""
    window_flags = set(flagged)
    base_flags = (ctx.flags or set()) - ctx.window_ids
    units = [*ctx.baseline_answers, *ctx.answers]
    bad = [u.span_id in window_flags or u.span_id in base_flags for u in units]
    first_window_bad = next((u for u, b in zip(units, bad, strict=True) if b and ctx.is_window(u)), None)
    if first_window_bad is None:
        extra = [ctx.by_id[i] for i in flagged if i in ctx.by_id]  # flagged spans that are not answers
        if not extra:
            return None
        first = min(extra, key=lambda s: s.start_time)
        return first, 0.0, 1.0
    best_i = change_point(bad)
    if best_i is None:
        return first_window_bad, 0.0, 1.0
    first = next((u for u, b in zip(units[best_i:], bad[best_i:], strict=True) if b), first_window_bad)
    k = sum(bad)
    before = sum(bad[:best_i])
    return first, before / best_i, (k - before) / (len(bad) - best_i)


def change_point(bad: list[bool], min_llr: float = MIN_LLR) -> int | None:
    """Index where a Bernoulli sequence best splits into a lower then a higher rate, if the split is clear."""
    x = np.asarray(bad, dtype=float)
    n = len(x)
    if n < 2:
        return None
    k = float(x.sum())
    cum = np.cumsum(x)[:-1]
    n1 = np.arange(1, n, dtype=float)
    n2 = n - n1
    k1, k2 = cum, k - cum
    gain = _ll(k1, n1) + _ll(k2, n2) - _loglik(k, n)
    gain[(k2 / n2) <= (k1 / n1)] = 0.0
    i = int(np.argmax(gain))
    return i + 1 if gain[i] >= min_llr else None


def _ll(k: np.ndarray, n: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        out = k * np.log(np.where(p > 0, p, 1.0)) + (n - k) * np.log(np.where(p < 1, 1 - p, 1.0))
    return np.nan_to_num(out)


def _loglik(k: float, n: float) -> float:
    if n == 0 or k == 0 or k == n:
        return 0.0
    p = k / n
    return k * math.log(p) + (n - k) * math.log(1 - p)


def tolerance(ctx: DetectorContext) -> timedelta:
    """How far a change may lag the estimated onset and still count as 'at' it: a few answers' spacing."""
    times = [u.start_time for u in ctx.answers]
    if len(times) < 3:
        return timedelta(minutes=5)
    gaps = sorted((b - a).total_seconds() for a, b in zip(times, times[1:], strict=False))
    return max(timedelta(minutes=2), timedelta(seconds=3 * gaps[len(gaps) // 2]))


def proximity(ctx: DetectorContext, change_at: datetime, onset: datetime) -> float:
    """1 for a change just before (or at) the onset, decaying with distance; 0.2 for one clearly after."""
    delta = onset - change_at
    if delta < -tolerance(ctx):
        return 0.2
    if delta <= tolerance(ctx):
        return 1.0
    return max(0.1, 1.0 / (1.0 + delta / ctx.horizon))


def correlate_onset(ctx: DetectorContext, findings: list[Finding], onset: datetime | None) -> list[Finding]:
    """All findings, with change findings re-weighted by their distance to the onset, plus one onset finding
    and one finding per change saying how long before (or after) the onset it happened. Sorted by strength.

    Returns the complete list: use it in place of `findings`, not in addition."""
    if onset is None:
        return sorted(findings, key=lambda f: -f.strength)
    out: list[Finding] = []
    correlations: list[Finding] = []
    for finding in findings:
        if not (finding.data.get("change") and finding.onset is not None):
            out.append(finding)
            continue
        near = proximity(ctx, finding.onset, onset)
        strength = min(1.0, finding.strength * (0.3 + 0.9 * near))
        data = {
            **finding.data,
            "proximity": round(near, 3),
            "strength_before_onset_correlation": finding.strength,
        }
        out.append(finding.model_copy(update={"strength": round(strength, 3), "data": data}))
        correlations.append(_correlation(finding, onset, near, strength))
    out.append(_onset_finding(ctx, onset))
    return sorted([*out, *correlations], key=lambda f: (-f.strength, f.detector, f.title))


def _correlation(change: Finding, onset: datetime, near: float, strength: float) -> Finding:
    delta = onset - (change.onset or onset)
    relation = (
        "at"
        if abs(delta) < timedelta(minutes=1)
        else (f"{human_delta(delta)} before" if delta > timedelta(0) else f"{human_delta(delta)} after")
    )
    title = f"{change.title}: {relation} the onset of bad outputs"
    return make(
        "onset_correlation",
        title,
        strength=0.5 * near * strength,
        layer_hint=None,
        evidence=change.evidence[:1],
        detail=f"{change.title} ({change.detector}) happened {relation} the onset ({when(onset)}).",
        change_detector=change.detector,
        change_layer=change.layer_hint,
        change_title=change.title,
        delta_seconds=delta.total_seconds(),
        proximity=round(near, 3),
    )


def _onset_finding(ctx: DetectorContext, onset: datetime) -> Finding:
    flagged = [u for u in ctx.answers if ctx.flags and u.span_id in ctx.flags]
    first = next((u for u in flagged if u.start_time >= onset), flagged[0] if flagged else None)
    before = [u for u in [*ctx.baseline_answers, *ctx.answers] if u.start_time < onset]
    after = [u for u in ctx.answers if u.start_time >= onset]
    r_before = sum(ctx.is_flagged(u) for u in before) / len(before) if before else 0.0
    r_after = sum(ctx.is_flagged(u) for u in after) / len(after) if after else 0.0
    return make(
        NAME,
        f"Bad outputs began at {when(onset)}",
        strength=0.0,
        layer_hint=None,
        evidence=[span_ref(first.span_id)] if first else [],
        detail=(
            f"Flagged outputs: {pct(r_before)} of {len(before)} answers before the onset, "
            f"{pct(r_after)} of {len(after)} from it on."
        ),
        onset=onset,
        rate_before=round(r_before, 3),
        rate_after=round(r_after, 3),
        answers_before=len(before),
        answers_after=len(after),
    )
