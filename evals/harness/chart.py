"""The per-layer chart: primary-layer F1 per layer for each system. PNG with matplotlib, else a hand-made SVG."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from agent.models import LAYERS

if TYPE_CHECKING:
    from evals.harness.metrics import Metrics

COLOURS = {"agent": "#2b6cb0", "majority": "#a0aec0", "keyword": "#dd6b20"}


def per_layer_f1(metrics: Mapping[str, Metrics]) -> dict[str, list[float]]:
    """system -> primary-layer F1 for each layer in LAYERS order (0 where undefined)."""
    return {
        system: [
            m.primary_per_layer[layer].f1 or 0.0 if layer in m.primary_per_layer else 0.0 for layer in LAYERS
        ]
        for system, m in metrics.items()
    }


def write_chart(metrics: Mapping[str, Metrics], stem: Path, *, force_svg: bool = False) -> Path:
    """Write stem.png (matplotlib) or stem.svg (fallback); returns the path written."""
    values = per_layer_f1(metrics)
    if not force_svg:
        try:
            return _png(values, stem.with_suffix(".png"))
        except ImportError:
            pass
    path = stem.with_suffix(".svg")
    path.write_text(svg_chart(values), encoding="utf-8")
    return path


def _png(values: dict[str, list[float]], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=110)
    width = 0.8 / max(len(values), 1)
    for i, (system, series) in enumerate(values.items()):
        xs = [x + (i - (len(values) - 1) / 2) * width for x in range(len(LAYERS))]
        bars = ax.bar(xs, series, width=width * 0.95, label=system, color=COLOURS.get(system))
        ax.bar_label(bars, labels=[f"{v:.2f}" for v in series], fontsize=7, padding=1)
    ax.set_xticks(range(len(LAYERS)), list(LAYERS))
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("primary-layer F1")
    ax.set_title("Primary layer, per layer: agent vs baselines")
    ax.legend(loc="upper right", fontsize=8, ncols=len(values))
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def svg_chart(values: dict[str, list[float]]) -> str:
    """A grouped bar chart as standalone SVG text."""
    width, height, left, bottom, top = 640, 320, 50, 40, 40
    plot_h = height - bottom - top
    group_w = (width - left - 20) / len(LAYERS)
    bar_w = group_w * 0.8 / max(len(values), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif">',
        f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="14">'
        "Primary layer, per layer: agent vs baselines (F1)</text>",
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - 10}" y2="{height - bottom}" stroke="#333"/>',
    ]
    for tick in (0.0, 0.5, 1.0):
        y = height - bottom - tick * plot_h
        parts.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="10">{tick:.1f}</text>'
        )
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - 10}" y2="{y:.1f}" stroke="#eee"/>')
    for li, layer in enumerate(LAYERS):
        gx = left + li * group_w + group_w * 0.1
        for si, (system, series) in enumerate(values.items()):
            value = max(0.0, min(1.0, series[li]))
            x = gx + si * bar_w
            h = value * plot_h
            y = height - bottom - h
            colour = COLOURS.get(system, "#718096")
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w * 0.95:.1f}" height="{h:.1f}" fill="{colour}">'
                f"<title>{escape(system)} {escape(layer)}: {value:.2f}</title></rect>"
            )
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle" font-size="9">{value:.2f}</text>'
            )
        parts.append(
            f'<text x="{left + li * group_w + group_w / 2:.1f}" y="{height - bottom + 16}" text-anchor="middle" '
            f'font-size="12">{escape(layer)}</text>'
        )
    for si, system in enumerate(values):
        x = left + si * 110
        parts.append(
            f'<rect x="{x}" y="{height - 16}" width="10" height="10" fill="{COLOURS.get(system, "#718096")}"/>'
        )
        parts.append(f'<text x="{x + 14}" y="{height - 7}" font-size="11">{escape(system)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
