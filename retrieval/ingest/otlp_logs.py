"""OTLP/JSON logs: the GenAI events an instrumentation writes as log records instead of span attributes.

`opentelemetry-instrumentation-openai-v2` (and the other OpenTelemetry GenAI instrumentations) record model,
usage and sampling on the span but the prompt, the messages, the answer and the tool calls as log records
(`gen_ai.system.message`, `gen_ai.user.message`, `gen_ai.assistant.message`, `gen_ai.tool.message`,
`gen_ai.choice`, and `gen_ai.client.inference.operation.details` carrying `gen_ai.input.messages`...), tied to
their span by traceId/spanId. Each becomes a `SpanContent` (one SpanEvent: the record's attributes plus its
body); the store attaches it to its span whichever arrives first. Other log records are application logs and
are not read.

Input: one ExportLogsServiceRequest per file (streamed), or the Collector file exporter's JSON lines.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import ijson

from retrieval.ingest.common import BadTime, nanos_to_datetime
from retrieval.ingest.otlp import (
    SpanError,
    decode_any_value,
    decode_attributes,
    ijson_problem,
    jsonl_requests,
    otlp_id,
)
from retrieval.ingest.source import Progress, opened
from retrieval.ingest.stream import Rejected, records
from retrieval.trace import IngestError, SpanContent, SpanEvent

_RECORD_PREFIXES = {
    "resourceLogs.item.scopeLogs.item.logRecords.item",
    "resource_logs.item.scope_logs.item.log_records.item",
}
_GENAI = "gen_ai."
NO_GENAI = "no GenAI events found (OTLP log records named gen_ai.*, tied to a span)"


def _get(mapping: Mapping[str, Any], camel: str, snake: str) -> Any:
    value = mapping.get(camel)
    return mapping.get(snake) if value is None else value


def content_from_log(raw: Any, source: str) -> SpanContent | None:
    """One log record as the GenAI content of its span; None for a record that is no GenAI event.
    SpanError when a GenAI event cannot be tied to a span."""
    if not isinstance(raw, Mapping):
        raise SpanError("log record is not a JSON object")
    attrs = decode_attributes(raw.get("attributes"))
    name = str(_get(raw, "eventName", "event_name") or attrs.pop("event.name", "") or "")
    attrs.pop("event.name", None)
    if not name.startswith(_GENAI):
        return None
    trace_id = otlp_id(_get(raw, "traceId", "trace_id"), "traceId", 16, required=False)
    span_id = otlp_id(_get(raw, "spanId", "span_id"), "spanId", 8, required=False)
    if trace_id is None or span_id is None:
        raise SpanError(
            f"{name} event has no traceId/spanId: it cannot be tied to a span (was it logged "
            "outside the LLM call's span?)"
        )
    body = decode_any_value(raw.get("body"))
    if isinstance(body, Mapping):
        attrs.update(body)
    elif body is not None:
        attrs["content"] = body
    if name == "gen_ai.tool.message" and "id" in attrs:
        attrs.setdefault("tool_call_id", attrs.pop("id"))
    try:
        when = nanos_to_datetime(_get(raw, "timeUnixNano", "time_unix_nano")) or nanos_to_datetime(
            _get(raw, "observedTimeUnixNano", "observed_time_unix_nano")
        )
    except BadTime:
        when = None
    event = SpanEvent(name=name, timestamp=when, attributes=attrs)
    return SpanContent(trace_id=trace_id, span_id=span_id, event=event, source=source)


def request_contents(
    path: Path, resource_logs: list[Any], location: str, source: str
) -> Iterator[SpanContent | IngestError]:
    """The GenAI events of one ExportLogsServiceRequest's resourceLogs."""
    for ri, rl in enumerate(resource_logs):
        scopes = _get(rl, "scopeLogs", "scope_logs") if isinstance(rl, Mapping) else None
        for si, sl in enumerate(scopes if isinstance(scopes, list) else []):
            logs = _get(sl, "logRecords", "log_records") if isinstance(sl, Mapping) else None
            for ki, raw in enumerate(logs if isinstance(logs, list) else []):
                yield from _one(
                    path, raw, source, f"{location}, resourceLogs[{ri}].scopeLogs[{si}].logRecords[{ki}]"
                )


def _one(path: Path, raw: Any, source: str, where: str) -> Iterator[SpanContent | IngestError]:
    try:
        if isinstance(raw, Rejected):
            raise SpanError(f"log record is {raw.reason}; skipped")
        content = content_from_log(raw, source)
    except (SpanError, ValueError, TypeError) as exc:
        yield IngestError(path=str(path), location=where.lstrip(", "), message=str(exc))
        return
    if content is not None:
        yield content


def iter_otlp_logs_json(
    path: Path, *, default_service: str | None = None, progress: Progress | None = None
) -> Iterator[SpanContent | IngestError]:
    """One ExportLogsServiceRequest per file, streamed one log record at a time."""
    del default_service  # the span carries the service
    count = 0
    try:
        for item in records(lambda: opened(path, progress), _target):
            if item[0] != "record":
                continue
            count += 1
            yield from _one(path, item[2], f"{path}#log {count}", f"log record {count}")
    except ijson.JSONError as exc:
        yield IngestError(path=str(path), message=ijson_problem(exc, f"log record {count}"))


def _target(prefix: str | None, event: str, _value: Any) -> str | None:
    return "log" if event == "start_map" and prefix in _RECORD_PREFIXES else None


def iter_otlp_logs_jsonl(
    path: Path, *, default_service: str | None = None, progress: Progress | None = None
) -> Iterator[SpanContent | IngestError]:
    """The Collector file exporter's logs: one ExportLogsServiceRequest JSON per line."""
    del default_service
    for item in jsonl_requests(path, progress, ("resourceLogs", "resource_logs"), "ExportLogsServiceRequest"):
        if isinstance(item, IngestError):
            yield item
            continue
        number, logs = item
        yield from request_contents(path, logs, f"line {number}", f"{path}:{number}")
