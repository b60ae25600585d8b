"""Scripted models for the investigation loop, played through the fake wire server (tests/wire/server.py).

A `Script` reads the conversation the client sent (the tool results so far, parsed out of their data blocks) and
answers the next turn in the request's own shape: an OpenAI tool call, an Anthropic tool_use block, or (for a
server without tools, the JSON action protocol) a JSON object in whatever structured-output mode was asked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.wire.server import (
    ANTHROPIC_PATHS,
    Scripted,
    answer_as_asked,
    anthropic_message,
    openai_completion,
    request_mode,
)

_BLOCK = re.compile(r"<<<DATA kind=([^>]*?) boundary=(\w+)>>>\n(.*?)\n<<<END DATA boundary=\2>>>", re.S)


@dataclass
class Seen:
    """What the scripted model can read: every data block of the conversation, by kind, as parsed rows."""

    blocks: list[tuple[str, list[dict[str, Any]]]] = field(default_factory=list)
    results: int = 0  # tool results received so far (errors included)
    errors: list[str] = field(default_factory=list)

    def rows(self, kind: str) -> list[dict[str, Any]]:
        return [row for k, rows in self.blocks if k == kind for row in rows]

    def ids(self) -> list[str]:
        found = re.findall(
            r'"((?:span|doc|report):[^"]+)"', json.dumps([r for _, rows in self.blocks for r in rows])
        )
        return list(dict.fromkeys(found))


Step = Callable[[Seen], dict[str, Any]]  # -> {"tool": name, "arguments": {...}} or {"answer": {...}}


def _texts(path: str, body: dict[str, Any]) -> list[tuple[str, str]]:
    """(role, text) of every message, tool results included."""
    out: list[tuple[str, str]] = []
    for m in body.get("messages", []):
        content = m.get("content")
        if isinstance(content, str):
            out.append((m.get("role", ""), content))
            continue
        for block in content or []:
            if block.get("type") == "tool_result":
                inner = block.get("content")
                text = inner if isinstance(inner, str) else " ".join(b.get("text", "") for b in inner or [])
                out.append(("tool", text))
            elif block.get("type") == "text":
                out.append((m.get("role", ""), block.get("text", "")))
    return out


def read_conversation(path: str, body: dict[str, Any]) -> Seen:
    seen = Seen()
    for role, text in _texts(path, body):
        is_result = role == "tool" or text.startswith("Result of") or text.startswith("Tool result")
        if is_result:
            seen.results += 1
            if "error:" in text and "<<<DATA" not in text:
                seen.errors.append(text)
        for kind, _, rows in _BLOCK.findall(text):
            parsed = [json.loads(r) for r in rows.splitlines() if r.startswith("{")]
            seen.blocks.append((kind, parsed))
    return seen


def is_investigation(body: dict[str, Any]) -> bool:
    """A turn of the loop: native tools listed, or the JSON action protocol explained."""
    tools = json.dumps(body.get("tools") or [])
    return "list_changes" in tools or '{"action": "call"' in conversation_text(body)


def conversation_text(body: dict[str, Any]) -> str:
    """The system prompt and every message's content, as sent (not JSON-escaped)."""
    return str(body.get("system") or "") + " ".join(str(m.get("content")) for m in body.get("messages", []))


def schema_name(path: str, body: dict[str, Any]) -> str:
    """Which structured answer a non-loop request asks for: ClassificationAnswer or NarrativeAnswer."""
    if request_mode(path, body) == "json_schema" and path not in ANTHROPIC_PATHS:
        return body["response_format"]["json_schema"]["name"]
    text = json.dumps(body)
    if '"sections"' in text:
        return "NarrativeAnswer"
    return "JudgeAnswer" if '"score"' in text else "ClassificationAnswer"


def tool_call(
    path: str, body: dict[str, Any], name: str, arguments: dict[str, Any], n: int, tokens: int = 120
) -> Scripted:
    """The model calls one tool, in the request's protocol (`tokens`: the prompt tokens the answer reports)."""
    if path in ANTHROPIC_PATHS:
        scripted = anthropic_message("Let me look.", input_tokens=tokens)
        scripted.body["content"].append(
            {"type": "tool_use", "id": f"toolu_{n}", "name": name, "input": arguments}
        )
        scripted.body["stop_reason"] = "tool_use"
        return scripted
    scripted = openai_completion(None, prompt_tokens=tokens)
    scripted.body["choices"][0]["message"]["tool_calls"] = [
        {
            "id": f"call_{n}",
            "type": "function",
            "function": {"name": name, "arguments": json.dumps(arguments)},
        }
    ]
    scripted.body["choices"][0]["finish_reason"] = "tool_calls"
    return scripted


def narrative(seen: Seen) -> dict[str, Any]:
    ids = [i for i in seen.ids() if i.startswith("span:")][:1] or seen.ids()[:1]
    text = "Customers were promised refunds the policy does not allow."
    return {"sections": [{"key": "summary", "sentences": [{"text": text, "cites": ids, "quote": None}]}]}


@dataclass
class Script:
    """A scripted investigator: `steps` in order (each sees the conversation so far), then `final` when a
    non-loop request asks for the classification outright (after a budget cut the loop)."""

    steps: list[Step]
    final: Step | None = None
    calls: int = 0
    prompt_tokens: int = 120  # what each loop answer reports as its prompt's size
    ignores_tools: bool = (
        False  # offered tools, it writes prose (llama-cpp-python's server with a small model)
    )

    def __call__(self, path: str, body: dict[str, Any]) -> Scripted:
        seen = read_conversation(path, body)
        if not is_investigation(body):
            name = schema_name(path, body)
            if name == "NarrativeAnswer":
                return answer_as_asked(path, body, narrative(seen))
            if name == "JudgeAnswer":
                return answer_as_asked(path, body, {"score": 2, "reason": "Partly right."})
            assert self.final is not None, "the loop asked for a final answer this script does not give"
            return answer_as_asked(path, body, self.final(seen)["answer"])
        self.calls += 1
        if self.ignores_tools and body.get("tools"):
            prose = "The incident seems to involve refunds. I would look at the logs and the prompt. " * 5
            return anthropic_message(prose) if path in ANTHROPIC_PATHS else openai_completion(prose)
        step = self.steps[min(seen_turns(body), len(self.steps) - 1)](seen)
        small = '{"action": "answer"} when done' in conversation_text(body)  # the small-budget protocol
        if body.get("tools"):
            names = [t.get("name") or t["function"]["name"] for t in body["tools"]]
            if "answer" in step and "answer" not in names:  # no answer tool: say so, it is asked for next
                done = "I am done investigating."
                return anthropic_message(done) if path in ANTHROPIC_PATHS else openai_completion(done)
            if "answer" in step:
                return tool_call(path, body, "answer", step["answer"], self.calls, self.prompt_tokens)
            return tool_call(
                path, body, step["tool"], step.get("arguments", {}), self.calls, self.prompt_tokens
            )
        if "answer" in step:
            action = {"action": "answer"} if small else {"action": "answer", "answer": step["answer"]}
        else:
            action = {"action": "call", "tool": step["tool"], "arguments": step.get("arguments", {})}
        return answer_as_asked(path, body, action)


def seen_turns(body: dict[str, Any]) -> int:
    """How many assistant turns the conversation already holds (the index of the step to play)."""
    return sum(1 for m in body.get("messages", []) if m.get("role") == "assistant")


def layers(primary: str, evidence: list[str], confidence: str = "confirmed", **others: str) -> dict[str, Any]:
    """A classification answer: `primary` resting on `evidence`, other layers as given (default unknown)."""
    out = []
    for layer in ("model", "prompt", "data", "system"):
        role = "primary" if layer == primary else others.get(layer, "unknown")
        out.append(
            {
                "layer": layer,
                "role": role,
                "confidence": confidence if layer == primary else "inconclusive",
                "rationale": f"{layer}: {role}.",
                "evidence": evidence if layer == primary else [],
            }
        )
    return {"primary": primary, "layers": out}  # fmt: skip
