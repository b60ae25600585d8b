"""GenAI content recorded as OTLP log records (opentelemetry-instrumentation-openai-v2) joins its span.

Fixtures: tests/fixtures/traces/otlp_openai_v2_{spans.json,logs.json,logs.jsonl}, made by driving the real
instrumentation around the real openai client against the local fake server (tests/fixtures/generate/).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli.main import app
from retrieval.audit import audit_spans
from retrieval.ingest import detect_format, iter_file
from retrieval.store import TraceStore
from retrieval.trace import IngestError, Span, SpanContent
from tests.conftest import FIXTURES

TRACES = FIXTURES / "traces"
SPANS = TRACES / "otlp_openai_v2_spans.json"
LOGS_JSON = TRACES / "otlp_openai_v2_logs.json"
LOGS_JSONL = TRACES / "otlp_openai_v2_logs.jsonl"
SYSTEM = "You are the refund assistant of Acme. Answer only from the refund policy."


def _spans() -> list[Span]:
    return [r for r in iter_file(SPANS) if isinstance(r, Span)]


def _contents(path: Path) -> list[SpanContent]:
    out = list(iter_file(path))
    assert not [r for r in out if isinstance(r, IngestError)]
    return [r for r in out if isinstance(r, SpanContent)]


def test_logs_are_detected_and_read_in_both_forms():
    assert detect_format(LOGS_JSON) == "otlp-logs-json"
    assert detect_format(LOGS_JSONL) == "otlp-logs-jsonl"
    as_json, as_lines = _contents(LOGS_JSON), _contents(LOGS_JSONL)
    assert [c.event.name for c in as_json] == [c.event.name for c in as_lines]
    names = {c.event.name for c in as_json}
    assert {"gen_ai.system.message", "gen_ai.user.message", "gen_ai.choice", "gen_ai.tool.message"} <= names
    span_ids = {s.span_id for s in _spans()}
    assert {c.span_id for c in as_json} == span_ids  # every event names a span of the trace file


def test_spans_alone_have_no_content_and_the_audit_says_where_it_went():
    spans = _spans()
    assert all(not s.input_messages and not s.system_instructions for s in spans)
    report = audit_spans(spans)
    field = next(f for f in report.services[0].fields if f.field == "input")
    assert field.status == "missing"
    advice = " ".join(field.advice)
    assert "log records" in advice and "ingest" in advice  # not only "switch on content capture"


@pytest.fixture
def store(tmp_path, embedder):
    s = TraceStore(path=tmp_path / "db", embedder=embedder)
    yield s
    s.close()


def _check_joined(store: TraceStore) -> None:
    by_name = {}
    for span in _spans():
        got = store.get_span(span.span_id)
        assert got is not None
        by_name.setdefault(got.output_messages[0].finish_reason if got.output_messages else None, got)
        assert got.system_instructions == SYSTEM
        assert any(m.role == "user" and m.content for m in got.input_messages)
    call = by_name["tool_calls"].output_messages[0].tool_calls[0]
    assert (call.name, json.loads(call.arguments or "{}")) == ("lookup_order", {"order_id": "A-1042"})
    final = by_name["stop"]
    assert final.output_text
    with_call = {s.span_id for s in by_name.values() if "lookup_order" in s.model_dump_json()}
    top = store.search_spans("lookup_order", k=1)  # the content is keyword-searchable
    assert top and top[0].span.span_id in with_call


def test_content_joins_spans_ingested_before(store):
    store.add_spans(_spans())
    result = store.add_span_content(_contents(LOGS_JSONL))
    assert (result.attached, result.waiting) == (3, 0)
    _check_joined(store)
    again = store.add_span_content(_contents(LOGS_JSON))  # the same events again: nothing doubles
    assert again.attached == 3
    span = store.get_span(_spans()[0].span_id)
    assert span is not None and len(span.events) == len({e.model_dump_json() for e in span.events})
    assert store.count_spans() == 3


def test_content_waits_for_spans_ingested_after(store):
    result = store.add_span_content(_contents(LOGS_JSON))
    assert (result.attached, result.waiting) == (0, 3)
    store.add_spans(_spans())
    _check_joined(store)
    assert store.add_span_content([]).waiting == 0


def test_operation_details_event_fills_the_span(store, tmp_path):
    """The newer single event: gen_ai.input.messages / output.messages / system_instructions as AnyValue
    structures (hand-written per the GenAI semantic conventions; the openai-v2 release installable here
    emits the per-message events above)."""
    span = _spans()[0]

    def kv(key, value):
        return {"key": key, "value": value}

    def text(s):
        return {"stringValue": s}

    def obj(**items):
        return {"kvlistValue": {"values": [kv(k, v) for k, v in items.items()]}}

    def arr(*values):
        return {"arrayValue": {"values": list(values)}}

    record = {
        "timeUnixNano": "1796620453184209922",
        "eventName": "gen_ai.client.inference.operation.details",
        "traceId": span.trace_id,
        "spanId": span.span_id,
        "attributes": [
            kv("gen_ai.system_instructions", arr(obj(type=text("text"), content=text("Be brief.")))),
            kv("gen_ai.input.messages", arr(obj(role=text("user"), parts=arr(obj(type=text("text"), content=text("Refund?")))))),
            kv("gen_ai.output.messages", arr(obj(role=text("assistant"), finish_reason=text("stop"), parts=arr(obj(type=text("text"), content=text("Yes, within 30 days.")))))),
        ],
    }  # fmt: skip
    path = tmp_path / "details.json"
    path.write_text(json.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": [record]}]}]}))
    store.add_spans([span])
    store.add_span_content(_contents(path))
    got = store.get_span(span.span_id)
    assert got is not None
    assert (got.system_instructions, got.user_text, got.output_text) == (
        "Be brief.",
        "Refund?",
        "Yes, within 30 days.",
    )


def test_an_event_without_span_is_named_and_app_logs_are_not_content(tmp_path):
    records = [
        {"body": {"stringValue": "GET /health 200"}, "traceId": "ab" * 16, "spanId": "cd" * 8},
        {"eventName": "gen_ai.user.message", "body": {"kvlistValue": {"values": []}}},
    ]
    path = tmp_path / "logs.json"
    path.write_text(json.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": records}]}]}))
    out = list(iter_file(path))
    assert len(out) == 1 and isinstance(out[0], IngestError)
    assert "gen_ai.user.message" in out[0].message and "spanId" in out[0].message
    only_app = tmp_path / "app.json"
    only_app.write_text(json.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": records[:1]}]}]}))
    (problem,) = list(iter_file(only_app))
    assert isinstance(problem, IngestError) and "no GenAI events" in problem.message


def test_cli_ingest_joins_logs_given_before_the_spans(tmp_path, tmp_home, monkeypatch):
    from tests.test_cli_ingest import CACHE, invoke

    monkeypatch.setenv("POSTMORTEM_CACHE_DIR", str(CACHE))
    folder = tmp_path / "export"
    folder.mkdir()
    shutil.copy(LOGS_JSONL, folder / "a_logs.jsonl")  # read before the spans file
    shutil.copy(SPANS, folder / "b_spans.json")
    result = invoke("ingest", str(folder), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["content_events"] == 11 and summary["content_spans_waiting"] == 0
    shown = [invoke("trace", "show", trace_id) for trace_id in sorted({s.trace_id for s in _spans()})]
    assert all(r.exit_code == 0 for r in shown), [r.output for r in shown]
    text = "".join(r.stdout for r in shown)  # each call is its own trace here
    assert "lookup_order" in text and "Acme" in text


def test_logs_ingested_in_one_run_wait_on_disk_for_spans_of_a_later_run(tmp_path, tmp_home, monkeypatch):
    """Two `postmortem ingest` runs, the GenAI events first: the first says they wait, the second joins them."""
    from tests.test_cli_ingest import CACHE, invoke

    monkeypatch.setenv("POSTMORTEM_CACHE_DIR", str(CACHE))
    first = invoke("ingest", str(LOGS_JSON), "--json")
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["content_spans_waiting"] == 3
    second = invoke("ingest", str(SPANS), "--json")
    assert second.exit_code == 0, second.output
    assert json.loads(second.stdout)["content_spans_waiting"] == 0
    shown = [invoke("trace", "show", trace_id) for trace_id in sorted({s.trace_id for s in _spans()})]
    text = "".join(r.stdout for r in shown)
    assert "lookup_order" in text and "Acme" in text  # the tool call and the system prompt came from the logs


def test_audit_of_spans_with_their_logs_finds_the_content_and_says_where_it_came_from():
    """`postmortem audit` of the spans and their log records (logs read first): the content fields are found, and
    a note says they came from the log records, so the traces alone would lack them."""
    result = CliRunner().invoke(app, ["audit", str(LOGS_JSONL), str(SPANS), "--json"])
    assert result.exit_code == 0, result.output
    (service,) = json.loads(result.stdout)["services"]
    fields = {f["field"]: f["status"] for f in service["fields"]}
    assert fields["system_instructions"] == fields["input"] == fields["output"] == "ok"
    assert any("3 LLM spans came from OTLP log records" in note for note in service["notes"])
