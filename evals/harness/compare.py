"""What changed between two eval reports: metric deltas per system, and per-case flips."""

from __future__ import annotations

from pydantic import BaseModel, Field

from evals.harness.metrics import METRIC_ROWS
from evals.harness.report import EvalReport


class MetricDelta(BaseModel):
    system: str
    metric: str
    label: str
    a: int | float | None
    b: int | float | None
    delta: int | float | None
    better: bool | None  # None: unchanged or not comparable


class CaseFlip(BaseModel):
    case: str
    what: str  # primary, contributing, decisive, citations, error
    a: str
    b: str
    better: bool | None


class Comparison(BaseModel):
    a: str
    b: str
    a_split: str
    b_split: str
    deltas: list[MetricDelta] = Field(default_factory=list)
    flips: list[CaseFlip] = Field(default_factory=list)
    only_in_a: list[str] = Field(default_factory=list)
    only_in_b: list[str] = Field(default_factory=list)

    @property
    def regressions(self) -> list[MetricDelta]:
        return [d for d in self.deltas if d.better is False]


def _delta(
    system: str, field: str, label: str, higher: bool, a: float | None, b: float | None
) -> MetricDelta:
    if a is None or b is None:
        return MetricDelta(system=system, metric=field, label=label, a=a, b=b, delta=None, better=None)
    delta = b - a if isinstance(a, int) and isinstance(b, int) else round(float(b) - float(a), 4)
    better = None if abs(delta) < 1e-9 else (delta > 0) == higher
    return MetricDelta(system=system, metric=field, label=label, a=a, b=b, delta=delta, better=better)


def compare_reports(a: EvalReport, b: EvalReport, *, a_name: str = "A", b_name: str = "B") -> Comparison:
    """Every metric of every system present in both reports, and what changed case by case."""
    comparison = Comparison(a=a_name, b=b_name, a_split=a.split, b_split=b.split)
    for system in [s for s in a.metrics if s in b.metrics]:
        for field, label, higher in METRIC_ROWS:
            va, vb = getattr(a.metrics[system], field), getattr(b.metrics[system], field)
            if va is None and vb is None:
                continue
            comparison.deltas.append(_delta(system, field, label, higher, va, vb))

    cases_a = {c.id: c for c in a.cases}
    cases_b = {c.id: c for c in b.cases}
    comparison.only_in_a = sorted(set(cases_a) - set(cases_b))
    comparison.only_in_b = sorted(set(cases_b) - set(cases_a))
    for case_id in sorted(set(cases_a) & set(cases_b)):
        ca, cb = cases_a[case_id].agent, cases_b[case_id].agent
        flips = comparison.flips
        if ca.primary_pred != cb.primary_pred:
            better = None if ca.primary_correct == cb.primary_correct else cb.primary_correct
            flips.append(
                CaseFlip(
                    case=case_id,
                    what="primary",
                    a=ca.primary_pred or "none",
                    b=cb.primary_pred or "none",
                    better=better,
                )
            )
        if sorted(ca.contributing_pred) != sorted(cb.contributing_pred):
            gold = set(cb.contributing_gold)
            err_a = len(set(ca.contributing_pred) ^ gold)
            err_b = len(set(cb.contributing_pred) ^ gold)
            flips.append(
                CaseFlip(
                    case=case_id,
                    what="contributing",
                    a=",".join(ca.contributing_pred) or "-",
                    b=",".join(cb.contributing_pred) or "-",
                    better=None if err_a == err_b else err_b < err_a,
                )
            )
        if ca.decisive_exact != cb.decisive_exact and None not in (ca.decisive_exact, cb.decisive_exact):
            flips.append(
                CaseFlip(
                    case=case_id,
                    what="decisive",
                    a=str(ca.decisive_exact),
                    b=str(cb.decisive_exact),
                    better=bool(cb.decisive_exact),
                )
            )
        bad_a, bad_b = len(ca.invalid_citations), len(cb.invalid_citations)
        if bad_a != bad_b:
            flips.append(
                CaseFlip(
                    case=case_id, what="invalid citations", a=str(bad_a), b=str(bad_b), better=bad_b < bad_a
                )
            )
        err_a, err_b = cases_a[case_id].error, cases_b[case_id].error
        if bool(err_a) != bool(err_b):
            flips.append(
                CaseFlip(case=case_id, what="error", a=err_a or "ok", b=err_b or "ok", better=not err_b)
            )
    return comparison
