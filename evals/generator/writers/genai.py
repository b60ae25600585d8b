"""OpenTelemetry GenAI semantic conventions, current (gen_ai.provider.name, JSON message attributes)."""

from __future__ import annotations

from typing import Any

from evals.generator.ir import GSpan, Msg
from evals.generator.writers.common import SERVER_ADDRESS, dumps, exception_events, session_attrs
from evals.generator.writers.otlp import SPAN_KIND_CLIENT, SPAN_KIND_INTERNAL, SPAN_KIND_SERVER, Record

SCOPE = ("opentelemetry.instrumentation.openai_v2", "2.1b0")


def scope(span: GSpan) -> tuple[str, str]:
    if span.kind in ("llm", "embedding"):
        if span.provider == "anthropic":
            return ("opentelemetry.instrumentation.anthropic", "0.3b0")
        return SCOPE
    return (f"{span.service}.app", "1.0.0")


def parts_message(msg: Msg, finish: str | None = None) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    if msg.role == "tool":
        parts.append({"type": "tool_call_response", "id": msg.tool_call_id, "response": msg.content})
    elif msg.content is not None:
        parts.append({"type": "text", "content": msg.content})
    for call in msg.tool_calls:
        parts.append(
            {"type": "tool_call", "id": call["id"], "name": call["name"], "arguments": call["arguments"]}
        )
    out: dict[str, Any] = {"role": msg.role, "parts": parts}
    if finish:
        out["finish_reason"] = finish
    return out


def _llm(span: GSpan) -> Record:
    attrs: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": span.provider,
        "gen_ai.request.model": span.request_model,
        "gen_ai.request.temperature": span.temperature,
        "gen_ai.request.top_p": span.top_p,
        "gen_ai.request.max_tokens": span.max_tokens,
        "gen_ai.request.seed": span.seed,
        "server.address": SERVER_ADDRESS.get(span.provider or "", "llm-gateway.internal"),
        "server.port": 443,
        "gen_ai.conversation.id": span.session_id,
    }
    if not span.is_error:
        attrs |= {
            "gen_ai.response.model": span.response_model,
            "gen_ai.response.id": span.response_id,
            "gen_ai.response.finish_reasons": [span.finish_reason or "stop"],
            "gen_ai.usage.input_tokens": span.input_tokens,
            "gen_ai.usage.output_tokens": span.output_tokens,
        }
        if span.capture_content:
            if span.system:
                attrs["gen_ai.system_instructions"] = dumps([{"type": "text", "content": span.system}])
            attrs["gen_ai.input.messages"] = dumps([parts_message(m) for m in span.input_messages])
            attrs["gen_ai.output.messages"] = dumps(
                [parts_message(m, span.finish_reason) for m in span.output_messages]
            )
    else:
        attrs["error.type"] = span.error_type
    if span.template_id:
        attrs |= {"prompt.id": span.template_id, "prompt.version": span.template_version}
    attrs |= session_attrs(span) | span.attrs
    return f"chat {span.request_model}", SPAN_KIND_CLIENT, attrs, exception_events(span)


def _retrieval(span: GSpan) -> Record:
    attrs: dict[str, Any] = {
        "gen_ai.operation.name": "retrieval",
        "gen_ai.data_source.id": span.data_source,
        "gen_ai.retrieval.query.text": span.query if span.capture_content else None,
    }
    if span.documents:
        docs = [
            {"id": d.id, "score": d.score}
            | ({"content": d.content, "metadata": d.metadata} if span.capture_content else {})
            for d in span.documents
        ]
        attrs["gen_ai.retrieval.documents"] = dumps(docs)
    if span.is_error:
        attrs["error.type"] = span.error_type
    attrs |= span.attrs
    return f"retrieval {span.data_source}", SPAN_KIND_CLIENT, attrs, exception_events(span)


def _rerank(span: GSpan) -> Record:
    docs = [
        {"id": d.id, "score": d.score, "content": d.content, "metadata": d.metadata} for d in span.documents
    ]
    attrs = {
        "gen_ai.operation.name": "rerank",
        "gen_ai.request.model": span.attrs.get("reranker.model_name"),
        "gen_ai.retrieval.query.text": span.query,
        "gen_ai.retrieval.documents": dumps(docs),
    } | span.attrs
    return "rerank", SPAN_KIND_CLIENT, attrs, []


def _tool(span: GSpan) -> Record:
    attrs: dict[str, Any] = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": span.tool_name,
        "gen_ai.tool.call.id": span.tool_call_id,
        "gen_ai.tool.type": "function",
        "gen_ai.tool.description": span.tool_description,
    }
    if span.capture_content:
        attrs |= {"gen_ai.tool.call.arguments": span.tool_args, "gen_ai.tool.call.result": span.tool_result}
    if span.is_error:
        attrs["error.type"] = span.error_type
    attrs |= span.attrs
    return f"execute_tool {span.tool_name}", SPAN_KIND_INTERNAL, attrs, exception_events(span)


def _embedding(span: GSpan) -> Record:
    attrs = {
        "gen_ai.operation.name": "embeddings",
        "gen_ai.provider.name": span.provider,
        "gen_ai.request.model": span.request_model,
        "gen_ai.response.model": span.response_model,
        "gen_ai.usage.input_tokens": span.input_tokens,
    }
    return f"embeddings {span.request_model}", SPAN_KIND_CLIENT, attrs, []


def _other(span: GSpan) -> Record:
    attrs: dict[str, Any] = dict(span.attrs)
    kind = SPAN_KIND_INTERNAL
    name = span.name
    if span.kind == "agent":
        attrs |= {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": span.name}
        name = f"invoke_agent {span.name}"
    elif span.kind == "http":
        kind = SPAN_KIND_SERVER
    if span.parent_id is None:
        attrs |= session_attrs(span)
    if span.is_error and span.error_type:
        attrs["error.type"] = span.error_type
    return name, kind, attrs, exception_events(span)


def mapper(span: GSpan) -> Record:
    handler = {
        "llm": _llm,
        "retrieval": _retrieval,
        "rerank": _rerank,
        "tool": _tool,
        "embedding": _embedding,
    }.get(span.kind, _other)
    return handler(span)
