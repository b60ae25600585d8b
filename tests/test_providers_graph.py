"""The LLM path inside the real agent graph, on the demo store: a provider that answers, and one that fails
(the draft falls back to the offline analysis and says so)."""

from __future__ import annotations

import json
import re

import pytest

from agent.api import draft_incident, load_incident
from agent.providers.tokens import estimate_tokens
from agent.settings import Settings
from retrieval.samples import DEMO_INCIDENT
from tests.agentkit import CACHE, all_citations, build_demo_store, copy_store, resolves
from tests.wire.server import FakeLLMServer, Scripted, openai_completion, openai_error

INVENTED = "span:ffffffffffffffff"


def sent_ids(body: dict) -> list[str]:
    prompt = next(m["content"] for m in body["messages"] if m["role"] == "user")
    block = re.search(r"<<<DATA kind=evidence boundary=(\w+)>>>\n(.*?)\n<<<END DATA", prompt, re.S)
    return [json.loads(row)["id"] for row in block.group(2).splitlines() if row.startswith("{")]


def model_that_reads_the_prompt(path: str, body: dict) -> Scripted:
    """Answers like a model would: cites ids it was sent, plus one it invents (which must be dropped)."""
    ids = sent_ids(body)
    spans = [i for i in ids if i.startswith(("span:", "doc:"))] or ids
    if body["response_format"]["json_schema"]["name"] == "ClassificationAnswer":
        answer = {
            "primary": "data",
            "layers": [
                {"layer": "data", "role": "primary", "confidence": "likely", "rationale": "Stale index.",
                 "evidence": spans[:2]},
                {"layer": "prompt", "role": "contributing", "confidence": "likely", "rationale": "Instruction gap.",
                 "evidence": spans[2:3]},
                {"layer": "system", "role": "contributing", "confidence": "likely", "rationale": "DB outage.",
                 "evidence": [INVENTED]},
                {"layer": "model", "role": "ruled_out", "confidence": "likely", "rationale": "Same model.",
                 "evidence": []},
            ],
        }  # fmt: skip
    else:
        answer = {
            "sections": [
                {"key": "summary", "sentences": [
                    {"text": "Customers were told non-refundable fares could be refunded.", "cites": spans[:1],
                     "quote": None},
                    {"text": "The database went down.", "cites": [INVENTED], "quote": None},
                ]},
                {"key": "layers", "sentences": [
                    {"text": "Retrieval served an outdated policy document.", "cites": spans[1:2], "quote": None},
                ]},
            ]
        }  # fmt: skip
    return openai_completion(json.dumps(answer), model="llama3.1:8b")


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory, embedder):
    return build_demo_store(tmp_path_factory.mktemp("demo-llm") / "chroma", embedder)


def run_draft(demo_dir, tmp_path, embedder, server: FakeLLMServer):
    home = tmp_path / "home"
    store = copy_store(demo_dir, home, embedder)
    settings = Settings(
        home=home,
        cache_dir=CACHE,
        provider="openai-compatible",
        base_url=server.url + "/v1",
        model="llama3.1:8b",
        max_retries=0,
        request_timeout=10,
    )
    incident = load_incident(DEMO_INCIDENT)
    try:
        return draft_incident(incident, settings=settings, store=store), store, incident, settings
    except BaseException:
        store.close()
        raise


def test_draft_with_a_provider_uses_its_classification_and_narrative(demo_dir, tmp_path, embedder):
    with FakeLLMServer(responder=model_that_reads_the_prompt) as server:
        result, store, incident, settings = run_draft(demo_dir, tmp_path, embedder, server)
    try:
        draft = result.draft
        assert draft.classification.method == "openai-compatible"
        assert draft.classification.primary == "data"
        system = next(a for a in draft.classification.layers if a.layer == "system")
        # the model's "system contributing" rested only on an invented id: dropped, and without evidence the
        # model may not change the offline assessment, which the draft keeps and says so
        assert INVENTED not in system.evidence and system.role == "ruled_out" and system.score is not None
        assert any("kept from the offline analysis" in n and "system" in n for n in draft.notes), draft.notes
        assert any("layers assessed by the model" in n and "data" in n for n in draft.notes)
        assert INVENTED not in json.dumps(draft.model_dump(mode="json"))
        assert [ref for ref in all_citations(draft) if not resolves(ref, store, incident)] == []
        assert not any("offline analysis was used" in note for note in draft.notes)
        assert len(server.requests) == 2
        for recorded in server.requests:
            body = recorded.body
            sent = sum(estimate_tokens(m["content"]) + 4 for m in body["messages"])
            assert sent + estimate_tokens(json.dumps(body["response_format"])) <= settings.token_budget
        # per-draft accounting: the fake reports 120 prompt + 30 completion tokens per call; a local model has no price
        assert (draft.usage["input_tokens"], draft.usage["output_tokens"]) == (240, 60)
        assert draft.usage["cost_usd"] is None
        assert [step["step"] for step in draft.usage["steps"]] == ["classify", "narrative"]
    finally:
        store.close()


def test_provider_failure_falls_back_to_offline_and_says_so(demo_dir, tmp_path, embedder):
    with FakeLLMServer(responder=lambda path, body: openai_error(503, "overloaded")) as server:
        result, store, _, _ = run_draft(demo_dir, tmp_path, embedder, server)
    try:
        draft = result.draft
        assert result.status == "done"
        assert draft.classification.method == "offline" and draft.classification.primary is not None
        fallback = [note for note in draft.notes if "offline" in note and "HTTP 503" in note]
        assert fallback, draft.notes
        assert "\n" not in fallback[0]
        assert len(server.requests) >= 1
    finally:
        store.close()
