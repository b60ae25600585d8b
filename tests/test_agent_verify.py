"""The evidence catalog and the verifier: citations must exist, quotes must be verbatim, failures are
re-cited or dropped -- checked on hand-built spans, and inside the real graph on a tampered draft."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from agent.drafter import citations
from agent.evidence import EvidenceCatalog
from agent.models import Incident, Report, Section, Sentence
from agent.settings import Settings
from agent.state import AgentContext, RunOptions
from agent.verifier import revise, verify_draft
from retrieval.samples import DEMO_INCIDENT
from retrieval.trace import Document, Message, Span, SpanKind
from tests.agentkit import CACHE, build_demo_store, copy_store, resolves

T0 = datetime(2025, 5, 12, 10, 0, tzinfo=UTC)
SYSTEM = "You are a support assistant.\nOnly quote   the policy excerpts.\nEscalate when unsure."


def _spans() -> list[Span]:
    retrieval = Span(
        trace_id="a" * 32,
        span_id="1111111111111111",
        name="retrieval kb",
        kind=SpanKind.retrieval,
        service="bot",
        start_time=T0,
        retrieval_query="refund window?",
        documents=[
            Document(id="old", content="Return any item within 90 days.", metadata={"source": "kb/old.md"})
        ],
    )
    llm = Span(
        trace_id="a" * 32,
        span_id="2222222222222222",
        parent_span_id=None,
        name="chat gpt-4o-mini",
        kind=SpanKind.llm,
        service="bot",
        start_time=T0 + timedelta(seconds=1),
        system_instructions=SYSTEM,
        input_messages=[Message(role="user", content="Can I get a refund after 60 days?")],
        output_messages=[Message(role="assistant", content="Yes! Any item within 90 days, full refund.")],
    )
    return [retrieval, llm]


def _incident() -> Incident:
    return Incident(
        title="Refund promises", reports=[Report(text="The bot promised a refund after 60 days.")]
    )


def _catalog() -> EvidenceCatalog:
    return EvidenceCatalog(_spans(), _incident())


def test_catalog_resolves_every_kind_and_keeps_full_text():
    catalog = _catalog()
    assert catalog.has("span:2222222222222222") and catalog.has("doc:1111111111111111:0")
    assert (
        catalog.has("report:1") and not catalog.has("report:2") and not catalog.has("doc:1111111111111111:1")
    )
    assert (
        not catalog.has("span:ffffffffffffffff") and not catalog.has("pm:nothing") and not catalog.has("x:1")
    )
    # whitespace-normalised: the system prompt's double spaces and newlines do not matter
    assert catalog.contains("span:2222222222222222", "Only quote the policy excerpts. Escalate")
    assert not catalog.contains("span:2222222222222222", "Only quote the policy documents")
    assert catalog.contains("doc:1111111111111111:0", "within 90 days")
    assert catalog.find_quote("promised a refund after 60 days") == "report:1"
    evidence = catalog.evidence("span:2222222222222222", focus="Only quote the policy excerpts")
    assert (
        evidence.kind == "span" and evidence.trace_id == "a" * 32 and evidence.span_id == "2222222222222222"
    )
    assert "Only quote the policy excerpts" in evidence.excerpt
    assert catalog.trace_of("doc:1111111111111111:0") == "a" * 32


def test_verifier_drops_fabricated_citation_and_misquote_and_recites_a_misplaced_quote():
    from agent.drafter import DraftInputs, build_draft
    from agent.models import Classification, Reproducibility
    from agent.state import GatherSummary, Scope

    catalog = _catalog()
    inputs = DraftInputs(
        incident=_incident(),
        scope=Scope(service="bot"),
        gathered=GatherSummary(spans=2, traces=1),
        findings=[],
        flagged=["2222222222222222"],
        onset=T0,
        reproducibility=Reproducibility(),
        similar=[],
        classification=Classification(primary=None, layers=[]),
        catalog=catalog,
        spans=_spans(),
    )
    draft = build_draft(inputs)
    tampered = [
        Sentence(text="A span nobody recorded shows the cause.", cites=["span:ffffffffffffffff"]),
        Sentence(
            text="The answer said “we guarantee refunds forever”.",
            cites=["span:2222222222222222"],
            quote="we guarantee refunds forever",
        ),
        Sentence(text="A user wrote “promised a refund after 60 days”.", cites=["doc:1111111111111111:0"]),
        Sentence(
            text="The bot answered “Any item within 90 days, full refund”.", cites=["span:2222222222222222"]
        ),
    ]
    draft = draft.model_copy(update={"sections": [Section(key="extra", title="Extra", sentences=tampered)]})
    report = verify_draft(draft, catalog)
    kinds = sorted((issue.kind, issue.detail) for issue in report.issues)
    assert kinds == [
        ("misquote", "promised a refund after 60 days"),
        ("misquote", "we guarantee refunds forever"),
        ("unknown_citation", "span:ffffffffffffffff"),
    ]
    fixed, changes = revise(draft, catalog)
    kept = fixed.sections[0].sentences
    assert [s.text for s in kept] == [tampered[2].text, tampered[3].text]
    assert kept[0].cites == ["doc:1111111111111111:0", "report:1"]  # re-cited to what holds the quote
    assert len([c for c in changes if c.startswith("dropped")]) == 2
    assert verify_draft(fixed, catalog).ok


@pytest.fixture
def demo_store(tmp_path, embedder):
    source = build_demo_store(tmp_path / "built", embedder)
    store = copy_store(source, tmp_path / "home", embedder)
    yield store
    store.close()


def test_graph_verifies_and_revises_a_tampered_draft(demo_store, tmp_path):
    from agent.api import load_incident
    from agent.graph import compile_graph

    incident = load_incident(DEMO_INCIDENT)
    graph = compile_graph(InMemorySaver())
    config = {"configurable": {"thread_id": "tampered"}}
    context = AgentContext(
        settings=Settings(home=tmp_path / "home", cache_dir=CACHE), store_factory=lambda: demo_store
    )
    graph.invoke(
        {"incident": incident, "options": RunOptions()}, config, context=context, interrupt_before=["verify"]
    )
    draft = graph.get_state(config).values["draft"]
    real = draft.sections[0].sentences[0].cites[0]
    bad = [
        Sentence(text="The vector database crashed at noon.", cites=["span:ffffffffffffffff"]),
        Sentence(text="The bot said “refunds are unlimited”.", cites=[real], quote="refunds are unlimited"),
    ]
    summary = draft.sections[0].model_copy(update={"sentences": [*draft.sections[0].sentences, *bad]})
    graph.update_state(
        config, {"draft": draft.model_copy(update={"sections": [summary, *draft.sections[1:]]})}
    )
    graph.invoke(None, config, context=context)
    state = graph.get_state(config).values
    final = state["draft"]
    assert state["revisions"] == 1 and state["status"] == "done" and state["verify"].ok
    assert "span:ffffffffffffffff" not in final.markdown and "refunds are unlimited" not in final.markdown
    assert "The vector database crashed" not in final.markdown
    assert any(note.startswith("verifier:") and "2 unsupported" in note for note in final.notes)
    assert all(resolves(ref, demo_store, incident) for ref in citations(final.markdown))
