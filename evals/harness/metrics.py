"""Metrics: per-case scores aggregated over a set of cases."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from pydantic import BaseModel, Field

from agent.models import LAYERS
from evals.harness.calibration import Calibration, calibrate
from evals.harness.scorers import CaseScore


class LayerStats(BaseModel):
    precision: float | None = None
    recall: float | None = None
    f1: float | None = None
    support: int = 0  # gold count
    predicted: int = 0


class Metrics(BaseModel):
    """Aggregates for one system (the agent or a baseline). None where the system is not scored on it."""

    n: int
    primary_accuracy: float
    primary_per_layer: dict[str, LayerStats] = Field(default_factory=dict)
    confusion: dict[str, dict[str, int]] = Field(default_factory=dict)  # gold -> predicted -> count
    contributing_macro_f1: float | None = None
    contributing_per_layer: dict[str, LayerStats] = Field(default_factory=dict)
    key_evidence_recall: float | None = None
    key_evidence_precision: float | None = None
    citation_validity: float | None = None
    citations_total: int | None = None
    citations_invalid: int | None = None
    onset_median_abs_min: float | None = None
    onset_mean_abs_min: float | None = None
    onset_coverage: float | None = None  # share of cases with a gold onset where the draft gave one
    decisive_exact: float | None = None
    decisive_in_trace: float | None = None
    section_completeness: float | None = None
    complete_drafts: float | None = None
    errors: int = 0
    latency_p50_s: float | None = None
    latency_mean_s: float | None = None
    latency_max_s: float | None = None
    tokens_mean: float | None = None
    tool_calls_mean: float | None = None  # per draft, when the LLM investigated
    cost_mean_usd: float | None = None  # per priced draft
    cost_total_usd: float | None = None
    judge_mean: float | None = None
    brier: float | None = None  # multi-class Brier of the stated layer probabilities (see calibration.py)
    brier_prior: float | None = None  # the same for a constant prior at the gold layer shares
    calibration: Calibration | None = (
        None  # layer shares beside gold; Brier and reliability when confidence is stated
    )


def _ratio(num: float, den: float) -> float | None:
    return round(num / den, 4) if den else None


def _f1(tp: int, fp: int, fn: int) -> LayerStats:
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    f1 = _ratio(2 * tp, 2 * tp + fp + fn)
    return LayerStats(precision=precision, recall=recall, f1=f1, support=tp + fn, predicted=tp + fp)


def _mean(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.fmean(present), 4) if present else None


def _share(values: Sequence[bool | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(sum(present) / len(present), 4) if present else None


def primary_per_layer(scores: Sequence[CaseScore]) -> dict[str, LayerStats]:
    stats: dict[str, LayerStats] = {}
    for layer in LAYERS:
        tp = sum(s.primary_gold == layer and s.primary_pred == layer for s in scores)
        fp = sum(s.primary_gold != layer and s.primary_pred == layer for s in scores)
        fn = sum(s.primary_gold == layer and s.primary_pred != layer for s in scores)
        stats[layer] = _f1(tp, fp, fn)
    return stats


def contributing_f1(scores: Sequence[CaseScore]) -> tuple[float | None, dict[str, LayerStats]]:
    """Macro-F1 over layers of the contributing sets.

    A layer that is neither gold nor predicted as contributing in any case has no defined F1 and is left out of
    the average (it would otherwise count as a perfect 1.0 for predicting nothing).
    """
    per_layer: dict[str, LayerStats] = {}
    f1s: list[float] = []
    for layer in LAYERS:
        tp = sum(layer in s.contributing_pred and layer in s.contributing_gold for s in scores)
        fp = sum(layer in s.contributing_pred and layer not in s.contributing_gold for s in scores)
        fn = sum(layer not in s.contributing_pred and layer in s.contributing_gold for s in scores)
        stats = _f1(tp, fp, fn)
        per_layer[layer] = stats
        if stats.f1 is not None:
            f1s.append(stats.f1)
    macro = round(statistics.fmean(f1s), 4) if f1s else None
    return macro, per_layer


def confusion(scores: Sequence[CaseScore]) -> dict[str, dict[str, int]]:
    table = {gold: {pred: 0 for pred in (*LAYERS, "none")} for gold in LAYERS}
    for s in scores:
        table[s.primary_gold][s.primary_pred or "none"] += 1
    return table


def compute_metrics(
    scores: Sequence[CaseScore],
    *,
    latencies: Sequence[float] = (),
    tokens: Sequence[int | None] = (),
    costs: Sequence[float | None] = (),
    judge: Sequence[float | None] = (),
    errors: int = 0,
    states_confidence: bool = False,
    families: Sequence[str] | None = None,
    tool_calls: Sequence[int | None] = (),
) -> Metrics:
    """Aggregate per-case scores; evidence metrics stay None when no case was scored on them."""
    n = len(scores)
    metrics = Metrics(
        n=n,
        primary_accuracy=round(sum(s.primary_correct for s in scores) / n, 4) if n else 0.0,
        primary_per_layer=primary_per_layer(scores),
        confusion=confusion(scores),
        errors=errors,
    )
    metrics.contributing_macro_f1, metrics.contributing_per_layer = contributing_f1(scores)
    metrics.calibration = calibrate(
        [s.primary_gold for s in scores],
        [s.primary_pred for s in scores],
        [s.primary_confidence for s in scores] if states_confidence else None,
        [s.layer_scores for s in scores] if states_confidence else None,
        families,
    )
    metrics.brier, metrics.brier_prior = metrics.calibration.brier, metrics.calibration.brier_prior

    metrics.key_evidence_recall = _mean([s.key_recall for s in scores])
    metrics.key_evidence_precision = _mean([s.key_precision for s in scores])
    cited = [s for s in scores if s.citations_total is not None]
    if cited:
        total = sum(s.citations_total or 0 for s in cited)
        valid = sum(s.citations_valid or 0 for s in cited)
        metrics.citations_total = total
        metrics.citations_invalid = total - valid
        metrics.citation_validity = round(valid / total, 4) if total else None  # nothing cited: no figure
    onset = [s.onset_error_min for s in scores if s.onset_error_min is not None]
    if onset:
        metrics.onset_median_abs_min = round(statistics.median(onset), 2)
        metrics.onset_mean_abs_min = round(statistics.fmean(onset), 2)
    metrics.onset_coverage = _share(
        [None if s.onset_missing is None else not s.onset_missing for s in scores]
    )
    metrics.decisive_exact = _share([s.decisive_exact for s in scores])
    metrics.decisive_in_trace = _share([s.decisive_in_trace for s in scores])
    metrics.section_completeness = _mean([s.section_completeness for s in scores])
    metrics.complete_drafts = _share(
        [None if s.section_completeness is None else s.section_completeness >= 1.0 for s in scores]
    )
    if latencies:
        metrics.latency_p50_s = round(statistics.median(latencies), 3)
        metrics.latency_mean_s = round(statistics.fmean(latencies), 3)
        metrics.latency_max_s = round(max(latencies), 3)
    metrics.tokens_mean = _mean([float(t) if t is not None else None for t in tokens])
    present_costs = [c for c in costs if c is not None]
    metrics.cost_total_usd = round(sum(present_costs), 6) if present_costs else None
    metrics.cost_mean_usd = round(sum(present_costs) / len(present_costs), 6) if present_costs else None
    metrics.tool_calls_mean = _mean([float(t) if t is not None else None for t in tool_calls])
    metrics.judge_mean = _mean(judge)
    return metrics


# (field of Metrics, label, higher is better): the rows every report, table and comparison shows.
METRIC_ROWS: tuple[tuple[str, str, bool], ...] = (
    ("primary_accuracy", "primary-layer accuracy", True),
    ("contributing_macro_f1", "contributing macro-F1", True),
    ("key_evidence_recall", "key-evidence recall", True),
    ("key_evidence_precision", "key-evidence precision", True),
    ("citation_validity", "citation validity", True),
    ("onset_median_abs_min", "onset error, median (min)", False),
    ("onset_mean_abs_min", "onset error, mean (min)", False),
    ("onset_coverage", "onset given", True),
    ("decisive_exact", "decisive span exact", True),
    ("decisive_in_trace", "decisive span in gold trace", True),
    ("section_completeness", "section completeness", True),
    ("complete_drafts", "drafts with every section", True),
    ("brier", "Brier score, primary (0 best)", False),
    ("brier_prior", "Brier, constant prior", False),
    ("latency_p50_s", "latency p50 (s)", False),
    ("latency_mean_s", "latency mean (s)", False),
    ("tokens_mean", "tokens per draft", False),
    ("tool_calls_mean", "tool calls per draft", False),
    ("cost_mean_usd", "cost per draft (USD)", False),
    ("cost_total_usd", "cost total (USD)", False),
    ("judge_mean", "LLM judge (0-1)", True),
    ("errors", "errors", False),
)


def fmt(value: float | int | None) -> str:
    """A metric as the reports print it."""
    if value is None:
        return "-"
    if isinstance(value, int):
        return str(value)
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
