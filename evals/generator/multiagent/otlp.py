"""A logical run written as OTLP/JSON in the shape one framework's instrumentation records it.

- flat (AutoGen / Magentic-One logs converted one span per turn): every turn an `invoke_agent` span with
  `gen_ai.agent.name`; a worker's tool use is part of its message, code output is the executor agent's turn.
- openai-agents (OpenAI Agents SDK, GenAI conventions): `invoke_agent` spans per agent activation holding `chat`
  and `execute_tool` spans; delegations are transfer tool calls.
- crewai (OpenLLMetry): agent entities (`traceloop.span.kind: agent`) holding legacy-attribute LLM spans and tool
  entities.
- langgraph (OpenInference): one CHAIN span per graph node (`graph.node.id`) holding LLM and TOOL spans.
- ag2 (AG2/AutoGen group chat converted one span per message): experts write code that calls their tools, the
  terminal agent prints what came back, and the chat ends with a lone TERMINATE.

Returns the OTLP request and, per logical turn, the span that shows it to a reader (the gold is named by span).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from evals.generator.multiagent.runs import LRun, LTurn

SHAPES = ("flat", "openai-agents", "crewai", "langgraph", "ag2")
# AG2 group chats name their agents as experts; tool use is code the expert writes and the terminal runs
AG2_NAMES = {
    "Orchestrator": "Planning_Expert",
    "WebSurfer": "WebResearch_Expert",
    "FileSurfer": "Document_Expert",
    "Coder": "Python_Expert",
    "DataAnalyst": "DataAnalysis_Expert",
    "Verifier": "Verification_Expert",
    "ComputerTerminal": "Computer_terminal",
}
STEP_NS = 2_700_000_000  # 2.7 s between turns


def _id(seed: str, n: int, size: int) -> str:
    return hashlib.sha256(f"{seed}:{n}".encode()).hexdigest()[:size]


def _attr(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    return {"key": key, "value": {"stringValue": value if isinstance(value, str) else json.dumps(value)}}


class _Writer:
    def __init__(self, seed: str, start_ns: int) -> None:
        self.seed, self.trace_id, self.n, self.clock = seed, _id(seed, -1, 32), 0, start_ns
        self.spans: list[dict[str, Any]] = []

    def span(
        self,
        name: str,
        attrs: dict[str, Any],
        parent: str | None,
        *,
        leaf: bool = True,
        error: str | None = None,
    ) -> dict:
        self.n += 1
        start = self.clock
        if leaf:
            self.clock += STEP_NS
        record: dict[str, Any] = {
            "traceId": self.trace_id,
            "spanId": _id(self.seed, self.n, 16),
            "name": name,
            "kind": 1,
            "startTimeUnixNano": str(start),
            "endTimeUnixNano": str(start + STEP_NS - 200_000_000 if leaf else start),
            "attributes": [_attr(k, v) for k, v in attrs.items() if v is not None],
            "status": {"code": 2, "message": error} if error else {},
        }
        if parent:
            record["parentSpanId"] = parent
        self.spans.append(record)
        return record

    def close(self, record: dict) -> None:
        record["endTimeUnixNano"] = str(self.clock)


def _blocks(turns: list[LTurn]) -> list[list[int]]:
    """Consecutive turns of one agent (the executor's output belongs to the coder's block)."""
    out: list[list[int]] = []
    for i, turn in enumerate(turns):
        if out and (turns[out[-1][-1]].agent == turn.agent or turn.kind == "exec"):
            out[-1].append(i)
        else:
            out.append([i])
    return out


def write(run: LRun, shape: str, seed: str, start_ns: int, service: str) -> tuple[dict, list[str]]:
    w = _Writer(seed, start_ns)
    shown = _WRITERS[shape](run, w)
    request = {
        "resourceSpans": [
            {
                "resource": {"attributes": [_attr("service.name", service)]},
                "scopeSpans": [{"scope": {"name": f"{shape}.instrumentation"}, "spans": w.spans}],
            }
        ]
    }
    return request, shown


def _flat(run: LRun, w: _Writer) -> list[str]:
    root = w.span(
        "invoke_workflow magentic-one", {"gen_ai.operation.name": "invoke_workflow"}, None, leaf=False
    )
    shown: list[str] = []
    i = 0
    turns = run.turns
    while i < len(turns):
        turn = turns[i]
        group = [i]
        if (
            turn.kind == "call"
        ):  # a web/file worker reports its action, what came back and its reading in one message
            while (
                group[-1] + 1 < len(turns)
                and turns[group[-1] + 1].agent == turn.agent
                and turns[group[-1] + 1].kind in ("call", "result", "message")
            ):
                group.append(group[-1] + 1)
                if turns[group[-1]].kind == "message":
                    break
        text = "\n".join(_flat_text(turns[j]) for j in group)
        role = "user" if turn.kind == "user" else "assistant"
        span = w.span(
            f"invoke_agent {turn.agent}",
            {
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.agent.name": "human" if turn.kind == "user" else turn.agent,
                "gen_ai.output.messages": [{"role": role, "parts": [{"type": "text", "content": text}]}],
            },
            root["spanId"],
        )
        shown += [span["spanId"]] * len(group)
        i = group[-1] + 1
    w.close(root)
    return shown


def _flat_text(turn: LTurn) -> str:
    if turn.kind == "call":
        return f"I used {turn.tool} with {turn.args!r}."
    if turn.kind == "result":
        return f"It returned: {turn.text}"
    return turn.text


def _sdk(run: LRun, w: _Writer) -> list[str]:
    root = w.span(
        "invoke_workflow research-crew",
        {
            "gen_ai.operation.name": "invoke_workflow",
            "gen_ai.input.messages": [
                {"role": "user", "parts": [{"type": "text", "content": run.turns[0].text}]}
            ],
        },
        None,
        leaf=False,
    )
    shown = [""] * len(run.turns)
    for block in _blocks(run.turns[1:]):
        block = [b + 1 for b in block]
        agent = run.turns[block[0]].agent
        holder = w.span(
            f"invoke_agent {agent}",
            {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": agent},
            root["spanId"],
            leaf=False,
        )
        for j in block:
            turn = run.turns[j]
            if turn.kind in ("result", "exec"):
                call_args = run.turns[j - 1].args or "{}"
                tool = turn.tool or "run_python"
                span = w.span(
                    f"execute_tool {tool}",
                    {
                        "gen_ai.operation.name": "execute_tool",
                        "gen_ai.tool.name": tool,
                        "gen_ai.tool.call.arguments": call_args
                        if turn.kind == "result"
                        else '{"code": "..."}',
                        "gen_ai.tool.call.result": turn.text,
                    },
                    holder["spanId"],
                    error=turn.text if turn.error else None,
                )
            else:
                parts: list[dict] = []
                if turn.text:
                    parts.append({"type": "text", "content": turn.text})
                if turn.kind == "call":
                    parts.append(
                        {
                            "type": "tool_call",
                            "id": f"call_{j}",
                            "name": turn.tool,
                            "arguments": json.dumps({"query": turn.args}),
                        }
                    )
                if turn.agent == "Orchestrator" and "please do step" in turn.text:
                    worker = turn.text.split(",")[0]
                    parts.append(
                        {
                            "type": "tool_call",
                            "id": f"call_{j}",
                            "name": f"transfer_to_{worker.lower()}",
                            "arguments": "{}",
                        }
                    )
                span = w.span(
                    "chat gpt-4o",
                    {
                        "gen_ai.operation.name": "chat",
                        "gen_ai.provider.name": "openai",
                        "gen_ai.request.model": "gpt-4o",
                        "gen_ai.output.messages": [{"role": "assistant", "parts": parts}],
                    },
                    holder["spanId"],
                )
            shown[j] = span["spanId"]
        w.close(holder)
    shown[0] = shown[1]
    w.close(root)
    return shown


def _crewai(run: LRun, w: _Writer) -> list[str]:
    root = w.span(
        "research_crew.workflow",
        {
            "traceloop.span.kind": "workflow",
            "traceloop.entity.name": "research_crew",
            "traceloop.entity.input": run.turns[0].text,
        },
        None,
        leaf=False,
    )
    shown = [""] * len(run.turns)
    for block in _blocks(run.turns[1:]):
        block = [b + 1 for b in block]
        agent = run.turns[block[0]].agent
        holder = w.span(
            f"{agent}.agent",
            {"traceloop.span.kind": "agent", "traceloop.entity.name": agent},
            root["spanId"],
            leaf=False,
        )
        for j in block:
            turn = run.turns[j]
            if turn.kind in ("result", "exec"):
                tool = turn.tool or "code_interpreter"
                span = w.span(
                    f"{tool}.tool",
                    {
                        "traceloop.span.kind": "tool",
                        "traceloop.entity.name": tool,
                        "traceloop.entity.input": run.turns[j - 1].args or "code",
                        "traceloop.entity.output": turn.text,
                    },
                    holder["spanId"],
                    error=turn.text if turn.error else None,
                )
            else:
                text = turn.text or f"Action: {turn.tool}\nAction Input: {json.dumps({'query': turn.args})}"
                span = w.span(
                    "openai.chat",
                    {
                        "llm.request.type": "chat",
                        "gen_ai.system": "openai",
                        "gen_ai.request.model": "gpt-4o-mini",
                        "gen_ai.completion.0.role": "assistant",
                        "gen_ai.completion.0.content": text,
                    },
                    holder["spanId"],
                )
            shown[j] = span["spanId"]
        w.close(holder)
    shown[0] = shown[1]
    w.close(root)
    return shown


def _langgraph(run: LRun, w: _Writer) -> list[str]:
    root = w.span(
        "LangGraph", {"openinference.span.kind": "CHAIN", "input.value": run.turns[0].text}, None, leaf=False
    )
    shown = [""] * len(run.turns)
    for block in _blocks(run.turns[1:]):
        block = [b + 1 for b in block]
        agent = run.turns[block[0]].agent
        holder = w.span(
            agent, {"openinference.span.kind": "CHAIN", "graph.node.id": agent}, root["spanId"], leaf=False
        )
        for j in block:
            turn = run.turns[j]
            if turn.kind in ("result", "exec"):
                tool = turn.tool or "python_repl"
                span = w.span(
                    tool,
                    {
                        "openinference.span.kind": "TOOL",
                        "tool.name": tool,
                        "input.value": run.turns[j - 1].args or "code",
                        "output.value": turn.text,
                    },
                    holder["spanId"],
                    error=turn.text if turn.error else None,
                )
            else:
                attrs = {
                    "openinference.span.kind": "LLM",
                    "llm.model_name": "gpt-4o",
                    "llm.output_messages.0.message.role": "assistant",
                }
                if turn.text:
                    attrs["llm.output_messages.0.message.content"] = turn.text
                if turn.kind == "call":
                    attrs["llm.output_messages.0.message.tool_calls.0.tool_call.function.name"] = turn.tool
                    attrs["llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments"] = (
                        json.dumps({"query": turn.args})
                    )
                span = w.span("ChatOpenAI", attrs, holder["spanId"])
            shown[j] = span["spanId"]
        w.close(holder)
    shown[0] = shown[1]
    w.close(root)
    return shown


def _ag2(run: LRun, w: _Writer) -> list[str]:
    root = w.span("group_chat", {"gen_ai.operation.name": "invoke_workflow"}, None, leaf=False)
    shown: list[str] = []
    for turn in run.turns:
        agent = "chat_manager" if turn.kind == "user" else AG2_NAMES.get(turn.agent, turn.agent)
        text = turn.text
        if turn.kind == "user":
            text = (
                f"You are given: (1) a task and advice from your manager.\n## Task description\n{turn.text}"
            )
        elif turn.kind == "call":
            text = f"Let me query it.\n```python\nprint({turn.tool}({turn.args!r}))\n```"
        elif turn.kind == "result":
            code = "1 (execution failed)" if turn.error else "0 (execution succeeded)"
            text = f"exitcode: {code}\nCode output: {turn.text}"
            agent = AG2_NAMES["ComputerTerminal"]
        role = "user" if turn.kind == "user" else "assistant"
        message = [{"role": role, "name": agent, "parts": [{"type": "text", "content": text}]}]
        attrs = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": agent,
            "gen_ai.output.messages": message,
        }
        shown.append(w.span(f"invoke_agent {agent}", attrs, root["spanId"])["spanId"])
    attrs = {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": AG2_NAMES["Verifier"],
        "gen_ai.output.messages": [
            {"role": "assistant", "parts": [{"type": "text", "content": "TERMINATE"}]}
        ],
    }
    w.span(f"invoke_agent {AG2_NAMES['Verifier']}", attrs, root["spanId"])
    w.close(root)
    return shown


_WRITERS = {"flat": _flat, "openai-agents": _sdk, "crewai": _crewai, "langgraph": _langgraph, "ag2": _ag2}
