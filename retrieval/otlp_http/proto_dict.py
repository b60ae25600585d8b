"""OTLP protobuf messages as the dicts the OTLP/JSON readers consume, so both encodings share one parser.

The shape is the OTLP/JSON one (camelCase keys, AnyValue as `{"stringValue": ...}`), with trace and span ids
as lowercase hex (protobuf carries them as raw bytes; OTLP/JSON writes them in hex), enums as their numbers,
int64 values as Python ints and `bytesValue` in base64 as in JSON. Empty ids stay empty (the readers say what
is missing). Only the fields the readers use are converted.

Bounds: protobuf's own parser stops at 100 nested messages; on top of that a request is refused
(RequestTooLarge) past MAX_NESTING JSON levels or MAX_RECORD_VALUES values, the bounds every JSON record keeps.
"""

from __future__ import annotations

import base64
from typing import Any

from retrieval.limits import MAX_NESTING, MAX_RECORD_VALUES

# JSON levels one nested AnyValue adds: {"kvlistValue": {"values": [{"key", "value": {...}}]}}
_LEVELS_PER_VALUE = 4
# JSON levels above a span's or log record's attribute values: request, resource list, item, scope list, item,
# span list, span, attributes list, key-value
_LEVELS_ABOVE_VALUES = 9


class RequestTooLarge(ValueError):
    """An export request past a bound; the message names it."""


class ProtoDict:
    """One request's conversion, counting values and depth as it goes."""

    def __init__(self) -> None:
        self.values = 0

    def _count(self, n: int = 1) -> None:
        self.values += n
        if self.values > MAX_RECORD_VALUES:
            raise RequestTooLarge(f"request holds more than {MAX_RECORD_VALUES:,} values")

    def any_value(self, value: Any, depth: int) -> dict[str, Any]:
        self._count()
        which = value.WhichOneof("value")
        if which is None:
            return {}
        if which == "array_value":
            self._deeper(depth)
            return {
                "arrayValue": {"values": [self.any_value(v, depth + 1) for v in value.array_value.values]}
            }
        if which == "kvlist_value":
            self._deeper(depth)
            return {"kvlistValue": {"values": self.attributes(value.kvlist_value.values, depth + 1)}}
        if which == "bytes_value":
            return {"bytesValue": base64.b64encode(value.bytes_value).decode("ascii")}
        return {_JSON_NAMES[which]: getattr(value, which)}

    def _deeper(self, depth: int) -> None:
        if _LEVELS_ABOVE_VALUES + (depth + 1) * _LEVELS_PER_VALUE > MAX_NESTING:
            raise RequestTooLarge(f"an attribute is nested deeper than {MAX_NESTING} levels")

    def attributes(self, items: Any, depth: int = 0) -> list[dict[str, Any]]:
        self._count(len(items))
        return [{"key": kv.key, "value": self.any_value(kv.value, depth)} for kv in items]

    def resource(self, message: Any) -> dict[str, Any]:
        return {"attributes": self.attributes(message.resource.attributes)}

    def span(self, span: Any) -> dict[str, Any]:
        self._count(8)
        out: dict[str, Any] = {
            "traceId": span.trace_id.hex(),
            "spanId": span.span_id.hex(),
            "parentSpanId": span.parent_span_id.hex(),
            "name": span.name,
            "kind": span.kind,
            "startTimeUnixNano": span.start_time_unix_nano,
            "endTimeUnixNano": span.end_time_unix_nano,
            "attributes": self.attributes(span.attributes),
            "status": {"code": span.status.code, "message": span.status.message},
        }
        if span.events:
            self._count(len(span.events))
            out["events"] = [
                {
                    "timeUnixNano": e.time_unix_nano,
                    "name": e.name,
                    "attributes": self.attributes(e.attributes),
                }
                for e in span.events
            ]
        return out

    def log_record(self, record: Any) -> dict[str, Any]:
        self._count(6)
        out: dict[str, Any] = {
            "timeUnixNano": record.time_unix_nano,
            "observedTimeUnixNano": record.observed_time_unix_nano,
            "traceId": record.trace_id.hex(),
            "spanId": record.span_id.hex(),
            "attributes": self.attributes(record.attributes),
        }
        if record.event_name:
            out["eventName"] = record.event_name
        if record.HasField("body"):
            out["body"] = self.any_value(record.body, 0)
        return out


_JSON_NAMES = {
    "string_value": "stringValue",
    "bool_value": "boolValue",
    "int_value": "intValue",
    "double_value": "doubleValue",
}


def traces_dict(request: Any) -> dict[str, Any]:
    """An ExportTraceServiceRequest message as its OTLP/JSON dict."""
    conv = ProtoDict()
    return {
        "resourceSpans": [
            {
                "resource": conv.resource(rs),
                "scopeSpans": [{"spans": [conv.span(s) for s in ss.spans]} for ss in rs.scope_spans],
            }
            for rs in request.resource_spans
        ]
    }


def logs_dict(request: Any) -> dict[str, Any]:
    """An ExportLogsServiceRequest message as its OTLP/JSON dict."""
    conv = ProtoDict()
    return {
        "resourceLogs": [
            {
                "resource": conv.resource(rl),
                "scopeLogs": [
                    {"logRecords": [conv.log_record(r) for r in sl.log_records]} for sl in rl.scope_logs
                ],
            }
            for rl in request.resource_logs
        ]
    }
