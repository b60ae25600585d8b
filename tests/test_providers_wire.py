"""The real openai and anthropic SDKs against the local fake wire server: retries, timeouts, malformed answers."""

from __future__ import annotations

import json
import time

import pytest
from pydantic import BaseModel

from agent.providers.anthropic_provider import AnthropicProvider
from agent.providers.base import ChatMessage, ChatRequest, Provider, ProviderError, RetryPolicy
from agent.providers.openai_provider import OpenAIProvider
from tests.wire.server import (
    FakeLLMServer,
    Scripted,
    anthropic_error,
    anthropic_message,
    openai_completion,
    openai_error,
)


class Verdict(BaseModel):
    layer: str
    ids: list[str]


GOOD = json.dumps({"layer": "data", "ids": ["span:ab12"]})
FAST = RetryPolicy(max_retries=2, base_delay=0.01, max_delay=0.5, answer_retries=1)


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)
        time.sleep(seconds)


@pytest.fixture
def server():
    with FakeLLMServer() as fake:
        yield fake


def make(
    kind: str, server: FakeLLMServer, *, timeout: float = 5.0, sleeps: Sleeps | None = None, **kw
) -> Provider:
    common = {"policy": FAST, "timeout": timeout, "sleep": sleeps if sleeps is not None else Sleeps(), **kw}
    if kind == "openai":  # the fake plays the hosted API: priced, timeouts retried
        return OpenAIProvider(api_key="sk-test", base_url=server.url + "/v1", local=False, **common)
    if kind == "compatible":
        return OpenAIProvider(
            api_key=None, base_url=server.url + "/v1", compatible=True, model="llama3.1:8b", **common
        )
    return AnthropicProvider(api_key="sk-ant-test", base_url=server.url, local=False, **common)


def ok(kind: str, text: str = GOOD) -> Scripted:
    return anthropic_message(text) if kind == "anthropic" else openai_completion(text)


def err(kind: str, status: int, message: str = "busy", headers: dict[str, str] | None = None) -> Scripted:
    return (anthropic_error if kind == "anthropic" else openai_error)(status, message, headers=headers)


def request(text: str = "Classify this.") -> ChatRequest:
    return ChatRequest(
        system="You are terse.", messages=[ChatMessage(role="user", content=text)], max_tokens=200
    )


KINDS = ["openai", "anthropic", "compatible"]


def test_openai_parse_sends_strict_schema_and_meters_usage(server):
    server.enqueue(openai_completion(GOOD, prompt_tokens=1000, completion_tokens=100))
    provider = make("openai", server, model="gpt-4.1-mini")
    parsed = provider.parse(request().model_copy(update={"temperature": 0}), Verdict)
    assert parsed.value == Verdict(layer="data", ids=["span:ab12"])
    body = server.requests[0].body
    assert server.requests[0].path == "/v1/chat/completions"
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["strict"] is True
    assert body["messages"][0] == {"role": "system", "content": "You are terse."}
    assert body["max_completion_tokens"] == 200 and body["temperature"] == 0
    assert server.requests[0].headers["authorization"] == "Bearer sk-test"
    # gpt-4.1-mini: $0.40 in / $1.60 out per million tokens
    assert parsed.usage.input_tokens == 1000 and parsed.usage.output_tokens == 100
    assert parsed.usage.cost_usd == pytest.approx((1000 * 0.40 + 100 * 1.60) / 1e6)
    assert parsed.usage.calls == 1 and parsed.usage.failed_calls == 0


def test_anthropic_parse_sends_output_format_and_system(server):
    server.enqueue(anthropic_message(GOOD, input_tokens=2000, output_tokens=50))
    provider = make("anthropic", server)
    parsed = provider.parse(request(), Verdict)
    assert parsed.value.layer == "data"
    body = server.requests[0].body
    assert server.requests[0].path == "/v1/messages"
    assert body["system"] == "You are terse."
    assert body["output_config"]["format"]["type"] == "json_schema"
    assert body["output_config"]["format"]["schema"]["required"] == ["layer", "ids"]
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Classify this."}]}]
    # claude-sonnet-4-5 snapshot: $3 in / $15 out per million
    assert parsed.usage.cost_usd == pytest.approx((2000 * 3 + 50 * 15) / 1e6)


def test_compatible_server_uses_max_tokens_and_has_no_price(server):
    server.enqueue(openai_completion(GOOD, model="llama3.1:8b"))
    parsed = make("compatible", server).parse(request(), Verdict)
    body = server.requests[0].body
    assert (
        body["model"] == "llama3.1:8b" and body["max_tokens"] == 200 and "max_completion_tokens" not in body
    )
    assert parsed.usage.cost_usd is None and parsed.usage.provider == "openai-compatible"


@pytest.mark.parametrize("kind", KINDS)
def test_429_then_success_honours_retry_after(server, kind):
    sleeps = Sleeps()
    server.enqueue(err(kind, 429, "rate limited", {"retry-after": "0.05"}), ok(kind))
    parsed = make(kind, server, sleeps=sleeps).parse(request(), Verdict)
    assert parsed.value.layer == "data"
    assert len(server.requests) == 2
    assert sleeps == [0.05]
    assert parsed.usage.calls == 2 and parsed.usage.failed_calls == 1


@pytest.mark.parametrize(
    "kind,status", [("openai", 500), ("openai", 503), ("anthropic", 529), ("anthropic", 502)]
)
def test_5xx_is_retried_with_backoff(server, kind, status):
    sleeps = Sleeps()
    server.enqueue(err(kind, status), err(kind, status), ok(kind))
    parsed = make(kind, server, sleeps=sleeps).parse(request(), Verdict)
    assert parsed.value.ids == ["span:ab12"]
    assert len(sleeps) == 2 and all(0 < s <= 0.5 for s in sleeps)


@pytest.mark.parametrize("kind", KINDS)
def test_persistent_5xx_gives_one_line_provider_error(server, kind):
    server.enqueue(*[err(kind, 500, "upstream\nexploded")] * 3)
    with pytest.raises(ProviderError) as info:
        make(kind, server).parse(request(), Verdict)
    assert len(server.requests) == FAST.max_retries + 1
    assert "HTTP 500" in info.value.reason and "gave up after 3 attempts" in info.value.reason
    assert "\n" not in info.value.reason
    assert info.value.usage.failed_calls == 3


@pytest.mark.parametrize("kind", KINDS)
def test_client_errors_are_not_retried(server, kind):
    server.enqueue(err(kind, 401, "invalid x-api-key"))
    with pytest.raises(ProviderError) as info:
        make(kind, server).parse(request(), Verdict)
    assert len(server.requests) == 1
    assert "HTTP 401" in info.value.reason and "refused the API key" in info.value.reason
    assert "invalid x-api-key" not in info.value.reason and "invalid x-api-key" in info.value.detail
    assert "attempt" not in info.value.reason  # one attempt is not "gave up after 1 attempts"


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_timeout_then_success(server, kind):
    # The slow answer would be unusable ({} is no completion): had the client awaited it, the call would count an
    # invalid answer, not a failed one. The margins are wide (a timeout of 2 s against a 60 s delay, and 2 s for
    # the good answer), so a loaded machine cannot turn either side around; nothing times the wall clock.
    server.enqueue(Scripted(delay=60.0, body={}), ok(kind))
    parsed = make(kind, server, timeout=2.0).parse(request(), Verdict)
    assert parsed.value.layer == "data"
    assert parsed.usage.calls == 2 and parsed.usage.failed_calls == 1  # the slow answer was abandoned
    assert parsed.usage.invalid_answers == 0  # ... not read
    assert len(server.requests) == 2 and server.pending == 0


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_timeouts_until_retries_run_out(server, kind):
    server.enqueue(*[Scripted(delay=0.6, body={})] * 3)
    with pytest.raises(ProviderError) as info:
        make(kind, server, timeout=0.15).parse(request(), Verdict)
    assert "timed out after 0.15s" in info.value.reason
    assert info.value.retryable


@pytest.mark.parametrize("kind", KINDS)
def test_malformed_json_answer_is_asked_again_and_metered(server, kind):
    server.enqueue(ok(kind, '{"layer": "data", "ids": ["span:ab'), ok(kind))
    parsed = make(kind, server).parse(request(), Verdict)
    assert parsed.value.layer == "data"
    assert parsed.usage.calls == 2 and parsed.usage.invalid_answers == 1
    assert (
        parsed.usage.output_tokens > 0 and parsed.usage.input_tokens >= 2 * 120
    )  # both answers were paid for


@pytest.mark.parametrize("kind", KINDS)
def test_malformed_twice_is_unusable(server, kind):
    server.enqueue(ok(kind, "Sure! The layer is data."), ok(kind, '{"layer": 3}'))
    with pytest.raises(ProviderError) as info:
        make(kind, server).parse(request(), Verdict)
    assert "unusable answer" in info.value.reason and "malformed structured output" in info.value.reason
    assert info.value.usage.invalid_answers == 2


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_unreadable_http_body_is_retried(server, kind):
    server.enqueue(Scripted(raw=b'{"id": "x", "choi'), ok(kind))
    parsed = make(kind, server).parse(request(), Verdict)
    assert parsed.value.layer == "data"
    assert parsed.usage.failed_calls == 1


def test_openai_refusal_is_unusable(server):
    server.enqueue(*[openai_completion(None, refusal="I can't help with that.")] * 2)
    with pytest.raises(ProviderError, match="model refused"):
        make("openai", server).parse(request(), Verdict)


@pytest.mark.parametrize("kind", KINDS)
def test_free_text_completion(server, kind):
    server.enqueue(ok(kind, "Refunds are allowed within 30 days."))
    done = make(kind, server).complete(request("When can I get a refund?"))
    assert done.text == "Refunds are allowed within 30 days."
    assert done.usage.input_tokens > 0


def test_anthropic_maps_tool_turns_and_merges_roles(server):
    server.enqueue(anthropic_message("ok"))
    req = ChatRequest(
        messages=[
            ChatMessage(role="user", content="Book it"),
            ChatMessage(
                role="assistant",
                content="",
                tool_calls=[{"id": "toolu_1", "name": "book", "arguments": '{"flight": "AC12"}'}],
            ),
            ChatMessage(role="tool", content="booked", tool_call_id="toolu_1"),
            ChatMessage(role="user", content="thanks"),
        ],
        temperature=0.7,
        top_p=0.9,
        stop=["END"],
    )
    make("anthropic", server, model="claude-haiku-4-5").complete(req)
    body = server.requests[0].body
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert body["messages"][1]["content"][0] == {
        "type": "tool_use",
        "id": "toolu_1",
        "name": "book",
        "input": {"flight": "AC12"},
    }
    assert body["messages"][2]["content"][0]["type"] == "tool_result"
    assert body["temperature"] == 0.7 and body["top_p"] == 0.9 and body["stop_sequences"] == ["END"]


def test_no_model_for_compatible_server_is_a_provider_error(server):
    provider = OpenAIProvider(api_key=None, base_url=server.url + "/v1", compatible=True, policy=FAST)
    with pytest.raises(ProviderError, match="no model configured"):
        provider.parse(request(), Verdict)
    assert server.requests == []


def test_sampling_knobs_are_left_out_where_the_model_rejects_them(server):
    server.enqueue(openai_completion("a"), anthropic_message("b"))
    req = request().model_copy(update={"temperature": 0.2, "top_p": 0.5, "seed": 7})
    make("openai", server, model="gpt-5.4-mini").complete(req)
    make("anthropic", server, model="claude-sonnet-5-5").complete(req)
    openai_body, anthropic_body = (r.body for r in server.requests)
    assert "temperature" not in openai_body and "top_p" not in openai_body and openai_body["seed"] == 7
    assert "temperature" not in anthropic_body and "top_p" not in anthropic_body


def test_the_fake_server_rejects_what_the_real_api_would():
    import anthropic

    with FakeLLMServer() as fake:
        client = anthropic.Anthropic(api_key="k", base_url=fake.url, max_retries=0)
        with pytest.raises(anthropic.BadRequestError, match="first message must use the user role"):
            client.messages.create(model="m", max_tokens=5, messages=[{"role": "assistant", "content": "hi"}])
        assert fake.pending == 0 and len(fake.requests) == 1
