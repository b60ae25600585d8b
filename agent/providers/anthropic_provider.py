"""Anthropic, through the official SDK.

Structured output uses the pieces of the SDK's own `messages.parse` helper: `anthropic.transform_schema` turns the
pydantic model into the `output_config.format` JSON schema, and the answer text is validated against the same
model. We call `messages.create` rather than `messages.parse` only so that a malformed answer's token usage is
still counted (parse raises before the usage can be read). When a server (or a proxy in front of one) refuses
`output_config`, the answer is asked for as a forced tool use, then as plain text (agent/providers/modes.py).
"""

from __future__ import annotations

import json
import re
from typing import Any

import anthropic

from agent.providers.base import (
    ChatRequest,
    Failure,
    Provider,
    Sent,
    T,
    ToolCallOut,
    ToolReply,
    ToolSpec,
    parse_json_answer,
    with_schema_prompt,
)
from agent.providers.modes import ANTHROPIC_MODES, TOOL_NAME, Mode
from agent.providers.sdk_errors import sdk_failure

DEFAULT_MAX_TOKENS = 1024
# From the Claude 5 generation on, the API rejects non-default temperature / top_p / top_k with a 400.
_FIXED_SAMPLING = re.compile(r"^claude-[a-z]+-(?:[5-9]|\d{2,})(?:\b|-)")


class AnthropicProvider(Provider):
    name = "anthropic"
    default_model = "claude-sonnet-5-5"
    structured_modes = ANTHROPIC_MODES

    def __init__(self, *, api_key: str | None, base_url: str | None = None, **kwargs: Any) -> None:
        super().__init__(base_url=base_url, **kwargs)
        self.client = anthropic.Anthropic(
            api_key=api_key or "not-set",
            base_url=base_url,
            max_retries=0,
            timeout=self.timeout,
        )

    def _kwargs(self, request: ChatRequest, model: str) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "model": model,
            "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
            "messages": to_anthropic_messages(request),
        }
        if request.system:
            kwargs["system"] = request.system
        if request.stop:
            kwargs["stop_sequences"] = request.stop
        # The installed SDK no longer types the sampling knobs; older models still read them from the body.
        if _FIXED_SAMPLING.match(model):
            return kwargs
        extra = {
            key: value
            for key, value in (
                ("temperature", request.temperature),
                ("top_p", request.top_p),
                ("top_k", request.top_k),
            )
            if value is not None
        }
        if "top_k" in extra:
            extra["top_k"] = int(extra["top_k"])
        if extra:
            kwargs["extra_body"] = extra
        return kwargs

    def _send_text(self, request: ChatRequest, model: str) -> Sent[str]:
        message = self.client.messages.create(**self._kwargs(request, model))
        text = "".join(block.text for block in message.content if block.type == "text")
        return Sent(
            value=text,
            input_tokens=_input_tokens(message.usage),
            output_tokens=message.usage.output_tokens,
            model=message.model or model,
            finish_reason=message.stop_reason,
        )

    def _send_tools(self, request: ChatRequest, model: str, tools: list[ToolSpec]) -> Sent[ToolReply]:
        specs = [{"name": t.name, "description": t.description, "input_schema": t.parameters} for t in tools]
        message = self.client.messages.create(
            tools=specs, tool_choice={"type": "auto"}, **self._kwargs(request, model)
        )
        calls = [
            ToolCallOut(id=block.id, name=block.name, arguments=json.dumps(block.input))
            for block in message.content
            if block.type == "tool_use"
        ]
        text = "".join(block.text for block in message.content if block.type == "text")
        return Sent(
            value=ToolReply(text=text, calls=calls),
            input_tokens=_input_tokens(message.usage),
            output_tokens=message.usage.output_tokens,
            model=message.model or model,
            finish_reason=message.stop_reason,
        )

    def _send_parsed(self, request: ChatRequest, model: str, schema: type[T], mode: Mode) -> Sent[T]:
        if mode == "json_schema":
            output_config = {"format": {"type": "json_schema", "schema": anthropic.transform_schema(schema)}}
            message = self.client.messages.create(output_config=output_config, **self._kwargs(request, model))
        elif mode == "tools":
            tool = {
                "name": TOOL_NAME,
                "description": "Give the answer.",
                "input_schema": anthropic.transform_schema(schema),
            }
            message = self.client.messages.create(
                tools=[tool], tool_choice={"type": "tool", "name": TOOL_NAME}, **self._kwargs(request, model)
            )
        else:
            message = self.client.messages.create(**self._kwargs(with_schema_prompt(request, schema), model))
        metered: dict[str, Any] = {
            "input_tokens": _input_tokens(message.usage),
            "output_tokens": message.usage.output_tokens,
            "model": message.model or model,
            "finish_reason": message.stop_reason,
        }
        uses = [block for block in message.content if block.type == "tool_use"]
        text = (
            json.dumps(uses[0].input)
            if uses
            else "".join(block.text for block in message.content if block.type == "text")
        )
        if message.stop_reason == "refusal":
            return Sent(value=None, invalid="model refused", **metered)
        if message.stop_reason == "max_tokens":
            return Sent(value=None, invalid="answer truncated at max_tokens", raw=text, **metered)
        value, why = parse_json_answer(text, schema)
        return Sent(value=value, invalid=why, raw=text, **metered)

    def _failure(self, exc: Exception) -> Failure | None:
        return sdk_failure(exc, anthropic, self.timeout, retry_timeouts=self.retry_timeouts)


def to_anthropic_messages(request: ChatRequest) -> list[dict[str, Any]]:
    """Map a neutral request onto Messages API turns: strictly alternating, starting with the user."""
    turns: list[dict[str, Any]] = []
    known: set[str] = set()
    for m in request.messages:
        if m.role == "tool":
            role, blocks = "user", [_tool_result(m, known)]
        elif m.role == "assistant":
            role = "assistant"
            blocks = [{"type": "text", "text": m.content}] if m.content else []
            for i, c in enumerate(m.tool_calls):
                call_id = c.id or f"toolu_{len(known)}_{i}"
                known.add(call_id)
                blocks.append(
                    {"type": "tool_use", "id": call_id, "name": c.name or "tool", "input": _args(c.arguments)}
                )
        else:
            role, blocks = "user", [{"type": "text", "text": m.content or "(empty)"}]
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    if not turns or turns[0]["role"] != "user":
        turns.insert(0, {"role": "user", "content": [{"type": "text", "text": "(conversation start)"}]})
    return turns


def _tool_result(m: Any, known: set[str]) -> dict[str, Any]:
    if m.tool_call_id and m.tool_call_id in known:
        return {"type": "tool_result", "tool_use_id": m.tool_call_id, "content": m.content}
    label = f"Tool result ({m.name})" if m.name else "Tool result"
    return {"type": "text", "text": f"{label}:\n{m.content}"}


def _args(arguments: str | None) -> dict[str, Any]:
    if not arguments:
        return {}
    try:
        value = json.loads(arguments)
    except ValueError:
        return {"raw": arguments}
    return value if isinstance(value, dict) else {"value": value}


def _input_tokens(usage: Any) -> int:
    total = usage.input_tokens or 0
    for extra in ("cache_creation_input_tokens", "cache_read_input_tokens"):
        total += getattr(usage, extra, None) or 0
    return total
