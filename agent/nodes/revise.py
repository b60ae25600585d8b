"""Node `revise`: rewrite what the verifier rejected (re-cite a quote to the object that holds it, drop
unknown ids) and drop what cannot be supported. Bounded by agent.verifier.MAX_REVISIONS."""

from __future__ import annotations

from langgraph.runtime import Runtime

from agent.nodes.gather import ensure_workspace
from agent.state import AgentContext, AgentState
from agent.verifier import revise as revise_draft


def revise(state: AgentState, runtime: Runtime[AgentContext]) -> dict:
    catalog = ensure_workspace(state, runtime).catalog
    draft, changes = revise_draft(state["draft"], catalog)
    dropped = sum(1 for c in changes if c.startswith("dropped"))
    recited = sum(1 for c in changes if c.startswith("re-cited"))
    note = f"verifier: {recited} citation(s) corrected, {dropped} unsupported statement(s) removed"
    draft = draft.model_copy(update={"notes": [*draft.notes, note]})
    return {"draft": draft, "revisions": state.get("revisions", 0) + 1, "notes": [note]}
