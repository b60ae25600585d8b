"""`postmortem receive`: the real OpenTelemetry SDK exporters (protobuf and JSON, gzip) and Collector-style JSON
into the receiver on 127.0.0.1, then the spans answer `trace show` and `search` like ingested files do."""

from __future__ import annotations

import json
import threading

import pytest
from opentelemetry.sdk._logs.export import LogRecordExportResult
from opentelemetry.sdk.trace.export import SpanExportResult
from typer.testing import CliRunner

from retrieval.ingest import iter_file
from retrieval.trace import Span, SpanContent
from tests.conftest import FIXTURES
from tests.otlpkit import log_exporter, post, record_chats, span_exporter, wait_idle
from tests.test_cli_ingest import cli_app, open_store, settings_env

OPENAI_V2 = (
    FIXTURES / "traces"
)  # OTLP/JSON written by the SDK's encoder around the real openai-v2 instrumentation
ERROR = "ECONNRESET billing-hook-7731"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """`serve_otlp` (the command's core) on an ephemeral port of 127.0.0.1, over a fresh home."""
    from agent.otlp_receiver import receiver_config, serve_otlp
    from agent.settings import get_settings

    home = tmp_path_factory.mktemp("recv") / "home"
    with settings_env(home):
        settings = get_settings()
        ready: list = []
        events: list[str] = []
        stop = threading.Event()
        config = receiver_config(settings, "127.0.0.1", 0, None)
        done: list = []
        thread = threading.Thread(
            target=lambda: done.append(serve_otlp(settings, config, events.append, ready.append, stop))
        )
        thread.start()
        while not ready and thread.is_alive():
            thread.join(0.05)
        receiver = ready[0]
        yield receiver, events
        stop.set()
        thread.join(60)
        assert done and done[0].writer.store_failures == 0


def _invoke(*args: str):
    return CliRunner().invoke(cli_app(), list(args), env={"COLUMNS": "200"})


def test_sdk_exporters_send_protobuf_spans_and_events_that_answer_trace_show_and_search(served):
    receiver, _ = served
    base = "http://{}:{}".format(*receiver.address)
    recorded = record_chats("refund-bot", 4, error_text=ERROR)
    assert span_exporter(base).export(recorded.spans) == SpanExportResult.SUCCESS
    assert log_exporter(base, gzip_it=True).export(recorded.logs) == LogRecordExportResult.SUCCESS
    wait_idle(receiver)

    failed = next(s for s in recorded.spans if s.status.description == ERROR)
    trace_id = f"{failed.context.trace_id:032x}"
    shown = _invoke("trace", "show", trace_id)
    assert shown.exit_code == 0, shown.output
    assert "refund-bot" in shown.stdout and "gpt-4o-mini" in shown.stdout
    found = _invoke("search", ERROR, "--json")
    assert found.exit_code == 0, found.output
    rows = json.loads(found.stdout)
    assert rows[0]["span_id"] == f"{failed.context.span_id:016x}" and rows[0]["status"] == "error"

    store = open_store()
    try:
        chat = store.get_span(f"{failed.context.span_id:016x}")
    finally:
        store.close()
    # the GenAI events (log records, gzip) joined their span: the prompt and the answer are on it
    assert chat is not None and chat.model == "gpt-4o-mini-2024-07-18" and chat.usage.input_tokens == 123
    assert [m.content for m in chat.input_messages] == ["refund order A-1003"]
    assert [m.content for m in chat.output_messages] == ["Order A-1003 is refunded."]


def test_sdk_json_exporters_send_spans_and_events_that_join(served):
    """The SDK's OTLP/HTTP JSON exporters (opentelemetry-exporter-otlp-json-http): the same spans and GenAI events
    as protobuf, in proto3 JSON, logs first this time and gzip on the spans only."""
    receiver, _ = served
    base = "http://{}:{}".format(*receiver.address)
    recorded = record_chats("json-bot", 3, error_text="429 quota json-exporter-5512")
    assert log_exporter(base, encoding="json").export(recorded.logs) == LogRecordExportResult.SUCCESS
    assert (
        span_exporter(base, gzip_it=True, encoding="json").export(recorded.spans) == SpanExportResult.SUCCESS
    )
    wait_idle(receiver)

    store = open_store()
    try:
        stored = {s.span_id: s for t in recorded.trace_ids for s in store.get_trace(t)}
    finally:
        store.close()
    assert set(stored) == {f"{s.context.span_id:016x}" for s in recorded.spans}
    chats = sorted((s for s in recorded.spans if s.name.startswith("chat")), key=lambda s: s.start_time)
    for i, sent in enumerate(chats):
        got = stored[f"{sent.context.span_id:016x}"]
        assert got.model == "gpt-4o-mini-2024-07-18" and got.usage.input_tokens == 120 + i
        assert [m.content for m in got.input_messages] == [f"refund order A-{1000 + i}"]
        assert [m.content for m in got.output_messages] == [f"Order A-{1000 + i} is refunded."]
        assert got.parent_span_id == f"{sent.parent.span_id:016x}"
    assert stored[f"{chats[-1].context.span_id:016x}"].status.code == "error"
    found = _invoke("search", "json-exporter-5512", "--json")
    assert found.exit_code == 0, found.output
    assert json.loads(found.stdout)[0]["span_id"] == f"{chats[-1].context.span_id:016x}"


def test_collector_json_bodies_store_what_the_file_ingest_reads(served):
    """The Collector's otlphttp exporter with `encoding: json` (and its default gzip): hex ids, the same
    request the SDK's encoder wrote to the fixture files."""
    receiver, _ = served
    for path, name in (("/v1/logs", "otlp_openai_v2_logs.json"), ("/v1/traces", "otlp_openai_v2_spans.json")):
        answer = post(receiver.address, path, (OPENAI_V2 / name).read_bytes(), gzip_it=True)
        assert answer.status == 200 and answer.headers["content-type"] == "application/json"
        assert answer.json() == {}  # an ExportTraceServiceResponse / ExportLogsServiceResponse: all accepted
    wait_idle(receiver)
    from_file = [r for r in iter_file(OPENAI_V2 / "otlp_openai_v2_spans.json") if isinstance(r, Span)]
    contents = [r for r in iter_file(OPENAI_V2 / "otlp_openai_v2_logs.json") if isinstance(r, SpanContent)]
    store = open_store()
    try:
        stored = {s.span_id: s for t in {s.trace_id for s in from_file} for s in store.get_trace(t)}
    finally:
        store.close()
    assert set(stored) == {s.span_id for s in from_file}
    for span in from_file:
        got = stored[span.span_id]
        assert (got.name, got.kind, got.model, got.usage, got.status.code) == (
            span.name, span.kind, span.model, span.usage, span.status.code
        )  # fmt: skip
    asked = {c.span_id for c in contents if c.event.name == "gen_ai.user.message"}
    assert asked and all(stored[k].input_messages for k in asked)  # content arrived first, joined later


def test_partial_success_names_the_refused_spans_and_stores_the_rest(served):
    receiver, _ = served
    request = json.loads((OPENAI_V2 / "otlp_openai_v2_spans.json").read_text())
    spans = request["resourceSpans"][0]["scopeSpans"][0]["spans"]
    good = dict(spans[0], spanId="aa00000000000001", traceId="bb" * 16)
    no_trace = dict(spans[0], spanId="aa00000000000002", traceId="")
    bad_time = dict(spans[0], spanId="aa00000000000003", traceId="bb" * 16, startTimeUnixNano="yesterday")
    request["resourceSpans"][0]["scopeSpans"][0]["spans"] = [good, no_trace, bad_time]
    answer = post(receiver.address, "/v1/traces", json.dumps(request).encode())
    assert answer.status == 200
    partial = answer.json()["partialSuccess"]
    assert partial["rejectedSpans"] == "2"  # int64 in proto3 JSON
    assert "spans[1]: span has no traceId" in partial["errorMessage"]
    assert "spans[2]" in partial["errorMessage"] and "yesterday" in partial["errorMessage"]
    wait_idle(receiver)
    store = open_store()
    try:
        assert [s.span_id for s in store.get_trace("bb" * 16)] == ["aa00000000000001"]
    finally:
        store.close()


def test_protobuf_partial_success_in_protobuf(served):
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
        ExportTraceServiceResponse,
    )

    receiver, _ = served
    request = ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add()
    span.name, span.span_id = "no trace id", bytes.fromhex("cc00000000000001")
    body = request.SerializeToString()
    answer = post(receiver.address, "/v1/traces", body, content_type="application/x-protobuf")
    assert answer.status == 200 and answer.headers["content-type"] == "application/x-protobuf"
    reply = ExportTraceServiceResponse.FromString(answer.body)
    assert reply.partial_success.rejected_spans == 1
    assert "span has no traceId" in reply.partial_success.error_message


def test_redaction_applies_to_received_spans(served):
    receiver, _ = served
    request = json.loads((OPENAI_V2 / "otlp_openai_v2_spans.json").read_text())
    span = dict(request["resourceSpans"][0]["scopeSpans"][0]["spans"][0], traceId="dd" * 16)
    span["status"] = {"code": 2, "message": "user jane.doe@example.com was refused"}
    request["resourceSpans"][0]["scopeSpans"][0]["spans"] = [span]
    assert post(receiver.address, "/v1/traces", json.dumps(request).encode()).status == 200
    wait_idle(receiver)
    store = open_store()
    try:
        stored = store.get_trace("dd" * 16)[0]
    finally:
        store.close()
    assert "jane.doe@example.com" not in stored.model_dump_json()
    assert "[REDACTED:email]" in (stored.status.message or "")
