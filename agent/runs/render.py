"""A run as a person reads a multi-agent log: one numbered line per turn (agent, role, what it said or called,
what came back), for `postmortem trace show`."""

from __future__ import annotations

from rich.markup import escape

from agent.runs.turns import Run, Turn


def _clip(text: str, limit: int | None) -> str:
    text = " ".join(text.split())
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return escape(text)


def turn_line(turn: Turn, limit: int | None = 300) -> str:
    head = f"[bold]{turn.index:>3}[/] [cyan]{escape(turn.agent)}[/] [magenta]{escape(turn.role)}[/]"
    parts = []
    if turn.role == "tool":
        parts.append(f"called {_clip('; '.join(turn.calls) or (turn.tool or '?'), limit)}")
        parts.append(f"→ {_clip(turn.text, limit)}")
    elif turn.role == "retrieval":
        parts.append(f"retrieved → {_clip(turn.text, limit)}")
    else:
        if turn.text:
            parts.append(_clip(turn.text, limit))
        if turn.calls:
            parts.append(f"→ calls {_clip('; '.join(turn.calls), limit)}")
    if turn.handoff_to:
        parts.append(f"→ hands off to {escape(turn.handoff_to)}")
    if turn.error:
        parts.append(f"[bold red]error[/]: {_clip(turn.error, limit)}")
    return f"{head}  {'  '.join(parts)}  [dim]span {turn.span_id}[/]"


def run_lines(run: Run, limit: int | None = 300) -> list[str]:
    agents = ", ".join(escape(a) for a in run.agents)
    lines = [f"run [cyan]{escape(run.trace_id)}[/] · {len(run.turns)} turns · agents: {agents}"]
    if run.task:
        lines.append(f"task: {_clip(run.task, limit)}")
    lines += [turn_line(turn, limit) for turn in run.turns]
    return lines
