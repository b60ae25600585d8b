"""A request body decoded without a server: protobuf and JSON give the dict the OTLP/JSON readers consume (ids in
hex), deflate in both framings, and the bounds of retrieval/limits.py hold for protobuf as they do for JSON."""

from __future__ import annotations

import json
import zlib

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from retrieval.ingest.otlp import request_spans
from retrieval.otlp_http import proto_dict
from retrieval.otlp_http.payload import LOGS, TRACES, PayloadError, decode_body
from retrieval.redact import Redactor
from retrieval.trace import Span, SpanContent
from tests.conftest import FIXTURES

PROTOBUF = "application/x-protobuf"
SPANS_JSON = (FIXTURES / "traces" / "otlp_openai_v2_spans.json").read_bytes()


def _request(depth: int = 0) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    rs.resource.attributes.add(key="service.name").value.string_value = "refund-bot"
    span = rs.scope_spans.add().spans.add()
    span.trace_id, span.span_id = (
        bytes.fromhex("0af7651916cd43dd8448eb211c80319c"),
        bytes.fromhex("b7ad6b7169203331"),
    )
    span.name, span.start_time_unix_nano, span.end_time_unix_nano = (
        "chat gpt-4o",
        1_700_000_000_000_000_000,
        1_700_000_001_000_000_000,
    )
    span.status.code, span.status.message = 2, "upstream timed out"
    span.attributes.add(key="gen_ai.usage.input_tokens").value.int_value = 2**40
    span.attributes.add(key="blob").value.bytes_value = "déjà vu".encode()
    value = span.attributes.add(key="nested").value
    for _ in range(depth):
        value = value.kvlist_value.values.add(key="k").value
    value.string_value = "leaf"
    return request


def _spans(request: dict) -> list[Span]:
    return [
        r
        for r in request_spans(FIXTURES, request["resourceSpans"], "request", "test", None)
        if isinstance(r, Span)
    ]


def test_protobuf_reads_as_the_json_readers_read_it():
    raw = _request(depth=3).SerializeToString()
    (span,) = _spans(decode_body(raw, content_type=PROTOBUF, content_encoding=None, signal=TRACES))
    assert (span.trace_id, span.span_id, span.parent_span_id) == (
        "0af7651916cd43dd8448eb211c80319c",
        "b7ad6b7169203331",
        None,
    )
    assert (
        span.service == "refund-bot"
        and span.status.code == "error"
        and span.status.message == "upstream timed out"
    )
    assert span.attributes["gen_ai.usage.input_tokens"] == 2**40 and span.attributes["blob"] == "déjà vu"
    assert span.attributes["nested"] == {"k": {"k": {"k": "leaf"}}}
    assert span.end_time is not None and (span.end_time - span.start_time).total_seconds() == 1


def test_json_and_both_deflate_framings_decode_alike():
    plain = decode_body(
        SPANS_JSON, content_type="application/json; charset=utf-8", content_encoding=None, signal=TRACES
    )
    raw_deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
    for body in (zlib.compress(SPANS_JSON), raw_deflate.compress(SPANS_JSON) + raw_deflate.flush()):
        assert (
            decode_body(body, content_type="application/json", content_encoding="deflate", signal=TRACES)
            == plain
        )
    assert len(_spans(plain)) == len(json.loads(SPANS_JSON)["resourceSpans"][0]["scopeSpans"][0]["spans"])


def test_log_records_keep_event_name_body_and_ids():
    request = ExportLogsServiceRequest()
    record = request.resource_logs.add().scope_logs.add().log_records.add()
    record.event_name, record.trace_id, record.span_id = "gen_ai.user.message", b"\x01" * 16, b"\x02" * 8
    record.body.kvlist_value.values.add(key="content").value.string_value = "where is my refund?"
    decoded = decode_body(
        request.SerializeToString(), content_type=PROTOBUF, content_encoding=None, signal=LOGS
    )
    from retrieval.otlp_http.intake import take_in

    (content,) = take_in(decoded, LOGS, "test", None).contents
    assert isinstance(content, SpanContent)
    assert (content.trace_id, content.span_id) == ("01" * 16, "02" * 8)
    assert (
        content.event.name == "gen_ai.user.message"
        and content.event.attributes["content"] == "where is my refund?"
    )
    record.body.kvlist_value.values[0].value.string_value = "mail me at jane.doe@example.com"
    decoded = decode_body(
        request.SerializeToString(), content_type=PROTOBUF, content_encoding=None, signal=LOGS
    )
    (redacted,) = take_in(decoded, LOGS, "test", Redactor()).contents
    assert redacted.event.attributes["content"] == "mail me at [REDACTED:email]"


def test_protobuf_nesting_and_value_bounds(monkeypatch):
    deep = _request(depth=30).SerializeToString()  # past MAX_NESTING's JSON levels, within protobuf's 100
    with pytest.raises(PayloadError) as caught:
        decode_body(deep, content_type=PROTOBUF, content_encoding=None, signal=TRACES)
    assert caught.value.status == 400 and "nested deeper than 120" in caught.value.message
    past_protobuf = _request(depth=200).SerializeToString()  # past protobuf's own recursion limit
    with pytest.raises(PayloadError) as caught:
        decode_body(past_protobuf, content_type=PROTOBUF, content_encoding=None, signal=TRACES)
    assert caught.value.status == 400
    monkeypatch.setattr(proto_dict, "MAX_RECORD_VALUES", 5)
    with pytest.raises(PayloadError) as caught:
        decode_body(
            _request().SerializeToString(), content_type=PROTOBUF, content_encoding=None, signal=TRACES
        )
    assert caught.value.status == 413 and "more than 5 values" in caught.value.message
