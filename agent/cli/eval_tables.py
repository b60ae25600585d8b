"""The console tables of `postmortem eval`: per-case figures fitted to the terminal's width, and the metrics.

Case ids are long (up to ~50 characters) and must stay whole. The per-case table keeps as many columns as fit
the width, most useful first; when not even the core columns fit beside the ids (80 columns), each case gets two
lines instead: its id, then its figures, wrapped between figures, never inside one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from rich.console import Console, Group, RenderableType
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from evals.harness.metrics import METRIC_ROWS, fmt

if TYPE_CHECKING:
    from evals.harness.report import CaseRecord, EvalReport

INDENT = "  "
SEPARATOR = "  "


def _mark(ok: bool) -> str:
    return "[green]✓[/]" if ok else "[red]✗[/]"


def _agent(case: CaseRecord) -> str:
    if case.error:
        return "[red]error[/]"
    return f"{case.agent.primary_pred or 'none'} {_mark(case.agent.primary_correct)}"


def _cites(case: CaseRecord) -> str:
    a = case.agent
    return f"{a.citations_valid}/{a.citations_total}" if a.citations_total is not None else "-"


def _contrib(case: CaseRecord) -> str:
    return f"{','.join(case.gold.contributing) or '-'} / {','.join(case.agent.contributing_pred) or '-'}"


@dataclass(frozen=True)
class CaseColumn:
    header: str
    cell: Callable[[CaseRecord], str]  # rich markup
    label: str = ""  # the figure's name in the two-line layout, when not the header
    justify: Literal["left", "right"] = "left"


# In display order. The case id is not a column here: it is always shown, whole.
CASE_COLUMNS: tuple[CaseColumn, ...] = (
    CaseColumn("gold", lambda c: c.gold.primary),
    CaseColumn("agent", _agent),
    CaseColumn("keyword", lambda c: f"{c.keyword.primary_pred} {_mark(c.keyword.primary_correct)}"),
    CaseColumn("contrib gold/agent", _contrib, label="contrib"),
    CaseColumn("key rec", lambda c: fmt(c.agent.key_recall), justify="right"),
    CaseColumn("cites", _cites, justify="right"),
    CaseColumn("onset", lambda c: fmt(c.agent.onset_error_min), label="onset err", justify="right"),
    CaseColumn(
        "decisive", lambda c: "-" if c.agent.decisive_exact is None else _mark(bool(c.agent.decisive_exact))
    ),
    CaseColumn("sect", lambda c: fmt(c.agent.section_completeness), justify="right"),
    CaseColumn("s", lambda c: f"{c.draft_s:.1f}", label="draft s", justify="right"),
)
# Which columns to keep first when the width is short; the table is used only if all of CORE fit.
PRIORITY: tuple[str, ...] = (
    "gold",
    "agent",
    "key rec",
    "cites",
    "decisive",
    "keyword",
    "sect",
    "onset",
    "s",
    "contrib gold/agent",
)
CORE: frozenset[str] = frozenset({"gold", "agent", "key rec", "cites"})


def print_cases(report: EvalReport, console: Console) -> None:
    """Print the per-case view; an id wider than the console is printed whole rather than cropped."""
    console.print(case_view(report, console), crop=False)


def case_view(report: EvalReport, console: Console) -> RenderableType:
    """The per-case figures at the console's width: a table when the core columns fit, else two lines a case."""
    title = f"{len(report.cases)} cases, split {report.split}"
    columns = fit_columns(report.cases, console)
    if CORE.issubset(c.header for c in columns):
        table = _table(report.cases, columns, title)
        left_out = [c.header for c in CASE_COLUMNS if c not in columns]
        if not left_out:
            return table
        note = f"not shown at this width: {', '.join(left_out)} (report.md has every figure)"
        return Group(table, Text(note, style="dim"))
    return Group(Text(title, style="italic"), *_case_lines(report.cases, console.width))


def fit_columns(cases: Sequence[CaseRecord], console: Console) -> list[CaseColumn]:
    """The columns, in display order, that fit beside the whole ids: added by PRIORITY while the table fits."""
    by_header = {c.header: c for c in CASE_COLUMNS}
    kept: set[str] = set()
    for header in PRIORITY:
        trial = [c for c in CASE_COLUMNS if c.header in kept or c.header == header]
        if _width(_table(cases, trial, None), console) <= console.width:
            kept.add(header)
    return [by_header[h] for h in by_header if h in kept]


def _width(table: Table, console: Console) -> int:
    return Measurement.get(console, console.options.update_width(10_000), table).maximum


def _table(cases: Sequence[CaseRecord], columns: Sequence[CaseColumn], title: str | None) -> Table:
    table = Table(title=title, show_lines=False, expand=False)
    table.add_column("case", no_wrap=True)
    for column in columns:
        table.add_column(column.header, justify=column.justify, no_wrap=True)
    for case in cases:
        table.add_row(case.id, *(column.cell(case) for column in columns))
    return table


def _case_lines(cases: Sequence[CaseRecord], width: int) -> list[Text]:
    """Per case: the id in bold on its own line, then `label value` figures wrapped between figures."""
    out: list[Text] = []
    for case in cases:
        out.append(Text(case.id, style="bold", no_wrap=True, overflow="ignore"))
        line = Text(INDENT)
        for column in CASE_COLUMNS:
            figure = Text.from_markup(f"{column.label or column.header} {column.cell(case)}")
            if line.cell_len > len(INDENT) and line.cell_len + len(SEPARATOR) + figure.cell_len > width:
                out.append(line)
                line = Text(INDENT)
            elif line.cell_len > len(INDENT):
                line.append(SEPARATOR)
            line.append_text(figure)
        out.append(line)
    return out


def metrics_table(report: EvalReport) -> Table:
    """The metrics of every system side by side, rows as METRIC_ROWS lists them (rows all None are left out)."""
    table = Table(title="metrics (agent beside the baselines)")
    table.add_column("metric")
    for system in report.metrics:
        table.add_column(system, justify="right")
    for field, label, _higher in METRIC_ROWS:
        values = [getattr(m, field) for m in report.metrics.values()]
        if any(v is not None for v in values):
            table.add_row(label, *(fmt(v) for v in values))
    return table


def confusion_table(report: EvalReport) -> Table:
    """The agent's primary layer against gold: rows gold, columns what the agent named."""
    from agent.models import LAYERS

    table = Table(title="agent confusion (gold rows, verdict columns)")
    table.add_column("gold")
    columns = [*LAYERS, "none"]
    for column in columns:
        table.add_column(column, justify="right")
    for gold in LAYERS:
        table.add_row(
            gold, *(str(report.metrics["agent"].confusion.get(gold, {}).get(c, 0)) for c in columns)
        )
    return table


def share_table(report: EvalReport) -> Table:
    """Share of verdicts per layer beside the gold share; a layer named over 1.3x its gold share is flagged red."""
    from agent.models import LAYERS

    agent = report.metrics["agent"].calibration
    table = Table(title="verdicts per layer beside gold")
    table.add_column("layer")
    table.add_column("gold", justify="right")
    for system in report.metrics:
        table.add_column(system, justify="right")
    for layer in (*LAYERS, "none"):
        cells = []
        for metrics in report.metrics.values():
            cal = metrics.calibration
            value = fmt(cal.verdict_share.get(layer)) if cal else "-"
            cells.append(f"[red]{value} over-named[/]" if cal and layer in cal.over_named else value)
        table.add_row(layer, fmt(agent.gold_share.get(layer)) if agent else "-", *cells)
    return table


def reliability_table(report: EvalReport) -> RenderableType | None:
    """Brier scores of the stated layer probabilities beside a constant prior (as stated, cross-validated), and
    the stated confidence of the primary layer against how often it was right."""
    agent = report.metrics["agent"]
    cal = agent.calibration
    if cal is None or not cal.reliability:
        return None
    fitted = f"; fitted on these cases: gain {cal.fitted[0]:g}, bonus {cal.fitted[1]:g}" if cal.fitted else ""
    scores = Table(title=f"calibration: Brier scores (0 best) beside a constant prior{fitted}")
    for header in ("scored", "cases", "4 layers", "prior", "primary layer", "prior"):
        scores.add_column(header, justify="left" if header == "scored" else "right")
    for b in cal.scores:
        scores.add_row(
            b.how, str(b.cases), fmt(b.layers), fmt(b.layers_prior), fmt(b.primary), fmt(b.primary_prior)
        )
    table = Table(title="reliability: stated against observed")
    for header in ("stated confidence", "stated p (mean)", "cases", "primary right"):
        table.add_column(header, justify="left" if header == "stated confidence" else "right")
    for row in cal.reliability:
        table.add_row(row.confidence, fmt(row.stated), str(row.cases), fmt(row.observed))
    for row in cal.reliability_bins:
        table.add_row(f"p(primary) {row.confidence}", fmt(row.stated), str(row.cases), fmt(row.observed))
    return Group(scores, table)
