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
from tests.wire.server import (
    Behaviour,
    FakeLLMServer,
    Scripted,
    answer_as_asked,
    openai_error,
    request_mode,
)

INVENTED = "span:ffffffffffffffff"


def sent_ids(body: dict) -> list[str]:
    prompt = next(m["content"] for m in body["messages"] if m["role"] == "user")
    block = re.search(r"<<<DATA kind=evidence boundary=(\w+)>>>\n(.*?)\n<<<END DATA", prompt, re.S)
    return [json.loads(row)["id"] for row in block.group(2).splitlines() if row.startswith("{")]


def model_that_reads_the_prompt(
    path: str, body: dict, prefer: tuple[str, ...] = ("span:", "doc:"), invented: str = INVENTED
) -> Scripted:
    """Answers like a model would: cites ids it was sent, plus one it invents (which must be dropped)."""
    ids = sent_ids(body)
    spans = [i for i in ids if i.startswith(prefer)] or ids
    if asks_for_classification(path, body):
        answer = {
            "primary": "data",
            "layers": [
                {"layer": "data", "role": "primary", "confidence": "likely", "rationale": "Stale index.",
                 "evidence": spans[:2]},
                {"layer": "prompt", "role": "contributing", "confidence": "likely", "rationale": "Instruction gap.",
                 "evidence": spans[2:3]},
                {"layer": "system", "role": "contributing", "confidence": "likely", "rationale": "DB outage.",
                 "evidence": [invented]},
                {"layer": "model", "role": "ruled_out", "confidence": "likely", "rationale": "Same model.",
                 "evidence": []},
            ],
        }  # fmt: skip
    elif '"sections"' in schema_text(path, body):  # the full narrative: a list of sections
        answer = {
            "sections": [
                {"key": "summary", "sentences": [
                    {"text": "Customers were told non-refundable fares could be refunded.", "cites": spans[:1],
                     "quote": None},
                    {"text": "The database went down.", "cites": [invented], "quote": None},
                ]},
                {"key": "layers", "sentences": [
                    {"text": "Retrieval served an outdated policy document.", "cites": spans[-1:], "quote": None},
                ]},
            ]
        }  # fmt: skip
    else:  # the compact narrative of a small budget: one key per section
        answer = {
            "summary": [
                {"text": "Customers were told final-sale items could be refunded.", "cites": spans[:1]}
            ],
            "layers": [{"text": "Retrieval served an outdated policy document.", "cites": spans[-1:]}],
            "decisive": [{"text": "The database went down.", "cites": [invented]}],
        }
    return answer_as_asked(path, body, answer, model="llama3.1:8b")


def schema_text(path: str, body: dict) -> str:
    """The schema asked for, wherever the structured-output mode carries it (response_format, a tool, or the
    prompt), as text."""
    mode = request_mode(path, body)
    if mode == "json_schema":
        return json.dumps(body["response_format"]["json_schema"])
    if mode == "tools":
        return json.dumps(body["tools"])
    return body["messages"][0]["content"]  # json_object and text: the schema is in the system prompt


def asks_for_classification(path: str, body: dict) -> bool:
    return '"primary"' in schema_text(path, body)


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory, embedder):
    return build_demo_store(tmp_path_factory.mktemp("demo-llm") / "chroma", embedder)


def run_draft(demo_dir, tmp_path, embedder, server: FakeLLMServer, **overrides):
    home = tmp_path / "home"
    store = copy_store(demo_dir, home, embedder)
    options = {
        "home": home,
        "cache_dir": CACHE,
        "provider": "openai-compatible",
        "base_url": server.url + "/v1",
        "model": "llama3.1:8b",
        "max_retries": 0,
        "request_timeout": 10,
    }
    settings = Settings(**{**options, **overrides})
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
        assert draft.classification.method == "openai-compatible", draft.notes
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
        # the summary had a sentence resting on an invented id: the whole section keeps the offline text
        assert "narrative: sections written by the model: layers" in draft.notes, draft.notes
        assert (
            "narrative: kept from the offline draft: summary (a sentence cited ids that were not sent)"
            in (" | ".join(draft.notes))
        )
        summary = next(s for s in draft.sections if s.key == "summary")
        assert "The database went down." not in [s.text for s in summary.sentences] and summary.sentences
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


def test_a_2000_token_budget_is_enough_for_both_steps(demo_dir, tmp_path, embedder):
    """Small local models have 2k-8k contexts: the prompt's fixed part leaves room for evidence at 2,000."""

    def cites_what_it_was_sent(path: str, body: dict) -> Scripted:
        # on a small budget the schema lists the ids sent (an enum): a grammar-constrained or strict server
        # cannot invent one, so this model does not either
        every = ("span:", "doc:", "report:", "pm:")
        return model_that_reads_the_prompt(path, body, prefer=every, invented=sent_ids(body)[0])

    with FakeLLMServer(responder=cites_what_it_was_sent) as server:
        result, store, incident, settings = run_draft(demo_dir, tmp_path, embedder, server, token_budget=2000)
    try:
        draft = result.draft
        assert draft.provider == "openai-compatible", draft.notes
        assert draft.classification.method == "openai-compatible", draft.notes
        assert not any("failed" in note for note in draft.notes), draft.notes
        assert len(server.requests) == 2
        for recorded in server.requests:
            body = recorded.body
            assert sent_ids(body)  # evidence made it in
            schema = json.dumps(body["response_format"])
            assert all(f'"{i}"' in schema for i in sent_ids(body)) and INVENTED not in schema  # the id enum
            sent = sum(estimate_tokens(m["content"]) + 4 for m in body["messages"])
            assert sent + estimate_tokens(json.dumps(body["response_format"])) <= 2000
        assert [ref for ref in all_citations(draft) if not resolves(ref, store, incident)] == []
    finally:
        store.close()


def test_a_server_that_answers_json_schema_with_500_still_drafts_with_the_llm(demo_dir, tmp_path, embedder):
    """llama-cpp-python's server: HTTP 500 on response_format json_schema. Not retried; the next mode works."""
    with FakeLLMServer(model_that_reads_the_prompt, Behaviour(refuse_json_schema=True)) as server:
        result, store, incident, _ = run_draft(demo_dir, tmp_path, embedder, server, max_retries=4)
    try:
        draft = result.draft
        assert draft.provider == "openai-compatible" and not any("failed" in n for n in draft.notes), (
            draft.notes
        )
        modes = [request_mode(r.path, r.body) for r in server.requests]
        assert modes == [
            "json_schema",
            "tools",
            "tools",
        ]  # negotiated once, then remembered for the narrative
        assert draft.usage["calls"] == 3 and draft.usage["failed_calls"] == 1
        assert "LLM: 3 calls (1 failed)" in draft.markdown and "not priced" in draft.markdown
        assert [ref for ref in all_citations(draft) if not resolves(ref, store, incident)] == []
    finally:
        store.close()


def test_a_weak_model_cannot_make_the_classification_worse_than_offline(demo_dir, tmp_path, embedder):
    """It assesses one layer with a nonsense rationale: the other layers keep their offline assessment."""
    with FakeLLMServer(responder=lambda path, body: openai_error(503, "down")) as server:
        offline, store, _, _ = run_draft(demo_dir, tmp_path / "offline", embedder, server)
        store.close()

    def weak(path: str, body: dict) -> Scripted:
        if not asks_for_classification(path, body):
            return model_that_reads_the_prompt(path, body)
        one = {"layer": "data", "role": "primary", "confidence": "likely", "rationale": "data data data",
               "evidence": sent_ids(body)[:1]}  # fmt: skip
        # a claim without evidence: the checker demotes it to unknown, the offline role of this layer, and the
        # merge still keeps the offline assessment (rationale included), not the demoted claim
        bare = {"layer": "model", "role": "contributing", "confidence": "likely", "rationale": "model model",
                "evidence": []}  # fmt: skip
        return answer_as_asked(path, body, {"primary": "data", "layers": [one, bare]})

    with FakeLLMServer(responder=weak) as server:
        result, store, _, _ = run_draft(demo_dir, tmp_path / "weak", embedder, server)
    try:
        draft = result.draft
        before = {a.layer: a for a in offline.draft.classification.layers}
        after = {a.layer: a for a in draft.classification.layers}
        for layer in ("model", "prompt", "system"):
            assert after[layer] == before[layer], layer  # role, confidence, rationale and evidence kept
        assert any(a.role == "ruled_out" for a in after.values())
        notes = " | ".join(draft.notes)
        assert "layers assessed by the model: data" in notes
        assert "prompt (not assessed by the model)" in notes and "prompt: not assessed by the model" in notes
        assert before["model"].role == "unknown"  # the demo's offline draft: the demotion lands on its role
        assert "model (the model's claim cited no evidence that was sent)" in notes
        assert "> Note: classification: kept from the offline analysis" in draft.markdown
    finally:
        store.close()


def test_failed_calls_are_counted_and_the_note_is_one_plain_sentence(demo_dir, tmp_path, embedder):
    body = "Traceback (most recent call last): File /opt/llama_cpp/server/app.py, line 42: overloaded"
    with FakeLLMServer(responder=lambda path, b: openai_error(503, body)) as server:
        result, store, _, _ = run_draft(demo_dir, tmp_path, embedder, server, max_retries=1)
    try:
        draft = result.draft
        assert draft.provider == "offline"
        assert draft.usage["calls"] == 4 and draft.usage["failed_calls"] == 4  # 2 steps x 2 attempts
        assert [s["step"] for s in draft.usage["steps"]] == ["classify", "narrative"]
        notes = [n for n in draft.notes if "failed during" in n]
        assert len(notes) == 2 and all("(gave up after 2 attempts)" in n for n in notes), notes
        assert (
            "HTTP 503" in notes[0]
            and "llama_cpp/server" not in draft.markdown
            and "Traceback" not in draft.markdown
        )
        assert "LLM: 4 calls (4 failed)" in draft.markdown
    finally:
        store.close()


def test_a_weak_model_on_a_small_budget_takes_part_without_making_the_draft_worse(
    demo_dir, tmp_path, embedder
):
    """What `make test-llm` runs against llama.cpp and SmolLM2, played by the fake: HTTP 500 on json_schema, a
    2,000-token budget, and a weak model that ignores the schema's id enum in one section. The classification
    is merged, the narrative's good sections are used, the bad one keeps the offline text, and the draft says so:
    the LLM took part, with no "failed" note, and no citation is worse than offline."""
    with FakeLLMServer(responder=lambda path, body: openai_error(503, "down")) as server:
        offline, store, incident, _ = run_draft(demo_dir, tmp_path / "offline", embedder, server)
        store.close()
    with FakeLLMServer(
        model_that_reads_the_prompt, Behaviour(refuse_json_schema=True, serial=True)
    ) as server:
        result, store, incident, _ = run_draft(
            demo_dir, tmp_path / "weak", embedder, server, token_budget=2000, max_retries=4
        )
    try:
        draft = result.draft
        assert draft.provider == "openai-compatible" and draft.classification.method == "openai-compatible"
        assert not any("failed" in note for note in draft.notes), draft.notes
        assert "narrative: sections written by the model: summary, layers" in draft.notes
        assert (
            "narrative: kept from the offline draft: decisive (a sentence cited ids that were not sent)"
            in (draft.notes)
        )
        by_key = {s.key: s for s in draft.sections}
        before = {s.key: s for s in offline.draft.sections}
        assert by_key["decisive"] == before["decisive"] and by_key["timeline"] == before["timeline"]
        assert by_key["summary"] != before["summary"]
        assert INVENTED not in json.dumps(draft.model_dump(mode="json"))
        assert [request_mode(r.path, r.body) for r in server.requests] == ["json_schema", "tools", "tools"]
        assert server.requests[-1].body["max_tokens"] == 600  # the small budget's narrative ceiling
        # the classification's wire schema is bounded too (a grammar then ends within its 1,000-token ceiling)
        classify = server.requests[1].body
        layer = classify["tools"][0]["function"]["parameters"]["$defs"]["LayerAnswer"]["properties"]
        assert classify["max_tokens"] == 1000
        assert layer["rationale"]["maxLength"] == 240 and layer["evidence"]["maxItems"] == 3
        assert all(resolves(ref, store, incident) for ref in layer["evidence"]["items"]["enum"])
        refs, offline_refs = all_citations(draft), all_citations(offline.draft)
        valid = sum(resolves(ref, store, incident) for ref in refs)
        offline_valid = sum(resolves(ref, store, incident) for ref in offline_refs)
        assert refs and valid == len(refs)  # every citation of the LLM draft resolves
        assert valid / len(refs) >= offline_valid / len(offline_refs)  # never worse than offline
        assert "> Note: narrative: kept from the offline draft: decisive" in draft.markdown
    finally:
        store.close()
