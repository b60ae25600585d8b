"""Langfuse observation exports: JSON array, JSON lines, API page, trace download, blob export (snake_case)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from retrieval.ingest import detect_format, iter_file
from retrieval.trace import IngestError, Span, SpanKind

TRACES = Path(__file__).parent / "fixtures" / "traces"
FILES = {
    "langfuse_observations.json": "langfuse-json",
    "langfuse_observations.jsonl": "langfuse-jsonl",
    "langfuse_api_page.json": "langfuse-json",
    "langfuse_trace.json": "langfuse-json",
    "langfuse_blob_export.jsonl": "langfuse-jsonl",
}


def spans_of(name: str, **kwargs) -> dict[str, Span]:
    records = list(iter_file(TRACES / name, **kwargs))
    assert not [r for r in records if isinstance(r, IngestError)]
    return {r.span_id: r for r in records}


@pytest.mark.parametrize("name", sorted(FILES))
def test_detected(name):
    assert detect_format(TRACES / name) == FILES[name]


@pytest.fixture(scope="module")
def exported() -> dict[str, Span]:
    return spans_of("langfuse_observations.json")


def test_types_and_tree(exported):
    assert {s.dialect for s in exported.values()} == {"langfuse"}
    kinds = [(s.name, s.kind) for s in exported.values()][:6]
    assert kinds == [
        ("support-chat", SpanKind.chain),
        ("help-center-search", SpanKind.retrieval),
        ("rerank", SpanKind.retrieval),
        ("answer-draft", SpanKind.llm),
        ("lookup_order", SpanKind.tool),
        ("answer", SpanKind.llm),
    ]
    gen = exported["bd4e5f6071829304"]
    assert gen.trace_id == "c1a9f3e5d7b9a1c3e5f7a9b1c3d5e7f9" and gen.parent_span_id == "8a1b2c3d4e5f6071"
    assert exported["8a1b2c3d4e5f6071"].parent_span_id is None
    assert exported["13a4152637485960"].kind == SpanKind.other  # EVENT


def test_generation_fields(exported):
    gen = exported["bd4e5f6071829304"]
    assert gen.start_time == datetime(2025, 6, 3, 14, 7, 12, 525000, tzinfo=UTC)
    assert gen.end_time == datetime(2025, 6, 3, 14, 7, 13, 620000, tzinfo=UTC)
    assert (gen.service, gen.provider, gen.operation) == ("support-bot", "openai", "chat")
    assert (gen.request_model, gen.response_model) == ("gpt-4o", "gpt-4o-2024-08-06")
    s = gen.sampling
    assert (s.temperature, s.top_p, s.max_tokens, s.seed) == (0.2, 1.0, 512, 42)  # seed recorded as "42"
    assert gen.system_instructions.startswith("You are Acme Cloud's support assistant.")
    assert [m.role for m in gen.input_messages] == ["user"]
    assert gen.output_messages[0].tool_calls[0].name == "lookup_order"
    assert gen.finish_reasons == ["tool_calls"]  # from metadata
    assert (gen.usage.input_tokens, gen.usage.output_tokens, gen.usage.total_tokens) == (812, 21, 833)
    assert (gen.prompt_template.id, gen.prompt_template.version) == ("support-answer", "7")
    assert (gen.session_id, gen.user_id) == ("sess_4f1c9a", "u_8812")
    assert gen.attributes["promptId"] == "cm1prompt7"  # the observation is kept verbatim
    final = exported["df60718293041526"]
    assert [m.role for m in final.input_messages] == ["user", "assistant", "tool"]
    assert final.input_messages[2].tool_call_id == "call_Lf2ab"
    assert final.output_text.startswith("Yes. Your annual Pro plan renewed")


def test_retriever_tool_and_error(exported):
    search = exported["9b2c3d4e5f607182"]
    assert search.retrieval_query == "refund annual Pro plan cancelled 20 days after renewal"
    assert [d.id for d in search.documents][-1] == "kb-refunds-annual-2023#2"
    assert (
        search.documents[-1].content == "Annual plans can be refunded within 14 days of purchase."
    )  # page_content
    assert search.documents[-1].updated_at == "2023-03-09T08:00:00Z"
    rerank = exported["ac3d4e5f60718293"]
    assert [d.score for d in rerank.documents] == [0.97, 0.42, 0.18]
    tool = exported["ce5f607182930415"]
    assert (tool.tool.name, tool.tool.call_id) == ("lookup_order", "call_Lf2ab")
    assert json.loads(tool.tool.arguments) == {"order_id": "AC-20931"}
    failed = exported["f182930415263748"]
    assert failed.is_error and failed.status.error_type == "TimeoutError"
    assert failed.status.message == "TimeoutError: refunds-api did not answer within 10s"


def test_jsonl_and_blob_export_match_the_json_export(exported):
    lines = spans_of("langfuse_observations.jsonl")
    assert lines["bd4e5f6071829304"].source.endswith("langfuse_observations.jsonl:4")
    blob = spans_of("langfuse_blob_export.jsonl")  # snake_case, 'YYYY-MM-DD HH:MM:SS.ffffff' times
    for span_id, span in blob.items():
        same = exported[span_id]
        for field in (
            "trace_id",
            "parent_span_id",
            "kind",
            "start_time",
            "end_time",
            "response_model",
            "sampling",
        ):
            assert getattr(span, field) == getattr(same, field), field
        assert span.input_messages == same.input_messages and span.documents == same.documents
        assert lines[span_id].model_dump(exclude={"source"}) == same.model_dump(exclude={"source"})


def test_api_page_and_trace_download():
    page = spans_of("langfuse_api_page.json")
    assert len(page) == 4 and page["0293041526374859"].service == "support-bot"  # metadata service.name
    assert page["0293041526374859"].session_id is None  # the API page carries no trace fields
    trace = spans_of("langfuse_trace.json")
    gen = trace["bd4e5f6071829304"]
    assert (gen.session_id, gen.user_id) == ("sess_4f1c9a", "u_8812")  # taken from the enclosing trace
    assert gen.service == "support-chat"  # no service recorded: the trace name
    assert (
        spans_of("langfuse_trace.json", default_service="support-bot")["bd4e5f6071829304"].service
        == "support-bot"
    )
