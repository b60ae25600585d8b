"""Replay a captured LLM request with its recorded settings, N times, and measure how often the failure recurs.

Recurrence is judged by the flagged pattern: the replayed output contains `pattern` (substring or regex, case
insensitive), or, without a pattern, its embedding is within `threshold` cosine of the recorded bad output.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from agent.providers.base import ChatMessage, ChatRequest, Provider, ProviderError, ToolCallOut, Usage
from retrieval.trace import Span, SpanKind

Embed = Callable[[list[str]], np.ndarray]


class ReplayRun(BaseModel):
    index: int
    recurred: bool | None  # None when the call failed
    similarity: float | None = None
    output: str = ""
    finish_reason: str | None = None
    error: str | None = None


class ReplayReport(BaseModel):
    trace_id: str
    span_id: str
    provider: str
    model: str | None
    recorded: dict[str, object] = Field(default_factory=dict)  # the settings sent, as recorded
    judge: Literal["pattern", "similarity"]
    pattern: str | None = None
    threshold: float | None = None
    n: int
    completed: int = 0
    recurred: int = 0
    rate: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    method: str = "wilson 95%"
    recorded_output: str = ""
    runs: list[ReplayRun] = Field(default_factory=list)
    usage: dict[str, object] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for k successes in n trials."""
    if n <= 0:
        return 0.0, 1.0
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def pick_span(spans: Sequence[Span], span_id: str | None = None) -> Span:
    """The span to replay: `span_id`, else the last LLM span of the trace that recorded its input."""
    if span_id:
        for s in spans:
            if s.span_id == span_id:
                return s
        raise ValueError(f"span {span_id} is not in this trace")
    llm = [s for s in spans if s.kind == SpanKind.llm and (s.input_messages or s.input_value)]
    if not llm:
        raise ValueError("the trace has no LLM span with a recorded input")
    return max(llm, key=lambda s: s.start_time)


def request_from_span(span: Span) -> tuple[ChatRequest, list[str]]:
    """The captured request as a provider-neutral ChatRequest, and notes on anything not replayable exactly."""
    notes: list[str] = []
    systems = [m.content for m in span.input_messages if m.role in ("system", "developer") and m.content]
    system = span.system_instructions or ("\n\n".join(systems) if systems else None)
    if span.system_instructions and systems:
        notes.append("system instructions recorded twice; the span attribute was used")
    messages: list[ChatMessage] = []
    for m in span.input_messages:
        if m.role in ("system", "developer"):
            continue
        role = m.role if m.role in ("user", "assistant", "tool") else "user"
        if role != m.role:
            notes.append(f"message role {m.role!r} sent as 'user'")
        calls = [ToolCallOut(id=c.id, name=c.name, arguments=c.arguments) for c in m.tool_calls]
        messages.append(
            ChatMessage(
                role=role, content=m.content or "", name=m.name, tool_calls=calls, tool_call_id=m.tool_call_id
            )
        )
    if not messages and span.input_value:
        messages.append(ChatMessage(role="user", content=span.input_value))
        notes.append("no input messages recorded; the span's input value was sent as one user message")
    if not messages:
        raise ValueError(f"span {span.span_id} recorded no input messages: nothing to replay")
    if system is None:
        notes.append("no system instructions were recorded: replayed without any")
    s = span.sampling
    request = ChatRequest(
        system=system,
        messages=messages,
        model=span.request_model or span.response_model,
        temperature=s.temperature,
        top_p=s.top_p,
        top_k=s.top_k,
        max_tokens=s.max_tokens,
        seed=s.seed,
        stop=s.stop_sequences,
        frequency_penalty=s.frequency_penalty,
        presence_penalty=s.presence_penalty,
    )
    return request, notes


def request_for(provider: Provider, span: Span, model: str | None) -> tuple[ChatRequest, list[str]]:
    """The captured request with the model to send (the override, or a local server's configured model), and
    notes on what differs from the recording."""
    request, notes = request_from_span(span)
    if model:
        request = request.model_copy(update={"model": model})
    elif _serves_own_model(provider) and provider.model and request.model != provider.model:
        if request.model:
            notes.append(
                f"recorded model {request.model!r} replaced by the configured {provider.model!r}: "
                f"{provider.name} serves its own model (POSTMORTEM_MODEL)"
            )
        request = request.model_copy(update={"model": provider.model})
    if request.model is None:
        notes.append(f"no model recorded; the provider's configured model {provider.model!r} was used")
    family = "anthropic" if provider.name == "anthropic" else "openai"
    if (
        not model
        and span.provider
        and provider.name != "openai-compatible"
        and family not in span.provider.lower()
    ):
        notes.append(
            f"recorded on {span.provider}, replayed on {provider.name}: pass --model if the model differs"
        )
    if request.seed is not None and provider.name == "anthropic":
        notes.append("the recorded seed was not sent: the Anthropic API has no seed")
    return request, notes


def replay(
    provider: Provider,
    span: Span,
    *,
    n: int = 20,
    pattern: str | None = None,
    regex: bool = False,
    threshold: float = 0.8,
    embed: Embed | None = None,
    model: str | None = None,
    concurrency: int = 1,
) -> ReplayReport:
    """Send the captured request n times; judge each output; report the recurrence rate with a Wilson interval."""
    request, notes = request_for(provider, span, model)
    recorded_output = span.output_text
    if pattern is None and (embed is None or not recorded_output.strip()):
        raise ValueError("the recorded span has no output to compare with: give --pattern")
    matcher = re.compile(pattern if regex else re.escape(pattern), re.IGNORECASE) if pattern else None

    def one(i: int) -> tuple[ReplayRun, Usage]:
        try:
            done = provider.complete(request)
        except ProviderError as exc:
            return ReplayRun(index=i, recurred=None, error=exc.reason), exc.usage
        run = ReplayRun(index=i, recurred=None, output=done.text, finish_reason=done.finish_reason)
        if matcher is not None:
            run.recurred = bool(matcher.search(done.text))
        return run, done.usage

    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, n))) as pool:
        results = list(pool.map(one, range(n)))
    runs = [r for r, _ in results]
    usage = Usage()
    for _, u in results:
        usage = usage + u
    if matcher is None and embed is not None:
        _judge_by_similarity(runs, recorded_output, embed, threshold)
    done_runs = [r for r in runs if r.recurred is not None]
    k = sum(1 for r in done_runs if r.recurred)
    low, high = wilson(k, len(done_runs)) if done_runs else (None, None)
    if len(done_runs) < n:
        notes.append(f"{n - len(done_runs)} of {n} calls failed and are not counted")
    return ReplayReport(
        trace_id=span.trace_id,
        span_id=span.span_id,
        provider=provider.describe(),
        model=request.model or provider.model,
        recorded=_recorded_settings(request),
        judge="pattern" if matcher is not None else "similarity",
        pattern=pattern,
        threshold=None if matcher is not None else threshold,
        n=n,
        completed=len(done_runs),
        recurred=k,
        rate=round(k / len(done_runs), 4) if done_runs else None,
        ci_low=None if low is None else round(low, 4),
        ci_high=None if high is None else round(high, 4),
        recorded_output=recorded_output,
        runs=runs,
        usage=usage.as_dict(),
        notes=notes,
    )


def _serves_own_model(provider: Provider) -> bool:
    """An OpenAI-compatible or local server: it serves the model it has, whatever name is asked for."""
    return provider.name == "openai-compatible" or bool(getattr(provider, "local", False))


def _judge_by_similarity(runs: list[ReplayRun], recorded: str, embed: Embed, threshold: float) -> None:
    live = [r for r in runs if r.error is None]
    if not live:
        return
    vectors = np.asarray(embed([recorded, *[r.output or " " for r in live]]), dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors = vectors / np.where(norms == 0, 1.0, norms)
    sims = vectors[1:] @ vectors[0]
    for run, sim in zip(live, sims, strict=True):
        run.similarity = round(float(sim), 4)
        run.recurred = bool(sim >= threshold)


def _recorded_settings(request: ChatRequest) -> dict[str, object]:
    keep = ("model", "temperature", "top_p", "top_k", "max_tokens", "seed", "stop", "frequency_penalty")
    settings: dict[str, object] = {
        k: getattr(request, k) for k in keep if getattr(request, k) not in (None, [])
    }
    settings["system_instructions"] = bool(request.system)
    settings["input_messages"] = len(request.messages)
    return settings
