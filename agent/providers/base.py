"""What every LLM provider shares: the request/answer models, usage accounting, errors, retry with backoff,
and redaction of everything that leaves the machine.

A concrete provider implements three small methods (`_send_text`, `_send_parsed`, `_failure`); the public
`complete` and `parse` wrap them with redaction, retries and accounting, so no provider can skip those.
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.providers.modes import Mode, ModeMemory, extract_json, modes_from, schema_instruction
from agent.providers.pricing import cost_usd

log = logging.getLogger("postmortem.providers")

T = TypeVar("T", bound=BaseModel)
R = TypeVar("R")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ToolCallOut(_Model):
    id: str | None = None
    name: str | None = None
    arguments: str | None = None  # JSON text


class ChatMessage(_Model):
    role: Literal["user", "assistant", "tool"]
    content: str = ""
    name: str | None = None
    tool_calls: list[ToolCallOut] = Field(default_factory=list)
    tool_call_id: str | None = None


class ToolSpec(_Model):
    """A tool the model may call (its parameters: a JSON schema)."""

    name: str
    description: str
    parameters: dict[str, Any]


class ToolReply(_Model):
    """What a model said in a turn where it could call tools: text, tool calls, or both."""

    text: str = ""
    calls: list[ToolCallOut] = Field(default_factory=list)


class ChatRequest(_Model):
    """A provider-neutral chat request. `model=None` means the provider's configured model."""

    system: str | None = None
    messages: list[ChatMessage]
    model: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    stop: list[str] = Field(default_factory=list)
    frequency_penalty: float | None = None
    presence_penalty: float | None = None


class Usage(_Model):
    """Token, cost and call accounting; add two with `+`. `cost_usd` is None when any call's model is unpriced."""

    provider: str | None = None
    model: str | None = None
    calls: int = 0  # HTTP requests sent, successful or not
    failed_calls: int = 0  # 429, 5xx, timeouts, unreadable bodies
    invalid_answers: int = 0  # answers that did not parse or did not validate
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = 0.0
    latency_s: float = 0.0
    prompt_tokens_estimate: int = 0  # our own estimate of the largest prompt sent (see agent.llm.budget)

    def __add__(self, other: Usage) -> Usage:
        if not self.calls:
            cost = other.cost_usd
        elif not other.calls:
            cost = self.cost_usd
        else:
            cost = None if self.cost_usd is None or other.cost_usd is None else self.cost_usd + other.cost_usd
        return Usage(
            provider=_join(self.provider, other.provider),
            model=_join(self.model, other.model),
            calls=self.calls + other.calls,
            failed_calls=self.failed_calls + other.failed_calls,
            invalid_answers=self.invalid_answers + other.invalid_answers,
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cost_usd=None if cost is None else round(cost, 8),
            latency_s=round(self.latency_s + other.latency_s, 4),
            prompt_tokens_estimate=max(self.prompt_tokens_estimate, other.prompt_tokens_estimate),
        )

    def as_dict(self) -> dict[str, Any]:
        """The shape stored in Draft.usage."""
        return self.model_dump(mode="json")


def _join(a: str | None, b: str | None) -> str | None:
    if not a or not b or a == b:
        return a or b
    parts = list(dict.fromkeys([*a.split(","), *b.split(",")]))
    return ",".join(parts)


class ProviderError(Exception):
    """A provider call failed for good. `reason` is one plain sentence, fit for a draft note or a CLI error;
    `detail` is the server's own text (for the log only: it can hold file paths and request fragments)."""

    def __init__(
        self,
        reason: str,
        *,
        usage: Usage | None = None,
        retryable: bool = False,
        capability: bool = False,
        detail: str = "",
    ) -> None:
        self.reason = " ".join(reason.split())[:300]
        self.usage = usage or Usage()
        self.retryable = retryable
        self.capability = capability  # the server refused the request's shape: another mode may work
        self.detail = detail
        super().__init__(self.reason)


class RetryPolicy(_Model):
    max_retries: int = 4  # extra attempts after the first, for 429/5xx/timeouts
    base_delay: float = 0.5  # seconds; doubles each attempt, with jitter
    max_delay: float = 20.0  # cap for both backoff and a server's Retry-After
    answer_retries: int = 1  # extra attempts when an answer is malformed or fails validation


@dataclass
class Failure:
    """How a provider classifies an exception from its SDK. `reason` is plain; `detail` is the server's text."""

    reason: str
    retryable: bool
    retry_after: float | None = None
    capability: bool = False  # the request's shape was refused (switch structured-output mode)
    detail: str = ""


@dataclass
class Completion:
    text: str
    usage: Usage
    finish_reason: str | None = None
    model: str | None = None  # as served


@dataclass
class Parsed(Generic[T]):
    value: T
    usage: Usage
    mode: Mode = "json_schema"  # the structured-output mode that produced it


@dataclass
class ToolTurn:
    reply: ToolReply
    usage: Usage
    finish_reason: str | None = None


@dataclass
class Sent(Generic[R]):
    """What one HTTP round trip produced: a value (or the validation error) and its metering."""

    value: R | None
    input_tokens: int
    output_tokens: int
    model: str | None
    finish_reason: str | None = None
    invalid: str | None = None  # why the answer is unusable (malformed JSON, refusal, truncation)
    raw: str | None = None  # the answer as text, for the repair re-ask


class Provider(ABC):
    """An LLM behind one SDK. Use `complete` for free text and `parse` for structured output."""

    name: str = "provider"
    default_model: str | None = None
    structured_modes: tuple[Mode, ...] = ("json_schema",)

    def __init__(
        self,
        *,
        model: str | None = None,
        redact: Callable[[str], str] | None = None,
        policy: RetryPolicy | None = None,
        timeout: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        memory: ModeMemory | None = None,
        base_url: str | None = None,
        local: bool | None = None,
        retry_timeouts: bool | None = None,
    ) -> None:
        self.model = model or self.default_model
        self.redact = redact
        self.policy = policy or RetryPolicy()
        self.timeout = timeout
        self._sleep = sleep
        self.memory = memory
        self.base_url = base_url
        # a local server's models are not priced; a timeout is not retried on a local or OpenAI-compatible server
        # (one that answers a request at a time would queue the retry behind the abandoned request)
        self.local = _is_local_url(base_url) if local is None else local
        self.retry_timeouts = not self.local if retry_timeouts is None else retry_timeouts

    # -- implemented by each provider ------------------------------------------------------------------

    @abstractmethod
    def _send_text(self, request: ChatRequest, model: str) -> Sent[str]: ...

    @abstractmethod
    def _send_parsed(self, request: ChatRequest, model: str, schema: type[T], mode: Mode) -> Sent[T]: ...

    def _send_tools(self, request: ChatRequest, model: str, tools: list[ToolSpec]) -> Sent[ToolReply]:
        """One turn with tools the model may call (no forced choice). Providers without tool calling refuse."""
        raise ProviderError(f"{self.name}: tool calling is not implemented", capability=True)

    @abstractmethod
    def _failure(self, exc: Exception) -> Failure | None:
        """Classify an SDK exception; None means 'not ours, re-raise'."""

    # -- public API --------------------------------------------------------------------------------------

    def complete(self, request: ChatRequest) -> Completion:
        sent, usage = self._with_retries(request, lambda req, model: self._send_text(req, model))
        return Completion(
            text=sent.value or "", usage=usage, finish_reason=sent.finish_reason, model=sent.model
        )

    def chat_tools(self, request: ChatRequest, tools: list[ToolSpec]) -> ToolTurn:
        """One turn in which the model may call any of `tools` (OpenAI function calling, Anthropic tool use).
        Raises ProviderError; `capability=True` when the server refuses tools (use a JSON action protocol)."""
        sent, usage = self._with_retries(request, lambda req, model: self._send_tools(req, model, tools))
        return ToolTurn(reply=sent.value or ToolReply(), usage=usage, finish_reason=sent.finish_reason)

    def parse(
        self, request: ChatRequest, schema: type[T], *, modes: tuple[Mode, ...] | None = None
    ) -> Parsed[T]:
        """Structured output, negotiated: each mode in turn until the server accepts one (see modes.py); the
        answer is validated against `schema`, with one repair re-ask. Raises ProviderError with every call's usage.
        """
        model = request.model or self.model or ""
        key = self.base_url or self.name
        remembered = self.memory.get(key, model) if self.memory and modes is None else None
        order = modes or modes_from(self.structured_modes, remembered)
        usage = Usage()
        refused: list[str] = []
        for mode in order:
            started = time.perf_counter()
            try:
                sent, used = self._with_retries(
                    request, lambda req, m, mode=mode: self._send_parsed(req, m, schema, mode)
                )
            except ProviderError as exc:
                usage = usage + exc.usage
                if not exc.capability:
                    raise ProviderError(
                        exc.reason, usage=usage, retryable=exc.retryable, detail=exc.detail
                    ) from exc
                refused.append(mode)
                continue
            usage = usage + used
            if self.memory and (remembered != mode or modes is None):
                self.memory.put(key, model, mode, round(time.perf_counter() - started, 3))
            assert sent.value is not None
            return Parsed(value=sent.value, usage=usage, mode=mode)
        raise ProviderError(
            f"{self.name}: the server accepted none of the structured-output modes ({', '.join(refused)})",
            usage=usage,
            capability=True,
        )

    def list_models(self) -> list[str]:
        """The model ids the server lists (GET /models). Raises ProviderError, once, without retrying."""
        try:
            return self._list_models()
        except Exception as exc:  # classified; anything unknown propagates
            failure = self._classify(exc)
            raise ProviderError(f"{self.name}: {failure.reason}", detail=failure.detail) from exc

    def _list_models(self) -> list[str]:
        return [m.id for m in self.client.models.list()]  # type: ignore[attr-defined]  # both SDKs

    def describe(self) -> str:
        return f"{self.name}:{self.model or '?'}"

    # -- machinery ---------------------------------------------------------------------------------------

    def redacted(self, request: ChatRequest) -> ChatRequest:
        """The request with every free-text field passed through the redactor (no-op when redaction is off)."""
        if self.redact is None:
            return request
        red = self.redact
        messages = [
            m.model_copy(
                update={
                    "content": red(m.content),
                    "tool_calls": [
                        t.model_copy(update={"arguments": red(t.arguments) if t.arguments else t.arguments})
                        for t in m.tool_calls
                    ],
                }
            )
            for m in request.messages
        ]
        system = red(request.system) if request.system else request.system
        return request.model_copy(update={"system": system, "messages": messages})

    def _with_retries(
        self, request: ChatRequest, send: Callable[[ChatRequest, str], Sent[R]]
    ) -> tuple[Sent[R], Usage]:
        """One logical call: transient failures retried with backoff, a capability refusal raised at once, and a
        malformed answer re-asked once with the reason (the repair re-ask). Every HTTP request is metered."""
        from agent.providers.tokens import estimate_request_tokens

        model = request.model or self.model
        if not model:
            raise ProviderError(f"{self.name}: no model configured (set POSTMORTEM_MODEL)")
        request = self.redacted(request)
        usage = Usage(
            provider=self.name, model=model, prompt_tokens_estimate=estimate_request_tokens(request)
        )
        transient = 0
        invalid = 0
        asked = request
        while True:
            started = time.perf_counter()
            try:
                sent = send(asked, model)
            except Exception as exc:  # classified below; anything unknown propagates
                failure = self._classify(exc)
                usage = usage + self._meter(None, time.perf_counter() - started, failed=True)
                if failure.detail:
                    log.warning(
                        "%s: %s; the server said: %s", self.name, failure.reason, failure.detail[:2000]
                    )
                if not failure.retryable or transient >= self.policy.max_retries:
                    attempts = transient + 1
                    tail = f" (gave up after {attempts} attempts)" if attempts > 1 else ""
                    raise ProviderError(
                        f"{self.name}: {failure.reason}{tail}",
                        usage=usage,
                        retryable=failure.retryable,
                        capability=failure.capability,
                        detail=failure.detail,
                    ) from exc
                self._sleep(self._backoff(transient, failure.retry_after))
                transient += 1
                continue
            usage = usage + self._meter(sent, time.perf_counter() - started, failed=False)
            if sent.invalid is None:
                return sent, usage
            log.info("%s: unusable answer (%s): %s", self.name, sent.invalid, (sent.raw or "")[:2000])
            if invalid >= self.policy.answer_retries:
                raise ProviderError(f"{self.name}: unusable answer: {sent.invalid}", usage=usage)
            invalid += 1
            asked = repair_request(request, sent.raw, sent.invalid)

    def _classify(self, exc: Exception) -> Failure:
        failure = self._failure(exc)
        if failure is not None:
            return failure
        if isinstance(exc, json.JSONDecodeError):  # a response body that is not JSON at all
            return Failure(reason="the response body was not JSON", retryable=True, detail=str(exc))
        raise exc

    def _meter(self, sent: Sent[Any] | None, seconds: float, *, failed: bool) -> Usage:
        if sent is None:
            return Usage(calls=1, failed_calls=1, cost_usd=0.0, latency_s=seconds)
        model = sent.model or self.model
        return Usage(
            provider=self.name,
            model=model,
            calls=1,
            failed_calls=int(failed),
            invalid_answers=int(sent.invalid is not None),
            input_tokens=sent.input_tokens,
            output_tokens=sent.output_tokens,
            cost_usd=None if self.local else cost_usd(model, sent.input_tokens, sent.output_tokens),
            latency_s=seconds,
        )

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None and retry_after >= 0:
            return min(retry_after, self.policy.max_delay)
        ceiling = min(self.policy.max_delay, self.policy.base_delay * (2**attempt))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


_LOCAL_HOSTS = re.compile(r"^https?://(localhost|127\.\d+\.\d+\.\d+|\[::1\]|0\.0\.0\.0)(:\d+)?(/|$)", re.I)


def _is_local_url(url: str | None) -> bool:
    return bool(url and _LOCAL_HOSTS.match(url))


def repair_request(request: ChatRequest, raw: str | None, reason: str) -> ChatRequest:
    """The request plus the rejected answer and one user turn saying what was wrong with it."""
    turns = list(request.messages)
    if raw:
        turns.append(ChatMessage(role="assistant", content=raw[:4000]))
    turns.append(
        ChatMessage(
            role="user",
            content=f"That answer could not be used ({reason}). Reply again with only the corrected JSON object.",
        )
    )
    return request.model_copy(update={"messages": turns})


def with_schema_prompt(request: ChatRequest, schema: type[BaseModel]) -> ChatRequest:
    """The request with the schema appended to the system prompt (modes where the server does not enforce it)."""
    system = "\n\n".join(part for part in (request.system, schema_instruction(schema)) if part)
    return request.model_copy(update={"system": system})


def parse_json_answer(text: str, schema: type[T]) -> tuple[T | None, str | None]:
    """(value, None) when the text holds a JSON object that validates, else (None, why)."""
    try:
        return schema.model_validate_json(extract_json(text)), None
    except ValidationError as exc:
        return None, validation_reason(exc)


def validation_reason(exc: ValidationError) -> str:
    """One line saying why an answer did not match the schema."""
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ())) or "answer"
    return f"malformed structured output at {where}: {first.get('msg', str(exc))}"
