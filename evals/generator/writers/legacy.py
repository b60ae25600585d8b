"""OpenTelemetry GenAI conventions before v1.37 (gen_ai.system, indexed gen_ai.prompt.N / gen_ai.completion.N,
prompt_tokens/completion_tokens), content on attributes or, with `events=True`, in gen_ai.content.* events."""

from __future__ import annotations

from typing import Any

from evals.generator.ir import GSpan, Msg
from evals.generator.writers import genai
from evals.generator.writers.common import (
    SERVER_ADDRESS,
    all_messages,
    dumps,
    exception_events,
    openai_message,
    session_attrs,
)
from evals.generator.writers.otlp import SPAN_KIND_CLIENT, SPAN_KIND_INTERNAL, Record


def scope(span: GSpan) -> tuple[str, str]:
    if span.kind == "llm":
        return ("opentelemetry.instrumentation.openai", "0.48b0")
    return (f"{span.service}.app", "1.0.0")


def indexed_messages(prefix: str, messages: list[Msg], finish: str | None = None) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    for i, msg in enumerate(messages):
        base = f"{prefix}.{i}"
        attrs[f"{base}.role"] = msg.role
        if msg.content is not None:
            attrs[f"{base}.content"] = msg.content
        if msg.tool_call_id:
            attrs[f"{base}.tool_call_id"] = msg.tool_call_id
        for j, call in enumerate(msg.tool_calls):
            attrs[f"{base}.tool_calls.{j}.id"] = call["id"]
            attrs[f"{base}.tool_calls.{j}.name"] = call["name"]
            attrs[f"{base}.tool_calls.{j}.arguments"] = dumps(call["arguments"])
        if finish and prefix.endswith("completion"):
            attrs[f"{base}.finish_reason"] = finish
    return attrs


def llm_attrs(span: GSpan, events: bool) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    attrs: dict[str, Any] = {
        "gen_ai.system": span.provider,
        "gen_ai.request.model": span.request_model,
        "gen_ai.request.temperature": span.temperature,
        "gen_ai.request.top_p": span.top_p,
        "gen_ai.request.max_tokens": span.max_tokens,
        "gen_ai.openai.request.seed": span.seed,
        "server.address": SERVER_ADDRESS.get(span.provider or "", "llm-gateway.internal"),
    }
    out_events: list[dict[str, Any]] = []
    if span.is_error:
        attrs["error.type"] = span.error_type
        return attrs, exception_events(span)
    attrs |= {
        "gen_ai.response.model": span.response_model,
        "gen_ai.response.id": span.response_id,
        "gen_ai.response.finish_reasons": [span.finish_reason or "stop"],
        "gen_ai.usage.prompt_tokens": span.input_tokens,
        "gen_ai.usage.completion_tokens": span.output_tokens,
    }
    if span.capture_content:
        prompt = all_messages(span)
        if events:
            out_events = [
                {
                    "name": "gen_ai.content.prompt",
                    "time": span.start,
                    "attributes": {"gen_ai.prompt": dumps([openai_message(m) for m in prompt])},
                },
                {
                    "name": "gen_ai.content.completion",
                    "time": span.end,
                    "attributes": {
                        "gen_ai.completion": dumps(
                            [
                                openai_message(m) | {"finish_reason": span.finish_reason}
                                for m in span.output_messages
                            ]
                        )
                    },
                },
            ]
        else:
            attrs |= indexed_messages("gen_ai.prompt", prompt)
            attrs |= indexed_messages("gen_ai.completion", span.output_messages, span.finish_reason)
    return attrs, out_events


def _llm(span: GSpan, events: bool) -> Record:
    attrs, evs = llm_attrs(span, events)
    if span.template_id:
        attrs |= {"prompt.id": span.template_id, "prompt.version": span.template_version}
    attrs |= session_attrs(span) | span.attrs
    return f"chat {span.request_model}", SPAN_KIND_CLIENT, attrs, evs


def _retrieval(span: GSpan) -> Record:
    """The application's own retrieval span, with the gen_ai.retrieval.* attributes only."""
    attrs: dict[str, Any] = {
        "gen_ai.retrieval.query.text": span.query,
        "gen_ai.data_source.id": span.data_source,
        "gen_ai.retrieval.documents": dumps(
            [
                {"id": d.id, "score": d.score, "content": d.content, "metadata": d.metadata}
                for d in span.documents
            ]
        ),
    } | span.attrs
    if span.is_error:
        attrs["error.type"] = span.error_type
    return f"vector_search {span.data_source}", SPAN_KIND_CLIENT, attrs, exception_events(span)


def make_mapper(events: bool):
    def mapper(span: GSpan) -> Record:
        if span.kind == "llm":
            return _llm(span, events)
        if span.kind == "retrieval":
            return _retrieval(span)
        if span.kind == "tool":
            name, _, attrs, evs = genai.mapper(span)
            return name, SPAN_KIND_INTERNAL, attrs, evs
        return genai.mapper(span)

    return mapper
