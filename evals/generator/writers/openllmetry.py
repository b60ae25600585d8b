"""OpenLLMetry (Traceloop): workflow/task/tool spans with traceloop.* entity I/O, LLM spans in the legacy
gen_ai.* form plus llm.request.type, association properties on every span, managed prompts, and vector-store
spans whose hits are db.query.result events."""

from __future__ import annotations

from typing import Any

from evals.generator.ir import GSpan
from evals.generator.writers.common import dumps, exception_events
from evals.generator.writers.legacy import llm_attrs
from evals.generator.writers.otlp import SPAN_KIND_CLIENT, SPAN_KIND_INTERNAL, Record

SCOPES = {
    "llm": ("opentelemetry.instrumentation.openai.v1", "0.38.7"),
    "retrieval": ("opentelemetry.instrumentation.pinecone", "0.38.7"),
}


LLM_SPAN_NAMES = {
    "openai": "openai.chat",
    "azure.ai.openai": "openai.chat",
    "anthropic": "anthropic.chat",
    "gcp.vertex_ai": "vertexai.generate_content",
    "mistral_ai": "mistralai.chat",
}


def scope(span: GSpan) -> tuple[str, str]:
    if span.kind == "llm" and span.provider == "anthropic":
        return ("opentelemetry.instrumentation.anthropic", "0.38.7")
    return SCOPES.get(span.kind, ("traceloop.tracer", "0.38.7"))


def _assoc(span: GSpan, workflow: str) -> dict[str, Any]:
    return {
        "traceloop.workflow.name": workflow if span.parent_id is None or span.kind == "llm" else None,
        "traceloop.association.properties.session_id": span.session_id,
        "traceloop.association.properties.user_id": span.user_id,
    }


def _entity(kind: str, name: str, inp: Any, out: Any) -> dict[str, Any]:
    return {
        "traceloop.span.kind": kind,
        "traceloop.entity.name": name,
        "traceloop.entity.input": dumps({"args": [inp], "kwargs": {}}) if inp is not None else None,
        "traceloop.entity.output": dumps(out) if out is not None else None,
    }


def make_mapper(workflows: dict[str, str]):
    """`workflows`: service -> workflow name (the root span's name)."""

    def mapper(span: GSpan) -> Record:
        workflow = workflows.get(span.service, span.service.replace("-", "_"))
        assoc = _assoc(span, workflow)
        if span.kind == "llm":
            attrs, events = llm_attrs(span, events=False)
            attrs |= {"llm.request.type": "chat", "llm.is_streaming": False}
            if not span.is_error:
                attrs["llm.usage.total_tokens"] = (span.input_tokens or 0) + (span.output_tokens or 0)
            if span.template_id:
                attrs |= {
                    "traceloop.prompt.managed": True,
                    "traceloop.prompt.key": span.template_id,
                    "traceloop.prompt.version": span.template_version,
                }
                if span.template_vars:
                    attrs["traceloop.prompt.template_variables"] = dumps(span.template_vars)
            name = LLM_SPAN_NAMES.get(span.provider or "openai", f"{span.provider}.chat")
            return name, SPAN_KIND_CLIENT, attrs | assoc | span.attrs, events
        if span.kind == "retrieval":
            attrs = {
                "db.system": "pinecone",
                "db.operation": "query",
                "pinecone.query.top_k": len(span.documents),
            }
            attrs |= {"db.query.text": span.query} | assoc | span.attrs
            events = [
                {
                    "name": "db.query.result",
                    "time": span.end,
                    "attributes": {
                        "db.query.result.id": d.id,
                        "db.query.result.score": d.score,
                        "db.query.result.metadata": dumps(d.metadata),
                        "db.query.result.document": d.content,
                    },
                }
                for d in span.documents
            ]
            if span.is_error:
                attrs["error.type"] = span.error_type
            return "pinecone.query", SPAN_KIND_CLIENT, attrs, events + exception_events(span)
        if span.kind == "tool":
            attrs = _entity("tool", span.tool_name or span.name, span.tool_args, span.tool_result)
            if span.is_error:
                attrs["error.type"] = span.error_type
            return (
                f"{span.tool_name}.tool",
                SPAN_KIND_INTERNAL,
                attrs | assoc | span.attrs,
                exception_events(span),
            )
        if span.kind == "embedding":
            attrs = {
                "llm.request.type": "embedding",
                "gen_ai.system": span.provider,
                "gen_ai.request.model": span.request_model,
                "gen_ai.response.model": span.response_model,
                "gen_ai.usage.prompt_tokens": span.input_tokens,
            }
            return "openai.embeddings", SPAN_KIND_CLIENT, attrs | assoc, []
        kind = "workflow" if span.parent_id is None else ("agent" if span.kind == "agent" else "task")
        name = workflow if span.parent_id is None else span.name
        attrs = _entity(kind, name, span.input_value, span.output_value) | assoc | span.attrs
        if span.is_error and span.error_type:
            attrs["error.type"] = span.error_type
        return f"{name}.{kind}", SPAN_KIND_INTERNAL, attrs, exception_events(span)

    return mapper
