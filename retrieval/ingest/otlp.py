"""OTLP/JSON traces: one ExportTraceServiceRequest per file (streamed with ijson) or the Collector file
exporter's JSON lines (one request per line). Every AnyValue form is decoded; each span's attributes are
then mapped by the dialect they follow (a file can mix dialects).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import ijson

from retrieval.ingest.common import BadTime, json_line_problem, nanos_to_datetime
from retrieval.ingest.mapping import map_attributes
from retrieval.ingest.source import Progress, opened
from retrieval.ingest.stream import Rejected, clamp_int, lines, parse_line, records, too_long_line
from retrieval.trace import IngestError, Span, SpanEvent, Status

_HEX = re.compile(r"^[0-9a-fA-F]+$")
_INT64_TEXT = re.compile(r"^\s*[-+]?\d{1,19}\s*$")
_STATUS = {0: "unset", 1: "ok", 2: "error", "STATUS_CODE_UNSET": "unset", "STATUS_CODE_OK": "ok"}
_STATUS["STATUS_CODE_ERROR"] = "error"
_STATUS.update({"UNSET": "unset", "OK": "ok", "ERROR": "error"})
# Parse-event prefixes, camelCase (proto3 JSON) and the original snake_case field names.
_RS_ITEM = {"resourceSpans.item", "resource_spans.item"}
_SS_ITEM = {
    "resourceSpans.item.scopeSpans.item",
    "resource_spans.item.scope_spans.item",
    "resourceSpans.item.instrumentationLibrarySpans.item",
}
_TARGETS = {
    "resourceSpans.item.resource": "resource",
    "resource_spans.item.resource": "resource",
    "resourceSpans.item.scopeSpans.item.scope": "scope",
    "resource_spans.item.scope_spans.item.scope": "scope",
    "resourceSpans.item.instrumentationLibrarySpans.item.instrumentationLibrary": "scope",
    "resourceSpans.item.scopeSpans.item.spans.item": "span",
    "resource_spans.item.scope_spans.item.spans.item": "span",
    "resourceSpans.item.instrumentationLibrarySpans.item.spans.item": "span",
}
_SMALL_FILE = 8 << 20  # re-parse files this small with json to name the line of a syntax error


class SpanError(ValueError):
    """A span that cannot be ingested (missing ids, bad times)."""


def _get(mapping: Mapping[str, Any], camel: str, snake: str) -> Any:
    value = mapping.get(camel)
    return mapping.get(snake) if value is None else value


def decode_any_value(value: Any) -> Any:
    """An OTLP AnyValue as a Python value: ints from strings, arrays, kvlists as dicts, bytes as text."""
    if not isinstance(value, Mapping):
        return value
    if "stringValue" in value or "string_value" in value:
        return _get(value, "stringValue", "string_value")
    if "boolValue" in value or "bool_value" in value:
        return bool(_get(value, "boolValue", "bool_value"))
    if "intValue" in value or "int_value" in value:
        return _int_value(_get(value, "intValue", "int_value"))
    if "doubleValue" in value or "double_value" in value:
        return _double_value(_get(value, "doubleValue", "double_value"))
    if "arrayValue" in value or "array_value" in value:
        values = _mapping(_get(value, "arrayValue", "array_value")).get("values")
        return [decode_any_value(v) for v in values] if isinstance(values, list) else []
    if "kvlistValue" in value or "kvlist_value" in value:
        return decode_attributes(_mapping(_get(value, "kvlistValue", "kvlist_value")).get("values"))
    if "bytesValue" in value or "bytes_value" in value:
        return _bytes_text(_get(value, "bytesValue", "bytes_value"))
    return None  # an empty AnyValue


def _int_value(raw: Any) -> Any:
    """An int64 as recorded (a number or its decimal text); anything else (1e30, "12abc") stays as its text,
    so one odd attribute never costs the span."""
    if isinstance(raw, float):
        return int(raw) if raw.is_integer() and clamp_int(int(raw)) == int(raw) else repr(raw)
    if isinstance(raw, int) and not isinstance(raw, bool):
        return clamp_int(raw)
    if isinstance(raw, str) and _INT64_TEXT.match(raw):
        return clamp_int(int(raw))
    return raw if isinstance(raw, str) else json.dumps(raw, default=str)


def _double_value(raw: Any) -> Any:
    try:
        return float(raw)
    except (TypeError, ValueError):
        return raw if isinstance(raw, str) else None


def _bytes_text(encoded: str) -> str:
    """Bytes arrive base64-encoded: UTF-8 text is returned decoded, anything else stays base64."""
    try:
        raw = base64.b64decode(encoded, validate=True)
        return raw.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return encoded


def decode_attributes(items: Any) -> dict[str, Any]:
    """A list of KeyValue ({key, value: AnyValue}) as a dict."""
    out: dict[str, Any] = {}
    for item in items if isinstance(items, list) else []:
        if isinstance(item, Mapping) and "key" in item:
            out[str(item["key"])] = decode_any_value(item.get("value"))
    return out


def _span_id(value: Any, field: str, nbytes: int, required: bool = True) -> str | None:
    """Hex as in the file, lowercased; base64 ids (some exporters) are converted to hex."""
    text = str(value or "").strip()
    if not text:
        if required:
            raise SpanError(f"span has no {field}")
        return None
    if _HEX.match(text) and len(text) % 2 == 0:
        if set(text) == {"0"}:
            if required:
                raise SpanError(f"{field} is all zeros (invalid)")
            return None
        return text.lower()
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) == nbytes:
        return raw.hex()
    raise SpanError(f"{field} {text[:40]!r} is neither hex nor base64 of {nbytes} bytes")


otlp_id = _span_id  # a trace or span id as stored (lowercase hex), for the other OTLP readers


def span_from_otlp(
    raw: Mapping[str, Any],
    resource: Mapping[str, Any],
    *,
    source: str,
    default_service: str | None = None,
) -> Span:
    """One OTLP span (proto3 JSON) with its decoded resource attributes as a normalized Span."""
    if not isinstance(raw, Mapping):
        raise SpanError("span is not a JSON object")
    trace_id = _span_id(_get(raw, "traceId", "trace_id"), "traceId", 16)
    span_id = _span_id(_get(raw, "spanId", "span_id"), "spanId", 8)
    parent = _span_id(_get(raw, "parentSpanId", "parent_span_id"), "parentSpanId", 8, required=False)
    try:
        start = nanos_to_datetime(_get(raw, "startTimeUnixNano", "start_time_unix_nano"), "startTimeUnixNano")
        end = nanos_to_datetime(_get(raw, "endTimeUnixNano", "end_time_unix_nano"), "endTimeUnixNano")
    except BadTime as exc:
        raise BadTime(f"span {span_id}: {exc}", kind=exc.kind) from None
    if start is None:
        raise SpanError(f"span {span_id} has no startTimeUnixNano")
    attrs = decode_attributes(raw.get("attributes"))
    events = [
        SpanEvent(
            name=str(e.get("name") or ""),
            timestamp=_event_time(e),
            attributes=decode_attributes(e.get("attributes")),
        )
        for e in raw.get("events") or []
        if isinstance(e, Mapping)
    ]
    dialect, fields = map_attributes(attrs, events, str(raw.get("name") or ""))
    fields["status"] = _status(raw.get("status"), attrs, events)
    return Span(
        trace_id=trace_id,  # type: ignore[arg-type]
        span_id=span_id,  # type: ignore[arg-type]
        parent_span_id=parent,
        service=_service(resource, default_service),
        name=str(raw.get("name") or ""),
        start_time=start,
        end_time=end,
        events=events,
        attributes=attrs,
        resource=dict(resource),
        dialect=dialect,
        source=source,
        **fields,
    )


def _event_time(event: Mapping[str, Any]) -> datetime | None:
    """An event's time; an unusable one is left unknown (the event's name and attributes still count)."""
    try:
        return nanos_to_datetime(_get(event, "timeUnixNano", "time_unix_nano"))
    except BadTime:
        return None


def _service(resource: Mapping[str, Any], default: str | None) -> str | None:
    name = resource.get("service.name")
    if name and not str(name).startswith("unknown_service"):
        return str(name)
    return default or (str(name) if name else None)


def _status(raw: Any, attrs: Mapping[str, Any], events: list[SpanEvent]) -> Status:
    raw = raw if isinstance(raw, Mapping) else {}
    code = _STATUS.get(raw.get("code", 0), "unset")  # type: ignore[call-overload]
    error_type = attrs.get("error.type")
    message = raw.get("message") or None
    for event in events:
        if event.name == "exception":
            error_type = error_type or event.attributes.get("exception.type")
            message = message or event.attributes.get("exception.message")
    if error_type is not None and code == "unset":
        code = "error"  # error.type is only recorded when the operation ended in an error
    return Status(code=code, message=message, error_type=str(error_type) if error_type is not None else None)


def iter_otlp_jsonl(
    path: Path, *, default_service: str | None = None, progress: Progress | None = None
) -> Iterator[Span | IngestError]:
    """The Collector file exporter's output: one ExportTraceServiceRequest JSON per line."""
    for item in jsonl_requests(
        path, progress, ("resourceSpans", "resource_spans"), "ExportTraceServiceRequest"
    ):
        if isinstance(item, IngestError):
            yield item
            continue
        number, spans = item
        yield from request_spans(path, spans, f"line {number}", f"{path}:{number}", default_service)


def jsonl_requests(
    path: Path, progress: Progress | None, field: tuple[str, str], what: str
) -> Iterator[tuple[int, list[Any]] | IngestError]:
    """(line number, the request's `field` list) per line of an OTLP JSON-lines file, or an IngestError naming the
    line: the Collector file exporter writes one export request per line, for traces and for logs alike."""
    with opened(path, progress) as fp:
        for number, line in lines(fp):
            if line is None:
                yield IngestError(path=str(path), location=f"line {number}", message=too_long_line())
                continue
            if not line.strip():
                continue
            try:
                request = parse_line(line)
            except (ValueError, UnicodeDecodeError) as exc:
                yield IngestError(
                    path=str(path), location=f"line {number}", message=json_line_problem(exc, line)
                )
                continue
            items = _get(request, *field) if isinstance(request, Mapping) else None
            if not isinstance(items, list):
                message = f"not an OTLP {what} (no {field[0]})"
                yield IngestError(path=str(path), location=f"line {number}", message=message)
                continue
            yield number, items


def request_spans(
    path: Path, resource_spans: list[Any], location: str, source: str, default_service: str | None
) -> Iterator[Span | IngestError]:
    """The spans of one ExportTraceServiceRequest's resourceSpans (a JSON line, an OTLP/HTTP request body)."""
    for ri, rs in enumerate(resource_spans):
        if not isinstance(rs, Mapping):
            continue
        resource = decode_attributes(_mapping(rs.get("resource")).get("attributes"))
        scopes = _get(rs, "scopeSpans", "scope_spans") or rs.get("instrumentationLibrarySpans") or []
        for si, ss in enumerate(scopes if isinstance(scopes, list) else []):
            spans = _mapping(ss).get("spans")
            for ki, raw in enumerate(spans if isinstance(spans, list) else []):
                try:
                    yield span_from_otlp(raw, resource, source=source, default_service=default_service)
                except (SpanError, ValueError, TypeError) as exc:
                    where = f"{location}, resourceSpans[{ri}].scopeSpans[{si}].spans[{ki}]"
                    yield _span_error(path, where, exc)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _span_error(path: Path, where: str, exc: Exception) -> IngestError:
    kind = exc.kind if isinstance(exc, BadTime) else None
    return IngestError(path=str(path), location=where, message=_span_problem(exc), kind=kind)


def _span_problem(exc: Exception) -> str:
    if isinstance(exc, SpanError | BadTime):
        return str(exc)
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"invalid span ({first_line})"


def iter_otlp_json(
    path: Path, *, default_service: str | None = None, progress: Progress | None = None
) -> Iterator[Span | IngestError]:
    """One ExportTraceServiceRequest per file, streamed: memory stays bounded by the largest single span."""
    count = 0
    last = "the start of the file"
    state = {"resourceSpans": False}
    try:
        for indexes, raw, resource in _stream_spans(lambda: opened(path, progress), state):
            ri, si, ki = indexes
            where = f"resourceSpans[{ri}].scopeSpans[{si}].spans[{ki}]"
            last = where
            count += 1
            try:
                if isinstance(raw, Rejected):
                    raise SpanError(f"span is {raw.reason}; skipped")
                yield span_from_otlp(
                    raw, resource, source=f"{path}#record {count}", default_service=default_service
                )
            except (SpanError, ValueError, TypeError) as exc:
                yield _span_error(path, where, exc)
    except ijson.JSONError as exc:
        yield IngestError(path=str(path), location=_syntax_location(path), message=ijson_problem(exc, last))
        return
    if not state["resourceSpans"]:
        message = "not an OTLP ExportTraceServiceRequest (no resourceSpans)"
        yield IngestError(path=str(path), location=None, message=message)


def _target(prefix: str | None, event: str, _value: Any) -> str | None:
    return _TARGETS.get(prefix) if event == "start_map" and prefix is not None else None  # type: ignore[arg-type]


def _stream_spans(
    open_file: Any, state: dict[str, bool]
) -> Iterator[tuple[tuple[int, int, int], Any, dict[str, Any]]]:
    """(indexes, raw span or Rejected, resource attributes) in file order, one span in memory at a time."""
    ri = si = ki = -1
    resource: dict[str, Any] | None = None
    pending: list[tuple[tuple[int, int, int], Any]] = []  # spans met before their resource (rare key order)
    for item in records(open_file, _target):
        if item[0] == "record":
            _, target, obj = item
            if target == "resource":
                ok = isinstance(obj, Mapping)
                resource = decode_attributes(obj.get("attributes")) if ok else {}
                for indexes, raw in pending:
                    yield indexes, raw, resource
                pending = []
            elif target == "span":
                ki += 1
                if resource is None:
                    pending.append(((ri, si, ki), obj))
                else:
                    yield (ri, si, ki), obj, resource
            continue
        _, prefix, event, _value = item
        if event == "start_array" and prefix in ("resourceSpans", "resource_spans"):
            state["resourceSpans"] = True
        elif event == "start_map":
            if prefix in _RS_ITEM:
                ri, si, resource, pending = ri + 1, -1, None, []
            elif prefix in _SS_ITEM:
                si, ki = si + 1, -1
        elif event == "end_map" and prefix in _RS_ITEM:
            for indexes, raw in pending:
                yield indexes, raw, {}
            pending = []


def _syntax_location(path: Path) -> str | None:
    """The line and column of a JSON syntax error, for files small enough to re-parse."""
    try:
        if path.stat().st_size > _SMALL_FILE:
            return None
        with opened(path) as fp:
            json.loads(fp.read())
    except json.JSONDecodeError as exc:
        return f"line {exc.lineno}"
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return None
    return None


def ijson_problem(exc: Exception, last: str) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    low = text.lower()
    if "premature" in low or "incomplete" in low:
        return f"truncated JSON after {last}"
    return f"invalid JSON after {last} ({text})"
