"""Redaction: each kind is caught, ids/times/models/versions are left alone, and a span is redacted in
every text field, message, document, tool I/O and raw attribute."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from retrieval.ingest import iter_file
from retrieval.redact import ALL_KINDS, Redactor
from retrieval.trace import Document, Message, PostmortemDoc, Span, SpanEvent, Status, ToolCall, ToolInfo

FIXTURES = Path(__file__).parent / "fixtures"

CAUGHT = [
    ("write to dana.ortiz@example.com today", "write to [REDACTED:email] today"),
    ("<ops+alerts@mail.acme-cloud.io>", "<[REDACTED:email]>"),
    ("call +1 415 555 0134 after 5", "call [REDACTED:phone] after 5"),
    ("(415) 555-0134", "[REDACTED:phone]"),
    ("office 415.555.0134.", "office [REDACTED:phone]."),
    ("+44 20 7946 0958", "[REDACTED:phone]"),
    ("ring 020 7946 0958", "ring [REDACTED:phone]"),
    ("portable 06 12 34 56 78", "portable [REDACTED:phone]"),
    ("+33 6 12 34 56 78", "[REDACTED:phone]"),
    ("phone: 4155550134", "phone: [REDACTED:phone]"),
    ("card 4242 4242 4242 4242 exp 12/27", "card [REDACTED:card] exp 12/27"),
    ("4111111111111111", "[REDACTED:card]"),
    ("5555-5555-5555-4444", "[REDACTED:card]"),
    ("amex 378282246310005", "amex [REDACTED:card]"),
    ("Authorization: Bearer abc.def-ghi_jklmnop12345", "Authorization: Bearer [REDACTED:bearer]"),
    (
        "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "jwt [REDACTED:bearer]",
    ),
    ("OPENAI_API_KEY=sk-proj-AbCdEf1234567890XyZ_abcdefghij", "OPENAI_API_KEY=[REDACTED:api_key]"),
    ("sk-ant-api03-AbCdEf1234567890XyZ_abcdefghij-xyz", "[REDACTED:api_key]"),
    ("aws AKIAIOSFODNN7EXAMPLE", "aws [REDACTED:api_key]"),
    ("slack xoxb-1234567890-abcdefghij", "slack [REDACTED:api_key]"),
    ('{"api_key": "9f8e7d6c5b4a39211009ab"}', '{"api_key": "[REDACTED:api_key]"}'),
    ("password=Hunter2Hunter2Hunter2", "password=[REDACTED:api_key]"),
    ("héllo, ring 020 7946 0958 — merci", "héllo, ring [REDACTED:phone] — merci"),  # non-ASCII around numbers
]

LEFT_ALONE = [
    "2024-03-01",
    "2025-06-03T14:07:12.120Z",
    "2025-06-03T14:07:12.123456789+02:00",
    "2025-06-03 14:07:12.120000",
    "between 09:40 and 15:05 UTC",
    "gpt-4o-2024-08-06",
    "claude-3-5-sonnet-20241022",
    "rerank-v3.5",
    "v1.2.3 and version 2.14.0, release 2025.06.02",
    "192.168.100.200 and 10.0.0.1:8080",
    "1748959632120000000",  # unix nanos
    "1717171717",  # unix seconds
    "1556604172355737",  # micros
    "5b8efff798038103d269b633813fc60c",
    "eee19b7ec3c1b174",
    "550e8400-e29b-41d4-a716-446655440000",
    "Order AC-20931, ORD-2024-000123",
    "$348.00 refunded, 1,234,567 tokens",
    "max_tokens: 1024, input_tokens=812, top_k 4.0 seed 42",
    "1234567890123",  # 13 digits failing Luhn
    "4242 4242 4242 4241",  # a card shape failing Luhn
    "ISBN 978-3-16-148410-0",
    "chatcmpl-BdQ1cW7uVx0 call_VSPygqKTWdrhaFErNvMV18Yl",
    "sess_4f1c9a u_8812 @support-team",
    '{"amount": 348.0, "renewed_at": "2025-05-14"}',
    "the bearer of bad news",
]


@pytest.mark.parametrize(("text", "expected"), CAUGHT)
def test_each_kind_is_caught(text, expected):
    assert Redactor().text(text) == expected


@pytest.mark.parametrize("text", LEFT_ALONE)
def test_ids_times_models_versions_are_left_alone(text):
    assert Redactor().text(text) == text


def test_kinds_are_selectable():
    text = "mail a@b.io or call +1 415 555 0134, card 4111111111111111"
    assert (
        Redactor(["email"]).text(text)
        == "mail [REDACTED:email] or call +1 415 555 0134, card 4111111111111111"
    )
    assert Redactor(["card"]).text(text) == "mail a@b.io or call +1 415 555 0134, card [REDACTED:card]"
    assert Redactor([]).text(text) == text
    assert set(ALL_KINDS) == {"email", "phone", "card", "api_key", "bearer"}
    with pytest.raises(ValueError, match="unknown redaction kind"):
        Redactor(["email", "ssn"])


def _span() -> Span:
    pii = "I'm dana.ortiz@example.com, card 4111111111111111"
    return Span(
        trace_id="5b8efff798038103d269b633813fc60c",
        span_id="a2fb4a1d1a96d312",
        parent_span_id="b7ad6b7169203331",
        service="support-bot",
        name="chat gpt-4o",
        start_time=datetime(2025, 6, 3, 14, 7, 12, tzinfo=UTC),
        status=Status(code="error", message="failed for dana.ortiz@example.com", error_type="429"),
        request_model="gpt-4o",
        response_model="gpt-4o-2024-08-06",
        system_instructions="Escalate to ops@acme-cloud.io",
        input_messages=[
            Message(role="user", content=pii),
            Message(
                role="assistant",
                tool_calls=[ToolCall(id="call_1", name="lookup", arguments='{"phone": "+1 415 555 0134"}')],
            ),
        ],
        output_messages=[
            Message(role="assistant", content="Emailed dana.ortiz@example.com", finish_reason="stop")
        ],
        input_value=pii,
        retrieval_query="refunds for dana.ortiz@example.com",
        documents=[
            Document(
                id="doc-1",
                content=pii,
                metadata={"author": "bo@acme.io", "updated_at": "2025-05-28T09:12:00Z"},
            )
        ],
        tool=ToolInfo(
            name="lookup",
            call_id="call_1",
            arguments='{"email": "a@b.io"}',
            result='{"card": "4111 1111 1111 1111"}',
        ),
        user_id="dana.ortiz@example.com",
        session_id="sess_4f1c9a",
        events=[SpanEvent(name="exception", attributes={"exception.message": "no user a@b.io"})],
        attributes={
            "gen_ai.input.messages": '[{"role": "user", "parts": [{"type": "text", "content": "mail a@b.io"}]}]',
            "gen_ai.request.model": "gpt-4o",
            "user.id": "dana.ortiz@example.com",
            "http.request.header.authorization": ["Bearer abcdefghijklmnop123"],
            "nested": {"deep": ["call +1 415 555 0134"]},
            "gen_ai.response.id": "chatcmpl-4111111111111111",
            "count": 4111111111111111,
        },
        resource={"service.name": "support-bot", "owner": "ops@acme-cloud.io"},
    )


def test_span_every_text_field_redacted_and_identity_kept():
    original = _span()
    red = Redactor().span(original)
    dump = red.model_dump_json()
    for secret in (
        "dana.ortiz@example.com",
        "4111111111111111",
        "415 555 0134",
        "a@b.io",
        "abcdefghijklmnop123",
        "ops@acme",
    ):
        assert secret not in dump.replace("chatcmpl-4111111111111111", "").replace(
            '"count":4111111111111111', ""
        ), secret
    assert red.input_messages[0].content == "I'm [REDACTED:email], card [REDACTED:card]"
    assert red.input_messages[1].tool_calls[0].arguments == '{"phone": "[REDACTED:phone]"}'
    assert red.documents[0].metadata == {"author": "[REDACTED:email]", "updated_at": "2025-05-28T09:12:00Z"}
    assert red.tool.result == '{"card": "[REDACTED:card]"}'
    assert red.status.message == "failed for [REDACTED:email]" and red.status.error_type == "429"
    assert red.events[0].attributes["exception.message"] == "no user [REDACTED:email]"
    assert red.attributes["http.request.header.authorization"] == ["Bearer [REDACTED:bearer]"]
    assert red.attributes["nested"] == {"deep": ["call [REDACTED:phone]"]}
    assert red.resource == {"service.name": "support-bot", "owner": "[REDACTED:email]"}
    # identity, times, models, ids and numbers are untouched
    for field in (
        "trace_id",
        "span_id",
        "parent_span_id",
        "service",
        "name",
        "start_time",
        "request_model",
        "response_model",
        "session_id",
    ):
        assert getattr(red, field) == getattr(original, field), field
    assert red.attributes["gen_ai.response.id"] == "chatcmpl-4111111111111111"
    assert red.attributes["count"] == 4111111111111111
    assert red.documents[0].id == "doc-1" and red.tool.call_id == "call_1"
    assert original.input_messages[0].content.startswith("I'm dana.ortiz")  # the input is not mutated


def test_identifiers_with_pii_stay_distinct():
    red = Redactor()
    first = red.span(_span())
    other = red.span(_span().model_copy(update={"user_id": "sam.lee@example.com"}))
    assert first.user_id.startswith("[REDACTED:email]#") and other.user_id.startswith("[REDACTED:email]#")
    assert first.user_id != other.user_id
    assert first.attributes["user.id"] == first.user_id
    assert red.span(_span()).user_id == first.user_id  # stable across runs


def test_fixture_spans_and_postmortems():
    spans = [s for s in iter_file(FIXTURES / "traces" / "otlp_genai_current.json") if isinstance(s, Span)]
    red = Redactor()
    asked = next(s for s in spans if s.span_id == "2b3c4d5e6f708192")
    assert red.span(asked).user_text.endswith("Reach me at [REDACTED:email] or [REDACTED:phone].")
    clean = next(s for s in spans if s.span_id == "a2fb4a1d1a96d312")
    assert red.span(clean) == clean  # nothing to redact: identical
    doc = PostmortemDoc(
        id="PM-1",
        title="Leak of a@b.io",
        text="Customer +44 20 7946 0958 called",
        metadata={"reporter": "x@y.io"},
    )
    out = red.postmortem(doc)
    assert (out.title, out.text, out.metadata) == (
        "Leak of [REDACTED:email]",
        "Customer [REDACTED:phone] called",
        {"reporter": "[REDACTED:email]"},
    )
    assert out.id == "PM-1"
