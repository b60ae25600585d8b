"""The Markdown form of an eval report."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.models import LAYERS
from evals.harness.metrics import METRIC_ROWS, fmt

if TYPE_CHECKING:
    from evals.harness.report import CaseRecord, EvalReport


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [_row(header), _row(["---"] * len(header)), *(_row(r) for r in rows)]


def metrics_table(report: EvalReport) -> list[str]:
    systems = list(report.metrics)
    rows = []
    for field, label, _higher in METRIC_ROWS:
        values = [getattr(report.metrics[s], field) for s in systems]
        if all(v is None for v in values):
            continue
        rows.append([label, *(fmt(v) for v in values)])
    return _table(["metric", *systems], rows)


def per_layer_table(report: EvalReport) -> list[str]:
    rows = []
    for layer in LAYERS:
        cells = [layer]
        for metrics in report.metrics.values():
            stats = metrics.primary_per_layer.get(layer)
            cells.append(f"{fmt(stats.precision)} / {fmt(stats.recall)} / {fmt(stats.f1)}" if stats else "-")
        support = report.metrics["agent"].primary_per_layer.get(layer)
        cells.append(str(support.support if support else 0))
        rows.append(cells)
    return _table(["layer", *(f"{s} P / R / F1" for s in report.metrics), "gold cases"], rows)


def confusion_table(report: EvalReport) -> list[str]:
    table = report.metrics["agent"].confusion
    columns = [*LAYERS, "none"]
    rows = [[gold, *(str(table.get(gold, {}).get(p, 0)) for p in columns)] for gold in LAYERS]
    return _table(["gold \\ agent", *columns], rows)


def share_table(report: EvalReport) -> list[str]:
    """Share of verdicts per layer beside the gold share, for every system; a layer named far more often than
    gold names it is flagged (a bias, not luck)."""
    rows = []
    for layer in (*LAYERS, "none"):
        gold = (
            report.metrics["agent"].calibration.gold_share.get(layer)
            if report.metrics["agent"].calibration
            else None
        )
        cells = [layer, fmt(gold)]
        for metrics in report.metrics.values():
            cal = metrics.calibration
            if cal is None:
                cells.append("-")
                continue
            flag = " (over-named)" if layer in cal.over_named else ""
            cells.append(fmt(cal.verdict_share.get(layer)) + flag)
        rows.append(cells)
    return _table(["layer", "gold share", *(f"{s} share" for s in report.metrics)], rows)


def reliability_table(report: EvalReport) -> list[str]:
    cal = report.metrics["agent"].calibration
    if cal is None or not cal.reliability:
        return []
    rows = [[r.confidence, fmt(r.stated), str(r.cases), fmt(r.observed)] for r in cal.reliability]
    rows += [
        [f"p(primary) {r.confidence}", fmt(r.stated), str(r.cases), fmt(r.observed)]
        for r in cal.reliability_bins
    ]
    return _table(["stated confidence", "stated p (mean)", "cases", "primary right"], rows)


def brier_table(report: EvalReport) -> list[str]:
    cal = report.metrics["agent"].calibration
    if cal is None or not cal.scores:
        return []
    rows = [
        [b.how, str(b.cases), fmt(b.layers), fmt(b.layers_prior), fmt(b.primary), fmt(b.primary_prior)]
        for b in cal.scores
    ]
    return _table(["scored", "cases", "4 layers", "constant prior", "primary layer", "constant prior"], rows)


def _mark(ok: bool | None) -> str:
    return "-" if ok is None else ("yes" if ok else "no")


def llm_cells(case: CaseRecord) -> list[str]:
    """With a provider: the offline verdict of the same case, and what the LLM run cost."""
    offline = case.offline
    verdict = (
        "-"
        if offline is None
        else (offline.primary_pred or "none") + ("" if offline.primary_correct else " ✗")
    )
    cost = f"{case.cost_usd:.4f}" if case.cost_usd is not None else "-"
    return [verdict, fmt(case.tool_calls), fmt(case.tokens), cost]


LLM_HEADER = ["offline", "tool calls", "tokens", "cost (USD)"]


def case_row(case: CaseRecord) -> list[str]:
    a = case.agent
    cites = f"{a.citations_valid}/{a.citations_total}" if a.citations_total is not None else "-"
    return [
        case.id,
        case.split,
        case.dialect or "-",
        case.gold.primary,
        (a.primary_pred or "none") + ("" if a.primary_correct else " ✗"),
        (case.keyword.primary_pred or "none") + ("" if case.keyword.primary_correct else " ✗"),
        ",".join(case.gold.contributing) or "-",
        ",".join(a.contributing_pred) or "-",
        fmt(a.key_recall),
        cites,
        fmt(a.onset_error_min),
        _mark(a.decisive_exact),
        fmt(a.section_completeness),
        f"{case.draft_s:.2f}",
    ]


CASE_HEADER = [
    "case", "split", "dialect", "gold", "agent", "keyword", "gold contrib", "agent contrib",
    "key recall", "citations ok", "onset err (min)", "decisive", "sections", "draft (s)",
]  # fmt: skip


def render_markdown(report: EvalReport, *, chart: str | None = None) -> str:
    agent = report.metrics["agent"]
    lines = [
        f"# Eval report: {agent.n} cases, split {report.split}",
        "",
        f"- created {report.created.isoformat(timespec='seconds')}, commit {report.git_commit or 'unknown'}, "
        f"provider `{report.provider}`, cases `{report.cases_glob or '*'}`, wall time {report.wall_s:.1f} s",
        f"- majority baseline: `{report.majority.primary}` (fitted on {report.majority.fitted_on} dev cases); "
        "keyword baseline: a fixed lexicon over the incident title and description only",
        "",
        "## Metrics",
        "",
        *metrics_table(report),
        "",
        "## Primary layer, per layer",
        "",
        *per_layer_table(report),
        "",
    ]
    if chart:
        lines += [f"![per-layer F1]({chart})", ""]
    lines += ["## Agent confusion (gold rows, predicted columns)", "", *confusion_table(report), ""]
    lines += ["## Verdicts per layer beside gold", "", *share_table(report), ""]
    reliability = reliability_table(report)
    if reliability:
        lines += [
            "## Calibration of the stated probabilities (agent)",
            "",
            "Brier scores (0 best; `evals/harness/calibration.py`) over the four layers and for the primary layer "
            "alone, beside a constant prior (the gold shares; the accuracy). 'as stated' scores the draft's own "
            "probabilities, whose mapping was fitted on the dev cases; the cross-validated rows fit it again "
            "without the cases they score.",
            "",
            *brier_table(report),
            "",
            *reliability,
            "",
        ]
    if report.provider != "offline":
        rows = [case_row(c) + llm_cells(c) for c in report.cases]
        lines += ["## Cases", "", *_table(CASE_HEADER + LLM_HEADER, rows), ""]
    else:
        lines += ["## Cases", "", *_table(CASE_HEADER, [case_row(c) for c in report.cases]), ""]
    failed = [c for c in report.cases if c.error or c.ingest_errors or c.agent.invalid_citations]
    if failed:
        lines += ["## Problems", ""]
        for case in failed:
            if case.error:
                lines.append(f"- `{case.id}`: draft failed: {case.error}")
            for err in case.ingest_errors[:3]:
                lines.append(f"- `{case.id}`: ingest error: {err}")
            if case.agent.invalid_citations:
                bad = ", ".join(case.agent.invalid_citations[:5])
                lines.append(f"- `{case.id}`: citations that do not resolve: {bad}")
        lines.append("")
    if report.notes:
        lines += ["## Notes", "", *(f"- {note}" for note in report.notes), ""]
    return "\n".join(lines)
