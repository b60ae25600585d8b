"""The patterns report as Markdown: clusters with their layer mix and trend, recurring factors and action
items, top services and deployers, quality against human labels; every pattern cites its incidents."""

from __future__ import annotations

from collections.abc import Sequence

from agent.patterns.schema import LAYER_ORDER, Cluster, PatternsReport, Quality, Tally
from agent.patterns.views import Group

_TREND = {"rising": "▲ rising", "falling": "▼ falling", "steady": "▬ steady", "too few": "· too few"}


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def layer_mix(layers: dict[str, int]) -> str:
    return ", ".join(f"{layer} {layers[layer]}" for layer in LAYER_ORDER if layers.get(layer))


def cites(ids: Sequence[str], limit: int | None = None) -> str:
    shown = list(ids if limit is None else ids[:limit])
    more = len(ids) - len(shown)
    return ", ".join(shown) + (f" (+{more} more)" if more > 0 else "")


def trend_text(trend: str) -> str:
    return _TREND.get(trend, trend)


def corpus_line(report: PatternsReport) -> str:
    origins = ", ".join(f"{n} {name}" for name, n in report.origins.items())
    span = f", {report.first} to {report.last}" if report.first else ""
    f = report.filters
    parts = [f"since {f.since}" if f.since else "", f"until {f.until}" if f.until else ""]
    parts.append(f"service {f.service}" if f.service else "")
    filters = "; ".join(p for p in parts if p)
    return f"{report.size} incidents ({origins}){span}" + (f"; filtered: {filters}" if filters else "")


def quality_lines(q: Quality) -> list[str]:
    def sd(value: float | None) -> str:
        return f" ± {value:.3f}" if value is not None else ""

    return [
        f"Agreement with the human labels of {q.labels} over {q.labelled} labelled incidents "
        f"({q.classes} classes), same k = {q.ours.k} for both, measured in the same run:",
        "",
        "| method | NMI | purity | seeds |",
        "|---|---|---|---|",
        f"| {cell(q.ours.method)} | {q.ours.nmi:.3f}{sd(q.ours.nmi_sd)} | "
        f"{q.ours.purity:.3f}{sd(q.ours.purity_sd)} | {q.ours.seeds} |",
        f"| baseline: {cell(q.baseline.method)} | {q.baseline.nmi:.3f}{sd(q.baseline.nmi_sd)} | "
        f"{q.baseline.purity:.3f}{sd(q.baseline.purity_sd)} | {q.baseline.seeds} |",
    ]


def _tally_table(title: str, rows: Sequence[Tally], limit: int = 8) -> list[str]:
    if not rows:
        return []
    lines = [f"## {title}", "", "| name | incidents | cited |", "|---|---|---|"]
    lines += [f"| {cell(t.name)} | {t.count} | {cites(t.incidents, limit)} |" for t in rows]
    return [*lines, ""]


def groups_lines(groups: Sequence[Group], by: str) -> list[str]:
    """The `--by layer|month` view: one row per group, its top clusters and its incidents."""
    lines = [
        f"## Incidents by {by}",
        "",
        f"| {by} | incidents | top clusters | layers | cited |",
        "|---|---|---|---|---|",
    ]
    for g in groups:
        top = "; ".join(f"{label} ({n})" for label, n in list(g.clusters.items())[:3])
        lines.append(
            f"| {g.name} | {g.count} | {cell(top)} | {layer_mix(g.layers)} | {cites(g.incidents, 12)} |"
        )
    return [*lines, ""]


def render_markdown(
    report: PatternsReport,
    *,
    cite_limit: int | None = None,
    groups: Sequence[Group] = (),
    by: str = "cluster",
) -> str:
    """The whole report (led by the `--by` view when given). cite_limit=None cites every incident."""
    lines = ["# Incident patterns", "", corpus_line(report) + ".", ""]
    if groups:
        lines += groups_lines(groups, by)
    lines += _clusters_lines(report, cite_limit)
    lines += _layers_lines(report, cite_limit)
    lines += _months_and_factors_lines(report, cite_limit)
    lines += _actions_lines(report)
    lines += _tally_table("Top services", report.services)
    lines += _tally_table("Top deployers", report.deployers)
    if report.quality:
        lines += ["## Quality", "", *quality_lines(report.quality), ""]
    if report.credits:
        lines += [
            "## Credits",
            "",
            *report.credits,
            "Derived content is shared under the same license (CC BY-SA 4.0).",
            "",
        ]
    return "\n".join(lines)


def _clusters_lines(report: PatternsReport, cite_limit: int | None) -> list[str]:
    """The clustering method, the clusters table, then one paragraph per cluster."""
    lines: list[str] = []
    if report.clusters:
        lines += [f"Clustering: {report.method}; k = {report.k}.", ""]
    if report.recent_window:
        lines += [
            f"Trend compares each cluster's share of incidents in {report.recent_window} with before.",
            "",
        ]
    lines += [
        "## Clusters",
        "",
        "| # | label | size | layers | trend | first | last |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in report.clusters:
        lines.append(
            f"| {c.id} | {cell(c.label)} | {c.size} | {layer_mix(c.layers)} | {trend_text(c.trend)} | "
            f"{c.first or ''} | {c.last or ''} |"
        )
    lines.append("")
    for c in report.clusters:
        lines += _cluster_lines(report, c, cite_limit)
    return lines


def _cluster_lines(report: PatternsReport, c: Cluster, cite_limit: int | None) -> list[str]:
    lines = [f"### {c.id}. {c.label}", ""]
    lines.append(f"- **Size**: {c.size}; **terms**: {', '.join(c.terms) or '—'}")
    lines.append(f"- **Layers**: {layer_mix(c.layers)}")
    by_period = ", ".join(f"{p}: {n}" for p, n in c.by_period.items())
    lines.append(
        f"- **Trend**: {trend_text(c.trend)} (recent share {c.recent_share:.1%}, before {c.earlier_share:.1%})"
        + (f"; per {report.period_unit}: {by_period}" if by_period else "")
    )
    if c.services:
        lines.append("- **Services**: " + "; ".join(f"{s.name} ({s.count})" for s in c.services))
    if c.factors:
        lines.append("- **Factors**: " + "; ".join(f"{f.name} ({f.count})" for f in c.factors))
    lines.append("- **Typical**: " + "; ".join(cell(t) for t in c.examples))
    return [*lines, f"- **Incidents**: {cites(c.incidents, cite_limit)}", ""]


def _layers_lines(report: PatternsReport, cite_limit: int | None) -> list[str]:
    lines = ["## Layer mix", "", "| layer | incidents | cited |", "|---|---|---|"]
    lines += [f"| {t.name} | {t.count} | {cites(t.incidents, cite_limit or 12)} |" for t in report.layers]
    sources = ", ".join(f"{n} {k}" for k, n in report.layer_sources.items())
    return [
        *lines,
        "",
        f"Layer source: {sources} (front-matter = the post-mortem's own; classifier = agent.textcues).",
        "",
    ]


def _months_and_factors_lines(report: PatternsReport, cite_limit: int | None) -> list[str]:
    lines: list[str] = []
    if report.months:
        lines += ["## Incidents per month (last 24)", "", "| month | incidents | cited |", "|---|---|---|"]
        lines += [f"| {t.name} | {t.count} | {cites(t.incidents, 10)} |" for t in report.months[-24:]]
        lines.append("")
    if report.factors:
        lines += [
            "## Recurring contributing factors",
            "",
            "| factor | kind | incidents | cited |",
            "|---|---|---|---|",
        ]
        for f in report.factors:
            lines.append(
                f"| {cell(f.name)} | {f.kind} | {f.count} | {cites(f.incidents, cite_limit or 12)} |"
            )
        lines.append("")
    return lines


def _actions_lines(report: PatternsReport) -> list[str]:
    lines = ["## Action items that keep coming back", ""]
    if report.recurring_actions:
        lines += ["| action item | post-mortems | open | done | cited |", "|---|---|---|---|---|"]
        for a in report.recurring_actions:
            lines.append(
                f"| {cell(a.text)} | {len(a.incidents)} | {a.open} | {a.done} | {cites(a.incidents)} |"
            )
    else:
        lines.append("No action item appears in more than one post-mortem.")
    lines += ["", "## Action items never closed", ""]
    if report.open_actions:
        lines += ["| action item | post-mortems | open | cited |", "|---|---|---|---|"]
        for a in report.open_actions:
            lines.append(f"| {cell(a.text)} | {len(a.incidents)} | {a.open} | {cites(a.incidents)} |")
    else:
        lines.append("No unchecked (`- [ ]`) action item without a checked counterpart.")
    lines.append("")
    return lines
