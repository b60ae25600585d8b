"""`postmortem doctor --online` against the fake server playing a local model server, and the provider settings:
one list of names and aliases, timeouts, output ceilings."""

from __future__ import annotations

import json
import socket

import pytest
from pydantic import ValidationError

from agent.settings import LOCAL_TIMEOUT, PROVIDER_NAMES, Settings
from tests.agentkit import CACHE
from tests.slackbed import run_cli
from tests.wire.server import Behaviour, FakeLLMServer, answer_as_asked

MODEL = "smollm2-135m-instruct"


@pytest.fixture
def env(tmp_home, monkeypatch):
    tmp_home.mkdir(parents=True)
    monkeypatch.setenv("POSTMORTEM_CACHE_DIR", str(CACHE))
    monkeypatch.chdir(tmp_home.parent)  # no stray ./.env
    for name in (
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
        "SLACK_BOT_TOKEN",
        "SLACK_API_URL",
        "POSTMORTEM_CHROMA_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("POSTMORTEM_PROVIDER", "openai-compatible")
    monkeypatch.setenv("POSTMORTEM_MODEL", MODEL)
    return tmp_home


def provider_checks(result) -> dict[str, dict]:
    return {c["name"]: c for c in json.loads(result.out)["checks"] if c["name"].startswith("provider")}


def ping(path, body):
    return answer_as_asked(path, body, {"ok": True, "word": "ready"})


def test_online_lists_models_sends_a_tiny_request_and_reports_the_mode(env, capsys, monkeypatch):
    behaviour = Behaviour(refuse_json_schema=True, models=[MODEL, "other"])
    with FakeLLMServer(ping, behaviour) as server:
        monkeypatch.setenv("POSTMORTEM_BASE_URL", server.url + "/v1")
        offline = provider_checks(run_cli(capsys, monkeypatch, "doctor", "--json"))
        online = provider_checks(run_cli(capsys, monkeypatch, "doctor", "--json", "--online"))
    assert "no key" in offline["provider"]["detail"] and "key set" not in offline["provider"]["detail"]
    assert "provider online" not in offline
    check = online["provider online"]
    assert check["status"] == "ok", check
    assert "2 model(s) listed" in check["detail"] and "structured output via tools" in check["detail"]
    assert "round trip" in check["detail"]
    # and the mode is remembered in the home, for the drafts that follow
    from agent.providers.modes import ModeMemory

    assert ModeMemory(env / "providers.sqlite").get(server.url + "/v1", MODEL) == "tools"


def test_online_says_plainly_when_the_server_is_unreachable(env, capsys, monkeypatch):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("POSTMORTEM_BASE_URL", f"http://127.0.0.1:{port}/v1")
    result = run_cli(capsys, monkeypatch, "doctor", "--json", "--online")
    check = provider_checks(result)["provider online"]
    assert result.code == 1 and check["status"] == "fail"
    assert "unreachable" in check["detail"] and "start the server" in check["fix"]


def test_online_says_when_the_model_is_unknown(env, capsys, monkeypatch):
    with FakeLLMServer(ping, Behaviour(models=["qwen2.5-0.5b"])) as server:
        monkeypatch.setenv("POSTMORTEM_BASE_URL", server.url + "/v1")
        result = run_cli(capsys, monkeypatch, "doctor", "--json", "--online")
        assert not server.requests or all(r.path.endswith("models") for r in server.requests)
    check = provider_checks(result)["provider online"]
    assert result.code == 1 and check["status"] == "fail"
    assert f"model '{MODEL}' is not served" in check["detail"] and "qwen2.5-0.5b" in check["detail"]


def test_online_without_a_model_list_still_sends_the_request(env, capsys, monkeypatch):
    with FakeLLMServer(ping, Behaviour(models=None)) as server:
        monkeypatch.setenv("POSTMORTEM_BASE_URL", server.url + "/v1")
        result = run_cli(capsys, monkeypatch, "doctor", "--json", "--online")
    check = provider_checks(result)["provider online"]
    assert check["status"] == "ok" and "no model list" in check["detail"] and "json_schema" in check["detail"]


@pytest.mark.parametrize("name", ["ollama", "vllm", "llamacpp", "OpenAI-Compatible", " offline "])
def test_every_alias_the_registry_takes_is_a_valid_setting(name):
    settings = Settings(provider=name)
    assert settings.provider in PROVIDER_NAMES


def test_an_unknown_provider_setting_is_refused():
    with pytest.raises(ValidationError):
        Settings(provider="gpt")


def test_local_servers_get_a_long_timeout_unless_set():
    assert Settings().timeout_for("llamacpp") == LOCAL_TIMEOUT > Settings().timeout_for("openai")
    assert Settings(request_timeout=30).timeout_for("openai-compatible") == 30


def test_the_output_ceiling_per_step_reaches_the_request(tmp_path):
    from agent.llm import classify_with_llm
    from agent.models import Incident
    from agent.providers.registry import get_provider

    def answer(path, body):
        return answer_as_asked(path, body, {"primary": None, "layers": []})

    with FakeLLMServer(answer) as server:
        settings = Settings(
            home=tmp_path,
            provider="llamacpp",
            base_url=server.url + "/v1",
            model=MODEL,
            max_output_tokens=300,
        )
        provider = get_provider(settings)
        c, _ = classify_with_llm(provider, Incident(title="t"), [], [], max_tokens=settings.max_output_tokens)
    assert c.primary is None
    assert server.requests and all(r.body["max_tokens"] == 300 for r in server.requests)
