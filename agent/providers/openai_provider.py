"""OpenAI, and any OpenAI-compatible server (Ollama, vLLM, llama.cpp) through `base_url`.

Structured output is negotiated (agent/providers/modes.py): the SDK's `chat.completions.parse` with a pydantic
model first (chat completions, not the Responses API, because that is what compatible servers speak), then a
forced function call, then JSON mode, then plain text. The SDK's own retries are off: ours count.
"""

from __future__ import annotations

import json
import re
from typing import Any

import openai
from pydantic import ValidationError

from agent.providers.base import (
    ChatMessage,
    ChatRequest,
    Failure,
    Provider,
    Sent,
    T,
    ToolCallOut,
    ToolReply,
    ToolSpec,
    parse_json_answer,
    validation_reason,
    with_schema_prompt,
)
from agent.providers.modes import OPENAI_MODES, TOOL_NAME, Mode
from agent.providers.sdk_errors import sdk_failure
from retrieval.masking import mask_url

# Reasoning models accept neither temperature nor top_p (other than defaults) and want max_completion_tokens.
_REASONING = re.compile(r"^(o\d|gpt-5)", re.IGNORECASE)


class OpenAIProvider(Provider):
    name = "openai"
    default_model = "gpt-5.4-mini"
    structured_modes = OPENAI_MODES

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str | None = None,
        compatible: bool = False,
        **kwargs: Any,
    ) -> None:
        if compatible:
            self.name = "openai-compatible"
            self.default_model = None  # a local server's model must be named
        super().__init__(base_url=base_url, **kwargs)
        self.compatible = compatible
        self.client = openai.OpenAI(
            api_key=api_key or "not-needed",
            base_url=base_url,
            max_retries=0,
            timeout=self.timeout,
        )

    def describe(self) -> str:
        where = f" at {mask_url(self.base_url)}" if self.base_url else ""
        return f"{self.name}:{self.model or '?'}{where}"

    # -- wire mapping ------------------------------------------------------------------------------------

    def _kwargs(self, request: ChatRequest, model: str) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"model": model, "messages": to_openai_messages(request)}
        reasoning = bool(_REASONING.match(model)) and not self.compatible
        if request.temperature is not None and not reasoning:
            kwargs["temperature"] = request.temperature
        if request.top_p is not None and not reasoning:
            kwargs["top_p"] = request.top_p
        if request.max_tokens is not None:
            kwargs["max_tokens" if self.compatible else "max_completion_tokens"] = request.max_tokens
        if request.seed is not None:
            kwargs["seed"] = request.seed
        if request.stop:
            kwargs["stop"] = request.stop[:4]
        if request.frequency_penalty is not None:
            kwargs["frequency_penalty"] = request.frequency_penalty
        if request.presence_penalty is not None:
            kwargs["presence_penalty"] = request.presence_penalty
        if request.top_k is not None and self.compatible:
            kwargs["extra_body"] = {"top_k": request.top_k}
        return kwargs

    def _send_text(self, request: ChatRequest, model: str) -> Sent[str]:
        completion = self.client.chat.completions.create(**self._kwargs(request, model))
        choice = completion.choices[0] if completion.choices else None
        usage = completion.usage
        return Sent(
            value=(choice.message.content or "") if choice else "",
            input_tokens=usage.prompt_tokens if usage else 0,
            output_tokens=usage.completion_tokens if usage else 0,
            model=completion.model or model,
            finish_reason=choice.finish_reason if choice else None,
        )

    def _send_tools(self, request: ChatRequest, model: str, tools: list[ToolSpec]) -> Sent[ToolReply]:
        kwargs = self._kwargs(request, model)
        kwargs["tools"] = [
            {
                "type": "function",
                "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
            }
            for t in tools
        ]
        kwargs["tool_choice"] = "auto"
        completion = self.client.chat.completions.create(**kwargs)
        usage = completion.usage
        choice = completion.choices[0] if completion.choices else None
        message = choice.message if choice else None
        calls = [
            ToolCallOut(id=c.id, name=c.function.name, arguments=c.function.arguments)
            for c in (message.tool_calls or [] if message else [])
            if getattr(c, "function", None)
        ]
        return Sent(
            value=ToolReply(text=(message.content or "") if message else "", calls=calls),
            input_tokens=usage.prompt_tokens if usage else 0,
            output_tokens=usage.completion_tokens if usage else 0,
            model=completion.model or model,
            finish_reason=choice.finish_reason if choice else None,
        )

    def _send_parsed(self, request: ChatRequest, model: str, schema: type[T], mode: Mode) -> Sent[T]:
        if mode == "json_schema":
            return self._send_native(request, model, schema)
        kwargs = self._kwargs(with_schema_prompt(request, schema) if mode != "tools" else request, model)
        if mode == "tools":
            tool = openai.pydantic_function_tool(schema, name=TOOL_NAME, description="Give the answer.")
            kwargs["tools"] = [tool]
            kwargs["tool_choice"] = {"type": "function", "function": {"name": TOOL_NAME}}
        elif mode == "json_object":
            response_format: dict[str, Any] = {"type": "json_object"}
            if self.compatible:  # llama.cpp-style servers turn it into a grammar; OpenAI would refuse the key
                response_format["schema"] = schema.model_json_schema()
            kwargs["response_format"] = response_format
        completion = self.client.chat.completions.create(**kwargs)
        usage = completion.usage
        metered: dict[str, Any] = {
            "input_tokens": usage.prompt_tokens if usage else 0,
            "output_tokens": usage.completion_tokens if usage else 0,
            "model": completion.model or model,
        }
        choice = completion.choices[0] if completion.choices else None
        if choice is None:
            return Sent(value=None, invalid="no choices in the answer", **metered)
        message = choice.message
        calls = [c for c in message.tool_calls or [] if getattr(c, "function", None)]
        text = calls[0].function.arguments if calls else (message.content or "")
        metered["finish_reason"] = choice.finish_reason
        if choice.finish_reason == "length":
            return Sent(value=None, invalid="answer truncated at max_tokens", raw=text, **metered)
        if not text.strip():
            return Sent(value=None, invalid="empty answer", raw=text, **metered)
        value, why = parse_json_answer(text, schema)
        return Sent(value=value, invalid=why, raw=text, **metered)

    def _send_native(self, request: ChatRequest, model: str, schema: type[T]) -> Sent[T]:
        raw = self.client.chat.completions.with_raw_response.parse(
            response_format=schema, **self._kwargs(request, model)
        )
        body = _json_body(raw.http_response)
        usage = body.get("usage") or {}
        metered: dict[str, Any] = {
            "input_tokens": int(usage.get("prompt_tokens") or 0),
            "output_tokens": int(usage.get("completion_tokens") or 0),
            "model": body.get("model") or model,
        }
        text = _answer_text(body)
        try:
            completion = raw.parse()
        except ValidationError as exc:
            return Sent(value=None, invalid=validation_reason(exc), raw=text, **metered)
        except (openai.LengthFinishReasonError, openai.ContentFilterFinishReasonError) as exc:
            return Sent(value=None, invalid=str(exc).splitlines()[0], raw=text, **metered)
        choice = completion.choices[0] if completion.choices else None
        if choice is None:
            return Sent(value=None, invalid="no choices in the answer", **metered)
        if choice.message.refusal:
            return Sent(value=None, invalid=f"model refused: {choice.message.refusal}", **metered)
        if choice.message.parsed is None:
            return Sent(value=None, invalid="empty structured output", raw=text, **metered)
        return Sent(value=choice.message.parsed, finish_reason=choice.finish_reason, **metered)

    def _failure(self, exc: Exception) -> Failure | None:
        return sdk_failure(exc, openai, self.timeout, retry_timeouts=self.retry_timeouts)


def _answer_text(body: dict[str, Any]) -> str | None:
    try:
        return body["choices"][0]["message"].get("content")
    except (KeyError, IndexError, TypeError, AttributeError):
        return None


def to_openai_messages(request: ChatRequest) -> list[dict[str, Any]]:
    """Map a neutral request onto chat-completions messages (system first, tool calls kept)."""
    out: list[dict[str, Any]] = []
    if request.system:
        out.append({"role": "system", "content": request.system})
    known_calls: set[str] = set()
    for m in request.messages:
        out.append(_one_message(m, known_calls))
    return out


def _one_message(m: ChatMessage, known_calls: set[str]) -> dict[str, Any]:
    if m.role == "assistant" and m.tool_calls:
        calls = []
        for i, call in enumerate(m.tool_calls):
            call_id = call.id or f"call_{len(known_calls)}_{i}"
            known_calls.add(call_id)
            calls.append(
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": call.name or "tool", "arguments": call.arguments or "{}"},
                }
            )
        return {"role": "assistant", "content": m.content or None, "tool_calls": calls}
    if m.role == "tool":
        if m.tool_call_id and m.tool_call_id in known_calls:
            return {"role": "tool", "tool_call_id": m.tool_call_id, "content": m.content}
        label = f"Tool result ({m.name})" if m.name else "Tool result"
        return {"role": "user", "content": f"{label}:\n{m.content}"}
    message: dict[str, Any] = {"role": m.role, "content": m.content}
    if m.name and m.role == "user":
        message["name"] = m.name
    return message


def _json_body(response: Any) -> dict[str, Any]:
    try:
        body = response.json()
    except (ValueError, json.JSONDecodeError):
        return {}
    return body if isinstance(body, dict) else {}
