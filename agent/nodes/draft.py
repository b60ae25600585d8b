"""Node `draft`: sections with cited sentences, action items, impact and decisive point. With a provider, the
LLM writes the narrative sections from the same evidence; the structured parts stay computed."""

from __future__ import annotations

from langgraph.runtime import Runtime

from agent.drafter import DraftInputs, build_draft
from agent.models import Reproducibility
from agent.nodes.classify import evidence_for
from agent.nodes.gather import ensure_workspace
from agent.nodes.llm import llm_narrative
from agent.state import AgentContext, AgentState, GatherSummary


def draft_inputs(state: AgentState, runtime: Runtime[AgentContext]) -> DraftInputs:
    workspace = ensure_workspace(state, runtime)
    provider = runtime.context.provider
    name = getattr(provider, "name", None) or (type(provider).__name__ if provider else "offline")
    return DraftInputs(
        incident=state["incident"],
        scope=state["scope"],
        gathered=state.get("gathered") or GatherSummary(),
        findings=state.get("findings", []),
        flagged=state.get("flagged", []),
        onset=state.get("onset"),
        reproducibility=state.get("reproducibility") or Reproducibility(),
        similar=state.get("similar", []),
        classification=state["classification"],
        catalog=workspace.catalog,
        spans=workspace.spans,
        provider=name if state["classification"].method != "offline" else "offline",
        notes=list(state.get("notes", [])),
    )


def draft(state: AgentState, runtime: Runtime[AgentContext]) -> dict:
    ctx = runtime.context
    inputs = draft_inputs(state, runtime)
    updates: dict = {}
    narrative = None
    if ctx.provider is not None:
        evidence = evidence_for(inputs.catalog, inputs.incident, inputs.findings, inputs.similar)
        narrative, usage, notes = llm_narrative(
            ctx.provider,
            inputs.incident,
            inputs.classification,
            inputs.findings,
            evidence,
            ctx.settings.token_budget,
            ctx.settings.max_output_tokens,
        )
        if usage:
            updates["usage"] = [usage]
        if notes:
            updates["notes"] = notes
            inputs.notes.extend(notes)
    result = build_draft(inputs, narrative)
    if narrative is not None:
        name = getattr(ctx.provider, "name", None) or type(ctx.provider).__name__
        result = result.model_copy(update={"provider": name})
    if state.get("investigation") is not None:
        result = result.model_copy(update={"investigation": state["investigation"]})
    usage = [*state.get("usage", []), *updates.get("usage", [])]
    if usage:
        result = result.model_copy(update={"usage": _total(usage)})
    return {**updates, "draft": result}


def _total(entries: list[dict]) -> dict:
    """Calls, tokens, cost and latency summed over the LLM calls of this draft (failed ones too), per step."""
    total: dict = {
        "calls": 0,
        "failed_calls": 0,
        "input_tokens": 0,
        "output_tokens": 0,
        "cost_usd": 0.0,
        "latency_s": 0.0,
        "steps": entries,
    }
    for entry in entries:
        for key in ("calls", "failed_calls", "input_tokens", "output_tokens", "latency_s"):
            total[key] += entry.get(key) or 0
        cost = entry.get("cost_usd")
        total["cost_usd"] = None if cost is None or total["cost_usd"] is None else total["cost_usd"] + cost
    return total
