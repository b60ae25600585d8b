"""The investigation's log: the tool calls in order (arguments, result sizes), what the loop cost, why it
stopped, and where the verdict departs from the detectors' (offline) analysis. The draft's Markdown renders it
(agent/drafter/investigation.py)."""

from __future__ import annotations

from agent.investigate.state import InvestigationState
from agent.models import Classification, Investigation
from agent.providers.base import Usage


def build_log(state: InvestigationState, seconds: float, read: list[str]) -> Investigation:
    usage: Usage = state.get("usage") or Usage()
    return Investigation(
        protocol=state.get("protocol", "tools"),
        calls=list(state.get("log", [])),
        model_calls=usage.calls,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cost_usd=usage.cost_usd if usage.calls else None,
        seconds=round(seconds, 3),
        stopped="answered" if not state.get("stopped") else state["stopped"],
        read=read,
    )


def disagreements(offline: Classification, final: Classification) -> list[str]:
    """One line per layer whose role the investigation changed, citing what it rests on."""
    base = {a.layer: a for a in offline.layers}
    lines = []
    for mine in final.layers:
        theirs = base.get(mine.layer)
        if theirs is None or theirs.role == mine.role:
            continue
        cites = ", ".join(mine.evidence[:4]) or "no evidence"
        lines.append(
            f"{mine.layer}: the detectors' analysis had it {theirs.role.replace('_', ' ')}, the investigation "
            f"found it {mine.role.replace('_', ' ')} ({mine.confidence}), citing {cites}"
        )
    if offline.primary != final.primary and not any(line.startswith(f"{final.primary}:") for line in lines):
        lines.append(
            f"primary layer: {offline.primary or 'none'} offline, {final.primary or 'none'} after investigation"
        )
    return lines
