"""OpenInference (Arize Phoenix): openinference.span.kind, flattened llm.* messages, retrieval.documents.N,
input.value/output.value, llm.prompt_template.*, session.id/user.id, metadata as JSON."""

from __future__ import annotations

from typing import Any

from evals.generator.ir import Doc, GSpan, Msg
from evals.generator.writers.common import all_messages, dumps, exception_events, openai_message
from evals.generator.writers.otlp import SPAN_KIND_INTERNAL, Record

KINDS = {
    "llm": "LLM",
    "retrieval": "RETRIEVER",
    "rerank": "RERANKER",
    "tool": "TOOL",
    "agent": "AGENT",
    "chain": "CHAIN",
    "http": "CHAIN",
    "guardrail": "GUARDRAIL",
    "embedding": "EMBEDDING",
}


def scope(span: GSpan) -> tuple[str, str]:
    if span.kind == "llm":
        return ("openinference.instrumentation.openai", "0.1.30")
    return ("openinference.instrumentation.langchain", "0.1.43")


def _messages(prefix: str, messages: list[Msg]) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    for i, msg in enumerate(messages):
        base = f"{prefix}.{i}.message"
        attrs[f"{base}.role"] = msg.role
        if msg.content is not None:
            attrs[f"{base}.content"] = msg.content
        if msg.tool_call_id:
            attrs[f"{base}.tool_call_id"] = msg.tool_call_id
        for j, call in enumerate(msg.tool_calls):
            attrs[f"{base}.tool_calls.{j}.tool_call.id"] = call["id"]
            attrs[f"{base}.tool_calls.{j}.tool_call.function.name"] = call["name"]
            attrs[f"{base}.tool_calls.{j}.tool_call.function.arguments"] = dumps(call["arguments"])
    return attrs


def _documents(prefix: str, docs: list[Doc]) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    for i, doc in enumerate(docs):
        base = f"{prefix}.{i}.document"
        attrs |= {
            f"{base}.id": doc.id,
            f"{base}.content": doc.content,
            f"{base}.score": doc.score,
            f"{base}.metadata": dumps(doc.metadata),
        }
    return attrs


def _llm(span: GSpan) -> dict[str, Any]:
    params = {"model": span.request_model, "temperature": span.temperature, "max_tokens": span.max_tokens}
    if span.top_p is not None:
        params["top_p"] = span.top_p
    if span.seed is not None:
        params["seed"] = span.seed
    attrs: dict[str, Any] = {
        "llm.provider": span.provider,
        "llm.system": "anthropic" if span.provider == "anthropic" else "openai",
        "llm.invocation_parameters": dumps(params),
    }
    if span.is_error:
        return attrs | {"llm.model_name": span.request_model}
    attrs |= {
        "llm.model_name": span.response_model,
        "llm.token_count.prompt": span.input_tokens,
        "llm.token_count.completion": span.output_tokens,
        "llm.token_count.total": (span.input_tokens or 0) + (span.output_tokens or 0),
    }
    if span.capture_content:
        messages = all_messages(span)
        attrs |= _messages("llm.input_messages", messages) | _messages(
            "llm.output_messages", span.output_messages
        )
        text = "\n".join(m.content for m in span.output_messages if m.content)
        attrs["output.value"] = text or dumps([openai_message(m) for m in span.output_messages])
    if span.template_version:
        attrs["llm.prompt_template.version"] = span.template_version
        if span.template_vars:
            attrs["llm.prompt_template.variables"] = dumps(span.template_vars)
        attrs["prompt.id"] = span.template_id
    return attrs


def mapper(span: GSpan) -> Record:
    attrs: dict[str, Any] = {"openinference.span.kind": KINDS.get(span.kind, "CHAIN")}
    name = span.name
    if span.kind == "llm":
        attrs |= _llm(span)
        name = "ChatCompletion" if span.provider != "anthropic" else "Messages"
    elif span.kind == "retrieval":
        attrs["input.value"] = span.query
        if span.capture_content:
            attrs |= _documents("retrieval.documents", span.documents)
        name = "VectorStoreRetriever"
    elif span.kind == "rerank":
        attrs |= {
            "reranker.query": span.query,
            "reranker.model_name": span.attrs.get("reranker.model_name"),
            "reranker.top_k": len(span.documents),
        } | _documents("reranker.output_documents", span.documents)
    elif span.kind == "tool":
        attrs |= {
            "tool.name": span.tool_name,
            "tool.description": span.tool_description,
            "input.value": span.tool_args,
            "input.mime_type": "application/json",
            "output.value": span.tool_result,
        }
        name = span.tool_name or name
    elif span.kind == "embedding":
        attrs |= {"embedding.model_name": span.request_model, "input.value": "[query]"}
        name = "OpenAIEmbeddings"
    else:
        attrs |= {"input.value": span.input_value, "output.value": span.output_value}
    if span.session_id and (span.parent_id is None or span.kind == "llm"):
        attrs |= {"session.id": span.session_id, "user.id": span.user_id}
    attrs |= {k: v for k, v in span.attrs.items() if not k.startswith("reranker.")}
    if span.is_error and span.error_type:
        attrs["error.type"] = span.error_type
    return name, SPAN_KIND_INTERNAL, attrs, exception_events(span)
