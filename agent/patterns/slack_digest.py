"""A Slack digest of the patterns report: the top clusters with layer mix and trend, recurring factors and
action items never closed, each citing its incidents; posted with the Slack Web API client."""

from __future__ import annotations

from typing import Any

from agent.patterns.report_md import cites, corpus_line, layer_mix, trend_text
from agent.patterns.schema import PatternsReport

TEXT_MAX = 2900  # Slack's limit on a section's text is 3000 characters


def _clip(text: str) -> str:
    return text if len(text) <= TEXT_MAX else text[: TEXT_MAX - 1] + "…"


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text)}}


def digest(report: PatternsReport, top: int = 5) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, Block Kit blocks) for one message."""
    summary = f"Incident patterns: {corpus_line(report)}"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Incident patterns"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": _clip(corpus_line(report))}]},
    ]
    lines = []
    for c in report.clusters[:top]:
        lines.append(
            f"*{c.id}. {c.label}* — {c.size} incidents, {trend_text(c.trend)}\n"
            f"   layers: {layer_mix(c.layers)}; e.g. {cites(c.incidents, 4)}"
        )
    if lines:
        more = len(report.clusters) - top
        blocks.append(
            _section(
                "*Top clusters*\n" + "\n".join(lines) + (f"\n_+{more} more clusters_" if more > 0 else "")
            )
        )
    if report.factors:
        blocks.append(
            _section(
                "*Recurring factors*\n"
                + "\n".join(f"• {f.name} ({f.count}): {cites(f.incidents, 4)}" for f in report.factors[:top])
            )
        )
    if report.open_actions:
        blocks.append(
            _section(
                "*Action items never closed*\n"
                + "\n".join(f"• {a.text} — {cites(a.incidents, 4)}" for a in report.open_actions[:top])
            )
        )
    if report.quality:
        q = report.quality
        blocks.append(
            _section(
                f"*Quality* vs {q.labels}: NMI {q.ours.nmi:.3f} (baseline {q.baseline.nmi:.3f}), "
                f"purity {q.ours.purity:.3f} (baseline {q.baseline.purity:.3f}), k = {q.ours.k}"
            )
        )
    if report.credits:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": " ".join(report.credits)}]})
    return summary, blocks


def post_digest(client: Any, channel: str, report: PatternsReport) -> str:
    """Post the digest to `channel` with a slack_sdk WebClient; returns the message ts.

    Raises slack_sdk.errors.SlackApiError (or a connection error) when Slack refuses or cannot be reached.
    """
    text, blocks = digest(report)
    response = client.chat_postMessage(channel=channel, text=text, blocks=blocks, unfurl_links=False)
    return str(response["ts"])
