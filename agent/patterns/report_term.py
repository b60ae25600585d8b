"""The patterns report as terminal tables (rich)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from agent.patterns.report_md import cites, corpus_line, layer_mix, trend_text
from agent.patterns.schema import PatternsReport, Quality
from agent.patterns.views import By, Group

_STYLE = {"rising": "red", "falling": "green"}


def short_layers(layers: dict[str, int]) -> str:
    """The two largest classified layers, then the unclassified count: 'system 27, prompt 20 · 65 ?'."""
    named = sorted(((n, layer) for layer, n in layers.items() if layer != "unclassified"), reverse=True)[:2]
    text = ", ".join(f"{layer} {n}" for n, layer in named)
    rest = layers.get("unclassified", 0)
    return f"{text} · {rest} ?" if rest and text else (f"{rest} ?" if rest else text)


def _clusters(report: PatternsReport, width: int) -> Table:
    wide = width >= 140
    table = Table(
        title=f"Clusters (k = {report.k})",
        caption="layers: the two largest; '?' = unclassified. ▲ rising ▼ falling ▬ steady (share of recent incidents)",
        expand=True,
    )
    table.add_column("#", justify="right")
    table.add_column("label" + (" (typical incident)" if not wide else ""), ratio=4)
    table.add_column("size", justify="right")
    table.add_column("layers", ratio=2)
    table.add_column("trend", no_wrap=True)
    if wide:
        table.add_column("typical incident", ratio=4)
    table.add_column("incidents", ratio=2)
    for c in report.clusters:
        example = c.examples[0] if c.examples else ""
        label = f"[bold]{c.label}[/]" + (f"\n[dim]{example}[/]" if not wide and example else "")
        row = [str(c.id), label, str(c.size), short_layers(c.layers)]
        row.append(f"[{_STYLE.get(c.trend, 'default')}]{trend_text(c.trend).split()[0]}[/]")
        if wide:
            row.append(example)
        row.append(cites(c.incidents, 3))
        table.add_row(*row)
    return table


def _groups(groups: Sequence[Group], by: By) -> Table:
    table = Table(title=f"Incidents by {by}", expand=True)
    for name in (by, "incidents", "top clusters", "layers", "cited"):
        table.add_column(name, justify="right" if name == "incidents" else "left")
    for g in groups:
        top = "; ".join(f"{label} ({n})" for label, n in list(g.clusters.items())[:3])
        table.add_row(g.name, str(g.count), top, layer_mix(g.layers), cites(g.incidents, 4))
    return table


def quality_table(q: Quality) -> Table:
    table = Table(title=f"Agreement with {q.labels} ({q.labelled} labelled incidents, {q.classes} classes)")
    for name in ("method", "k", "NMI", "purity", "seeds"):
        table.add_column(name)
    for line in (q.ours, q.baseline):
        nmi = f"{line.nmi:.3f}" + (f" ± {line.nmi_sd:.3f}" if line.nmi_sd is not None else "")
        purity = f"{line.purity:.3f}" + (f" ± {line.purity_sd:.3f}" if line.purity_sd is not None else "")
        table.add_row(line.method, str(line.k), nmi, purity, str(line.seeds))
    return table


def print_report(console: Console, report: PatternsReport, by: By, groups: Sequence[Group]) -> None:
    console.print(f"[bold]Incident patterns[/]: {corpus_line(report)}", highlight=False)
    if not report.clusters:
        console.print("No incidents match: import some (`postmortem import aiid PATH`, `postmortem ingest`).")
        return
    console.print(_groups(groups, by) if by != "cluster" else _clusters(report, console.width))
    if report.factors:
        table = Table(title="Recurring contributing factors", expand=True)
        for name in ("factor", "kind", "incidents", "cited"):
            table.add_column(name)
        for f in report.factors[:8]:
            table.add_row(f.name, f.kind, str(f.count), cites(f.incidents, 5))
        console.print(table)
    if report.recurring_actions or report.open_actions:
        table = Table(title="Action items: recurring, and never closed", expand=True)
        for name in ("action item", "post-mortems", "open", "done", "cited"):
            table.add_column(name)
        seen = set()
        for a in [*report.recurring_actions, *report.open_actions][:12]:
            if a.text in seen:
                continue
            seen.add(a.text)
            table.add_row(a.text, str(len(a.incidents)), str(a.open), str(a.done), cites(a.incidents, 5))
        console.print(table)
    table = Table(title="Top services / deployers", expand=True)
    for name in ("service", "incidents", "cited"):
        table.add_column(name)
    for t in report.services[:8]:
        table.add_row(t.name, str(t.count), cites(t.incidents, 5))
    console.print(table)
    if report.quality:
        console.print(quality_table(report.quality))
    for credit in report.credits:
        console.print(f"[dim]{credit}[/]", highlight=False)
