"""`postmortem doctor`: a healthy setup passes; a broken one fails with the setting to fix in plain words,
never printing a secret; --json for scripts; --online asks the (fake) Slack API who the bot is."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.agentkit import CACHE
from tests.fakeslack import FakeSlack
from tests.slackbed import INCIDENTS, build_store, run_cli

SECRETS = {
    "OPENAI_API_KEY": "sk-proj-TOPSECRET0123456789",
    "SLACK_BOT_TOKEN": "xoxb-1111-2222-TOPSECRETBOT",
    "SLACK_SIGNING_SECRET": "0123456789abcdef0123456789abcdef",
    "SLACK_APP_TOKEN": "xapp-1-A111-2222-TOPSECRETAPP",
}
SLACK_YAML = f"channels:\n  {INCIDENTS}:\n    services: [support-bot]\n"


@pytest.fixture
def env(tmp_home, monkeypatch):
    tmp_home.mkdir(parents=True)
    monkeypatch.setenv("POSTMORTEM_CACHE_DIR", str(CACHE))
    monkeypatch.chdir(tmp_home.parent)  # no stray ./.env
    for name in (
        *SECRETS,
        "SLACK_API_URL",
        "ANTHROPIC_API_KEY",
        "POSTMORTEM_PROVIDER",
        "POSTMORTEM_CHROMA_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    return tmp_home


@pytest.fixture
def with_store(env, embedder):
    shutil.copytree(build_store(embedder), env / "chroma")
    return env


def checks(result) -> dict[str, dict]:
    return {c["name"]: c for c in json.loads(result.out)["checks"]}


def test_healthy_offline_setup_is_ready(with_store, capsys, monkeypatch):
    result = run_cli(capsys, monkeypatch, "doctor", "--json")
    assert result.code == 0, result.err
    found = checks(result)
    assert json.loads(result.out)["ok"] is True
    assert found["store"]["status"] == "ok" and "spans" in found["store"]["detail"]
    assert int(found["store"]["detail"].split()[0]) > 100
    assert found["embedder"]["status"] == "ok" and "384 dimensions" in found["embedder"]["detail"]
    assert found["provider"]["status"] == "ok" and "offline" in found["provider"]["detail"]
    assert found["slack"]["status"] == "skip"


def test_broken_configuration_says_what_to_fix_without_secrets(with_store, capsys, monkeypatch):
    monkeypatch.setenv("POSTMORTEM_PROVIDER", "anthropic")  # but only an OpenAI key is set
    monkeypatch.setenv("OPENAI_API_KEY", SECRETS["OPENAI_API_KEY"])
    monkeypatch.setenv("SLACK_BOT_TOKEN", SECRETS["SLACK_APP_TOKEN"])  # the classic mix-up
    monkeypatch.setenv("SLACK_APP_TOKEN", SECRETS["SLACK_APP_TOKEN"])
    (with_store / "slack.yaml").write_text("channels:\n  '#incidents':\n    services: [support-bot]\n")
    result = run_cli(capsys, monkeypatch, "doctor")
    assert result.code == 1
    text = result.out
    assert "ANTHROPIC_API_KEY is not set" in text and "POSTMORTEM_PROVIDER=offline" in text
    assert "SLACK_BOT_TOKEN should start with xoxb-, but this is an app-level token" in text
    assert "SLACK_SIGNING_SECRET is not set" in text and "Signing Secret" in text
    assert "'#incidents' is not a channel id" in text and "slack.yaml" in text
    assert "not ready" in text
    for secret in SECRETS.values():
        assert secret not in result.out + result.err


def test_invalid_setting_and_unreachable_server(env, capsys, monkeypatch):
    monkeypatch.setenv("POSTMORTEM_PROVIDER", "gpt")
    result = run_cli(capsys, monkeypatch, "doctor", "--json")
    assert result.code == 1
    (only,) = json.loads(result.out)["checks"]
    assert only["name"] == "settings" and only["status"] == "fail"
    assert "POSTMORTEM_PROVIDER" in only["detail"] and "POSTMORTEM_PROVIDER" in only["fix"]

    monkeypatch.delenv("POSTMORTEM_PROVIDER")
    monkeypatch.setenv("POSTMORTEM_CHROMA_URL", "http://127.0.0.1:9")
    found = checks(run_cli(capsys, monkeypatch, "doctor", "--json"))
    assert found["store"]["status"] == "fail" and "127.0.0.1:9" in found["store"]["detail"]
    assert "POSTMORTEM_CHROMA_URL" in found["store"]["fix"]


def test_spans_waiting_for_vectors_are_counted_until_written(env, capsys, monkeypatch):
    """Spans stored keyword-searchable only (as the live receiver does under load) make the doctor warn with
    how many still wait; `store embed` writes them, and the doctor and `ingest --json` then say none wait."""
    from agent.settings import get_settings
    from agent.store_factory import open_store
    from tests.spanfactory import SpanFactory, at

    spans = [s for i in range(3) for s in SpanFactory(seed=i).trace(at(i), f"question {i}?", f"answer {i}.")]
    with open_store(get_settings()) as store:
        store.add_spans(spans, vectors=False)
        waiting = store.vectors_pending()
    assert waiting == len(spans)
    store_check = checks(run_cli(capsys, monkeypatch, "doctor", "--json"))["store"]
    assert store_check["status"] == "warn" and f"{waiting} waiting for vectors" in store_check["detail"]
    assert "store embed" in store_check["fix"]
    embedded = run_cli(capsys, monkeypatch, "store", "embed", "--json")
    assert json.loads(embedded.out) == {"vectors_written": waiting, "vectors_pending": 0}
    store_check = checks(run_cli(capsys, monkeypatch, "doctor", "--json"))["store"]
    assert store_check["status"] == "ok" and "waiting for vectors" not in store_check["detail"]


def test_empty_home_is_a_warning_with_a_first_step(env, capsys, monkeypatch):
    result = run_cli(capsys, monkeypatch, "doctor", "--json")
    assert result.code == 0
    store = checks(result)["store"]
    assert store["status"] == "warn" and "postmortem demo" in store["fix"]
    assert not (env / "chroma").exists()  # the doctor looked, and created nothing


def test_slack_ready_for_http_and_online_check(env, capsys, monkeypatch):
    fake = FakeSlack().start()
    try:
        monkeypatch.setenv("SLACK_BOT_TOKEN", fake.token)
        monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRETS["SLACK_SIGNING_SECRET"])
        monkeypatch.setenv("SLACK_API_URL", fake.api_url)
        (env / "slack.yaml").write_text(SLACK_YAML)
        found = checks(run_cli(capsys, monkeypatch, "doctor", "--json", "--online"))
        assert found["slack http"]["status"] == "ok"
        assert (
            found["slack socket"]["status"] == "warn"
            and "SLACK_APP_TOKEN is not set" in found["slack socket"]["detail"]
        )
        assert (
            found["slack channels"]["status"] == "ok"
            and f"{INCIDENTS} -> support-bot" in found["slack channels"]["detail"]
        )
        assert found["slack api"]["status"] == "ok" and fake.bot_user in found["slack api"]["detail"]

        monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-revoked")
        result = run_cli(capsys, monkeypatch, "doctor", "--json", "--online")
        assert result.code == 1 and "invalid_auth" in checks(result)["slack api"]["detail"]
    finally:
        fake.stop()
