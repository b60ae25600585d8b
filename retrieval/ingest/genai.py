"""OpenTelemetry GenAI attributes onto Span fields: current conventions, legacy ones, and OpenLLMetry's.

One mapper reads the union of the three (instrumentations mix them), so the dialect label only says which
convention a span mostly follows. Content recorded in span events is read too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from retrieval.ingest.common import (
    as_float,
    as_int,
    as_str,
    as_str_list,
    chat_message,
    finish_reasons_of,
    first,
    indexed,
    maybe_json,
    split_system,
)
from retrieval.ingest.traceloop import (
    INPUT,
    OUTPUT,
    entity_value,
    retriever_documents,
    retriever_query,
    tool_fields,
)
from retrieval.trace import Document, Message, Sampling, SpanEvent, SpanKind, TokenUsage, ToolCall

OPERATION_KINDS: dict[str, SpanKind] = {
    "chat": SpanKind.llm,
    "text_completion": SpanKind.llm,
    "generate_content": SpanKind.llm,
    "completion": SpanKind.llm,
    "execute_tool": SpanKind.tool,
    "embeddings": SpanKind.other,
    "invoke_agent": SpanKind.agent,
    "create_agent": SpanKind.agent,
    "retrieval": SpanKind.retrieval,
    "vector_db_retrieve": SpanKind.retrieval,  # OpenLLMetry's LangChain retrievers
    "execute_task": SpanKind.chain,  # ... and its other runnables
    "rerank": SpanKind.retrieval,
    "invoke_workflow": SpanKind.chain,
    "plan": SpanKind.agent,
}
_REQUEST_TYPES = {
    "chat": "chat",
    "completion": "text_completion",
    "embedding": "embeddings",
    "rerank": "rerank",
}
_TRACELOOP_KINDS = {
    "workflow": ("invoke_workflow", SpanKind.chain),
    "task": ("task", SpanKind.chain),
    "agent": ("invoke_agent", SpanKind.agent),
    "tool": ("execute_tool", SpanKind.tool),
}
_CURRENT_MARKERS = (
    "gen_ai.operation.name",
    "gen_ai.provider.name",
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
)
_DETAILS_EVENT = "gen_ai.client.inference.operation.details"
_MESSAGE_EVENTS = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}
_LEGACY_INDEX = re.compile(r"^gen_ai\.(prompt|completion)\.\d+\.")


def dialect_of(attrs: Mapping[str, Any], events: list[SpanEvent]) -> str | None:
    """'openllmetry', 'genai' or 'genai-legacy' when the span follows one of them, else None."""
    keys = attrs.keys()
    if (
        "llm.request.type" in attrs
        or "llm.usage.total_tokens" in attrs
        or any(k.startswith("traceloop.") for k in keys)
    ):
        return "openllmetry"
    if any(k in attrs for k in _CURRENT_MARKERS) or any(e.name == _DETAILS_EVENT for e in events):
        return "genai"
    if any(k.startswith("gen_ai.") for k in keys) or any(e.name.startswith("gen_ai.") for e in events):
        return "genai-legacy"
    return None


def map_genai(attrs: Mapping[str, Any], events: list[SpanEvent]) -> dict[str, Any]:
    """Span fields from GenAI (current, legacy) and OpenLLMetry attributes and events."""
    merged = _with_event_attributes(attrs, events)
    operation, kind = _operation(merged)
    fields: dict[str, Any] = {
        "operation": operation,
        "kind": kind,
        "provider": _lower(first(merged, "gen_ai.provider.name", "gen_ai.system", "llm.vendor")),
        "request_model": as_str(first(merged, "gen_ai.request.model", "llm.request.model")),
        "response_model": as_str(first(merged, "gen_ai.response.model", "llm.response.model")),
        "sampling": _sampling(merged),
        "usage": TokenUsage(
            input_tokens=as_int(first(merged, "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")),
            output_tokens=as_int(
                first(merged, "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens")
            ),
            total_tokens=as_int(first(merged, "llm.usage.total_tokens", "gen_ai.usage.total_tokens")),
        ),
    }
    system = _parts_text(maybe_json(merged.get("gen_ai.system_instructions")))
    inputs = _messages(merged, "input") or _event_messages(events)
    outputs = _messages(merged, "output") or _choice_messages(events)
    raw_inputs = inputs
    inputs, system = split_system(inputs, system)
    fields.update(system_instructions=system, input_messages=inputs, output_messages=outputs)
    reasons = as_str_list(first(merged, "gen_ai.response.finish_reasons", "llm.response.finish_reason"))
    fields["finish_reasons"] = reasons or finish_reasons_of(outputs)
    if kind == SpanKind.tool:
        fields["tool"] = tool_fields(merged)
    if kind == SpanKind.retrieval or "gen_ai.retrieval.documents" in merged or _has_db_results(events):
        query = as_str(first(merged, "gen_ai.retrieval.query.text", "db.query.text"))
        fields["retrieval_query"] = query or retriever_query(merged)
        fields["documents"] = (
            _documents(merged.get("gen_ai.retrieval.documents"))
            or _db_result_documents(events)
            or retriever_documents(merged)
        )
        if fields["documents"] and kind == SpanKind.other:
            fields["kind"], fields["operation"] = SpanKind.retrieval, operation or "retrieval"
    if operation == "rerank" and not fields.get("documents"):
        fields.update(_openllmetry_rerank(raw_inputs, outputs))
    if INPUT in merged or OUTPUT in merged:
        fields["input_value"] = entity_value(merged.get(INPUT), "inputs", "query")
        fields["output_value"] = entity_value(merged.get(OUTPUT), "outputs")
    fields["conversation_id"] = as_str(merged.get("gen_ai.conversation.id"))
    return fields


def _lower(value: Any) -> str | None:
    text = as_str(value)
    return text.lower() if text else None


_RERANK_RESULT = re.compile(r"Doc (\d+), Score: ([-\d.eE]+)")


def _openllmetry_rerank(prompts: list[Message], outputs: list[Message]) -> dict[str, Any]:
    """OpenLLMetry records a rerank as prompts (query as user, documents as system) and completions
    'Doc i, Score: s'; read them back as the query and the reranked documents."""
    query = next((m.content for m in prompts if m.role == "user"), None)
    candidates = [m.content for m in prompts if m.role == "system"]
    documents = []
    for message in outputs:
        match = _RERANK_RESULT.search(message.content or "")
        if match and int(match.group(1)) < len(candidates):
            index = int(match.group(1))
            documents.append(
                Document(id=str(index), content=candidates[index], score=as_float(match.group(2)))
            )
    return {
        "retrieval_query": query,
        "documents": documents,
        "input_messages": [],
        "output_messages": [],
        "system_instructions": None,
        "finish_reasons": [],
    }


def _with_event_attributes(attrs: Mapping[str, Any], events: list[SpanEvent]) -> dict[str, Any]:
    """Span attributes plus content carried by events (span attributes win)."""
    merged: dict[str, Any] = {}
    for event in events:
        if event.name == _DETAILS_EVENT:
            merged.update(event.attributes)
        elif event.name == "gen_ai.content.prompt" and "gen_ai.prompt" in event.attributes:
            merged["gen_ai.legacy.prompt"] = event.attributes["gen_ai.prompt"]
        elif event.name == "gen_ai.content.completion" and "gen_ai.completion" in event.attributes:
            merged["gen_ai.legacy.completion"] = event.attributes["gen_ai.completion"]
    merged.update(attrs)
    return merged


def _operation(attrs: Mapping[str, Any]) -> tuple[str | None, SpanKind]:
    operation = as_str(attrs.get("gen_ai.operation.name"))
    # OpenLLMetry's LangChain instrumentation (0.54) names its LLM spans' operation `llm_request`, not a GenAI
    # operation: its llm.request.type (chat, completion) says which
    if operation not in OPERATION_KINDS and attrs.get("llm.request.type") is not None:
        request_type = str(attrs["llm.request.type"])
        operation = _REQUEST_TYPES.get(request_type, request_type)
    traceloop_kind = as_str(attrs.get("traceloop.span.kind"))
    if operation is None and traceloop_kind in _TRACELOOP_KINDS:
        return _TRACELOOP_KINDS[traceloop_kind]
    if operation is None and (
        any(_LEGACY_INDEX.match(k) for k in attrs)
        or "gen_ai.legacy.prompt" in attrs
        or "gen_ai.request.model" in attrs
    ):
        operation = "chat"
    if operation is None:
        return None, SpanKind.other
    return operation, OPERATION_KINDS.get(operation, SpanKind.other)


def _sampling(attrs: Mapping[str, Any]) -> Sampling:
    return Sampling(
        temperature=as_float(first(attrs, "gen_ai.request.temperature", "llm.temperature")),
        top_p=as_float(first(attrs, "gen_ai.request.top_p", "llm.top_p")),
        top_k=as_float(first(attrs, "gen_ai.request.top_k", "llm.top_k")),
        max_tokens=as_int(first(attrs, "gen_ai.request.max_tokens", "llm.request.max_tokens")),
        seed=as_int(first(attrs, "gen_ai.request.seed", "gen_ai.openai.request.seed")),
        frequency_penalty=as_float(first(attrs, "gen_ai.request.frequency_penalty", "llm.frequency_penalty")),
        presence_penalty=as_float(first(attrs, "gen_ai.request.presence_penalty", "llm.presence_penalty")),
        stop_sequences=as_str_list(first(attrs, "gen_ai.request.stop_sequences", "llm.chat.stop_sequences")),
    )


def _messages(attrs: Mapping[str, Any], side: str) -> list[Message]:
    """Current JSON messages, else legacy indexed attributes, else the legacy prompt/completion event JSON."""
    current = maybe_json(attrs.get(f"gen_ai.{side}.messages"))
    if isinstance(current, list):
        return [_part_message(m) for m in current if isinstance(m, Mapping)]
    legacy_prefix = "gen_ai.prompt" if side == "input" else "gen_ai.completion"
    flat = indexed(attrs, legacy_prefix)
    if flat:
        return [_flat_message(m, "user" if side == "input" else "assistant") for m in flat]
    blob = maybe_json(attrs.get(f"gen_ai.legacy.{'prompt' if side == 'input' else 'completion'}"))
    if isinstance(blob, list):
        return [chat_message(m) for m in blob if isinstance(m, Mapping)]
    return []


def _part_message(raw: Mapping[str, Any]) -> Message:
    """A message in the current parts form (or the plain {role, content} form)."""
    parts = raw.get("parts")
    if not isinstance(parts, list):
        return chat_message(raw)
    texts: list[str] = []
    calls: list[ToolCall] = []
    call_id: str | None = None
    for part in parts:
        if not isinstance(part, Mapping):
            continue
        kind = part.get("type")
        if kind == "text":
            texts.append(as_str(part.get("content")) or "")
        elif kind == "tool_call":
            calls.append(
                ToolCall(
                    id=as_str(part.get("id")),
                    name=as_str(part.get("name")),
                    arguments=as_str(part.get("arguments")),
                )
            )
        elif kind == "tool_call_response":
            call_id = as_str(part.get("id"))
            texts.append(as_str(first(part, "response", "result")) or "")
    return Message(
        role=str(raw.get("role") or "unknown"),
        content="\n".join(texts) if texts else None,
        name=as_str(raw.get("name")),
        tool_calls=calls,
        tool_call_id=call_id.strip() if call_id else None,
        finish_reason=as_str(raw.get("finish_reason")),
    )


def _flat_message(flat: Mapping[str, Any], default_role: str) -> Message:
    calls = [
        ToolCall(
            id=as_str(c.get("id")),
            name=as_str(first(c, "name", "function.name")),
            arguments=as_str(first(c, "arguments", "function.arguments")),
        )
        for c in indexed(flat, "tool_calls")
    ]
    if not calls and flat.get("function_call.name") is not None:
        calls.append(
            ToolCall(
                name=as_str(flat["function_call.name"]), arguments=as_str(flat.get("function_call.arguments"))
            )
        )
    return Message(
        role=str(flat.get("role") or default_role),
        content=as_str(flat.get("content")),
        name=as_str(flat.get("name")),
        tool_calls=calls,
        tool_call_id=as_str(flat.get("tool_call_id")),
        finish_reason=as_str(flat.get("finish_reason")),
    )


def _event_messages(events: list[SpanEvent]) -> list[Message]:
    """Legacy per-message events (gen_ai.user.message and friends) recorded on the span."""
    out = []
    for event in events:
        role = _MESSAGE_EVENTS.get(event.name)
        if role is None:
            continue
        body = dict(event.attributes)
        body.setdefault("role", role)
        body["tool_calls"] = maybe_json(body.get("tool_calls")) or []
        out.append(chat_message(body))
    return _link_tool_results(out)


def _link_tool_results(messages: list[Message]) -> list[Message]:
    """Tool results recorded without the id of the call they answer (OpenLLMetry's gen_ai.tool.message has
    no `id`) get it from the assistant message before them: the chat APIs require the results to follow the
    calls in order, so the k-th result after an assistant's calls answers its k-th call."""
    out: list[Message] = []
    calls: list[str | None] = []
    for message in messages:
        if message.role == "assistant":
            calls = [c.id for c in message.tool_calls]
        elif message.role == "tool" and calls:
            call_id = calls.pop(0)
            if message.tool_call_id is None and call_id:
                message = message.model_copy(update={"tool_call_id": call_id})
        else:
            calls = []
        out.append(message)
    return out


def _choice_messages(events: list[SpanEvent]) -> list[Message]:
    out = []
    for event in events:
        if event.name != "gen_ai.choice":
            continue
        message = maybe_json(event.attributes.get("message"))
        body = dict(message) if isinstance(message, Mapping) else {"content": event.attributes.get("content")}
        body.setdefault("role", "assistant")
        # the calls belong in message.tool_calls; OpenLLMetry's events put them beside the message
        body["tool_calls"] = maybe_json(body.get("tool_calls") or event.attributes.get("tool_calls")) or []
        body.setdefault("finish_reason", event.attributes.get("finish_reason"))
        out.append(chat_message(body))
    return out


def _parts_text(value: Any) -> str | None:
    """System instructions: a list of parts ({type: text, content}), or plain text."""
    if value is None:
        return None
    if isinstance(value, list):
        texts = [
            as_str(first(p, "content", "text"))
            for p in value
            if isinstance(p, Mapping) and p.get("type") == "text"
        ]
        texts = [t for t in texts if t]
        return "\n".join(texts) if texts else None
    return as_str(value)


def _documents(value: Any) -> list[Document]:
    value = maybe_json(value)
    if not isinstance(value, list):
        return []
    return [document_from(d) for d in value if isinstance(d, Mapping)]


def document_from(raw: Mapping[str, Any]) -> Document:
    """A document dict ({id, content, score, metadata, ...extra}); extra keys join the metadata."""
    metadata = maybe_json(raw.get("metadata"))
    meta: dict[str, Any] = dict(metadata) if isinstance(metadata, Mapping) else {}
    known = {"id", "content", "score", "metadata", "text", "page_content", "pageContent"}
    for key, value in raw.items():
        if key not in known:
            meta.setdefault(key, value)
    return Document(
        id=as_str(raw.get("id")),
        content=as_str(first(raw, "content", "text", "page_content", "pageContent")),
        score=as_float(raw.get("score")),
        metadata=meta,
    )


def _has_db_results(events: list[SpanEvent]) -> bool:
    return any(e.name in ("db.query.result", "db.search.result") for e in events)


def _db_result_documents(events: list[SpanEvent]) -> list[Document]:
    """OpenLLMetry vector-database spans carry each hit as a db.query.result event."""
    docs = []
    for event in events:
        if event.name not in ("db.query.result", "db.search.result"):
            continue
        prefix = "db.query.result." if event.name == "db.query.result" else "db.search.result."
        a = event.attributes
        metadata = maybe_json(a.get(prefix + "metadata"))
        meta = dict(metadata) if isinstance(metadata, Mapping) else {}
        if a.get(prefix + "distance") is not None:
            meta.setdefault(
                "distance", as_float(a[prefix + "distance"])
            )  # a distance is not a score: kept apart
        docs.append(
            Document(
                id=as_str(a.get(prefix + "id")),
                content=as_str(first(a, prefix + "document", prefix + "entity")),
                score=as_float(a.get(prefix + "score")),
                metadata=meta,
            )
        )
    return docs
