"""Traces made by the real instrumentation libraries, through `postmortem ingest` and back out.

Each fixture (tests/fixtures/traces/, built by tests/fixtures/generate/: OpenLLMetry in its current and legacy
attribute shapes, OpenInference for openai and LangChain, the Langfuse SDK) records the same refund assistant: a call without sampling parameters, a call
answered with a `lookup_order` tool call, the call after the tool's result, and (LangChain, Langfuse) a retrieval
chain. After ingest, `trace show --json`, `search` and `audit` must give back the model, sampling, system prompt,
messages, output, tool calls and retrieved documents the app sent and received.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import typer
from click.testing import Result
from typer.testing import CliRunner

from retrieval.trace import Span, SpanKind
from tests.conftest import FIXTURES

TRACES = FIXTURES / "traces"
CACHE = Path(__file__).resolve().parents[1] / ".postmortem" / "cache"
SYSTEM = "You are the refund assistant of Acme. Answer only from the refund policy."
SERVED = "gpt-4.1-mini-2025-04-14"
FINAL = "Order A-1042 was delivered 12 days ago, so it can be refunded."


@dataclass
class Case:
    files: list[str]
    dialect: str
    temperature: float  # of the tool-call round trip
    documents: bool = False  # a retriever span with policy-7#2 first
    document_ids: bool = True  # ... whose ids the instrumentation records
    tool_span: bool = False  # the tool ran as its own span (LangChain)
    template: bool = False  # a prompt-template span with its text
    sampling_extra: dict = field(default_factory=dict)  # more sampling the instrumentation records


CASES = {
    "openllmetry": Case(["otlp_openllmetry_openai.json"], "genai", 0.2, sampling_extra={"top_p": 0.9}),
    "openllmetry-events": Case(
        ["otlp_openllmetry_events_logs.json", "otlp_openllmetry_events_spans.json"], "genai", 0.2
    ),
    "openllmetry-langchain": Case(
        ["otlp_openllmetry_langchain.json"],
        "openllmetry",
        0.1,
        documents=True,
        document_ids=False,  # its retriever output keeps page_content and metadata only
        tool_span=True,
        sampling_extra={"max_tokens": 200},
    ),
    # OpenLLMetry 0.54.0, its last release with the legacy indexed attributes (gen_ai.prompt.N.*, llm.*)
    "openllmetry-legacy": Case(
        ["otlp_openllmetry_legacy_openai.json"],
        "openllmetry",
        0.2,
        sampling_extra={"top_p": 0.9, "max_tokens": 256},
    ),
    "openllmetry-legacy-langchain": Case(
        ["otlp_openllmetry_legacy_langchain.json"],
        "openllmetry",
        0.1,
        documents=True,
        document_ids=False,
        tool_span=True,
        sampling_extra={"max_tokens": 200},
    ),
    "openinference-openai": Case(
        ["otlp_openinference_openai.json"],
        "openinference",
        0.2,
        sampling_extra={"seed": 7, "stop_sequences": ["</answer>"], "max_tokens": 256},
    ),
    "openinference-langchain": Case(
        ["otlp_openinference_langchain.json"],
        "openinference",
        0.1,
        documents=True,
        tool_span=True,
        template=True,
        sampling_extra={"max_tokens": 200},
    ),
    "langfuse-sdk": Case(
        ["otlp_langfuse_sdk.json"],
        "langfuse",
        0.2,
        documents=True,
        tool_span=True,
        sampling_extra={"seed": 7},
    ),
}


def _app() -> typer.Typer:
    from agent.cli import audit, ingest, search, traces

    app = typer.Typer()
    for module in (ingest, search, traces, audit):
        module.register(app)
    return app


def _run(*args: str) -> Result:
    result = CliRunner().invoke(_app(), list(args), env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(params=sorted(CASES))
def ingested(request, tmp_path, tmp_home, monkeypatch) -> tuple[Case, list[Span]]:
    """The case's files ingested as one folder into a fresh home; every stored span, via `trace show`."""
    monkeypatch.setenv("POSTMORTEM_CACHE_DIR", str(CACHE))
    case = CASES[request.param]
    folder = tmp_path / "export"
    folder.mkdir()
    for name in case.files:
        shutil.copy(TRACES / name, folder / name)
    summary = json.loads(_run("ingest", str(folder), "--json").stdout)
    assert summary["content_spans_waiting"] == 0 and not summary["warnings"]
    trace_ids = sorted({s["traceId"] for s in _raw_spans(case)})
    spans = []
    for trace_id in trace_ids:
        shown = json.loads(_run("trace", "show", trace_id, "--json").stdout)
        spans += [Span.model_validate(s) for s in shown["spans"]]
    assert len(spans) == summary["spans_added"] == len(_raw_spans(case))
    return case, spans


def _raw_spans(case: Case) -> list[dict]:
    out = []
    for name in case.files:
        document = json.loads((TRACES / name).read_text())
        for rs in document.get("resourceSpans", []):
            for ss in rs["scopeSpans"]:
                out += ss["spans"]
    return out


def _tool_round_trip(spans: list[Span], temperature: float) -> tuple[Span, Span]:
    """(the call answered with a tool call, the call after the tool's result) among the LLM spans sampled at
    `temperature` (the Langfuse fixture holds two round trips: the openai wrapper's at 0.2, LangChain's at 0.1)."""
    llm = [s for s in spans if s.kind == SpanKind.llm and s.sampling.temperature == temperature]
    asked = [s for s in llm if any(c.name == "lookup_order" for m in s.output_messages for c in m.tool_calls)]
    after = [s for s in llm if any(m.role == "tool" for m in s.input_messages)]
    assert len(asked) == 1 and len(after) == 1, [(s.name, s.output_messages) for s in llm]
    return asked[0], after[0]


def test_model_sampling_prompt_and_messages(ingested):
    case, spans = ingested
    asked, after = _tool_round_trip(spans, case.temperature)
    for span in (asked, after):
        assert span.dialect == case.dialect
        assert span.response_model == SERVED
        assert span.system_instructions == SYSTEM
        assert span.sampling.temperature == case.temperature
        for key, value in case.sampling_extra.items():
            assert getattr(span.sampling, key) == value, key
        assert (span.usage.input_tokens, span.usage.output_tokens) == (120, 30)
    assert [m.role for m in asked.input_messages] == ["user"]
    assert asked.input_messages[0].content == "Can order A-1042 be refunded?"
    call = asked.output_messages[0].tool_calls[0]
    assert (call.id, call.name, json.loads(call.arguments or "{}")) == (
        "call_refund_1",
        "lookup_order",
        {"order_id": "A-1042"},
    )
    tool = next(m for m in after.input_messages if m.role == "tool")
    assert (tool.tool_call_id, json.loads(tool.content or "{}")) == (
        "call_refund_1",
        {"delivered_days_ago": 12},
    )
    assert after.output_text == FINAL


def test_tool_documents_and_template(ingested):
    case, spans = ingested
    if case.tool_span:
        tool = next(s for s in spans if s.kind == SpanKind.tool)
        assert tool.tool is not None
        assert (tool.tool.name, tool.tool.call_id) == ("lookup_order", "call_refund_1")
        assert json.loads(tool.tool.result or "{}") == {"delivered_days_ago": 12}  # not the ToolMessage
    if case.documents:
        retrievers = [s for s in spans if s.kind == SpanKind.retrieval]
        rag = next(s for s in retrievers if s.retrieval_query == "Can I return a final-sale jacket?")
        ids = ["policy-7#2", "policy-7#1"] if case.document_ids else [None, None]
        assert [d.id for d in rag.documents] == ids
        assert rag.documents[0].content == "Final-sale items (marked FS) cannot be returned or refunded."
        assert rag.documents[0].metadata.get("source") == "policy-7"
    if case.template:
        template = next(s.prompt_template for s in spans if s.prompt_template)
        assert template.template and template.template.endswith("Policy:\n{context}")
        assert "final-sale" in template.variables["context"].lower()
        trace_id = next(s.trace_id for s in spans if s.prompt_template)
        shown = _run(
            "trace", "show", trace_id
        ).stdout  # the text and variables, not "prompt template ? version ?"
        assert (
            "prompt template: You are the refund assistant" in shown
            and "template variables: context=" in shown
        )
        assert "version ?" not in shown
    if not (case.tool_span or case.documents or case.template):
        assert not any(s.kind in (SpanKind.tool, SpanKind.retrieval) for s in spans)


def test_search_finds_the_tool_call_and_the_documents(ingested):
    case, spans = ingested
    asked, _ = _tool_round_trip(spans, case.temperature)
    hits = json.loads(_run("search", "lookup_order A-1042", "--json", "-k", "5").stdout)
    assert asked.span_id in {h["span_id"] for h in hits}
    assert all('{"id"' not in h["excerpt"] for h in hits)  # no raw output.value JSON as the excerpt
    if case.documents:
        hits = json.loads(_run("search", "final-sale return", "--kind", "retrieval", "--json").stdout)
        assert hits and "Final-sale items" in hits[0]["excerpt"]


def test_audit_reads_the_content_as_present(ingested):
    _, spans = ingested
    report = json.loads(_run("audit", "--json").stdout)
    (service,) = report["services"]
    fields = {f["field"]: f for f in service["fields"]}
    llm = sum(1 for s in spans if s.kind == SpanKind.llm)
    assert service["llm_spans"] == llm
    for name in ("system_instructions", "input", "output", "served_model"):
        assert fields[name]["present"] == llm, (name, fields[name])
