"""Langfuse observation exports: a JSON array (UI export), `{"data": [...]}` (public API), a single trace
download (`{..., "observations": [...]}`), or JSON lines. camelCase (API) and snake_case (blob storage
export) field names are both read. The whole observation is kept verbatim in `Span.attributes`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import ijson

from retrieval.ingest.common import (
    BadTime,
    as_int,
    as_str,
    chat_message,
    finish_reasons_of,
    first,
    json_line_problem,
    maybe_json,
    parse_time,
    sampling_from,
    split_system,
    tool_message,
)
from retrieval.ingest.genai import document_from
from retrieval.ingest.source import Progress, opened
from retrieval.ingest.stream import RecordTooLarge, Rejected, lines, parse_line, records, too_long_line
from retrieval.trace import (
    Document,
    IngestError,
    Message,
    PromptTemplate,
    Span,
    SpanKind,
    Status,
    TokenUsage,
    ToolInfo,
)

TYPE_KINDS: dict[str, tuple[SpanKind, str | None]] = {
    "GENERATION": (SpanKind.llm, "chat"),
    "SPAN": (SpanKind.chain, None),
    "EVENT": (SpanKind.other, None),
    "TOOL": (SpanKind.tool, "execute_tool"),
    "RETRIEVER": (SpanKind.retrieval, "retrieval"),
    "AGENT": (SpanKind.agent, "invoke_agent"),
    "CHAIN": (SpanKind.chain, None),
    "EMBEDDING": (SpanKind.other, "embeddings"),
    "EVALUATOR": (SpanKind.other, None),
    "GUARDRAIL": (SpanKind.other, None),
}
_TRACE_KEYS = {"id": "traceId", "name": "traceName", "userId": "userId", "sessionId": "sessionId"}
_TRACE_KEYS.update({"user_id": "userId", "session_id": "sessionId"})
_RECORD_PREFIXES = ("item", "data.item", "observations.item")
_CONTAINERS = ("", "data", "observations")
_NO_OBSERVATIONS = (
    'no Langfuse observations (expected an array, {"data": [...]}, or a trace with "observations")'
)
_SINGLE_MAX = 8 << 20  # a single observation is never this large: do not load such a file whole


class ObservationError(ValueError):
    """An observation that cannot be ingested."""


def _get(obs: Mapping[str, Any], camel: str, snake: str) -> Any:
    value = obs.get(camel)
    return obs.get(snake) if value is None else value


def observation_to_span(
    obs: Mapping[str, Any],
    *,
    source: str,
    trace: Mapping[str, Any] | None = None,
    default_service: str | None = None,
) -> Span:
    """One Langfuse observation as a normalized Span; `trace` holds trace-level fields of a trace download."""
    if not isinstance(obs, Mapping):
        raise ObservationError("record is not a JSON object")
    trace = trace or {}
    span_id = as_str(obs.get("id"))
    trace_id = as_str(_get(obs, "traceId", "trace_id")) or as_str(trace.get("traceId"))
    if not span_id:
        raise ObservationError("observation has no id")
    if not trace_id:
        raise ObservationError(f"observation {span_id} has no traceId")
    start = _time(obs, "startTime", "start_time")
    if start is None:
        raise ObservationError(f"observation {span_id} has no startTime")
    metadata = maybe_json(obs.get("metadata"))
    metadata = metadata if isinstance(metadata, Mapping) else {}
    return Span(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=as_str(_get(obs, "parentObservationId", "parent_observation_id")),
        service=_service(obs, metadata, trace, default_service),
        name=str(obs.get("name") or ""),
        start_time=start,
        end_time=_time(obs, "endTime", "end_time"),
        status=_status(obs, metadata),
        session_id=as_str(first(obs, "sessionId", "session_id") or trace.get("sessionId")),
        user_id=as_str(first(obs, "userId", "user_id") or trace.get("userId")),
        attributes=dict(obs),
        resource=dict(metadata.get("resourceAttributes") or {}),
        dialect="langfuse",
        source=source,
        **observation_fields(obs, metadata),
    )


def observation_fields(obs: Mapping[str, Any], metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The Span fields an observation's type, model, parameters, usage, prompt, input and output give (shared
    by the exports read here and the Langfuse SDK's OTLP spans, `langfuse_otel`)."""
    kind, operation = TYPE_KINDS.get(str(obs.get("type") or "SPAN").upper(), (SpanKind.other, None))
    params = maybe_json(_get(obs, "modelParameters", "model_parameters"))
    name = str(obs.get("name") or "") or None
    return {
        "kind": kind,
        "operation": operation,
        "provider": as_str(first(metadata, "provider", "gen_ai.provider.name", "ls_provider")),
        "request_model": as_str(
            first(metadata, "requested_model", "request_model", "gen_ai.request.model", "ls_model_name")
        ),
        "response_model": as_str(first(obs, "model", "providedModelName", "provided_model_name")),
        "sampling": sampling_from(params if isinstance(params, Mapping) else {}),
        "usage": _usage(obs),
        "prompt_template": _prompt(obs),
        "agent_name": as_str(first(metadata, "gen_ai.agent.name", "agent_name", "agent.name"))
        or (name if kind == SpanKind.agent else None),
        "agent_id": as_str(first(metadata, "gen_ai.agent.id", "agent_id", "agent.id")),
        **_io_fields(kind, obs.get("input"), obs.get("output"), obs, metadata),
    }


def _time(obs: Mapping[str, Any], camel: str, snake: str) -> datetime | None:
    value = _get(obs, camel, snake)
    try:
        return parse_time(value)
    except BadTime as exc:
        raise BadTime(f"observation {as_str(obs.get('id'))}: {camel} {exc}", kind=exc.kind) from None
    except (ValueError, TypeError, OverflowError):
        raise ObservationError(f"{camel} {str(value)[:40]!r} is not an ISO-8601 time") from None


def _service(
    obs: Mapping[str, Any], metadata: Mapping[str, Any], trace: Mapping[str, Any], default: str | None
) -> str | None:
    """Recorded service, else the caller's default, else the trace name (Langfuse has no service field)."""
    resource = metadata.get("resourceAttributes")
    recorded = first(metadata, "service.name", "service") or (
        resource.get("service.name") if isinstance(resource, Mapping) else None
    )
    if recorded:
        return str(recorded)
    return default or as_str(first(obs, "traceName", "trace_name") or trace.get("traceName"))


def _status(obs: Mapping[str, Any], metadata: Mapping[str, Any]) -> Status:
    level = str(obs.get("level") or "DEFAULT").upper()
    message = as_str(_get(obs, "statusMessage", "status_message"))
    error_type = as_str(first(metadata, "error.type", "error_type"))
    code = "error" if level == "ERROR" else "unset"
    return Status(code=code, message=message, error_type=error_type if code == "error" else None)


def _usage(obs: Mapping[str, Any]) -> TokenUsage:
    usage = maybe_json(first(obs, "usageDetails", "usage_details", "usage"))
    usage = usage if isinstance(usage, Mapping) else {}
    return TokenUsage(
        input_tokens=as_int(first(usage, "input", "promptTokens", "prompt_tokens", "input_tokens")),
        output_tokens=as_int(
            first(usage, "output", "completionTokens", "completion_tokens", "output_tokens")
        ),
        total_tokens=as_int(first(usage, "total", "totalTokens", "total_tokens")),
    )


def _prompt(obs: Mapping[str, Any]) -> PromptTemplate | None:
    name = as_str(first(obs, "promptName", "prompt_name"))
    version = as_str(first(obs, "promptVersion", "prompt_version"))
    if name is None and version is None and first(obs, "promptId", "prompt_id") is None:
        return None
    return PromptTemplate(id=name or as_str(first(obs, "promptId", "prompt_id")), version=version)


def _io_fields(
    kind: SpanKind, raw_in: Any, raw_out: Any, obs: Mapping[str, Any], metadata: Mapping[str, Any]
) -> dict[str, Any]:
    raw_in, raw_out = maybe_json(raw_in), maybe_json(raw_out)
    if kind == SpanKind.llm:
        system = raw_in.get("system") if isinstance(raw_in, Mapping) else None
        inputs, system = split_system(_messages(raw_in, "user"), as_str(system))
        outputs = _messages(raw_out, "assistant")
        reasons = finish_reasons_of(outputs) or [
            r for r in [as_str(first(metadata, "finish_reason", "finishReason"))] if r
        ]
        return {
            "system_instructions": system,
            "input_messages": inputs,
            "output_messages": outputs,
            "finish_reasons": reasons,
        }
    fields: dict[str, Any] = {"input_value": as_str(raw_in), "output_value": as_str(raw_out)}
    if kind == SpanKind.retrieval:
        query = first(raw_in, "query", "question", "input") if isinstance(raw_in, Mapping) else raw_in
        fields["retrieval_query"] = as_str(query)
        fields["documents"] = _documents(raw_out)
    if kind == SpanKind.tool:
        result, call_id = tool_message(raw_out)
        fields["tool"] = ToolInfo(
            name=as_str(obs.get("name")),
            call_id=as_str(first(metadata, "tool_call_id", "toolCallId")) or call_id,
            description=as_str(metadata.get("description")),
            arguments=as_str(raw_in),
            result=result,
        )
    return fields


def _messages(value: Any, default_role: str) -> list[Message]:
    if value is None:
        return []
    if isinstance(value, str):
        return [Message(role=default_role, content=value)]
    if isinstance(value, Mapping):
        if isinstance(value.get("messages"), list):
            return _messages(value["messages"], default_role)
        if isinstance(value.get("choices"), list):
            return [
                chat_message({**(c.get("message") or {}), "finish_reason": c.get("finish_reason")})
                for c in value["choices"]
                if isinstance(c, Mapping)
            ]
        if "role" in value or "content" in value or "tool_calls" in value:
            return [chat_message({"role": default_role, **value})]
        return [Message(role=default_role, content=as_str(value))]
    if isinstance(value, list):
        return [
            chat_message(m) if isinstance(m, Mapping) else Message(role=default_role, content=as_str(m))
            for m in value
            if not _tool_definition(m)
        ]
    return [Message(role=default_role, content=as_str(value))]


def _tool_definition(message: Any) -> bool:
    """Langfuse's LangChain handler lists the tools offered as `{"role": "tool", "content": <schema>}` entries
    among the input messages: a definition, not a tool's result."""
    if not isinstance(message, Mapping) or message.get("role") != "tool":
        return False
    content = message.get("content")
    return isinstance(content, Mapping) and content.get("type") == "function" and "function" in content


def _documents(value: Any) -> list[Document]:
    if isinstance(value, Mapping):
        value = first(value, "documents", "docs", "results")
    if not isinstance(value, list):
        return []
    return [document_from(d) if isinstance(d, Mapping) else Document(content=as_str(d)) for d in value]


def iter_langfuse_jsonl(
    path: Path, *, default_service: str | None = None, progress: Progress | None = None
) -> Iterator[Span | IngestError]:
    """One observation (or one trace download) per line."""
    with opened(path, progress) as fp:
        for number, line in lines(fp):
            if line is None:
                yield IngestError(path=str(path), location=f"line {number}", message=too_long_line())
                continue
            if not line.strip():
                continue
            where = f"line {number}"
            try:
                record = parse_line(line)
            except (ValueError, UnicodeDecodeError) as exc:
                yield IngestError(path=str(path), location=where, message=json_line_problem(exc, line))
                continue
            if isinstance(record, Mapping) and isinstance(record.get("observations"), list):
                trace = _trace_context(record)
                for obs in record["observations"]:
                    yield _convert(path, obs, where, f"{path}:{number}", trace, default_service)
            else:
                yield _convert(path, record, where, f"{path}:{number}", None, default_service)


def iter_langfuse_json(
    path: Path, *, default_service: str | None = None, progress: Progress | None = None
) -> Iterator[Span | IngestError]:
    """A JSON array of observations, `{"data": [...]}`, a trace download, or one observation; streamed."""
    count = 0
    trace: dict[str, Any] = {}
    top_is_map = container = False
    try:
        for item in records(lambda: opened(path, progress), _record_start, max_path=2):
            if item[0] == "record":
                count += 1
                obs, where = item[2], f"record {count}"
                if isinstance(obs, Rejected):
                    yield IngestError(
                        path=str(path), location=where, message=f"record is {obs.reason}; skipped"
                    )
                else:
                    yield _convert(path, obs, where, f"{path}#record {count}", trace, default_service)
                continue
            _, prefix, event, value = item
            if prefix == "" and event == "start_map":
                top_is_map = True
            elif event == "start_array" and prefix in _CONTAINERS:
                container = True
            elif prefix in _TRACE_KEYS and event in ("string", "number"):
                trace[_TRACE_KEYS[prefix]] = value
    except ijson.JSONError as exc:
        text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        low = text.lower()
        problem = "truncated JSON" if "premature" in low or "incomplete" in low else f"invalid JSON ({text})"
        yield IngestError(path=str(path), location=f"after record {count}", message=problem)
        return
    if count == 0 and top_is_map and not container:
        yield from _single_observation(path, default_service)
    elif count == 0:
        yield IngestError(path=str(path), location=None, message=_NO_OBSERVATIONS)


def _record_start(prefix: str | None, event: str, _value: Any) -> str | None:
    return "observation" if event == "start_map" and prefix in _RECORD_PREFIXES else None


def _single_observation(path: Path, default_service: str | None) -> Iterator[Span | IngestError]:
    """A file holding one observation object (small by nature)."""
    if path.stat().st_size > _SINGLE_MAX:
        yield IngestError(path=str(path), location=None, message=_NO_OBSERVATIONS)
        return
    try:
        with opened(path) as fp:
            record = parse_line(fp.read())
    except RecordTooLarge as exc:
        yield IngestError(path=str(path), location="record 1", message=f"record is {exc}; skipped")
        return
    if isinstance(record, Mapping) and ("traceId" in record or "trace_id" in record):
        yield _convert(path, record, "record 1", f"{path}#record 1", None, default_service)
    else:
        yield IngestError(path=str(path), location=None, message=_NO_OBSERVATIONS)


def _trace_context(record: Mapping[str, Any]) -> dict[str, Any]:
    return {_TRACE_KEYS[k]: v for k, v in record.items() if k in _TRACE_KEYS and isinstance(v, str | int)}


def _convert(
    path: Path,
    obs: Any,
    where: str,
    source: str,
    trace: Mapping[str, Any] | None,
    default_service: str | None,
) -> Span | IngestError:
    try:
        return observation_to_span(obs, source=source, trace=trace, default_service=default_service)
    except (ObservationError, ValueError, TypeError, AttributeError) as exc:
        text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        message = text if isinstance(exc, ObservationError | BadTime) else f"invalid observation ({text})"
        kind = exc.kind if isinstance(exc, BadTime) else None
        return IngestError(path=str(path), location=where, message=message, kind=kind)
