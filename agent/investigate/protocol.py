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

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from agent.investigate.state import PendingCall, Protocol
from agent.investigate.tools import ANSWER_TOOL, TOOLS, SmallToolName, ToolName, lean_schema, tool_specs
from agent.llm.schemas import ClassificationAnswer, LayerAnswer
from agent.providers.base import ChatMessage, ChatRequest, Provider, ProviderError, Usage
from agent.providers.modes import extract_json
from agent.providers.tokens import estimate_tokens

JSON_PROTOCOL_NOTE = (
    "This server has no tool calling: answer every turn with one JSON object, either "
    '{"action": "call", "tool": <tool name>, "arguments": {...}} to use a tool, or '
    '{"action": "answer", "answer": <the classification>} to finish. Tools: '
)
SMALL_PROTOCOL_NOTE = (
    'Answer every turn with one JSON object: {"action": "call", "tool": <name>, "arguments": {...}} to use a '
    'tool, or {"action": "answer"} when done. Tools: '
)


class ActionArgs(BaseModel):
    """The arguments of every tool in one flat object (a JSON schema a grammar-constrained server can follow);
    empty values are left out before the tool sees them."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=lean_schema)

    text: str = ""
    service: str = ""
    kind: str = ""
    start: str = ""
    end: str = ""
    errors_only: bool = False
    bad_only: bool = False
    limit: int = 10
    trace_id: str = ""
    id: str = ""
    attribute: str = ""
    version_a: str = ""
    version_b: str = ""
    name: str = ""
    claim: str = ""


class SmallArgs(BaseModel):
    """The arguments of the small budget's tools (tools.SMALL_TOOLS) in one flat object. Every string has a
    maxLength: a server that turns the schema into a grammar (llama.cpp) then closes it (SmolLM2-135M, left free,
    wrote one search text until the output ceiling cut the JSON)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=lean_schema)

    text: str = Field("", max_length=60)
    service: str = Field("", max_length=40)
    kind: str = Field("", max_length=12)
    errors_only: bool = False
    bad_only: bool = False
    limit: int = 10
    id: str = Field("", max_length=48)  # span:<16 hex> or doc:span:<16 hex>:<n>
    version_a: str = Field("", max_length=20)
    version_b: str = Field("", max_length=20)
    name: str = Field("", max_length=40)


class Action(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=lean_schema)

    action: Literal["call", "answer"]
    tool: ToolName | None = None
    arguments: ActionArgs | None = None
    answer: ClassificationAnswer | None = None


class SmallAction(BaseModel):
    """On a small budget: a call, or "done" (the classification is then asked for on its own). A small model that
    adds fields is not refused for it: they are ignored."""

    model_config = ConfigDict(extra="ignore", json_schema_extra=lean_schema)

    action: Literal["call", "answer"]
    tool: SmallToolName | None = None
    arguments: SmallArgs | None = None


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


def ask_turn(
    provider: Provider, request: ChatRequest, protocol: Protocol, small: bool = False, first: bool = False
) -> ModelTurn:
    """One model turn. Native tools first; a server that refuses them switches the run to the JSON protocol, and
    so does a `first` turn answered in prose, neither calling a tool nor answering: llama-cpp-python's server
    accepts `tools` but, for a chat format without function calling, lets the model write text (seen with
    SmolLM2-135M: 400 tokens of prose), while the JSON protocol's schema becomes a grammar it must follow.
    Raises ProviderError (with the usage of every call) when neither works."""
    usage = Usage()
    if protocol == "tools":
        try:
            turn = provider.chat_tools(request, tool_specs(small))
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
            if calls or answer is not None or not first:
                return ModelTurn(
                    message=message, calls=calls, answer=answer, usage=turn.usage, protocol="tools"
                )
            usage = usage + turn.usage
    turn = ask_action(provider, request, small)
    turn.usage = usage + turn.usage
    return turn


def json_protocol_request(request: ChatRequest, small: bool = False) -> ChatRequest:
    """The request with the JSON action protocol explained in the system prompt (tools listed by name)."""
    listed = "; ".join(f"{s.name}: {s.description}" for s in tool_specs(small) if s.name != ANSWER_TOOL)
    note = SMALL_PROTOCOL_NOTE if small else JSON_PROTOCOL_NOTE
    system = "\n\n".join(p for p in (request.system, note + listed) if p)
    return request.model_copy(update={"system": system})


def ask_action(provider: Provider, request: ChatRequest, small: bool = False) -> ModelTurn:
    parsed = provider.parse(json_protocol_request(request, small), SmallAction if small else Action)
    action = parsed.value
    content = action.model_dump_json(exclude_none=True)
    message = ChatMessage(role="assistant", content=content)
    if action.action == "answer":
        if small:  # done: the classification is asked for on its own (conclude)
            return ModelTurn(message=message, usage=parsed.usage, protocol="json")
        if action.answer is None:
            call = PendingCall(name=ANSWER_TOOL, arguments="{}")
            return ModelTurn(message=message, calls=[call], usage=parsed.usage, protocol="json")
        return ModelTurn(message=message, answer=action.answer, usage=parsed.usage, protocol="json")
    given = action.arguments.model_dump(exclude_defaults=True) if action.arguments else {}
    # one flat object serves every tool: keep what the named tool takes (a small model fills every field)
    takes = TOOLS[action.tool].args.model_fields if action.tool in TOOLS else given
    arguments = {k: v for k, v in given.items() if v not in ("", None) and k in takes}
    call = PendingCall(name=action.tool or "", arguments=json.dumps(arguments))
    return ModelTurn(message=message, calls=[call], usage=parsed.usage, protocol="json")


def tool_message(call: PendingCall, text: str, protocol: Protocol) -> ChatMessage:
    """A tool result as a turn of the conversation: a tool message (native) or a user turn (JSON protocol)."""
    if protocol == "tools" and call.id:
        return ChatMessage(role="tool", content=text, tool_call_id=call.id, name=call.name)
    return ChatMessage(role="user", content=f"Result of {call.name or 'the call'}:\n{text}")


# the response_format / tool wrapper around a schema, and what the SDK adds making it strict (additionalProperties,
# every field required): 46 tokens over the plain schema for ClassificationAnswer, with or without an id enum
SCHEMA_WRAPPER_TOKENS = 64
TOOL_WRAPPER_TOKENS = 12  # {"type": "function", "function": {...}} around each tool on the wire


def schema_tokens(schema: type[BaseModel]) -> int:
    return estimate_tokens(json.dumps(schema.model_json_schema())) + SCHEMA_WRAPPER_TOKENS


def turn_overhead(protocol: Protocol, small: bool) -> int:
    """Tokens a loop turn sends besides its messages: the tools (native), or the protocol note and the action
    schema (JSON). A turn that starts with tools may end in the JSON protocol (a server that refuses them), so a
    tools turn reserves room for either."""
    note = SMALL_PROTOCOL_NOTE if small else JSON_PROTOCOL_NOTE
    listed = "; ".join(f"{s.name}: {s.description}" for s in tool_specs(small) if s.name != ANSWER_TOOL)
    json_cost = estimate_tokens(note + listed) + schema_tokens(SmallAction if small else Action)
    if protocol == "json":
        return json_cost
    tools = sum(estimate_tokens(s.model_dump_json()) + TOOL_WRAPPER_TOKENS for s in tool_specs(small))
    return max(json_cost, tools)


SMALL_RATIONALE_CHARS = 200  # one or two sentences: 4 layers then fit a small model's output ceiling
SMALL_LAYER_IDS = 4  # evidence ids per layer


def small_answer_schema(ids: list[str]) -> type[ClassificationAnswer]:
    """The classification asked at the end of a small-budget investigation: the ids it may cite are those it saw
    (an enum), each rationale and id list bounded and exactly four layers, so a grammar-constrained small model
    ends its answer within the output ceiling."""
    cited = list[Literal[tuple(ids)]] if ids else list[str]  # type: ignore[valid-type]
    layer = create_model(
        "LayerAnswer",
        __base__=LayerAnswer,
        rationale=(str, Field(max_length=SMALL_RATIONALE_CHARS)),
        evidence=(cited, Field(max_length=SMALL_LAYER_IDS)),
    )
    layers = (list[layer], Field(min_length=4, max_length=4))  # type: ignore[valid-type]
    return create_model("ClassificationAnswer", __base__=ClassificationAnswer, layers=layers)  # type: ignore[return-value]
