"""How one model turn of the investigation is asked: native tool calling (OpenAI tools, Anthropic tool use), or,
for a server that refuses `tools`, a JSON "action" protocol through the negotiated structured-output modes
(agent/providers/modes.py: json_schema, a forced tool, json_object, plain text).

Either way a turn comes back as a `ModelTurn`: the assistant message to keep in the conversation, the tool calls
to run, and the final answer when the model gave one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from agent.investigate.state import PendingCall, Protocol
from agent.investigate.tools import ANSWER_TOOL, ToolName, tool_specs
from agent.llm.schemas import ClassificationAnswer
from agent.providers.base import ChatMessage, ChatRequest, Provider, ProviderError, Usage
from agent.providers.modes import extract_json

JSON_PROTOCOL_NOTE = (
    "This server has no tool calling: answer every turn with one JSON object, either "
    '{"action": "call", "tool": <tool name>, "arguments": {...}} to use a tool, or '
    '{"action": "answer", "answer": <the classification>} to finish. Tools: '
)


class ActionArgs(BaseModel):
    """The arguments of every tool in one flat object (a JSON schema a grammar-constrained server can follow)."""

    model_config = ConfigDict(extra="forbid")

    text: str | None = None
    service: str | None = None
    kind: str | None = None
    start: str | None = None
    end: str | None = None
    errors_only: bool | None = None
    bad_only: bool | None = None
    limit: int | None = None
    trace_id: str | None = None
    id: str | None = None
    attribute: str | None = None
    version_a: str | None = None
    version_b: str | None = None
    name: str | None = None
    claim: str | None = None


class Action(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["call", "answer"]
    tool: ToolName | None = None
    arguments: ActionArgs | None = None
    answer: ClassificationAnswer | None = None


@dataclass
class ModelTurn:
    message: ChatMessage
    calls: list[PendingCall] = field(default_factory=list)
    answer: ClassificationAnswer | None = None
    usage: Usage = field(default_factory=Usage)
    protocol: Protocol = "tools"


def answer_from_text(text: str) -> ClassificationAnswer | None:
    """The classification when a model wrote it as text instead of calling `answer`."""
    if "{" not in text:
        return None
    try:
        return ClassificationAnswer.model_validate_json(extract_json(text))
    except ValidationError:
        return None


def ask_turn(provider: Provider, request: ChatRequest, protocol: Protocol) -> ModelTurn:
    """One model turn. Native tools first; a server that refuses them switches the run to the JSON protocol.
    Raises ProviderError (with the usage of every call) when neither works."""
    usage = Usage()
    if protocol == "tools":
        try:
            turn = provider.chat_tools(request, tool_specs())
        except ProviderError as exc:
            if not exc.capability:
                raise
            usage = usage + exc.usage
        else:
            # a server that sends no call ids gets ours, so each result can answer its call
            named = [
                c if c.id else c.model_copy(update={"id": f"call_{len(request.messages)}_{i}"})
                for i, c in enumerate(turn.reply.calls)
            ]
            calls = [PendingCall(id=c.id, name=c.name or "", arguments=c.arguments or "{}") for c in named]
            message = ChatMessage(role="assistant", content=turn.reply.text, tool_calls=named)
            answer = None if calls else answer_from_text(turn.reply.text)
            return ModelTurn(message=message, calls=calls, answer=answer, usage=turn.usage, protocol="tools")
    turn = ask_action(provider, request)
    turn.usage = usage + turn.usage
    return turn


def json_protocol_request(request: ChatRequest) -> ChatRequest:
    """The request with the JSON action protocol explained in the system prompt (tools listed by name)."""
    listed = "; ".join(f"{s.name}: {s.description}" for s in tool_specs() if s.name != ANSWER_TOOL)
    system = "\n\n".join(p for p in (request.system, JSON_PROTOCOL_NOTE + listed) if p)
    return request.model_copy(update={"system": system})


def ask_action(provider: Provider, request: ChatRequest) -> ModelTurn:
    parsed = provider.parse(json_protocol_request(request), Action)
    action = parsed.value
    content = action.model_dump_json(exclude_none=True)
    message = ChatMessage(role="assistant", content=content)
    if action.action == "answer":
        if action.answer is None:
            call = PendingCall(name=ANSWER_TOOL, arguments="{}")
            return ModelTurn(message=message, calls=[call], usage=parsed.usage, protocol="json")
        return ModelTurn(message=message, answer=action.answer, usage=parsed.usage, protocol="json")
    arguments = action.arguments.model_dump(exclude_none=True) if action.arguments else {}
    call = PendingCall(name=action.tool or "", arguments=json.dumps(arguments))
    return ModelTurn(message=message, calls=[call], usage=parsed.usage, protocol="json")


def tool_message(call: PendingCall, text: str, protocol: Protocol) -> ChatMessage:
    """A tool result as a turn of the conversation: a tool message (native) or a user turn (JSON protocol)."""
    if protocol == "tools" and call.id:
        return ChatMessage(role="tool", content=text, tool_call_id=call.id, name=call.name)
    return ChatMessage(role="user", content=f"Result of {call.name or 'the call'}:\n{text}")
