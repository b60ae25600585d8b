"""End to end on the real store and embedder: the demo incident, an incident without traces, and the review
loop (interrupt in this process, resume in another)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from agent.api import ReviewError, draft_incident, load_incident, resume_review
from agent.drafter import citations
from agent.evidence import EvidenceCatalog, normalize
from agent.models import Incident, Report
from agent.settings import Settings
from retrieval.samples import DEMO_INCIDENT, demo_texts
from retrieval.samples.generate import REINDEX_AT
from tests.agentkit import CACHE, REPO, all_citations, build_demo_store, copy_store, resolves


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory, embedder):
    return build_demo_store(tmp_path_factory.mktemp("demo") / "chroma", embedder)


@pytest.fixture
def home(tmp_home, monkeypatch):
    monkeypatch.setenv("POSTMORTEM_CACHE_DIR", str(CACHE))
    return tmp_home


@pytest.fixture
def store(demo_dir, home, embedder):
    opened = copy_store(demo_dir, home, embedder)
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def demo_result(demo_dir, tmp_path_factory, embedder):
    """One offline draft of the demo incident, shared by the read-only checks."""
    home = tmp_path_factory.mktemp("demo-home")
    store = copy_store(demo_dir, home, embedder)
    incident = load_incident(DEMO_INCIDENT)
    result = draft_incident(incident, settings=Settings(home=home, cache_dir=CACHE), store=store)
    yield result, store, incident
    store.close()


def test_demo_draft_cites_only_resolvable_evidence(demo_result):
    result, store, incident = demo_result
    draft = result.draft
    assert result.status == "done"
    refs = all_citations(draft)
    assert len(citations(draft.markdown)) >= 10
    unresolved = [ref for ref in refs if not resolves(ref, store, incident)]
    assert unresolved == []
    listed = {e.id for e in draft.evidence}
    assert set(citations(draft.markdown)) <= listed  # every cited id has its evidence record


def test_demo_evidence_is_verbatim_and_ids_as_ingested(demo_result):
    result, store, incident = demo_result
    catalog = EvidenceCatalog(incident=incident, span_lookup=store.get_span, pm_lookup=store.get_postmortem)
    for evidence in result.draft.evidence:
        assert catalog.contains(evidence.id, evidence.excerpt), evidence.id
        if evidence.kind in ("span", "document"):
            span = store.get_span(evidence.span_id)
            assert span is not None and span.trace_id == evidence.trace_id
            assert evidence.span_id == evidence.span_id.lower() and len(evidence.span_id) == 16
    for section in result.draft.sections:
        for sentence in section.sentences:
            if sentence.quote:
                assert any(normalize(sentence.quote) in catalog.full_text(ref) for ref in sentence.cites)


def test_demo_analysis_names_the_stale_index_and_ignores_red_herrings(demo_result):
    result, store, _ = demo_result
    draft = result.draft
    roles = {a.layer: a.role for a in draft.classification.layers}
    assert draft.classification.primary == "data"
    assert roles["prompt"] != "ruled_out"  # the removed instruction let the stale policy through
    assert roles["system"] != "primary"  # the order-lookup timeout was handled; it is a red herring
    # the analysis reads as: each layer's verdict, then (nested) the findings behind it, citing their evidence
    layers = next(s for s in draft.sections if s.key == "layers").sentences
    heads = [i for i, x in enumerate(layers) if x.level == 0]
    details = [x for x in layers[heads[0] + 1 : heads[1]]]  # under the first verdict, the primary's
    assert details and all(x.level == 1 and x.cites for x in details)
    assert {_doc_source(store, ref) for ref in details[0].cites} == {ARCHIVED}  # its strongest finding
    # the current policy only rode along with the stale one: no finding under any layer cites it
    cited_under_layers = {ref for x in layers if x.level == 1 for ref in x.cites if ref.startswith("doc:")}
    assert CURRENT not in {_doc_source(store, ref) for ref in cited_under_layers}
    assert draft.onset is not None and REINDEX_AT <= draft.onset <= draft.incident.reports[0].timestamp
    assert draft.affected.traces > 0 and draft.affected.sessions > 0
    # the model switch lives in another service: nothing from it is cited
    services = {store.get_span(e.span_id).service for e in draft.evidence if e.span_id}
    assert services == {"support-assistant"}
    decisive = store.get_span(draft.decisive_evidence.removeprefix("span:"))
    first_bad = min(
        (store.get_span(e.span_id) for e in draft.evidence if e.id in draft.sections[0].sentences[0].cites),
        key=lambda s: s.start_time,
    )
    assert decisive.trace_id == first_bad.trace_id
    keys = [s.key for s in draft.sections]
    for key in (
        "summary",
        "impact",
        "detection",
        "timeline",
        "layers",
        "decisive",
        "reproducibility",
        "gaps",
    ):
        assert key in keys
    assert {"data", "prompt"} <= {item.layer for item in draft.action_items}
    # each fix names its object: the document to take out, the instruction v8 dropped
    fixes = {item.kind: item for item in draft.action_items}
    assert {_doc_source(store, ref) for ref in fixes["index_fix"].evidence} == {ARCHIVED}
    assert ARCHIVED in fixes["index_fix"].title
    dropped = re.search(r"“(.+)”", fixes["prompt_fix"].title)
    assert (
        dropped
        and dropped.group(1) in demo_texts.PROMPTS["v7"]
        and dropped.group(1) not in demo_texts.PROMPTS["v8"]
    )
    # the Markdown has every section as a heading, the action items among them
    headings = [line for line in draft.markdown.splitlines() if line.startswith("## ")]
    assert [f"## {s.title}" for s in draft.sections] == [
        h for h in headings if h not in ("## Action items", "## Evidence")
    ]
    assert "## Action items" in headings
    # the reproducibility section says how to replay the first bad request: the trace of the span it cites
    repro = next(s for s in draft.sections if s.key == "reproducibility").sentences
    assert any(
        store.get_span(ref.removeprefix("span:")).trace_id in x.text
        for x in repro
        for ref in x.cites[:1]
        if ref.startswith("span:")
    )


ARCHIVED, CURRENT = "kb/archive/refund-policy-2023.md", "kb/policies/refund-policy.md"


def _doc_source(store, ref: str) -> str | None:
    """The source of a cited retrieved document (`doc:<span id>:<index>`), None for other evidence."""
    kind, _, rest = ref.partition(":")
    if kind != "doc":
        return None
    span_id, _, index = rest.rpartition(":")
    return store.get_span(span_id).documents[int(index)].source


def test_demo_json_contract(demo_result):
    from agent.drafter import draft_json

    payload = json.loads(json.dumps(draft_json(demo_result[0].draft)))
    for key in ("incident", "classification", "evidence", "decisive_evidence", "onset", "affected"):
        assert key in payload
    assert {"reproducibility", "action_items", "markdown"} <= payload.keys()
    assert payload["classification"]["primary"] in ("model", "prompt", "data", "system")
    layer = payload["classification"]["layers"][0]
    assert {"layer", "role", "confidence", "rationale", "evidence"} <= layer.keys()
    kinds = {e["kind"] for e in payload["evidence"]}
    assert kinds <= {"span", "document", "report", "postmortem"} and {"span", "report"} <= kinds
    assert {"id", "kind", "trace_id", "span_id", "excerpt", "timestamp"} <= payload["evidence"][0].keys()
    assert datetime.fromisoformat(payload["onset"]).tzinfo is not None
    assert {"traces", "sessions"} <= payload["affected"].keys()


def _no_trace_incident(**update) -> Incident:
    incident = Incident(
        title="Checkout assistant quoted wrong delivery dates",
        description="Customers say the checkout assistant promised next-day delivery to remote islands.",
        service="checkout-assistant",
        window_start=datetime(2025, 6, 1, 8, tzinfo=UTC),
        window_end=datetime(2025, 6, 1, 20, tzinfo=UTC),
        reports=[Report(text="Bot said next-day delivery to Orkney, courier says 4 days.", timestamp=None)],
    )
    return incident.model_copy(update=update)


def test_incident_without_traces_gets_a_draft_with_missing_telemetry_first(store, home):
    incident = _no_trace_incident()
    result = draft_incident(incident, settings=Settings(home=home, cache_dir=CACHE), store=store)
    draft = result.draft
    # the first finding is the gap itself, resting on the report; the summary opens with it, naming the service
    assert draft.findings[0].is_gap and draft.findings[0].evidence == ["report:1"]
    opening = draft.sections[0].sentences[0]
    assert "checkout-assistant" in opening.text and "report:1" in opening.cites
    assert draft.affected.traces == 0 and draft.decisive_evidence is None
    assert all(resolves(ref, store, incident) for ref in all_citations(draft))
    assert any(item.kind == "telemetry" for item in draft.action_items)
    assert all(a.role != "ruled_out" for a in draft.classification.layers)  # nothing was checked


def test_review_interrupt_then_resume_in_another_process(store, home, embedder):
    incident = load_incident(DEMO_INCIDENT)
    settings = Settings(home=home, cache_dir=CACHE)
    before = store.count_postmortems()
    paused = draft_incident(incident, settings=settings, store=store, review=True)
    assert paused.status == "awaiting_review" and paused.draft.markdown
    assert store.count_postmortems() == before  # nothing published before approval
    store.close()
    code = (
        "import sys; from agent.api import resume_review; "
        "r = resume_review(sys.argv[1], 'approve'); print(r.status, r.draft.incident.id)"
    )
    env = {**os.environ, "POSTMORTEM_HOME": str(home), "POSTMORTEM_CACHE_DIR": str(CACHE)}
    done = subprocess.run(
        [sys.executable, "-c", code, paused.thread_id],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    status, pm_id = done.stdout.split()
    assert status == "published"
    from retrieval.store import TraceStore

    reopened = TraceStore(path=home / "chroma", embedder=embedder)
    try:
        assert reopened.count_postmortems() > before
        hits = reopened.search_postmortems(
            "support assistant promised 90-day refunds on final-sale items", k=3
        )
        assert pm_id in [hit.doc.id for hit in hits]
        chunks = reopened.get_postmortem(pm_id)
        assert chunks[0].layers[0] == paused.draft.classification.primary
        assert chunks[0].service == "support-assistant"
    finally:
        reopened.close()
    with pytest.raises(ReviewError):
        resume_review(paused.thread_id, "approve", settings=settings)  # already published


def test_review_reject_and_edit(store, home):
    settings = Settings(home=home, cache_dir=CACHE)
    before = store.count_postmortems()
    first = draft_incident(_no_trace_incident(id="rejected-one"), settings=settings, store=store, review=True)
    rejected = resume_review(first.thread_id, "reject", settings=settings, store=store)
    assert rejected.status == "rejected" and store.count_postmortems() == before
    assert store.get_postmortem("rejected-one") == []

    second = draft_incident(_no_trace_incident(id="edited-one"), settings=settings, store=store, review=True)
    assert second.status == "awaiting_review"
    edited = second.draft.markdown.replace("## Summary", "## Summary\n\nReviewed by the on-call lead.", 1)
    edited += "\nSee also [span:0000000000000000].\n"
    done = resume_review(second.thread_id, "edit", edited_markdown=edited, settings=settings, store=store)
    assert done.status == "published"
    assert done.draft.markdown == edited
    assert any("span:0000000000000000" in note for note in done.draft.notes)  # flagged, not silently kept
    text = " ".join(chunk.text for chunk in store.get_postmortem("edited-one"))
    assert "Reviewed by the on-call lead." in text
    with pytest.raises(ReviewError):
        resume_review("no-such-thread", "approve", settings=settings, store=store)
    with pytest.raises(ReviewError):
        resume_review(second.thread_id, "approve", settings=settings, store=store)  # already published


def test_edit_needs_text(home):
    with pytest.raises(ReviewError):
        resume_review(
            "any-thread", "edit", edited_markdown="  ", settings=Settings(home=home, cache_dir=CACHE)
        )


def test_publish_without_review_only_when_asked(store, home):
    settings = Settings(home=home, cache_dir=CACHE)
    kept = draft_incident(_no_trace_incident(id="not-published"), settings=settings, store=store)
    assert kept.status == "done" and store.get_postmortem("not-published") == []
    published = draft_incident(
        _no_trace_incident(id="published-one"), settings=settings, store=store, publish=True
    )
    assert published.status == "published"
    chunks = store.get_postmortem("published-one")
    assert chunks and chunks[0].title == "Checkout assistant quoted wrong delivery dates"
    assert [c.section for c in chunks][:2] == [None, "Summary"] and "Evidence" not in [
        c.section for c in chunks
    ]
    assert chunks[0].layers[:1] == [published.draft.classification.primary]
