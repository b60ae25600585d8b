"""OTLP/JSON envelopes (proto3 JSON mapping): AnyValue encoding, resource and scope grouping, files.

One ExportTraceServiceRequest per file (`json`, one file per day) or the Collector file exporter's JSON lines
(`jsonl`, one request per batch of spans, as the batch processor flushes them).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from evals.generator.ir import GSpan

SPAN_KIND_INTERNAL, SPAN_KIND_SERVER, SPAN_KIND_CLIENT = 1, 2, 3
# (name, OTLP kind, attributes, events) of one span in a dialect
Record = tuple[str, int, dict[str, Any], list[dict[str, Any]]]
Mapper = Callable[[GSpan], Record]


def any_value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, list | tuple):
        return {"arrayValue": {"values": [any_value(v) for v in value]}}
    if isinstance(value, dict):
        return {"kvlistValue": {"values": key_values(value)}}
    return {"stringValue": str(value)}


def key_values(attrs: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": any_value(v)} for k, v in attrs.items() if v is not None]


def nanos(t: datetime) -> str:
    return str(int(t.timestamp()) * 1_000_000_000 + t.microsecond * 1000)


def otlp_span(span: GSpan, mapper: Mapper) -> dict[str, Any]:
    name, kind, attrs, events = mapper(span)
    out: dict[str, Any] = {
        "traceId": span.trace_id,
        "spanId": span.span_id,
        "name": name,
        "kind": kind,
        "startTimeUnixNano": nanos(span.start),
        "endTimeUnixNano": nanos(span.end),
        "attributes": key_values(attrs),
    }
    if span.parent_id:
        out["parentSpanId"] = span.parent_id
    if events:
        out["events"] = [
            {"timeUnixNano": nanos(e["time"]), "name": e["name"], "attributes": key_values(e["attributes"])}
            for e in events
        ]
    if span.status == "error":
        out["status"] = {"code": 2, "message": span.status_message or ""}
    elif span.status == "ok":
        out["status"] = {"code": 1}
    else:
        out["status"] = {}
    return out


def resource_attrs(service: str, version: str, sdk_language: str = "python") -> dict[str, Any]:
    return {
        "service.name": service,
        "service.version": version,
        "deployment.environment.name": "production",
        "telemetry.sdk.name": "opentelemetry",
        "telemetry.sdk.language": sdk_language,
        "telemetry.sdk.version": "1.33.1",
    }


def request(
    spans: Iterable[GSpan],
    mapper: Mapper,
    scope: Callable[[GSpan], tuple[str, str]],
    versions: dict[str, str],
) -> dict[str, Any]:
    """One ExportTraceServiceRequest grouping spans by service (resource) and instrumentation scope."""
    by_service: dict[str, dict[tuple[str, str], list[dict[str, Any]]]] = {}
    for span in spans:
        by_service.setdefault(span.service, {}).setdefault(scope(span), []).append(otlp_span(span, mapper))
    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": key_values(resource_attrs(service, versions.get(service, "1.0.0")))
                },
                "scopeSpans": [
                    {"scope": {"name": name, "version": version}, "spans": items}
                    for (name, version), items in scopes.items()
                ],
            }
            for service, scopes in by_service.items()
        ]
    }


def write_otlp(
    spans: list[GSpan],
    out_dir: Path,
    transport: str,
    mapper: Mapper,
    scope: Callable[[GSpan], tuple[str, str]],
    versions: dict[str, str],
    batch: int = 24,
) -> list[Path]:
    """Write spans (sorted by end time, as exporters flush them) as OTLP JSON files or JSON lines."""
    spans = sorted(spans, key=lambda s: (s.end, s.span_id))
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if transport == "jsonl":
        path = out_dir / "otel-collector-export.jsonl"
        with path.open("w", encoding="utf-8") as fp:
            for i in range(0, len(spans), batch):
                body = request(spans[i : i + batch], mapper, scope, versions)
                fp.write(json.dumps(body, ensure_ascii=False, separators=(",", ":")) + "\n")
        return [path]
    by_day: dict[str, list[GSpan]] = {}
    for span in spans:
        by_day.setdefault(span.end.strftime("%Y-%m-%d"), []).append(span)
    for day, items in sorted(by_day.items()):
        path = out_dir / f"traces-{day}.json"
        body = request(items, mapper, scope, versions)
        path.write_text(json.dumps(body, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
        written.append(path)
    return written
