"""Inline SVG charts for the HTML report (no script, no external resource): incidents per cluster over time
(stacked bars), the layer mix of each cluster (100% bars) and per-cluster sparklines."""

from __future__ import annotations

from html import escape

from agent.patterns.schema import LAYER_ORDER, Cluster, PatternsReport

PALETTE = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
    "#499894", "#d37295", "#8cd17d",
)  # fmt: skip
OTHER = "#bab0ac"
LAYER_COLOURS = {
    "model": "#4e79a7",
    "prompt": "#f28e2b",
    "data": "#59a14f",
    "system": "#e15759",
    "unclassified": "#d3d3d3",
}
FONT = 'font-family="system-ui, sans-serif"'


def cluster_colour(index: int) -> str:
    """Colour of the cluster at position `index` (0 = largest); clusters past the palette share OTHER."""
    return PALETTE[index] if index < len(PALETTE) else OTHER


def timeline_chart(report: PatternsReport, width: int = 920, height: int = 300) -> str:
    """Stacked bars: incidents per period, one colour per cluster (the largest ones; the rest as 'other')."""
    periods = report.periods
    if not periods or not report.clusters:
        return ""
    shown = report.clusters[: len(PALETTE)]
    stacks: list[list[tuple[str, int, str]]] = []
    for p in periods:
        stack = [
            (cluster_colour(i), c.by_period.get(p, 0), f"{c.id}. {c.label}") for i, c in enumerate(shown)
        ]
        rest = sum(c.by_period.get(p, 0) for c in report.clusters[len(PALETTE) :])
        stack.append((OTHER, rest, "other clusters"))
        stacks.append(stack)
    top = max(1, max(sum(n for _, n, _ in s) for s in stacks))
    left, plot_h = 40, height - 60
    slot = (width - left - 10) / len(periods)
    bar_w = max(1.0, slot * 0.8)
    parts = [f'<svg width="{width}" height="{height}" role="img" {FONT}>']
    parts.append(f"<title>Incidents per {report.period_unit}, by cluster</title>")
    for frac in (0.0, 0.5, 1.0):
        y = 10 + plot_h * (1 - frac)
        parts.append(f'<line x1="{left}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(
            f'<text x="{left - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end">{round(top * frac)}</text>'
        )
    label_every = max(1, len(periods) // 12)
    for i, (p, stack) in enumerate(zip(periods, stacks, strict=True)):
        x = left + i * slot + (slot - bar_w) / 2
        y = 10 + plot_h
        for colour, n, name in stack:
            if not n:
                continue
            h = plot_h * n / top
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{colour}">'
                f"<title>{escape(p)}: {n} in {escape(name)}</title></rect>"
            )
        if i % label_every == 0:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{height - 22}" font-size="10" text-anchor="middle">{escape(p)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def legend(report: PatternsReport) -> str:
    items = [
        f'<span class="key"><i style="background:{cluster_colour(i)}"></i>{c.id}. {escape(c.label)}</span>'
        for i, c in enumerate(report.clusters[: len(PALETTE)])
    ]
    if len(report.clusters) > len(PALETTE):
        items.append(f'<span class="key"><i style="background:{OTHER}"></i>other clusters</span>')
    return '<div class="legend">' + "".join(items) + "</div>"


def layer_chart(clusters: list[Cluster], width: int = 920) -> str:
    """One 100% bar per cluster, split by layer."""
    if not clusters:
        return ""
    row_h, label_w = 22, 330
    height = row_h * len(clusters) + 34
    bar_w = width - label_w - 50
    parts = [f'<svg width="{width}" height="{height}" role="img" {FONT}>']
    parts.append("<title>Layer mix of each cluster</title>")
    for r, c in enumerate(clusters):
        y = 4 + r * row_h
        name = f"{c.id}. {c.label}"
        name = name if len(name) <= 48 else name[:47] + "…"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 14}" font-size="11" text-anchor="end">{escape(name)}</text>'
        )
        x = float(label_w)
        for layer in LAYER_ORDER:
            n = c.layers.get(layer, 0)
            if not n:
                continue
            w = bar_w * n / max(1, c.size)
            parts.append(
                f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{row_h - 6}" fill="{LAYER_COLOURS[layer]}">'
                f"<title>{escape(name)}: {layer} {n} of {c.size}</title></rect>"
            )
            x += w
        parts.append(f'<text x="{label_w + bar_w + 6}" y="{y + 14}" font-size="11">{c.size}</text>')
    y = height - 12
    x = float(label_w)
    for layer in LAYER_ORDER:
        parts.append(f'<rect x="{x:.1f}" y="{y - 9}" width="10" height="10" fill="{LAYER_COLOURS[layer]}"/>')
        parts.append(f'<text x="{x + 14:.1f}" y="{y}" font-size="11">{layer}</text>')
        x += 100
    parts.append("</svg>")
    return "".join(parts)


def sparkline(cluster: Cluster, periods: list[str], colour: str, width: int = 160, height: int = 28) -> str:
    """Tiny bars of one cluster's incidents per period."""
    if not periods:
        return ""
    top = max([1, *cluster.by_period.values()])
    slot = width / len(periods)
    bars = []
    for i, p in enumerate(periods):
        n = cluster.by_period.get(p, 0)
        if n:
            h = (height - 2) * n / top
            bars.append(
                f'<rect x="{i * slot:.1f}" y="{height - h:.1f}" width="{max(slot * 0.8, 0.8):.1f}" height="{h:.1f}" '
                f'fill="{colour}"><title>{escape(p)}: {n}</title></rect>'
            )
    return (
        f'<svg width="{width}" height="{height}" role="img">'
        f'<line x1="0" x2="{width}" y1="{height - 0.5}" y2="{height - 0.5}" stroke="#ccc"/>'
        + "".join(bars)
        + "</svg>"
    )
