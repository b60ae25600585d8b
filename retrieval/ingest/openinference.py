"""OpenInference (Arize Phoenix) attributes onto Span fields.

OpenInference flattens lists into indexed keys (`llm.input_messages.0.message.role`), records invocation
parameters, document metadata and template variables as JSON strings, and puts generic I/O in
`input.value` / `output.value`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from retrieval.ingest.common import (
    as_float,
    as_int,
    as_str,
    finish_reasons_of,
    first,
    indexed,
    maybe_json,
    sampling_from,
    split_system,
    tool_message,
)
from retrieval.trace import (
    Document,
    Message,
    PromptTemplate,
    Sampling,
    SpanKind,
    TokenUsage,
    ToolCall,
    ToolInfo,
)

SPAN_KINDS: dict[str, tuple[SpanKind, str | None]] = {
    "LLM": (SpanKind.llm, None),  # operation decided by the messages: chat or text_completion
    "RETRIEVER": (SpanKind.retrieval, "retrieval"),
    "RERANKER": (SpanKind.retrieval, "rerank"),
    "TOOL": (SpanKind.tool, "execute_tool"),
    "AGENT": (SpanKind.agent, "invoke_agent"),
    "CHAIN": (SpanKind.chain, "chain"),
    "EMBEDDING": (SpanKind.other, "embeddings"),
    "GUARDRAIL": (SpanKind.other, "guardrail"),
    "EVALUATOR": (SpanKind.other, "evaluator"),
    "PROMPT": (SpanKind.chain, "prompt"),
}


def is_openinference(attrs: Mapping[str, Any]) -> bool:
    return (
        "openinference.span.kind" in attrs
        or "llm.model_name" in attrs
        or "llm.input_messages.0.message.role" in attrs
    )


def map_openinference(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Span fields from OpenInference attributes."""
    span_kind = str(attrs.get("openinference.span.kind") or "").upper()
    kind, operation = SPAN_KINDS.get(span_kind, (SpanKind.other, span_kind.lower() or None))
    inputs = _messages(attrs, "llm.input_messages")
    outputs = _messages(attrs, "llm.output_messages")
    if not inputs:
        inputs = [
            Message(role="user", content=as_str(p.get("prompt.text"))) for p in indexed(attrs, "llm.prompts")
        ]
    if not outputs:
        outputs = [
            Message(role="assistant", content=as_str(c.get("completion.text")))
            for c in indexed(attrs, "llm.choices")
        ]
    inputs, system = split_system(inputs, None)
    if kind == SpanKind.llm:
        operation = "chat" if any(k.startswith("llm.input_messages.") for k in attrs) else "text_completion"
    params = maybe_json(attrs.get("llm.invocation_parameters"))
    params = params if isinstance(params, Mapping) else {}
    finish = as_str(attrs.get("llm.finish_reason"))
    fields: dict[str, Any] = {
        "kind": kind,
        "operation": operation,
        "provider": as_str(first(attrs, "llm.provider", "llm.system")),
        "request_model": as_str(first(attrs, "llm.request.model_name")) or as_str(params.get("model")),
        "response_model": as_str(
            first(attrs, "llm.response.model_name", "llm.model_name", "embedding.model_name")
        ),
        "sampling": sampling_from(params) if params else Sampling(),
        "system_instructions": system,
        "input_messages": inputs,
        "output_messages": outputs,
        "input_value": as_str(attrs.get("input.value")),
        "output_value": as_str(attrs.get("output.value")),
        "finish_reasons": [finish] if finish else finish_reasons_of(outputs),
        "usage": TokenUsage(
            input_tokens=as_int(attrs.get("llm.token_count.prompt")),
            output_tokens=as_int(attrs.get("llm.token_count.completion")),
            total_tokens=as_int(attrs.get("llm.token_count.total")),
        ),
        "prompt_template": _template(attrs),
    }
    if kind == SpanKind.retrieval:
        docs = _documents(attrs, "retrieval.documents") or _documents(attrs, "reranker.output_documents")
        fields["documents"] = _with_output_ids(docs, attrs.get("output.value"))
        fields["retrieval_query"] = as_str(first(attrs, "reranker.query", "input.value"))
    if kind == SpanKind.tool:
        result, call_id = tool_message(attrs.get("output.value"))
        fields["tool"] = ToolInfo(
            name=as_str(attrs.get("tool.name")),
            call_id=as_str(first(attrs, "tool.id", "tool_call.id")) or call_id,
            description=as_str(attrs.get("tool.description")),
            arguments=as_str(first(attrs, "input.value", "tool.parameters")),
            result=result,
        )
    return fields


def _with_output_ids(docs: list[Document], output: Any) -> list[Document]:
    """Document ids the retrieval.documents attributes left out, from the retriever's output.value.

    openinference-instrumentation-langchain records each document's content and metadata but not LangChain's
    `Document.id`; its output.value (`{"documents": [{"id", "page_content", ...}]}`) has them, in order."""
    if not docs or all(d.id for d in docs):
        return docs
    value = maybe_json(output)
    listed = value.get("documents") if isinstance(value, Mapping) else None
    if not isinstance(listed, list) or len(listed) != len(docs):
        return docs
    out = []
    for doc, raw in zip(docs, listed, strict=True):
        same = isinstance(raw, Mapping) and first(raw, "page_content", "content") == doc.content
        out.append(doc.model_copy(update={"id": as_str(raw.get("id"))}) if same and not doc.id else doc)
    return out


def _messages(attrs: Mapping[str, Any], prefix: str) -> list[Message]:
    out = []
    for flat in indexed(attrs, prefix):
        content = flat.get("message.content")
        if content is None:
            texts = [
                as_str(c.get("message_content.text"))
                for c in indexed(flat, "message.contents")
                if c.get("message_content.type", "text") == "text"
                and c.get("message_content.text") is not None
            ]
            content = "\n".join(t for t in texts if t) or None
        calls = [
            ToolCall(
                id=as_str(c.get("tool_call.id")),
                name=as_str(c.get("tool_call.function.name")),
                arguments=as_str(c.get("tool_call.function.arguments")),
            )
            for c in indexed(flat, "message.tool_calls")
        ]
        if not calls and flat.get("message.function_call_name") is not None:
            calls.append(
                ToolCall(
                    name=as_str(flat["message.function_call_name"]),
                    arguments=as_str(flat.get("message.function_call_arguments_json")),
                )
            )
        out.append(
            Message(
                role=str(
                    flat.get("message.role") or ("user" if prefix.endswith("input_messages") else "assistant")
                ),
                content=as_str(content),
                name=as_str(flat.get("message.name")),
                tool_calls=calls,
                tool_call_id=as_str(flat.get("message.tool_call_id")),
            )
        )
    return out


def _documents(attrs: Mapping[str, Any], prefix: str) -> list[Document]:
    docs = []
    for flat in indexed(attrs, prefix):
        metadata = maybe_json(flat.get("document.metadata"))
        docs.append(
            Document(
                id=as_str(flat.get("document.id")),
                content=as_str(flat.get("document.content")),
                score=as_float(flat.get("document.score")),
                metadata=dict(metadata) if isinstance(metadata, Mapping) else {},
            )
        )
    return docs


def _template(attrs: Mapping[str, Any]) -> PromptTemplate | None:
    template = as_str(attrs.get("llm.prompt_template.template"))
    version = as_str(attrs.get("llm.prompt_template.version"))
    if template is None and version is None:
        return None
    variables = maybe_json(attrs.get("llm.prompt_template.variables"))
    return PromptTemplate(
        id=as_str(attrs.get("prompt.id")),
        version=version,
        template=template,
        variables=dict(variables) if isinstance(variables, Mapping) else {},
    )
