"""Node `classify`: the failure layers. Offline by default (transparent scoring, agent/layer_classifier.py); with a
provider, the LLM decides from the same findings and evidence, falling back to offline on failure."""

from __future__ import annotations

from langgraph.runtime import Runtime

from agent.evidence import EvidenceCatalog
from agent.layer_classifier import ScoringInput, classify_offline
from agent.layer_probability import with_probabilities
from agent.models import Classification, Evidence, Finding, Incident, pm_ref, report_ref
from agent.nodes.gather import ensure_workspace
from agent.nodes.llm import llm_classify, llm_investigate
from agent.state import AgentContext, AgentState, SimilarIncident
from retrieval.trace import PostmortemDoc

MAX_EVIDENCE = 400  # the provider layer selects from these to its token budget


def evidence_for(
    catalog: EvidenceCatalog, incident: Incident, findings: list[Finding], similar: list[SimilarIncident]
) -> list[Evidence]:
    """Evidence records for what the findings cite, the reports and similar past incidents."""
    focus: dict[str, str | None] = {}
    for finding in findings:
        quotes = {
            q.get("evidence"): q.get("text") for q in finding.data.get("quotes", []) if isinstance(q, dict)
        }
        for ref in finding.evidence:
            if focus.get(ref) is None:
                focus[ref] = quotes.get(ref)
    refs = [report_ref(i) for i in range(1, len(incident.reports) + 1)] + [pm_ref(s.id) for s in similar]
    for ref in [*refs, *focus]:
        focus.setdefault(ref, None)
    out = []
    for ref, quote in list(focus.items())[:MAX_EVIDENCE]:
        record = catalog.evidence(ref, focus=quote)
        if record is not None:
            out.append(record)
    return out


def classify(state: AgentState, runtime: Runtime[AgentContext]) -> dict:
    ctx = runtime.context
    workspace = ensure_workspace(state, runtime)
    catalog = workspace.catalog
    findings, similar = state.get("findings", []), state.get("similar", [])
    flagged_traces = {t for t in (catalog.trace_of(f"span:{sid}") for sid in state.get("flagged", [])) if t}
    data = ScoringInput(
        findings=findings,
        similar=similar,
        flagged_traces=flagged_traces,
        service=state["scope"].service,
        has_traces=bool(workspace.spans),
        text_prior=state.get("text_prior", {}),
        trace_of=catalog.trace_of,
        service_of=catalog.service_of,
    )
    offline = with_probabilities(classify_offline(data))
    if ctx.provider is None:
        return {"classification": offline}
    if ctx.settings.investigate:
        return _investigate(state, runtime, offline)
    evidence = evidence_for(catalog, state["incident"], findings, similar)
    past = [
        PostmortemDoc(
            id=s.id,
            title=s.title,
            date=s.date,
            service=s.service,
            layers=s.layers,
            primary_layer=s.primary_layer,
            text=s.excerpt,
        )
        for s in similar
    ]
    classification, usage, notes = llm_classify(
        ctx.provider,
        state["incident"],
        findings,
        evidence,
        past,
        ctx.settings.token_budget,
        offline,
        ctx.settings.max_output_tokens,
    )
    updates: dict = {"notes": notes, "classification": classification or offline}
    if usage:
        updates["usage"] = [usage]
    return updates


def _investigate(state: AgentState, runtime: Runtime[AgentContext], offline: Classification) -> dict:
    """The investigation loop (agent/investigate/) in place of the one-call classification."""
    ctx = runtime.context
    workspace = ensure_workspace(state, runtime)
    classification, log, usage, notes = llm_investigate(
        ctx.provider,
        ctx.settings,
        incident=state["incident"],
        store=ctx.store,
        spans=workspace.spans,
        baseline=workspace.baseline,
        catalog=workspace.catalog,
        findings=state.get("findings", []),
        flagged=state.get("flagged", []),
        offline=offline,
        onset=state.get("onset"),
        service=state["scope"].service,
    )
    updates: dict = {"notes": notes, "classification": classification or offline, "investigation": log}
    if usage:
        updates["usage"] = [usage]
    return updates
