"""The LLM as investigator: a tool-using loop over the evidence (a LangGraph subgraph, agent/investigate/graph.py).

`investigate(...)` is the one entry point. The model starts from the incident, the detectors' findings (offered
as leads) and the offline classification, reads the store and the run's evidence through read-only tools
(agent/investigate/tools.py), and answers with the same classification contract as the one-call path. Its answer
is checked like that one (ids it never saw are dropped, a layer left without evidence is demoted), merged into the
offline classification (agent/llm/merge.py), and may disagree with the detectors when it cites what it read.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import prompts
from agent.investigate.graph import build_investigation
from agent.investigate.log import build_log, disagreements
from agent.investigate.state import Budget, InvestigationContext, InvestigationState
from agent.llm import blocks
from agent.llm.classifier_step import check_classification
from agent.llm.merge import merge_with_offline
from agent.llm.schemas import ClassificationAnswer
from agent.models import Classification, Finding, Incident, Investigation, report_ref
from agent.providers.base import ChatMessage, ProviderError, Usage
from agent.settings import Settings

__all__ = ["Investigated", "budget_from", "investigate"]

log = logging.getLogger("postmortem.investigate")

MAX_LEADS = 12  # findings offered as leads in the first message
SMALL_LEADS = 4  # ... on a small budget
MAX_LEAD_IDS = 4


@dataclass
class Investigated:
    """What an investigation gives the graph. `classification` is None when it failed (use the offline one)."""

    classification: Classification | None
    log: Investigation
    usage: Usage
    notes: list[str] = field(default_factory=list)
    failure: str | None = None  # one plain sentence when it failed


def budget_from(settings: Settings) -> Budget:
    return Budget(
        max_steps=settings.investigate_max_steps,
        max_tokens=settings.investigate_max_tokens,
        max_seconds=settings.investigate_max_seconds,
        request_tokens=settings.token_budget,
        max_output_tokens=min(settings.max_output_tokens or 1500, 4000),
    )


def first_message(ctx: InvestigationContext) -> tuple[str, list[str]]:
    """The opening user turn (incident, leads, offline classification) and the evidence ids it shows."""
    leads = ctx.findings[: SMALL_LEADS if ctx.budget.small else MAX_LEADS]
    lead_rows = [blocks.finding_line(f, f.evidence[:MAX_LEAD_IDS], compact=True) for f in leads]
    incident_rows = blocks.incident_lines(ctx.incident)
    class_rows = blocks.classification_lines(
        ctx.offline, rationale_chars=0 if ctx.budget.small else 200, max_ids=MAX_LEAD_IDS
    )
    boundary = blocks.boundary_for(incident_rows, lead_rows, class_rows)
    text = prompts.render(
        "investigate",
        boundary=boundary,
        incident_block=blocks.block("incident", incident_rows, boundary),
        findings_block=blocks.block("leads", lead_rows, boundary),
        classification_block=blocks.block("offline_classification", class_rows, boundary),
        max_steps=ctx.budget.max_steps,
    )
    shown = [report_ref(i) for i in range(1, len(ctx.incident.reports) + 1)]
    shown += [ref for f in leads for ref in f.evidence[:MAX_LEAD_IDS]]
    shown += [ref for a in ctx.offline.layers for ref in a.evidence[:MAX_LEAD_IDS]]
    return text, [ref for ref in dict.fromkeys(shown) if ctx.catalog.has(ref)]


def investigate(
    provider: Any,
    settings: Settings,
    *,
    incident: Incident,
    store: Any,
    spans: list[Any],
    baseline: list[Any],
    catalog: Any,
    findings: list[Finding],
    flagged: list[str],
    offline: Classification,
    onset: Any = None,
    service: str | None = None,
) -> Investigated:
    """Run the investigation loop. Never raises for a provider failure: `classification` is then None and
    `failure` says why in one plain sentence."""
    ctx = InvestigationContext(
        provider=provider, store=store, incident=incident, spans=spans, baseline=baseline, catalog=catalog,
        findings=findings, flagged=flagged, offline=offline, onset=onset, service=service,
        budget=budget_from(settings), system=prompts.render("system"),
    )  # fmt: skip
    text, shown = first_message(ctx)
    start: InvestigationState = {
        "messages": [ChatMessage(role="user", content=text)],
        "pending": [],
        "log": [],
        "seen": shown,
        "tainted": [],
        "signatures": {},
        "errors": 0,
        "usage": Usage(),
        "protocol": "tools",
        "answer": None,
        "stopped": "",
        "turns": 0,
    }
    limit = 4 * (ctx.budget.max_steps + ctx.budget.max_repeats + ctx.budget.max_errors) + 10
    final = build_investigation().invoke(start, {"recursion_limit": limit}, context=ctx)
    read = [ref for ref in final.get("seen", []) if ref not in shown]
    record = build_log(final, ctx.elapsed(), read)
    return conclude_answer(ctx, final, record)


def conclude_answer(
    ctx: InvestigationContext, final: InvestigationState, record: Investigation
) -> Investigated:
    usage = final.get("usage") or Usage()
    answer: ClassificationAnswer | None = final.get("answer")
    if answer is None:
        why = _failure_reason(ctx, final)
        return Investigated(classification=None, log=record, usage=usage, failure=why)
    tainted = set(final.get("tainted", []))
    answer, notes = drop_tainted(answer, tainted)
    seen = set(final.get("seen", [])) - tainted
    checked = check_classification(
        answer, seen, ctx.findings, method=ctx.provider.name, read=set(record.read) - tainted
    )
    if checked.problems:
        why = f"its answer was unusable ({checked.problems[0]})"
        return Investigated(classification=None, log=record, usage=usage, failure=why)
    merged, merge_notes = merge_with_offline(checked, ctx.offline)
    record.disagreements = disagreements(ctx.offline, merged)
    notes += [f"investigation: {n}" for n in [*merge_notes, *checked.notes]]
    notes += [f"investigation disagreed with the detectors: {line}" for line in record.disagreements]
    return Investigated(classification=merged, log=record, usage=usage, notes=notes)


def drop_tainted(answer: ClassificationAnswer, tainted: set[str]) -> tuple[ClassificationAnswer, list[str]]:
    """Ids whose text was phrased as instructions are data, not support: a layer may not rest on them."""
    if not tainted:
        return answer, []
    notes, layers = [], []
    for layer in answer.layers:
        kept = [ref for ref in layer.evidence if ref not in tainted]
        if len(kept) < len(layer.evidence):
            notes.append(f"investigation: {layer.layer}: set aside evidence whose text gave instructions")
        layers.append(layer.model_copy(update={"evidence": kept}))
    return answer.model_copy(update={"layers": layers}), notes


def _failure_reason(ctx: InvestigationContext, final: InvestigationState) -> str:
    if isinstance(ctx.failure, ProviderError):
        return ctx.failure.reason
    stopped = final.get("stopped") or "no answer"
    if stopped == "no_room":
        return "its request for the final answer did not fit the token budget"
    return f"the investigation ended without an answer ({stopped})"
