"""The investigation log (models.Investigation) as a short Markdown section: a reviewer judges the path the model
took, not only its verdict."""

from __future__ import annotations

import json

from agent.models import Investigation

MAX_ARGS_CHARS = 160


def _args(arguments: dict) -> str:
    text = json.dumps({k: v for k, v in arguments.items() if v not in (None, "", False)}, ensure_ascii=False)
    return text if len(text) <= MAX_ARGS_CHARS else text[: MAX_ARGS_CHARS - 1] + "…"


def investigation_lines(log: Investigation) -> list[str]:
    """The investigation as a short Markdown section (a reviewer judges the path, not only the verdict)."""
    cost = f", ${log.cost_usd:.4f}" if log.cost_usd is not None else ""
    protocol = "tool calling" if log.protocol == "tools" else "JSON actions"
    lines = [
        "## Investigation",
        "",
        f"_The model investigated with {len(log.calls)} tool call{'s' if len(log.calls) != 1 else ''} "
        f"({protocol}), {log.model_calls} model calls, {log.input_tokens} tokens in, {log.output_tokens} out"
        f"{cost}, {log.seconds:.1f} s; stopped: {log.stopped}._",
        "",
    ]
    for call in log.calls:
        size = (
            f"{call.result_chars} chars (~{call.result_tokens} tokens), {call.ids} ids"
            if call.status == "ok"
            else ""
        )
        note = f" — {call.note}" if call.note else ""
        lines.append(
            f"{call.step}. `{call.tool}` `{_args(call.arguments)}` → {call.status}{', ' + size if size else ''}{note}"
        )
    if log.disagreements:
        lines += ["", "Where the investigation departs from the detectors:", ""]
        lines += [f"- {line}" for line in log.disagreements]
    return [*lines, ""]
