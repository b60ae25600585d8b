"""Retrieval problems: empty results, low scores, and an expected source that stopped being retrieved.
(Stale or changed documents are in staleness.py.)"""

from __future__ import annotations

from collections import Counter

import numpy as np

from agent.detectors.base import DetectorContext, detector
from agent.detectors.common import make, pct, shift_strength, when
from agent.detectors.stats import associate, novelty, two_prop_z
from agent.models import Finding, span_ref
from agent.thresholds import T
from retrieval.trace import Span, SpanKind

NAME = "retrieval"


def retrievals(ctx: DetectorContext, window: bool) -> list[Span]:
    spans = ctx.spans if window else ctx.baseline
    return sorted(
        (s for s in spans if s.kind == SpanKind.retrieval and ctx.in_scope(s)), key=lambda s: s.start_time
    )


def source_key(doc_source: str | None, doc_id: str | None) -> str | None:
    return doc_source or doc_id


@detector(NAME)
def detect(ctx: DetectorContext) -> list[Finding]:
    win, base = retrievals(ctx, True), retrievals(ctx, False)
    if not win:
        return []
    return [*_empty(ctx, win, base), *_low_scores(ctx, win, base), *_missing_sources(ctx, win, base)]


def _effect(ctx: DetectorContext, traces: set[str]) -> tuple[float, dict]:
    assoc = associate(ctx, ctx.answers, traces)
    return (assoc.score if ctx.flags else T.shift_no_symptom_effect), assoc.as_data()


def _empty(ctx: DetectorContext, win: list[Span], base: list[Span]) -> list[Finding]:
    empty_win = [s for s in win if not s.documents]
    empty_base = [s for s in base if not s.documents]
    if not empty_win or len(empty_win) == len(win) and (not base or len(empty_base) == len(base)):
        return []  # never any document recorded: a telemetry gap, not an empty result
    new = novelty(len(empty_win), len(win), len(empty_base), len(base))
    effect, assoc = _effect(ctx, {s.trace_id for s in empty_win})
    first = empty_win[0]
    return [
        make(
            NAME,
            f"Retrieval returned no documents for {len(empty_win)} of {len(win)} queries in the window",
            strength=shift_strength(new, effect),
            layer_hint="data",
            evidence=[span_ref(s.span_id) for s in empty_win[:3]],
            detail=(
                f"Empty retrievals: {pct(len(empty_win) / len(win))} in the window vs "
                f"{pct(len(empty_base) / len(base)) if base else 'n/a'} in the baseline."
            ),
            onset=first.start_time,
            change=new >= T.novelty_change,
            kind="empty_retrieval",
            rate_window=round(len(empty_win) / len(win), 3),
            rate_baseline=round(len(empty_base) / len(base), 3) if base else None,
            novelty=round(new, 3),
            **assoc,
        )
    ]


def _top_score(span: Span) -> float | None:
    scores = [d.score for d in span.documents if d.score is not None]
    return max(scores) if scores else None


def _low_scores(ctx: DetectorContext, win: list[Span], base: list[Span]) -> list[Finding]:
    base_scores = [x for x in map(_top_score, base) if x is not None]
    scored_win = [(s, x) for s in win if (x := _top_score(s)) is not None]
    if len(base_scores) < T.retrieval_min_baseline or not scored_win:
        return []
    threshold = float(np.quantile(base_scores, T.retrieval_low_quantile))
    low = [s for s, x in scored_win if x < threshold]
    # healthy retrievals fall under the baseline's quantile at the quantile's level by construction; counting the
    # baseline's own scores under it measures the interpolation instead (one of five under the 10th percentile,
    # none of fifteen when scores repeat), so the comparison changed with the baseline's length, not its scores
    k_base = T.retrieval_low_quantile * len(base_scores)
    new = novelty(len(low), len(scored_win), k_base, len(base_scores))
    if new < T.retrieval_low_novelty:
        return []
    effect, assoc = _effect(ctx, {s.trace_id for s in low})
    med_win = float(np.median([x for _, x in scored_win]))
    med_base = float(np.median(base_scores))
    return [
        make(
            NAME,
            f"Retrieval scores dropped: median top score {med_win:.2f} vs {med_base:.2f} in the baseline",
            strength=shift_strength(new, effect),
            layer_hint="data",
            evidence=[span_ref(s.span_id) for s in low[:3]],
            detail=(
                f"{len(low)} of {len(scored_win)} window retrievals scored below the baseline's 10th percentile "
                f"({threshold:.2f})."
            ),
            onset=low[0].start_time,
            change=new >= T.novelty_change,
            kind="low_scores",
            threshold=round(threshold, 4),
            median_window=round(med_win, 4),
            median_baseline=round(med_base, 4),
            novelty=round(new, 3),
            **assoc,
        )
    ]


def _sources(span: Span) -> set[str]:
    return {k for d in span.documents if (k := source_key(d.source, d.id))}


def _missing_sources(ctx: DetectorContext, win: list[Span], base: list[Span]) -> list[Finding]:
    if len(base) < T.retrieval_min_baseline:
        return []
    base_counts = Counter(src for s in base for src in _sources(s))
    win_counts = Counter(src for s in win for src in _sources(s))
    findings = []
    for src, k_base in base_counts.items():
        r_base, r_win = k_base / len(base), win_counts[src] / len(win)
        z = two_prop_z(k_base, len(base), win_counts[src], len(win))
        if r_base < T.retrieval_source_min_share or r_win > T.retrieval_source_drop * r_base or z < T.rate_z:
            continue
        last = max((s for s in [*base, *win] if src in _sources(s)), key=lambda s: s.start_time)
        after = [s for s in win if s.start_time > last.start_time]
        lacking = {s.trace_id for s in win if src not in _sources(s)}
        effect, assoc = _effect(ctx, lacking)
        drop = min(1.0, (r_base - r_win) / r_base)
        findings.append(
            make(
                NAME,
                f"Source {src} is no longer retrieved ({pct(r_win)} of window queries vs {pct(r_base)} before)",
                strength=(T.retrieval_missing_base + T.retrieval_missing_gain * drop)
                * (T.shift_effect_floor + T.shift_effect_gain * effect),
                layer_hint="data",
                evidence=[span_ref(last.span_id)] + ([span_ref(after[0].span_id)] if after else []),
                detail=(
                    f"{src} was in {k_base} of {len(base)} baseline retrievals and {win_counts[src]} of "
                    f"{len(win)} window retrievals; last retrieved at {when(last.start_time)}."
                ),
                onset=after[0].start_time if after else None,
                change=bool(after),
                kind="source_missing",
                source=src,
                rate_window=round(r_win, 3),
                rate_baseline=round(r_base, 3),
                **assoc,
            )
        )
    return findings
