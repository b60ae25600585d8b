"""The robustness suite as text: the share of cases whose verdict stays, case family x perturbation, and overall."""

from __future__ import annotations

from evals.robustness.perturb import LABELS
from evals.robustness.suite import RobustnessReport


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def table_rows(
    report: RobustnessReport, what: str = "stays", by: str = "family"
) -> tuple[list[str], list[list[str]]]:
    """Header and rows: one row per case family (or gold layer), then all cases; one column per perturbation,
    then all perturbations."""
    header = [
        f"{'family' if by == 'family' else 'gold layer'} (cases)",
        *(LABELS.get(p, p) for p in report.perturbations),
        "all",
    ]
    rows: list[list[str]] = []
    for family, cells in report.table(what, by).items():
        mine = [o for o in report.outcomes if getattr(o, by) == family]
        n = len({o.case_id for o in mine})
        rows.append(
            [
                f"{family} ({n})",
                *(_cell(cells[p]) for p in report.perturbations),
                _cell(report.share(mine, what)),
            ]
        )
    overall = report.by_perturbation()
    rows.append(
        [
            f"all ({report.cases})",
            *(_cell(overall[p][what]) for p in report.perturbations),
            _cell(report.overall()[what]),
        ]
    )
    return header, rows


def _fixed(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in [header, *rows]
    ]


def render_robustness(report: RobustnessReport) -> str:
    """Fixed-width text: the share of runs whose verdict stays, case family x perturbation and gold layer x
    perturbation, and the overall shares."""
    lines = [
        f"robustness: share of runs whose primary layer and decisive span stay ({report.cases} cases x "
        f"{len(report.perturbations)} perturbations, {report.wall_s:.0f} s)",
        *_fixed(*table_rows(report)),
        "",
        *_fixed(*table_rows(report, by="layer")),
    ]
    overall = report.overall()
    lines.append(
        f"overall: primary layer stays {_cell(overall['primary_same'])}, decisive span stays "
        f"{_cell(overall['decisive_same'])}, both {_cell(overall['stays'])}"
    )
    failed = [o for o in report.outcomes if o.verdict.error]
    if failed:
        lines.append(
            f"{len(failed)} perturbed runs failed, first: {failed[0].case_id}/{failed[0].perturbation}: "
            f"{failed[0].verdict.error}"
        )
    return "\n".join(lines)


def render_markdown(report: RobustnessReport, by: str = "family") -> str:
    header, rows = table_rows(report, by=by)
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)
