"""Run the robustness suite: every case unperturbed and under every perturbation, and whether the verdict stays.

A verdict *stays* when the perturbed draft names the same primary layer (or none, as before) and points its decisive
evidence at the same span as the unperturbed draft. A perturbed run that fails counts as moved.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import BaseModel, Field

from evals.harness.dataset import Sample
from evals.harness.dataset import family_of as tags_family
from evals.harness.runner import AgentSolver, CaseRun, read_case_traces
from evals.harness.scorers import span_of
from evals.robustness.model import CaseTraces
from evals.robustness.perturb import PERTURBATIONS, apply

# The fixed subset CI runs (`tests/test_eval_gate.py`): for each case family and primary layer, the first dev case
# in alphabetical order; chosen by that rule and never by how they score. `make robustness` runs every dev case.
CI_CASES: tuple[str, ...] = (
    "air-canada-bereavement-fare",
    "benefits-bot-refuses-drug-coverage",
    "dealer-chatbot-sells-suv-for-a-dollar",
    "account-assistant-shows-other-customers-balances",
    "api-docs-index-overwritten-by-staging",
    "invoice-extractor-misreads-totals-after-downsize",
    "kpi-copilot-fills-empty-results-with-numbers",
    "call-chunker-drops-final-segment",
)


class Verdict(BaseModel):
    primary: str | None = None
    decisive: str | None = None  # the span the decisive evidence points at
    error: str | None = None


class Outcome(BaseModel):
    case_id: str
    family: str  # the case family (a case's `family:` tag; the generated set has none)
    layer: str  # its gold primary layer
    perturbation: str
    verdict: Verdict
    primary_same: bool
    decisive_same: bool
    spans: int = 0
    seconds: float = 0.0

    @property
    def stays(self) -> bool:
        return self.primary_same and self.decisive_same


class RobustnessReport(BaseModel):
    cases: int
    perturbations: list[str]
    base: dict[str, Verdict] = Field(default_factory=dict)
    outcomes: list[Outcome] = Field(default_factory=list)
    wall_s: float = 0.0

    def share(self, rows: Sequence[Outcome], what: str = "stays") -> float | None:
        if not rows:
            return None
        return round(sum(bool(getattr(o, what)) for o in rows) / len(rows), 4)

    def by_perturbation(self) -> dict[str, dict[str, float | None]]:
        out: dict[str, dict[str, float | None]] = {}
        for name in self.perturbations:
            rows = [o for o in self.outcomes if o.perturbation == name]
            out[name] = {k: self.share(rows, k) for k in ("primary_same", "decisive_same", "stays")}
        return out

    def overall(self) -> dict[str, float | None]:
        return {k: self.share(self.outcomes, k) for k in ("primary_same", "decisive_same", "stays")}

    def gate_figures(self) -> dict[str, float | None]:
        """What the gate holds: the overall shares, and the share that stays under each perturbation."""
        figures = self.overall()
        figures |= {f"stays:{name}": shares["stays"] for name, shares in self.by_perturbation().items()}
        return figures

    def table(self, what: str = "stays", by: str = "family") -> dict[str, dict[str, float | None]]:
        """row (case family, or gold layer with by="layer") -> perturbation -> share of runs whose verdict stays."""
        rows = sorted({getattr(o, by) for o in self.outcomes})
        return {
            row: {
                name: self.share(
                    [o for o in self.outcomes if getattr(o, by) == row and o.perturbation == name], what
                )
                for name in self.perturbations
            }
            for row in rows
        }


def family_of(sample: Sample) -> str:
    """The case family: its `family:NAME` tag, else the generated set of evals/generator."""
    return tags_family(sample.tags)


def verdict_of(run: CaseRun) -> Verdict:
    if run.error or run.draft is None:
        return Verdict(error=run.error or "no draft")
    draft = run.draft
    decisive = span_of(draft.decisive_evidence) if draft.decisive_evidence else None
    return Verdict(primary=draft.classification.primary, decisive=decisive)


def case_traces(sample: Sample) -> CaseTraces:
    spans, docs, errors = read_case_traces(sample)
    if errors:
        raise ValueError(f"{sample.id}: {len(errors)} ingest errors, first: {errors[0]}")
    return CaseTraces(
        case_id=sample.id, incident=sample.incident, spans=spans, docs=docs, onset=sample.gold.onset
    )


ProgressFn = Callable[[Outcome], None]


def run_suite(
    samples: Sequence[Sample],
    solver: AgentSolver,
    *,
    perturbations: Sequence[str] | None = None,
    workdir: Path | None = None,
    progress: ProgressFn | None = None,
) -> RobustnessReport:
    """Every sample unperturbed, then under each perturbation; compare the verdicts."""
    names = list(perturbations or PERTURBATIONS)
    unknown = sorted(set(names) - set(PERTURBATIONS))
    if unknown:
        raise ValueError(f"unknown perturbation(s): {', '.join(unknown)}; known: {', '.join(PERTURBATIONS)}")
    started = time.perf_counter()
    report = RobustnessReport(cases=len(samples), perturbations=names)
    for sample in samples:
        case = case_traces(sample)
        base = verdict_of(solver.solve(case.case_id, case.incident, case.spans, case.docs))
        report.base[sample.id] = base
        for name in names:
            t0 = time.perf_counter()
            try:
                moved = apply(name, case, workdir)
                verdict = verdict_of(solver.solve(moved.case_id, moved.incident, moved.spans, moved.docs))
                spans = len(moved.spans)
            except ValueError as exc:  # a perturbation that cannot be applied to this case is a failed run
                verdict, spans = Verdict(error=str(exc)[:300]), 0
            ok = base.error is None and verdict.error is None
            outcome = Outcome(
                case_id=sample.id,
                family=family_of(sample),
                layer=sample.gold.primary,
                perturbation=name,
                verdict=verdict,
                primary_same=ok and verdict.primary == base.primary,
                decisive_same=ok and verdict.decisive == base.decisive,
                spans=spans,
                seconds=round(time.perf_counter() - t0, 3),
            )
            report.outcomes.append(outcome)
            if progress is not None:
                progress(outcome)
    report.wall_s = round(time.perf_counter() - started, 3)
    return report
