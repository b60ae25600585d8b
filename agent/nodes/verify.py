"""Node `verify`: check every citation and quote of the draft; when it passes (or the revise budget is
spent, in which case whatever still fails is dropped) finalise the evidence list and the Markdown."""

from __future__ import annotations

from typing import Literal

from langgraph.graph import END
from langgraph.runtime import Runtime

from agent.drafter import finalize
from agent.nodes.gather import ensure_workspace
from agent.state import AgentContext, AgentState
from agent.verifier import MAX_REVISIONS, revise, verify_draft


def verify(state: AgentState, runtime: Runtime[AgentContext]) -> dict:
    catalog = ensure_workspace(state, runtime).catalog
    draft = state["draft"]
    report = verify_draft(draft, catalog)
    if not report.ok and state.get("revisions", 0) < MAX_REVISIONS:
        return {"verify": report}
    notes: list[str] = []
    if not report.ok:
        draft, changes = revise(draft, catalog)
        notes.append(
            f"verifier: {len(changes)} unverifiable statement(s) removed after {MAX_REVISIONS} revisions"
        )
    draft = finalize(draft.model_copy(update={"notes": [*draft.notes, *notes]}), catalog)
    status = "awaiting_review" if state["options"].review else "done"
    return {"verify": report, "draft": draft, "status": status, "notes": notes}


def route_after_verify(state: AgentState) -> Literal["revise", "review", "publish", "__end__"]:
    if not state["verify"].ok and not state["draft"].markdown:
        return "revise"
    options = state["options"]
    if options.review:
        return "review"
    return "publish" if options.publish else END
