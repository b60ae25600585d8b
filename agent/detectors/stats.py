"""Small statistics shared by detectors: Wilson intervals, rate comparisons, and the evidence that a signal
is new, co-occurs with bad outputs, or precedes a step up in them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from agent.detectors.base import DetectorContext
from agent.thresholds import T
from retrieval.trace import Span


def wilson(k: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for k successes out of n (k may be an expected count: n times a known rate)."""
    if n <= 0:
        return (0.0, 1.0)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def rate(k: int, n: int) -> float:
    return k / n if n else 0.0


def two_prop_z(k1: int, n1: int, k2: int, n2: int) -> float:
    """z statistic of rate 1 above rate 2 (0 when undefined)."""
    if n1 == 0 or n2 == 0:
        return 0.0
    p = (k1 + k2) / (n1 + n2)
    se = math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
    if se == 0:
        return 0.0
    return (k1 / n1 - k2 / n2) / se


def rise_p(k_win: int, n_win: int, k_base: int, n_base: int) -> float:
    """One-sided Fisher exact p-value that the window's rate exceeds the baseline's (1.0 when untestable).
    Exact for the small counts of short baselines, where interval-overlap tests are too conservative."""
    if n_win == 0 or n_base == 0:
        return 1.0
    k, n = k_win + k_base, n_win + n_base

    def log_pmf(x: int) -> float:  # hypergeometric: x of the k flagged units fall in the window
        return _log_comb(n_win, x) + _log_comb(n_base, k - x) - _log_comb(n, k)

    top = min(k, n_win)
    return min(1.0, sum(math.exp(log_pmf(x)) for x in range(k_win, top + 1)))


def _log_comb(n: int, r: int) -> float:
    if r < 0 or r > n:
        return -math.inf
    return math.lgamma(n + 1) - math.lgamma(r + 1) - math.lgamma(n - r + 1)


def novelty(k_win: int, n_win: int, k_base: float, n_base: int) -> float:
    """0..1: how clearly a signal's window rate exceeds its baseline rate (1 = absent before, common now)."""
    if n_win == 0 or k_win == 0:
        return 0.0
    p_win = k_win / n_win
    if n_base == 0:
        return T.novelty_no_baseline * min(1.0, p_win * 2)  # no baseline: can't tell new from usual
    # conservative: the window's lower bound against the baseline's upper bound
    lo_win = wilson(k_win, n_win)[0]
    hi_base = wilson(k_base, n_base)[1]
    gap = lo_win - hi_base
    if gap <= 0:
        diff = p_win - k_base / n_base
        return max(0.0, min(T.novelty_unclear_cap, diff))  # not clearly new
    return min(1.0, T.novelty_clear_floor + gap * T.novelty_clear_gain)


def all_clean_chance(n: int, p: float) -> float:
    """The chance that n requests all stayed clean had each gone bad at rate p: (1 - p)^n. How much a clean run
    of requests says against a cause that would have made them bad (changes' timing, findings whose own requests
    all answered well): one clean request barely counts, ten at a rate of a third leave almost nothing."""
    return (1.0 - p) ** n


def squash(x: float, scale: float = 1.0) -> float:
    """0..1 saturating map of a non-negative score."""
    return 1.0 - math.exp(-max(0.0, x) / scale)


@dataclass
class Association:
    """Flag rates of units with and without a signal."""

    with_flag: int = 0
    with_n: int = 0
    without_flag: int = 0
    without_n: int = 0

    @property
    def lift(self) -> float:
        return rate(self.with_flag, self.with_n) - rate(self.without_flag, self.without_n)

    @property
    def z(self) -> float:
        return two_prop_z(self.with_flag, self.with_n, self.without_flag, self.without_n)

    @property
    def coverage(self) -> float:
        """Share of the flagged units that carry the signal."""
        flagged = self.with_flag + self.without_flag
        return self.with_flag / flagged if flagged else 0.0

    @property
    def score(self) -> float:
        """0..1: the signal marks bad outputs -- it covers them and raises their rate, significantly.
        0 when unknown or when the rate is not higher with the signal."""
        if self.with_n == 0 or self.without_n == 0 or self.lift <= 0:
            return 0.0
        w = T.association_coverage_weight
        return (w * self.coverage + (1 - w) * min(1.0, 2 * self.lift)) * squash(self.z, T.association_z_scale)

    def as_data(self) -> dict[str, float | int]:
        return {
            "flagged_with_signal": self.with_flag,
            "with_signal": self.with_n,
            "flagged_without_signal": self.without_flag,
            "without_signal": self.without_n,
        }


def associate(ctx: DetectorContext, units: list[Span], has_signal: set[str]) -> Association:
    """Association between a signal (set of trace ids) and flagged outputs over answer units."""
    flagged = ctx.flagged_traces()
    a = Association()
    for unit in units:
        bad = unit.trace_id in flagged
        if unit.trace_id in has_signal:
            a.with_n += 1
            a.with_flag += bad
        else:
            a.without_n += 1
            a.without_flag += bad
    return a


def step_effect(ctx: DetectorContext, when: datetime, k: int | None = None) -> tuple[Association, float]:
    """Flag rates of the k answers after `when` against the k before it (baseline included).

    Returns (association with 'with' = after, 'without' = before) and its 0..1 score; a change that left the
    bad-output rate as it was scores 0 however close it is to the onset."""
    k = T.step_answers if k is None else k
    units = [*ctx.baseline_answers, *ctx.answers]
    reach = (
        T.step_reach * ctx.horizon
    )  # a change is judged by what followed it soon, not by an incident days later
    before = [u for u in units if when - reach <= u.start_time < when][-k:]
    after = [u for u in units if when <= u.start_time <= when + reach][:k]
    a = Association(
        with_flag=sum(ctx.is_flagged(u) for u in after),
        with_n=len(after),
        without_flag=sum(ctx.is_flagged(u) for u in before),
        without_n=len(before),
    )
    if a.without_n == 0 and a.with_n:
        # nothing before: only a high rate right after means anything
        return a, T.step_no_before * rate(a.with_flag, a.with_n)
    return a, a.score
