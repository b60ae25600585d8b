"""The patterns report as one self-contained HTML page: inline CSS and SVG charts, no script, no external
resource, so it opens offline. Every pattern cites the incidents behind it."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from agent.patterns.charts import cluster_colour, layer_chart, legend, sparkline, timeline_chart
from agent.patterns.report_md import corpus_line, layer_mix, trend_text
from agent.patterns.schema import PatternsReport, Tally
from agent.patterns.views import Group
from retrieval.aiid import CITE_URL, aiid_number

CSS = """
body{font-family:system-ui,sans-serif;margin:24px auto;max-width:1000px;color:#222;line-height:1.4}
h1{margin-bottom:4px} h2{margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;width:100%;font-size:13px;margin:8px 0}
th,td{border-bottom:1px solid #eee;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f6f6f6} .muted{color:#666;font-size:13px} .ids{font-size:12px;color:#444}
.ids a,.ids code{white-space:nowrap}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:12px;margin:6px 0}
.key i{display:inline-block;width:10px;height:10px;margin-right:4px}
.rising{color:#b00020} .falling{color:#2e7d32}
details summary{cursor:pointer;color:#555}
"""


def _ref(incident: str) -> str:
    number = aiid_number(incident)
    if number is None:
        return f"<code>{escape(incident)}</code>"
    return f'<a href="{escape(CITE_URL.format(n=number))}">{escape(incident)}</a>'


def cite_html(ids: Sequence[str], show: int = 12) -> str:
    """Every id cited: the first `show` in the open, the rest behind a <details>."""
    head = ", ".join(_ref(i) for i in ids[:show])
    if len(ids) <= show:
        return f'<span class="ids">{head}</span>'
    rest = ", ".join(_ref(i) for i in ids[show:])
    return (
        f'<span class="ids">{head}</span> <details><summary>{len(ids) - show} more</summary>'
        f'<span class="ids">{rest}</span></details>'
    )


def _tally_table(rows: Sequence[Tally]) -> str:
    body = "".join(
        f"<tr><td>{escape(t.name)}</td><td>{t.count}</td><td>{cite_html(t.incidents, 8)}</td></tr>"
        for t in rows
    )
    return f"<table><tr><th>name</th><th>incidents</th><th>cited</th></tr>{body}</table>"


def _clusters_table(report: PatternsReport) -> str:
    rows = []
    for i, c in enumerate(report.clusters):
        rows.append(
            f"<tr><td>{c.id}</td><td><b>{escape(c.label)}</b><br><span class='muted'>"
            f"{escape('; '.join(c.examples[:2]))}</span></td><td>{c.size}</td>"
            f"<td>{escape(layer_mix(c.layers))}</td>"
            f"<td class='{c.trend}'>{escape(trend_text(c.trend))}</td>"
            f"<td>{sparkline(c, report.periods, cluster_colour(i))}</td>"
            f"<td>{cite_html(c.incidents, 6)}</td></tr>"
        )
    head = "<tr><th>#</th><th>label (typical incidents)</th><th>size</th><th>layers</th><th>trend</th>"
    head += f"<th>per {report.period_unit}</th><th>incidents</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def _actions(report: PatternsReport) -> str:
    out = ["<h2>Action items that keep coming back</h2>"]
    if report.recurring_actions:
        rows = "".join(
            f"<tr><td>{escape(a.text)}</td><td>{len(a.incidents)}</td><td>{a.open}</td><td>{a.done}</td>"
            f"<td>{cite_html(a.incidents)}</td></tr>"
            for a in report.recurring_actions
        )
        out.append(
            "<table><tr><th>action item</th><th>post-mortems</th><th>open</th><th>done</th><th>cited</th></tr>"
            f"{rows}</table>"
        )
    else:
        out.append("<p class='muted'>No action item appears in more than one post-mortem.</p>")
    out.append("<h2>Action items never closed</h2>")
    if report.open_actions:
        rows = "".join(
            f"<tr><td>{escape(a.text)}</td><td>{len(a.incidents)}</td><td>{cite_html(a.incidents)}</td></tr>"
            for a in report.open_actions
        )
        out.append(f"<table><tr><th>action item</th><th>post-mortems</th><th>cited</th></tr>{rows}</table>")
    else:
        out.append("<p class='muted'>No unchecked action item without a checked counterpart.</p>")
    return "".join(out)


def _quality(report: PatternsReport) -> str:
    q = report.quality
    if q is None:
        return ""
    rows = "".join(
        f"<tr><td>{escape(line.method)}</td><td>{line.nmi:.3f}</td><td>{line.purity:.3f}</td><td>{line.k}</td></tr>"
        for line in (q.ours, q.baseline)
    )
    return (
        f"<h2>Quality</h2><p>Agreement with {escape(q.labels)} over {q.labelled} labelled incidents "
        f"({q.classes} classes), measured in the same run:</p>"
        f"<table><tr><th>method</th><th>NMI</th><th>purity</th><th>k</th></tr>{rows}</table>"
    )


def _groups(groups: Sequence[Group], by: str) -> str:
    rows = "".join(
        f"<tr><td>{escape(g.name)}</td><td>{g.count}</td>"
        f"<td>{escape('; '.join(f'{label} ({n})' for label, n in list(g.clusters.items())[:3]))}</td>"
        f"<td>{escape(layer_mix(g.layers))}</td><td>{cite_html(g.incidents, 8)}</td></tr>"
        for g in groups
    )
    return (
        f"<h2>Incidents by {escape(by)}</h2><table><tr><th>{escape(by)}</th><th>incidents</th>"
        f"<th>top clusters</th><th>layers</th><th>cited</th></tr>{rows}</table>"
    )


def render_html(report: PatternsReport, *, groups: Sequence[Group] = (), by: str = "cluster") -> str:
    """The whole report as one HTML document (led by the `--by` view when given)."""
    factors = "".join(
        f"<tr><td>{escape(f.name)}</td><td>{f.kind}</td><td>{f.count}</td><td>{cite_html(f.incidents, 8)}</td></tr>"
        for f in report.factors
    )
    sections = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Incident patterns</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>Incident patterns</h1><p class='muted'>{escape(corpus_line(report))}.",
        f" Clustering: {escape(report.method)}; k = {report.k}.</p>" if report.clusters else "</p>",
        _groups(groups, by) if groups else "",
        f"<h2>Incidents per {report.period_unit}, by cluster</h2>",
        timeline_chart(report) or "<p class='muted'>No dated incidents.</p>",
        legend(report),
        f"<p class='muted'>Trend: share of incidents in {escape(report.recent_window)} against before.</p>"
        if report.recent_window
        else "",
        "<h2>Clusters</h2>",
        _clusters_table(report),
        "<h2>Layer mix</h2>",
        layer_chart(report.clusters),
        _tally_table(report.layers),
        "<h2>Recurring contributing factors</h2>",
        f"<table><tr><th>factor</th><th>kind</th><th>incidents</th><th>cited</th></tr>{factors}</table>"
        if factors
        else "<p class='muted'>None found in two or more incidents.</p>",
        _actions(report),
        "<h2>Top services</h2>",
        _tally_table(report.services),
        "<h2>Top deployers</h2>",
        _tally_table(report.deployers),
        _quality(report),
    ]
    if report.credits:
        credits = " ".join(escape(c) for c in report.credits)
        sections.append(
            f"<h2>Credits</h2><p class='muted'>{credits} Derived content is shared under CC BY-SA 4.0.</p>"
        )
    sections.append("</body></html>")
    return "\n".join(s for s in sections if s)
