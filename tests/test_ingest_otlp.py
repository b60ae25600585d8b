"""OTLP/JSON ingest: AnyValue decoding, transport forms, and every field of the GenAI fixtures (current,
legacy, OpenLLMetry) round-tripped into Span."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from retrieval.ingest import decode_any_value, decode_attributes, detect_format, iter_file
from retrieval.trace import IngestError, Span, SpanKind

TRACES = Path(__file__).parent / "fixtures" / "traces"


def spans_of(path: Path, **kwargs) -> dict[str, Span]:
    records = list(iter_file(path, **kwargs))
    errors = [r for r in records if isinstance(r, IngestError)]
    assert errors == []
    return {r.span_id: r for r in records}


@pytest.fixture(scope="module")
def current() -> dict[str, Span]:
    return spans_of(TRACES / "otlp_genai_current.json")


@pytest.fixture(scope="module")
def legacy() -> dict[str, Span]:
    return spans_of(TRACES / "otlp_genai_legacy.jsonl")


@pytest.fixture(scope="module")
def openllmetry() -> dict[str, Span]:
    return spans_of(TRACES / "otlp_openllmetry.jsonl")


def test_any_value_every_form():
    assert decode_any_value({"stringValue": "a"}) == "a"
    assert decode_any_value({"intValue": "9007199254740993"}) == 9007199254740993  # int64 as a string
    assert decode_any_value({"intValue": 7}) == 7
    assert decode_any_value({"doubleValue": 0.25}) == 0.25
    assert decode_any_value({"boolValue": False}) is False
    assert decode_any_value({"arrayValue": {"values": [{"stringValue": "x"}, {"intValue": "2"}]}}) == ["x", 2]
    nested = {
        "kvlistValue": {
            "values": [
                {
                    "key": "k",
                    "value": {"kvlistValue": {"values": [{"key": "n", "value": {"doubleValue": 1.5}}]}},
                }
            ]
        }
    }
    assert decode_any_value(nested) == {"k": {"n": 1.5}}
    assert decode_any_value({"bytesValue": base64.b64encode(b"sha256:9f").decode()}) == "sha256:9f"
    binary = base64.b64encode(b"\xff\x00\xfe").decode()
    assert decode_any_value({"bytesValue": binary}) == binary  # not text: stays base64
    assert decode_any_value({}) is None
    assert decode_any_value({"int_value": "3"}) == 3  # proto field names are accepted too
    assert decode_attributes([{"key": "a", "value": {"arrayValue": {}}}]) == {"a": []}


def test_formats_are_detected():
    assert detect_format(TRACES / "otlp_genai_current.json") == "otlp-json"
    assert detect_format(TRACES / "otlp_openinference.json") == "otlp-json"
    assert detect_format(TRACES / "otlp_genai_legacy.jsonl") == "otlp-jsonl"
    assert detect_format(TRACES / "otlp_openllmetry.jsonl") == "otlp-jsonl"


def test_collector_jsonl_named_json_is_detected_by_content(tmp_path):
    target = tmp_path / "traces.json"  # the file exporter's default name, JSON lines inside
    target.write_text((TRACES / "otlp_genai_legacy.jsonl").read_text())
    assert detect_format(target) == "otlp-jsonl"
    assert len([r for r in iter_file(target) if isinstance(r, Span)]) == 8


def test_current_identity_times_and_resource(current):
    llm = current["a2fb4a1d1a96d312"]
    assert llm.trace_id == "5b8efff798038103d269b633813fc60c"
    assert llm.parent_span_id == "b7ad6b7169203331"
    assert current["eee19b7ec3c1b174"].parent_span_id is None
    assert llm.service == "support-bot"
    assert llm.name == "chat gpt-4o"
    assert llm.start_time == datetime(2025, 6, 3, 14, 7, 12, 515000, tzinfo=UTC)
    assert llm.end_time == datetime(2025, 6, 3, 14, 7, 13, 740000, tzinfo=UTC)
    assert llm.duration_ms == pytest.approx(1225.0)
    assert llm.resource["service.version"] == "2.14.0"
    assert llm.resource["app.feature_flags"] == {"rerank": True, "kb_snapshot": "2025-05-30"}
    assert llm.dialect == "genai"
    assert llm.source == f"{TRACES / 'otlp_genai_current.json'}#record 5"
    root = current["eee19b7ec3c1b174"]
    assert root.dialect == "otel" and root.kind == SpanKind.other
    assert root.attributes["app.request.digest"] == "sha256:9f2c1e"  # bytesValue decoded
    assert root.attributes["http.response.status_code"] == 200  # intValue string -> int
    assert root.session_id == "sess_4f1c9a" and root.user_id == "u_8812"


def test_current_llm_fields(current):
    llm = current["a2fb4a1d1a96d312"]
    assert (llm.kind, llm.operation, llm.provider) == (SpanKind.llm, "chat", "openai")
    assert (llm.request_model, llm.response_model, llm.model) == (
        "gpt-4o",
        "gpt-4o-2024-08-06",
        "gpt-4o-2024-08-06",
    )
    s = llm.sampling
    assert (s.temperature, s.top_p, s.max_tokens, s.seed, s.frequency_penalty) == (0.2, 1.0, 512, 42, 0.0)
    assert s.stop_sequences == ["</answer>"]
    assert llm.system_instructions.startswith("You are Acme Cloud's support assistant.")
    assert [m.role for m in llm.input_messages] == ["user"]
    assert "<context>" in llm.input_messages[0].content and "Order AC-20931" in llm.user_text
    [out] = llm.output_messages
    assert out.finish_reason == "tool_calls" and out.content is None
    assert out.tool_calls[0].id == "call_VSPygqKTWdrhaFErNvMV18Yl"
    assert out.tool_calls[0].name == "lookup_order"
    assert json.loads(out.tool_calls[0].arguments) == {"order_id": "AC-20931"}
    assert llm.finish_reasons == ["tool_calls"]
    assert (llm.usage.input_tokens, llm.usage.output_tokens) == (812, 38)
    assert (
        llm.conversation_id == "conv_5j66UpCpwteGg4YSxUnt7lPY"
        and llm.session == "conv_5j66UpCpwteGg4YSxUnt7lPY"
    )
    assert (llm.prompt_template.id, llm.prompt_template.version) == ("support-answer", "7")


def test_current_tool_round_trip_in_second_call(current):
    final = current["d4e5f6a7b8c9d0e1"]
    assert [m.role for m in final.input_messages] == ["user", "assistant", "tool"]
    assert final.input_messages[1].tool_calls[0].name == "lookup_order"
    tool_reply = final.input_messages[2]
    assert tool_reply.tool_call_id == "call_VSPygqKTWdrhaFErNvMV18Yl"
    assert json.loads(tool_reply.content)["amount"] == 348.0
    assert final.output_text.startswith("Yes. Your annual Pro plan renewed on 14 May")
    assert final.finish_reasons == ["stop"]


def test_current_retrieval_structured_and_json_documents(current):
    retrieval = current["00f067aa0ba902b7"]  # documents as arrayValue of kvlistValue
    assert (retrieval.kind, retrieval.operation) == (SpanKind.retrieval, "retrieval")
    assert retrieval.retrieval_query == "refund annual Pro plan cancelled 20 days after renewal"
    assert [d.id for d in retrieval.documents] == [
        "kb-refunds-annual#2",
        "kb-refunds-monthly#1",
        "kb-cancel#4",
        "kb-refunds-annual-2023#2",
    ]
    old = retrieval.documents[3]
    assert old.score == 0.61 and old.content == "Annual plans can be refunded within 14 days of purchase."
    assert old.source == "help-center/archive/refunds-2023.md" and old.updated_at == "2023-03-09T08:00:00Z"
    rerank = current["53995c3f42cd8ad8"]  # documents as a JSON string
    assert (rerank.kind, rerank.operation, rerank.provider) == (SpanKind.retrieval, "rerank", "cohere")
    assert [(d.id, d.score) for d in rerank.documents] == [
        ("kb-refunds-annual#2", 0.97),
        ("kb-cancel#4", 0.42),
        ("kb-refunds-monthly#1", 0.18),
    ]
    assert rerank.documents[0].metadata["title"] == "Refunds for annual plans"


def test_current_tool_and_agent(current):
    tool = current["c3d4e5f6a7b8c9d0"]
    assert (tool.kind, tool.operation) == (SpanKind.tool, "execute_tool")
    assert tool.tool.name == "lookup_order" and tool.tool.call_id == "call_VSPygqKTWdrhaFErNvMV18Yl"
    assert tool.tool.description == "Look up an order by id in the billing system"
    assert json.loads(tool.tool.arguments) == {"order_id": "AC-20931"}
    assert json.loads(tool.tool.result)["status"] == "cancelled"
    agent = current["b7ad6b7169203331"]
    assert (agent.kind, agent.operation) == (SpanKind.agent, "invoke_agent")


def test_current_errors_and_event_content(current):
    throttled = current["1a2b3c4d5e6f7081"]
    assert throttled.is_error and throttled.status.error_type == "429"
    assert throttled.status.message.startswith("Rate limit reached")
    assert throttled.output_messages == [] and throttled.response_model is None
    failed_tool = current["3c4d5e6f70819203"]  # status code given as the enum name
    assert failed_tool.status.code == "error" and failed_tool.status.error_type == "TimeoutError"
    assert failed_tool.status.message == "refunds-api did not answer within 10s"
    assert failed_tool.events[0].name == "exception"
    assert failed_tool.events[0].attributes["exception.escaped"] is False
    assert failed_tool.tool.result is None
    # content carried only by the gen_ai.client.inference.operation.details event
    final = current["4d5e6f7081920314"]
    assert "gen_ai.input.messages" not in final.attributes
    assert final.system_instructions.startswith("You are Acme Cloud")
    assert final.input_messages[-1].content == "error: upstream timeout after 10s"
    assert final.output_text.startswith("Done! I've refunded the duplicate charge")
    assert final.events[0].timestamp == datetime(2025, 6, 3, 14, 8, 26, 870000, tzinfo=UTC)


def test_legacy_flat_attributes_and_transport(legacy):
    llm = legacy["5c4d3e2f1a0b9c8d"]
    assert llm.dialect == "genai-legacy"
    assert llm.source.endswith("otlp_genai_legacy.jsonl:1")
    assert (llm.kind, llm.operation, llm.provider) == (
        SpanKind.llm,
        "chat",
        "openai",
    )  # no operation recorded
    assert (llm.request_model, llm.response_model) == ("gpt-4o-mini", "gpt-4o-mini-2024-07-18")
    assert (llm.sampling.temperature, llm.sampling.top_p, llm.sampling.max_tokens, llm.sampling.seed) == (
        0.3,
        0.9,
        600,
        7,
    )
    # the system prompt recorded as message 0 becomes the system instructions
    assert llm.system_instructions.startswith("You are Acme Cloud's support assistant.")
    assert [m.role for m in llm.input_messages] == ["user"]
    call = llm.output_messages[0].tool_calls[0]
    assert (call.id, call.name, json.loads(call.arguments)) == (
        "call_b1X9",
        "lookup_order",
        {"order_id": "AC-20931"},
    )
    assert (llm.usage.input_tokens, llm.usage.output_tokens) == (790, 22)
    assert llm.session_id == "sess_71aa02"
    assert legacy["7e1f5c3b9a2d4e60"].user_id == "u_8812"  # enduser.id


def test_legacy_content_in_events(legacy):
    from_blob = legacy["3e2f1a0b9c8d7e6f"]  # gen_ai.content.prompt / gen_ai.content.completion events
    assert from_blob.source.endswith("otlp_genai_legacy.jsonl:2")
    assert [m.role for m in from_blob.input_messages] == ["user", "assistant", "tool"]
    assert from_blob.input_messages[1].tool_calls[0].name == "lookup_order"
    assert from_blob.input_messages[2].tool_call_id == "call_b1X9"
    assert from_blob.output_messages[0].content.startswith("Yes. Your annual Pro plan")
    assert from_blob.finish_reasons == ["stop"]
    per_message = legacy["0b9c8d7e6f504132"]  # gen_ai.system.message / user.message / choice events
    assert per_message.system_instructions.startswith("You are Acme Cloud")
    assert per_message.user_text == "Where is my invoice for May? My card ends 4242."
    assert per_message.output_messages[0].content.startswith("Your May invoice")
    assert per_message.finish_reasons == ["stop"]
    timed_out = legacy["1a0b9c8d7e6f5041"]
    assert timed_out.is_error and timed_out.status.error_type == "openai.APITimeoutError"
    assert timed_out.status.message == "Request timed out."


def test_a_file_can_mix_dialects(legacy):
    assert legacy["6a5b4c3d2e1f0a9b"].dialect == "genai"  # a current retrieval span in a legacy file
    assert len(legacy["6a5b4c3d2e1f0a9b"].documents) == 4
    assert legacy["5c4d3e2f1a0b9c8d"].dialect == "genai-legacy"


def test_openllmetry_workflow_task_tool(openllmetry):
    workflow = openllmetry["9f8e7d6c5b4a3921"]
    assert (workflow.dialect, workflow.kind, workflow.operation) == (
        "openllmetry",
        SpanKind.chain,
        "invoke_workflow",
    )
    assert (workflow.session_id, workflow.user_id) == ("sess_c0ffee42", "u_5521")
    assert json.loads(workflow.input_value)["kwargs"]["question"].startswith("I cancelled my annual Pro plan")
    assert openllmetry["8e7d6c5b4a392110"].kind == SpanKind.chain
    tool = openllmetry["4a39211009988776"]
    assert (tool.kind, tool.tool.name) == (SpanKind.tool, "lookup_order")
    assert json.loads(tool.tool.arguments)["kwargs"] == {"order_id": "AC-20931"}
    assert json.loads(tool.tool.result)["plan"] == "pro-annual"
    failed = openllmetry["2110099887766554"]
    assert failed.is_error and failed.status.error_type == "requests.exceptions.ConnectionError"


def test_openllmetry_llm_with_managed_prompt(openllmetry):
    llm = openllmetry["5b4a392110099887"]
    assert (llm.kind, llm.operation, llm.provider) == (SpanKind.llm, "chat", "openai")
    assert (llm.request_model, llm.response_model) == ("gpt-4o", "gpt-4o-2024-08-06")
    assert (llm.usage.input_tokens, llm.usage.output_tokens, llm.usage.total_tokens) == (815, 19, 834)
    assert llm.prompt_template.id == "support-answer" and llm.prompt_template.version == "7"
    assert "{{question}}" in llm.prompt_template.template
    assert llm.prompt_template.variables["context"] == "(3 excerpts)"
    assert llm.output_messages[0].tool_calls[0].name == "lookup_order"
    final = openllmetry["3921100998877665"]
    assert [m.role for m in final.input_messages] == ["user", "assistant", "tool"]
    assert final.input_messages[2].tool_call_id == "call_7QpVx"


def test_openllmetry_vector_db_and_rerank(openllmetry):
    chroma = openllmetry["7d6c5b4a39211009"]
    assert (chroma.kind, chroma.operation) == (SpanKind.retrieval, "retrieval")
    assert [d.id for d in chroma.documents][0] == "kb-refunds-annual#2"
    assert chroma.documents[0].score is None  # a distance is kept apart, not turned into a score
    assert chroma.documents[0].metadata["distance"] == pytest.approx(0.17)
    assert chroma.documents[3].updated_at == "2023-03-09T08:00:00Z"
    rerank = openllmetry["6c5b4a3921100998"]
    assert (rerank.kind, rerank.operation, rerank.provider) == (SpanKind.retrieval, "rerank", "cohere")
    assert rerank.retrieval_query == "refund annual Pro plan cancelled 20 days after renewal"
    assert [(d.id, d.score) for d in rerank.documents] == [("0", 0.97), ("2", 0.42), ("1", 0.18)]
    assert rerank.documents[1].content.startswith("To cancel, open Settings")
    assert rerank.system_instructions is None


def _request(spans: list[dict], resource_first: bool = True) -> dict:
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]}
    scope = {"scope": {"name": "t"}, "spans": spans}
    body = (
        {"resource": resource, "scopeSpans": [scope]}
        if resource_first
        else {"scopeSpans": [scope], "resource": resource}
    )
    return {"resourceSpans": [body]}


def _raw_span(span_id: str = "00f067aa0ba902b7", **extra) -> dict:
    return {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": span_id,
        "name": "s",
        "startTimeUnixNano": "1748959632120000000",
        "endTimeUnixNano": 1748959633120000000,
        **extra,
    }


def test_resource_after_spans_still_applies(tmp_path):
    target = tmp_path / "late_resource.json"
    target.write_text(json.dumps(_request([_raw_span()], resource_first=False), indent=1))
    [span] = list(iter_file(target))
    assert span.service == "svc"


def test_base64_ids_snake_case_and_default_service(tmp_path):
    raw = {
        "trace_id": base64.b64encode(bytes.fromhex("5b8efff798038103d269b633813fc60c")).decode(),
        "span_id": base64.b64encode(bytes.fromhex("00f067aa0ba902b7")).decode(),
        "name": "s",
        "start_time_unix_nano": "1748959632120000000",
    }
    target = tmp_path / "snake.json"
    target.write_text(json.dumps({"resource_spans": [{"resource": {}, "scope_spans": [{"spans": [raw]}]}]}))
    [span] = list(iter_file(target, default_service="checkout"))
    assert (span.trace_id, span.span_id) == ("5b8efff798038103d269b633813fc60c", "00f067aa0ba902b7")
    assert span.service == "checkout"
    assert span.start_time == datetime(2025, 6, 3, 14, 7, 12, 120000, tzinfo=UTC)


def test_uppercase_hex_ids_are_lowercased(tmp_path):
    target = tmp_path / "upper.json"
    target.write_text(json.dumps(_request([_raw_span("00F067AA0BA902B7")])))
    [span] = list(iter_file(target))
    assert span.span_id == "00f067aa0ba902b7"


def test_gzip_is_read_transparently(tmp_path):
    import gzip

    target = tmp_path / "traces.jsonl.gz"
    target.write_bytes(gzip.compress((TRACES / "otlp_openllmetry.jsonl").read_bytes()))
    assert detect_format(target) == "otlp-jsonl"
    assert len([r for r in iter_file(target) if isinstance(r, Span)]) == 8
