"""OpenLLMetry's entity envelopes: what `traceloop.entity.input` / `.output` hold, unwrapped.

OpenLLMetry's LangChain instrumentation records a task's input as `{"inputs": ..., "tags", "metadata",
"kwargs"}` and its output as `{"outputs": ..., "kwargs"}`; a tool's as `{"input_str", "inputs", "kwargs":
{"tool_call_id"}}` -> `{"output": <ToolMessage, serialized>}`; a retriever's as `{"query", ...}` ->
`{"documents": [{"page_content", "metadata"}], "count"}`. A post-mortem wants what is inside.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from retrieval.ingest.common import as_str, first, maybe_json, tool_message
from retrieval.trace import Document, ToolInfo

INPUT, OUTPUT = "traceloop.entity.input", "traceloop.entity.output"


def _envelope(value: Any, key: str) -> Mapping[str, Any] | None:
    parsed = maybe_json(value)
    return parsed if isinstance(parsed, Mapping) and key in parsed else None


def entity_value(value: Any, *keys: str) -> str | None:
    """The `inputs` / `outputs` (a retriever's `query`) inside an entity envelope, LangChain's serialized
    documents and messages as their text; any other value as recorded."""
    key = next((k for k in keys if _envelope(value, k) is not None), None)
    if key is None:
        return as_str(value)
    inner = _readable(maybe_json(value)[key])
    if isinstance(inner, list) and inner and all(isinstance(v, str) for v in inner):
        return "\n".join(inner)
    return as_str(inner)


def _readable(value: Any) -> Any:
    """LangChain's serialization (`{"lc": 1, "type": "constructor", "id": [..., "Document"], "kwargs": {...}}`)
    replaced by the document's or message's text."""
    if isinstance(value, list):
        return [_readable(v) for v in value]
    if isinstance(value, Mapping) and value.get("lc") and isinstance(value.get("kwargs"), Mapping):
        kwargs = value["kwargs"]
        text = first(kwargs, "page_content", "content")
        return text if isinstance(text, str) else {k: _readable(v) for k, v in kwargs.items()}
    return value


def tool_fields(attrs: Mapping[str, Any]) -> ToolInfo:
    """The tool's name, call id, arguments and result, out of the envelopes where they are."""
    recorded = first(attrs, "gen_ai.tool.call.arguments", INPUT)
    called = _envelope(recorded, "inputs") or _envelope(recorded, "input_str")
    arguments = as_str(first(called, "inputs", "input_str")) if called else as_str(recorded)
    kwargs = called.get("kwargs") if called else None
    result_raw = first(attrs, "gen_ai.tool.call.result", OUTPUT)
    wrapped = _envelope(result_raw, "output")
    result, result_call_id = tool_message(wrapped["output"] if wrapped else result_raw)
    call_id = kwargs.get("tool_call_id") if isinstance(kwargs, Mapping) else None
    return ToolInfo(
        name=as_str(first(attrs, "gen_ai.tool.name", "traceloop.entity.name")),
        call_id=as_str(first(attrs, "gen_ai.tool.call.id") or call_id) or result_call_id,
        description=as_str(attrs.get("gen_ai.tool.description")),
        arguments=arguments,
        result=result,
    )


def retriever_query(attrs: Mapping[str, Any]) -> str | None:
    envelope = _envelope(attrs.get(INPUT), "query")
    return as_str(envelope["query"]) if envelope is not None else None


def retriever_documents(attrs: Mapping[str, Any]) -> list[Document]:
    """The retriever's documents from its output envelope (OpenLLMetry keeps content and metadata only)."""
    envelope = _envelope(attrs.get(OUTPUT), "documents")
    listed = envelope["documents"] if envelope is not None else None
    if not isinstance(listed, list):
        return []
    docs = []
    for raw in listed:
        if not isinstance(raw, Mapping):
            continue
        metadata = raw.get("metadata")
        docs.append(
            Document(
                id=as_str(raw.get("id")),
                content=as_str(first(raw, "page_content", "content")),
                metadata=dict(metadata) if isinstance(metadata, Mapping) else {},
            )
        )
    return docs
