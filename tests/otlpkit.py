"""Shared by the receiver's tests and benchmark: real OpenTelemetry SDK spans and GenAI events, exported with the
SDK's own OTLP/HTTP exporters, and raw posts for what the exporters never send (bad bodies, JSON)."""

from __future__ import annotations

import gzip
import http.client
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode


@dataclass
class Recorded:
    """Finished SDK spans and log records, ready for an exporter."""

    spans: list[Any] = field(default_factory=list)
    logs: list[Any] = field(default_factory=list)

    @property
    def trace_ids(self) -> set[str]:
        return {f"{s.context.trace_id:032x}" for s in self.spans}


def record_chats(service: str, n: int, error_text: str | None = None, content: bool = True) -> Recorded:
    """`n` GenAI chat spans (GenAI semantic conventions) under one agent span each, made by the real SDK; with
    content=True each chat's prompt and answer are GenAI events (log records) tied to the span, as
    opentelemetry-instrumentation-openai-v2 emits them. The last chat fails with `error_text` when given."""
    resource = Resource.create({"service.name": service})
    span_memory, log_memory = InMemorySpanExporter(), InMemoryLogRecordExporter()
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(SimpleSpanProcessor(span_memory))
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(log_memory))
    tracer = tracer_provider.get_tracer("tests.otlpkit")
    logger = logger_provider.get_logger("tests.otlpkit")
    for i in range(n):
        with (
            tracer.start_as_current_span("invoke_agent refund-agent"),
            tracer.start_as_current_span("chat gpt-4o-mini", attributes=_chat_attributes(i)) as span,
        ):
            if content:
                logger.emit(event_name="gen_ai.user.message", body={"content": f"refund order A-{1000 + i}"},
                            attributes={"gen_ai.system": "openai"})  # fmt: skip
                logger.emit(event_name="gen_ai.choice", attributes={"gen_ai.system": "openai"},
                            body={"index": 0, "finish_reason": "stop",
                                  "message": {"content": f"Order A-{1000 + i} is refunded."}})  # fmt: skip
            if error_text and i == n - 1:
                span.set_status(Status(StatusCode.ERROR, error_text))
                span.set_attribute("error.type", "APIConnectionError")
    tracer_provider.shutdown()
    logger_provider.shutdown()
    return Recorded(list(span_memory.get_finished_spans()), list(log_memory.get_finished_logs()))


def _chat_attributes(i: int) -> dict[str, Any]:
    return {
        "gen_ai.operation.name": "chat",
        "gen_ai.system": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
        "gen_ai.request.temperature": 0.2,
        "gen_ai.usage.input_tokens": 120 + i,
        "gen_ai.usage.output_tokens": 30,
    }


def span_exporter(
    base: str,
    gzip_it: bool = False,
    token: str | None = None,
    timeout: float = 10,
    encoding: str = "protobuf",
):
    """The SDK's OTLP/HTTP span exporter: protobuf (opentelemetry-exporter-otlp-proto-http, the default), or
    JSON with encoding="json" (opentelemetry-exporter-otlp-json-http)."""
    exporter, compression = _exporter_kit("traces", gzip_it, encoding)
    return exporter(
        endpoint=f"{base}/v1/traces", headers=_bearer(token), compression=compression, timeout=timeout
    )


def log_exporter(base: str, gzip_it: bool = False, token: str | None = None, encoding: str = "protobuf"):
    """The SDK's OTLP/HTTP log record exporter, protobuf or (encoding="json") JSON."""
    exporter, compression = _exporter_kit("logs", gzip_it, encoding)
    return exporter(endpoint=f"{base}/v1/logs", headers=_bearer(token), compression=compression)


def _bearer(token: str | None) -> dict[str, str] | None:
    return {"Authorization": f"Bearer {token}"} if token else None


def _exporter_kit(signal: str, gzip_it: bool, encoding: str) -> tuple[Any, Any]:
    if encoding == "json":  # imported here: only the JSON tests need the dev extra's JSON exporter
        from opentelemetry.exporter.otlp.common.http import Compression as JsonCompression
        from opentelemetry.exporter.otlp.json.http._log_exporter import OTLPLogExporter as JsonLogExporter
        from opentelemetry.exporter.otlp.json.http.trace_exporter import OTLPSpanExporter as JsonSpanExporter

        exporter = JsonSpanExporter if signal == "traces" else JsonLogExporter
        return exporter, JsonCompression.GZIP if gzip_it else JsonCompression.NONE
    exporter = OTLPSpanExporter if signal == "traces" else OTLPLogExporter
    return exporter, Compression.Gzip if gzip_it else Compression.NoCompression


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def post(
    address: tuple[str, int],
    path: str,
    body: bytes,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
    gzip_it: bool = False,
) -> Answer:
    """One raw POST, as a Collector's otlphttp exporter sends it (gzip is its default compression)."""
    sent = {"Content-Type": content_type, **(headers or {})}
    if gzip_it:
        body = gzip.compress(body)
        sent["Content-Encoding"] = "gzip"
    conn = http.client.HTTPConnection(*address, timeout=30)
    try:
        conn.request("POST", path, body=body, headers=sent)
        reply = conn.getresponse()
        return Answer(reply.status, {k.lower(): v for k, v in reply.getheaders()}, reply.read())
    finally:
        conn.close()


def wait_idle(receiver: Any, timeout: float = 30) -> None:
    """Until everything accepted is stored (keyword stage)."""
    deadline = time.monotonic() + timeout
    while not receiver.writer.idle():
        assert time.monotonic() < deadline, "the receiver did not store what it accepted in time"
        time.sleep(0.05)


def chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
