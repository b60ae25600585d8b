"""The robustness suite as text: the share of cases whose verdict stays, case family x perturbation, and overall."""

from __future__ import annotations

from evals.robustness.perturb import LABELS
from evals.robustness.suite import RobustnessReport


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def table_rows(report: RobustnessReport, what: str = "stays") -> tuple[list[str], list[list[str]]]:
    """Header and rows: one row per case family (gold primary layer), then all families; one column per
    perturbation, then all perturbations."""
    header = ["family (cases)", *(LABELS.get(p, p) for p in report.perturbations), "all"]
    rows: list[list[str]] = []
    by_family = report.table(what)
    for family, cells in by_family.items():
        mine = [o for o in report.outcomes if o.family == family]
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


def render_robustness(report: RobustnessReport) -> str:
    """Fixed-width text: the table of verdicts that stay, and the overall shares."""
    header, rows = table_rows(report)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        f"robustness: share of runs whose primary layer and decisive span stay ({report.cases} cases x "
        f"{len(report.perturbations)} perturbations, {report.wall_s:.0f} s)",
        "  ".join(
            h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(header, widths, strict=True))
        ),
    ]
    for row in rows:
        lines.append(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
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


def render_markdown(report: RobustnessReport) -> str:
    header, rows = table_rows(report)
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)
