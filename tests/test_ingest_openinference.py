"""OpenInference (Phoenix) spans in OTLP JSON: every field of the fixture round-tripped into Span."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retrieval.ingest import iter_file
from retrieval.trace import IngestError, Span, SpanKind

FIXTURE = Path(__file__).parent / "fixtures" / "traces" / "otlp_openinference.json"


@pytest.fixture(scope="module")
def spans() -> dict[str, Span]:
    records = list(iter_file(FIXTURE))
    assert not [r for r in records if isinstance(r, IngestError)]
    assert {r.dialect for r in records} == {"openinference"}
    return {r.span_id: r for r in records}


def test_kinds(spans):
    kinds = {s.name: (s.kind, s.operation) for s in spans.values() if s.trace_id.startswith("1e22")}
    assert kinds == {
        "SupportChat": (SpanKind.chain, "chain"),
        "VectorIndexRetriever": (SpanKind.retrieval, "retrieval"),
        "CohereRerank": (SpanKind.retrieval, "rerank"),
        "ChatCompletion": (SpanKind.llm, "chat"),
        "lookup_order": (SpanKind.tool, "execute_tool"),
    }


def test_llm_fields(spans):
    llm = spans["df5d4e0b7f6a5d43"]
    assert llm.provider == "openai"
    assert (llm.request_model, llm.response_model) == ("gpt-4o", "gpt-4o-2024-08-06")
    s = llm.sampling
    assert (s.temperature, s.top_p, s.max_tokens, s.seed, s.stop_sequences) == (
        0.2,
        1.0,
        512,
        42,
        ["</answer>"],
    )
    assert llm.system_instructions.startswith("You are Acme Cloud's support assistant.")
    assert [m.role for m in llm.input_messages] == ["user"]
    call = llm.output_messages[0].tool_calls[0]
    assert (call.id, call.name, json.loads(call.arguments)) == (
        "call_Zx81",
        "lookup_order",
        {"order_id": "AC-20931"},
    )
    assert llm.finish_reasons == ["tool_calls"]
    assert (llm.usage.input_tokens, llm.usage.output_tokens, llm.usage.total_tokens) == (812, 21, 833)
    assert (llm.session_id, llm.user_id) == ("sess_4f1c9a", "u_8812")
    template = llm.prompt_template
    assert (template.id, template.version) == ("support-answer", "support-answer@7")
    assert template.template == "<context>\n{context}\n</context>\n\n{question}"
    assert template.variables["question"].startswith("I cancelled my annual Pro plan")
    assert json.loads(llm.input_value)["messages"][0]["role"] == "system"
    assert llm.attributes["llm.tools.0.tool.json_schema"].startswith('{"type": "function"')
    assert json.loads(llm.attributes["metadata"]) == {"tenant": "acme-eu", "channel": "web"}


def test_second_call_reads_message_contents_and_tool_messages(spans):
    final = spans["f17f6a2d9b8c7f65"]
    assert [m.role for m in final.input_messages] == ["user", "assistant", "tool"]
    assert final.input_messages[0].content.startswith("<context>")  # from message.contents.0.message_content
    assert final.input_messages[1].tool_calls[0].id == "call_Zx81"
    tool_reply = final.input_messages[2]
    assert (tool_reply.tool_call_id, tool_reply.name) == ("call_Zx81", "lookup_order")
    assert final.output_text.startswith("Yes. Your annual Pro plan renewed")
    assert final.output_value == final.output_text


def test_retriever_and_reranker_documents(spans):
    retriever = spans["bd3b2c8f5d4e3b21"]
    assert retriever.retrieval_query == "refund annual Pro plan cancelled 20 days after renewal"
    assert [d.score for d in retriever.documents] == [0.83, 0.71, 0.64, 0.61]
    doc = retriever.documents[0]
    assert doc.id == "kb-refunds-annual#2" and doc.content.startswith("Annual plans can be refunded in full")
    assert (doc.source, doc.updated_at) == ("help-center/billing/refunds-annual.md", "2025-05-28T09:12:00Z")
    reranker = spans["ce4c3d9a6e5f4c32"]  # output documents, not the input ones
    assert [(d.id, d.score) for d in reranker.documents] == [
        ("kb-refunds-annual#2", 0.97),
        ("kb-cancel#4", 0.42),
        ("kb-refunds-monthly#1", 0.18),
    ]
    assert reranker.attributes["reranker.model_name"] == "rerank-english-v3.0"


def test_tool_and_error(spans):
    tool = spans["e06e5f1c8a7b6e54"]
    assert (tool.tool.name, tool.tool.call_id) == ("lookup_order", "call_Zx81")
    assert tool.tool.description == "Look up an order by id in the billing system"
    assert json.loads(tool.tool.arguments) == {"order_id": "AC-20931"}
    assert json.loads(tool.tool.result)["amount"] == 348.0
    failed = spans["1b9c8d7e6f5a4b32"]
    assert failed.is_error and failed.status.error_type == "TimeoutError"
    assert failed.status.message == "TimeoutError: refunds-api did not answer within 10s"
    assert (failed.session_id, failed.user_id) == ("sess_9b77d0", "u_1207")
    answer = spans["2cad9e8f7a6b5c43"]
    assert answer.output_text.startswith("Done! I've refunded") and answer.finish_reasons == []
