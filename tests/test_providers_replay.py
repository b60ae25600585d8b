"""`postmortem replay`: the captured request is re-sent with its recorded settings and recurrence is measured."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.llm.replay import pick_span, replay, request_from_span, wilson
from agent.providers.anthropic_provider import AnthropicProvider
from agent.providers.base import RetryPolicy
from agent.providers.openai_provider import OpenAIProvider
from retrieval.trace import Message, Sampling, Span, SpanKind, ToolCall
from tests.wire.server import FakeLLMServer, anthropic_message, openai_completion, openai_error

T0 = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
FAST = RetryPolicy(max_retries=1, base_delay=0.01, max_delay=0.1)
BAD = "Yes! Your Basic fare is fully refundable within 30 days."


def captured() -> list[Span]:
    root = Span(
        trace_id=TRACE, span_id="00f067aa0ba902b7", name="POST /chat", kind=SpanKind.chain, start_time=T0
    )
    llm = Span(
        trace_id=TRACE,
        span_id="a1b2c3d4e5f60718",
        parent_span_id="00f067aa0ba902b7",
        name="chat gpt-4o",
        kind=SpanKind.llm,
        start_time=T0 + timedelta(seconds=1),
        request_model="gpt-4o-2024-08-06",
        response_model="gpt-4o-2024-08-06",
        sampling=Sampling(temperature=0.9, top_p=0.95, max_tokens=300, seed=42, stop_sequences=["###"]),
        system_instructions="You are Acme's refund assistant. Only quote the policy documents.",
        input_messages=[
            Message(role="user", content="Can I get a refund on my Basic fare?"),
            Message(
                role="assistant",
                content="",
                tool_calls=[ToolCall(id="call_1", name="lookup_fare", arguments='{"fare": "basic"}')],
            ),
            Message(role="tool", content='{"fare": "basic", "refundable": false}', tool_call_id="call_1"),
        ],
        output_messages=[Message(role="assistant", content=BAD, finish_reason="stop")],
        service="support-bot",
    )
    return [root, llm]


def test_request_from_span_keeps_the_recorded_settings():
    request, notes = request_from_span(captured()[1])
    assert request.model == "gpt-4o-2024-08-06"
    assert (request.temperature, request.top_p, request.max_tokens, request.seed) == (0.9, 0.95, 300, 42)
    assert request.stop == ["###"] and request.system.startswith("You are Acme")
    assert [m.role for m in request.messages] == ["user", "assistant", "tool"]
    assert notes == []


def test_pick_span_defaults_to_the_last_llm_span_and_rejects_unknown_ids():
    spans = captured()
    assert pick_span(spans).span_id == "a1b2c3d4e5f60718"
    with pytest.raises(ValueError, match="not in this trace"):
        pick_span(spans, "ffff")
    with pytest.raises(ValueError, match="no LLM span"):
        pick_span(spans[:1])


def test_wilson_interval_known_values():
    low, high = wilson(3, 5)
    assert (round(low, 4), round(high, 4)) == (0.2307, 0.8824)
    assert wilson(0, 10)[0] == 0.0 and round(wilson(0, 10)[1], 4) == 0.2775
    assert wilson(20, 20)[1] == 1.0


def test_replay_with_pattern_sends_the_recorded_request_each_time():
    outputs = [
        BAD,
        "Basic fares cannot be refunded.",
        "Yes, it's REFUNDABLE.",
        "No refund, sorry.",
        "Refundable!",
    ]
    with FakeLLMServer() as server:
        server.enqueue(*[openai_completion(o, model="gpt-4o-2024-08-06") for o in outputs])
        provider = OpenAIProvider(api_key="sk", base_url=server.url + "/v1", policy=FAST, local=False)
        report = replay(provider, captured()[1], n=5, pattern=r"\brefundable\b", regex=True, concurrency=2)
    assert (report.completed, report.recurred, report.rate) == (5, 3, 0.6)
    assert (report.ci_low, report.ci_high) == (0.2307, 0.8824)
    assert report.judge == "pattern" and report.recorded["seed"] == 42
    assert report.usage["calls"] == 5 and report.usage["cost_usd"] == pytest.approx(
        5 * (120 * 2.5 + 30 * 10) / 1e6
    )
    assert len(server.requests) == 5
    for recorded in server.requests:
        body = recorded.body
        assert body["model"] == "gpt-4o-2024-08-06"
        assert (body["temperature"], body["top_p"], body["seed"], body["stop"]) == (0.9, 0.95, 42, ["###"])
        assert body["max_completion_tokens"] == 300
        assert body["messages"][0] == {
            "role": "system",
            "content": "You are Acme's refund assistant. Only quote the policy documents.",
        }
        assert body["messages"][2]["tool_calls"][0]["id"] == "call_1"
        assert body["messages"][3] == {
            "role": "tool",
            "tool_call_id": "call_1",
            "content": '{"fare": "basic", "refundable": false}',
        }


def test_failed_calls_are_reported_and_not_counted():
    with FakeLLMServer() as server:
        server.enqueue(openai_completion("refundable"), openai_error(401, "bad key"), openai_completion("no"))
        provider = OpenAIProvider(api_key="sk", base_url=server.url + "/v1", policy=FAST, local=False)
        report = replay(provider, captured()[1], n=3, pattern="refundable")
    assert (report.completed, report.recurred) == (2, 1)
    assert any("HTTP 401" in (r.error or "") for r in report.runs)
    assert "1 of 3 calls failed and are not counted" in report.notes


def test_replay_on_anthropic_and_similarity_judge(embedder):
    outputs = [
        "Yes, your Basic fare is fully refundable within 30 days.",
        "I'm sorry, Basic fares cannot be refunded; I can offer a travel credit instead.",
    ]
    with FakeLLMServer() as server:
        server.enqueue(*[anthropic_message(o) for o in outputs])
        provider = AnthropicProvider(api_key="sk-ant", base_url=server.url, policy=FAST, local=False)
        report = replay(
            provider, captured()[1], n=2, embed=embedder.embed, threshold=0.85, model="claude-haiku-4-5"
        )
    assert report.judge == "similarity"
    assert [r.recurred for r in report.runs] == [True, False]
    assert report.runs[0].similarity > 0.85 > report.runs[1].similarity
    assert "the recorded seed was not sent: the Anthropic API has no seed" in report.notes
    body = server.requests[0].body
    assert (
        body["model"] == "claude-haiku-4-5"
        and body["temperature"] == 0.9
        and body["stop_sequences"] == ["###"]
    )
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]


# -- the CLI, end to end, in a subprocess with a real store ---------------------------------------------------


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from agent.cli.main import run; run()", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=Path(__file__).resolve().parents[1],
    )


@pytest.fixture
def stored_home(tmp_path, embedder) -> Path:
    from retrieval.store import TraceStore

    home = tmp_path / "home"
    store = TraceStore(path=home / "chroma", embedder=embedder)
    store.add_spans(captured())
    store.close()
    return home


def test_cli_replay_json(stored_home):
    with FakeLLMServer() as server:
        server.enqueue(*[openai_completion(t) for t in (BAD, "Not refundable.", BAD, "Sorry, no refunds.")])
        env = {
            **os.environ,
            "POSTMORTEM_HOME": str(stored_home),
            "POSTMORTEM_PROVIDER": "openai-compatible",
            "POSTMORTEM_BASE_URL": server.url + "/v1",
            "POSTMORTEM_MAX_RETRIES": "0",
        }
        done = _cli(["replay", TRACE, "--n", "4", "--pattern", "fully refundable", "--json"], env)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["recurred"], report["completed"], report["rate"]) == (2, 4, 0.5)
    assert report["span_id"] == "a1b2c3d4e5f60718" and report["provider"].startswith("openai-compatible")
    assert server.requests[0].body["max_tokens"] == 300 and server.requests[0].body["seed"] == 42


def invoke(args: list[str], monkeypatch, capsys, **env: str) -> tuple[int, str, str]:
    """Run the console entry point in this process (exit code, stdout, stderr)."""
    from agent.cli.main import run
    from agent.settings import get_settings

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    monkeypatch.setattr(sys, "argv", ["postmortem", *args])
    try:
        with pytest.raises(SystemExit) as info:
            run()
    finally:
        get_settings.cache_clear()
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


def test_cli_replay_user_errors(stored_home, monkeypatch, capsys):
    home = {"POSTMORTEM_HOME": str(stored_home)}
    code, _, err = invoke(["replay", TRACE], monkeypatch, capsys, **home, POSTMORTEM_PROVIDER="offline")
    assert code == 2 and "replay needs a provider" in err and "Traceback" not in err
    compat = {
        **home,
        "POSTMORTEM_PROVIDER": "openai-compatible",
        "POSTMORTEM_BASE_URL": "http://127.0.0.1:9/v1",
    }
    code, _, err = invoke(["replay", "deadbeef", "--pattern", "x"], monkeypatch, capsys, **compat)
    assert code == 2 and "trace deadbeef: not found" in err and len(err.strip().splitlines()) == 1
    code, _, err = invoke(
        ["replay", TRACE, "--span", "0000", "--pattern", "x"], monkeypatch, capsys, **compat
    )
    assert code == 2 and "span 0000 is not in this trace" in err
    code, _, err = invoke(["replay", TRACE, "--pattern", "(", "--regex"], monkeypatch, capsys, **compat)
    assert code == 2 and "--pattern: not a valid regular expression" in err
    code, _, err = invoke(
        ["replay", TRACE, "--n", "1", "--pattern", "x"],
        monkeypatch,
        capsys,
        **compat,
        POSTMORTEM_MAX_RETRIES="0",
    )
    assert code == 1 and "every call failed" in err and "cannot connect" in err


def test_cli_replay_table_by_similarity(stored_home, monkeypatch, capsys):
    with FakeLLMServer() as server:
        server.enqueue(openai_completion(BAD), openai_completion("Basic fares cannot be refunded, sorry."))
        env = {
            "POSTMORTEM_HOME": str(stored_home),
            "POSTMORTEM_PROVIDER": "openai-compatible",
            "POSTMORTEM_BASE_URL": server.url + "/v1",
            "POSTMORTEM_CACHE_DIR": str(Path(__file__).resolve().parents[1] / ".postmortem" / "cache"),
        }
        code, out, err = invoke(
            ["replay", TRACE, "--n", "2", "--threshold", "0.9"], monkeypatch, capsys, **env
        )
    assert code == 0, err
    assert "Recurred 1 of 2" in out and "cosine >= 0.9" in out and "wilson 95%" in out


def test_replay_on_a_local_server_sends_the_configured_model_and_prices_nothing():
    """A local server serves its own model and echoes whatever name was asked for: send POSTMORTEM_MODEL, say so,
    and never price the echoed name at the hosted model's rates."""
    from tests.wire.server import Behaviour

    with FakeLLMServer(lambda path, body: openai_completion(BAD), Behaviour(echo_model=True)) as server:
        provider = OpenAIProvider(
            api_key=None, base_url=server.url + "/v1", compatible=True, model="smollm2-135m", policy=FAST
        )
        report = replay(provider, captured()[1], n=2, pattern="refundable")
    assert [r.body["model"] for r in server.requests] == ["smollm2-135m", "smollm2-135m"]
    assert report.model == "smollm2-135m" and report.recurred == 2
    assert report.usage["cost_usd"] is None and report.usage["calls"] == 2
    assert any("'gpt-4o-2024-08-06' replaced by the configured 'smollm2-135m'" in n for n in report.notes)
