"""`postmortem audit`: readiness shares per service, advice aimed at the instrumentation that has the gap,
from files directly and from the store."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli.main import app
from retrieval.audit import audit_spans
from retrieval.ingest import iter_file
from retrieval.trace import Document, Message, PromptTemplate, Sampling, Span, SpanKind, Status

FIXTURES = Path(__file__).parent / "fixtures"
T0 = datetime(2025, 6, 3, 14, 0, tzinfo=UTC)


def llm(n: int, **fields) -> Span:
    base = {
        "trace_id": f"{n + 1:032x}",
        "span_id": f"{n + 1:016x}",
        "parent_span_id": "00000000000000aa",
        "service": "support-bot",
        "name": "chat",
        "kind": SpanKind.llm,
        "start_time": T0 + timedelta(minutes=n),
        "dialect": "genai",
        "system_instructions": "Answer from the context.",
        "input_messages": [Message(role="user", content="hi")],
        "output_messages": [Message(role="assistant", content="hello")],
        "response_model": "gpt-4o-2024-08-06",
        "sampling": Sampling(temperature=0.2),
        "session_id": "s1",
        "prompt_template": PromptTemplate(id="p", version="3"),
    }
    base.update(fields)
    return Span(**base)


def retrieval(n: int, content: str | None = "doc text") -> Span:
    return Span(
        trace_id=f"{n + 1:032x}",
        span_id=f"{n + 1:08x}ffffffff",
        service="support-bot",
        name="retrieve",
        kind=SpanKind.retrieval,
        start_time=T0,
        documents=[Document(id="d", content=content)],
    )


def by_field(report, service: str = "support-bot") -> dict[str, tuple[int, int, str]]:
    [audit] = [s for s in report.services if s.service == service]
    return {f.field: (f.present, f.total, f.status) for f in audit.fields}


def test_shares_per_field():
    spans = [llm(i) for i in range(10)]
    spans[0] = llm(0, system_instructions=None)
    spans[1] = llm(1, output_messages=[], sampling=Sampling())
    spans[2] = llm(2, parent_span_id=None, session_id=None, prompt_template=None)
    spans += [retrieval(i) for i in range(4)] + [retrieval(4, content=None)]  # ids only: no content recorded
    report = audit_spans(spans)
    fields = by_field(report)
    assert fields["system_instructions"] == (9, 10, "partial")
    assert fields["output"] == (9, 10, "partial")
    # the instrumentation records sampling on the other calls: this one sent none (provider defaults)
    assert fields["sampling"] == (9, 9, "ok")
    assert fields["served_model"] == (10, 10, "ok")
    assert fields["documents"] == (4, 10, "partial")
    assert fields["parent"] == (9, 10, "partial")
    assert fields["session"] == (9, 10, "partial")
    assert fields["prompt_version"] == (9, 10, "partial")
    assert report.llm_spans == 10 and report.spans_seen == 15
    [audit] = report.services
    assert audit.traces == 10 and audit.dialects == {"genai": 10}
    assert audit.score == pytest.approx((0.9 * 5 + 1.0 + 1.0 + 1.0 + 0.4) / 9, abs=1e-4)
    assert any("1 LLM calls sent no sampling parameters" in note for note in audit.notes)


def test_trace_level_fields_and_errored_calls():
    root = Span(
        trace_id=f"{1:032x}",
        span_id="00000000000000aa",
        name="POST /chat",
        start_time=T0,
        session_id="sess_1",
    )
    failed = llm(0, session_id=None, output_messages=[], response_model=None, status=Status(code="error"))
    report = audit_spans([failed, root, retrieval(0)])
    fields = by_field(report)
    assert fields["session"] == (1, 1, "ok")  # the session recorded on the root span counts
    assert fields["documents"] == (1, 1, "ok")
    assert fields["output"] == (0, 0, "ok") and fields["served_model"] == (0, 0, "ok")  # not applicable


def test_advice_targets_the_instrumentation_with_the_gap():
    spans = [llm(i) for i in range(4)] + [
        llm(10 + i, dialect="openinference", output_messages=[]) for i in range(4)
    ]
    [audit] = audit_spans(spans).services
    output = next(f for f in audit.fields if f.field == "output")
    assert output.status == "partial" and len(output.advice) == 1
    assert "OPENINFERENCE_HIDE_OUTPUTS" in output.advice[0]
    missing = audit_spans(
        [llm(i, dialect="openllmetry", output_messages=[], system_instructions=None) for i in range(3)]
    )
    fields = {f.field: f for f in missing.services[0].fields}
    assert fields["output"].status == "missing"
    assert any("TRACELOOP_TRACE_CONTENT=true" in a for a in fields["system_instructions"].advice)
    legacy = audit_spans([llm(0, dialect="genai-legacy", input_messages=[])]).services[0]
    advice = next(f for f in legacy.fields if f.field == "input").advice
    assert any("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true" in a for a in advice)


def test_service_filter_and_duplicates():
    spans = [llm(0), llm(1, service="billing"), llm(0)]  # the first span read twice
    report = audit_spans(spans, service="support-bot")
    assert [s.service for s in report.services] == ["support-bot"] and report.llm_spans == 1


def test_fixture_files_report():
    spans = [r for r in iter_file(FIXTURES / "traces" / "otlp_genai_current.json") if isinstance(r, Span)]
    fields = by_field(audit_spans(spans))
    assert fields["output"] == (4, 4, "ok")  # the 429 call is not counted
    assert fields["documents"] == (2, 5, "partial")  # only trace A retrieved documents
    assert fields["prompt_version"] == (5, 5, "ok")


runner = CliRunner()


def test_cli_on_files_text_and_json():
    result = runner.invoke(app, ["audit", str(FIXTURES / "traces" / "otlp_openinference.json")])
    assert result.exit_code == 0, result.output
    assert "support-bot: 3 LLM spans in 2 traces (openinference 3); readiness" in result.output
    assert "prompt id/version" in result.output and "using_prompt_template" in result.output
    result = runner.invoke(app, ["audit", str(FIXTURES / "traces"), "--service", "support-bot", "--json"])
    assert result.exit_code == 0
    payload = json.loads(result.stdout)
    assert [s["service"] for s in payload["services"]] == ["support-bot"]
    assert {f["field"] for f in payload["services"][0]["fields"]} >= {
        "system_instructions",
        "served_model",
        "session",
    }
    assert payload["errors"] == []


def test_cli_bad_files_exit_2_and_the_rest_is_audited():
    good = FIXTURES / "traces" / "otlp_genai_current.json"
    result = runner.invoke(app, ["audit", str(good), str(FIXTURES / "bad" / "truncated.jsonl"), "--json"])
    assert result.exit_code == 2
    payload = json.loads(result.stdout)
    assert payload["llm_spans"] == 5 + 1  # the fixture, and the LLM span on the intact lines of the cut file
    assert payload["errors"] == [
        f"{FIXTURES / 'bad' / 'truncated.jsonl'}:line 3: truncated JSON (the line ends at column 4719 in the middle of a record)"
    ]


def test_cli_fail_under():
    path = str(FIXTURES / "traces" / "otlp_genai_current.json")
    assert runner.invoke(app, ["audit", path, "--fail-under", "0.99"]).exit_code == 1
    assert runner.invoke(app, ["audit", path, "--fail-under", "0.5"]).exit_code == 0


def test_cli_user_error_is_one_line():
    proc = subprocess.run(
        [sys.executable, "-c", "from agent.cli.main import run; run()", "audit", "/nonexistent/trace.json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["error: /nonexistent/trace.json: no such file or folder"]


def test_cli_audits_the_store(tmp_home, monkeypatch, embedder):
    from agent.settings import get_settings
    from agent.store_factory import open_store

    # the session `embedder` fixture built the ONNX graph in this cache: reuse it
    monkeypatch.setenv(
        "POSTMORTEM_CACHE_DIR", str(Path(__file__).resolve().parents[1] / ".postmortem" / "cache")
    )
    get_settings.cache_clear()
    spans = [r for r in iter_file(FIXTURES / "traces" / "otlp_openllmetry.jsonl") if isinstance(r, Span)]
    store = open_store(get_settings())
    store.add_spans(spans)
    del store
    result = runner.invoke(app, ["audit", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["llm_spans"] == 2 and payload["spans_seen"] == 8
    fields = {f["field"]: f for f in payload["services"][0]["fields"]}
    assert fields["documents"]["share"] == 1.0 and fields["prompt_version"]["share"] == 1.0
