"""The agent with an LLM provider: the real OpenAI SDK against the local wire-protocol server. A model that
answers drives classification and narrative; a provider that fails leaves the offline analysis and a note."""

from __future__ import annotations

import json
import re

import pytest

from agent.api import draft_incident, load_incident
from agent.models import Incident, Report
from agent.settings import Settings
from retrieval.samples import DEMO_INCIDENT
from tests.agentkit import CACHE, all_citations, build_demo_store, copy_store, resolves
from tests.wire.server import FakeLLMServer, Scripted, openai_completion, openai_error

IDS = re.compile(r"\b(?:span|doc|report|pm):[0-9a-zA-Z_.:-]*[0-9a-zA-Z]")


@pytest.fixture
def store(tmp_path, embedder):
    source = build_demo_store(tmp_path / "built", embedder)
    opened = copy_store(source, tmp_path / "home", embedder)
    yield opened
    opened.close()


def _settings(tmp_path, url: str) -> Settings:
    return Settings(
        home=tmp_path / "home",
        cache_dir=CACHE,
        provider="openai-compatible",
        base_url=url + "/v1",
        model="local-model",
        max_retries=0,
        request_timeout=10,
    )


def model_that_reads_the_prompt(path: str, body: dict) -> Scripted:
    """A stand-in model: cites ids it was sent; classification names data primary and prompt contributing."""
    system = json.dumps([m for m in body["messages"] if m["role"] == "system"])
    data = json.dumps([m for m in body["messages"] if m["role"] != "system"])
    examples = set(IDS.findall(system))  # the instructions show made-up ids as examples
    sent = [ref for ref in dict.fromkeys(IDS.findall(data)) if ref not in examples]
    spans = [ref for ref in sent if ref.startswith(("span:", "doc:"))] or sent
    schema = json.dumps(body.get("response_format", {}))
    if "sections" in schema:
        answer = {
            "sections": [
                {
                    "key": "summary",
                    "sentences": [
                        {
                            "text": "A stale refund policy reached the answers.",
                            "cites": spans[:1],
                            "quote": None,
                        },
                        {"text": "Customers were promised refunds.", "cites": spans[1:2], "quote": None},
                    ],
                }
            ]
        }
    else:
        roles = {"data": "primary", "prompt": "contributing", "model": "ruled_out", "system": "ruled_out"}
        answer = {
            "primary": "data",
            "layers": [
                {
                    "layer": layer,
                    "role": role,
                    "confidence": "likely",
                    "rationale": f"{layer} assessed from the findings.",
                    "evidence": spans[:2] if role in ("primary", "contributing") else [],
                }
                for layer, role in roles.items()
            ],
        }
    return openai_completion(
        json.dumps(answer), model="local-model", prompt_tokens=900, completion_tokens=120
    )


def test_a_provider_classifies_and_writes_the_narrative(store, tmp_path):
    incident = load_incident(DEMO_INCIDENT)
    with FakeLLMServer(responder=model_that_reads_the_prompt) as fake:
        result = draft_incident(incident, settings=_settings(tmp_path, fake.url), store=store)
    draft = result.draft
    assert draft.classification.method != "offline" and draft.classification.primary == "data"
    assert {a.layer: a.role for a in draft.classification.layers}["prompt"] == "contributing"
    summary = next(s for s in draft.sections if s.key == "summary")
    assert summary.sentences[0].text == "A stale refund policy reached the answers."
    assert draft.provider != "offline" and draft.usage["input_tokens"] >= 1800  # both calls accounted
    assert len(fake.requests) == 2
    assert all(resolves(ref, store, incident) for ref in all_citations(draft))
    assert "## Impact and blast radius" in draft.markdown  # the computed sections stay


def test_a_failing_provider_falls_back_to_the_offline_analysis(store, tmp_path):
    incident = load_incident(DEMO_INCIDENT)
    with FakeLLMServer() as fake:
        fake.enqueue(*[openai_error(503, "overloaded") for _ in range(4)])
        result = draft_incident(incident, settings=_settings(tmp_path, fake.url), store=store)
    draft = result.draft
    assert result.status == "done"
    assert draft.classification.method == "offline" and draft.provider == "offline"
    assert any("failed during classification" in note for note in draft.notes)
    assert any("failed during drafting" in note for note in draft.notes)
    assert "> Note: provider" in draft.markdown
    assert draft.classification.primary == "data"
    assert all(resolves(ref, store, incident) for ref in all_citations(draft))


def test_an_unusable_provider_is_reported_not_fatal(store, tmp_path, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)  # no key: the provider cannot be built
    settings = Settings(home=tmp_path / "home", cache_dir=CACHE, provider="anthropic", base_url=None)
    incident = Incident(
        title="Nothing recorded for this one", service="ghost", reports=[Report(text="odd answers")]
    )
    result = draft_incident(incident, settings=settings, store=store)
    assert result.status == "done" and result.draft.classification.method == "offline"
    assert any("provider anthropic is not usable" in note for note in result.draft.notes)
