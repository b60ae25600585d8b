"""Node `review`: a human approves, edits or rejects the draft. The run pauses here (LangGraph `interrupt`)
and resumes, possibly in another process, from the SQLite checkpoint."""

from __future__ import annotations

from typing import Literal

from langgraph.graph import END
from langgraph.runtime import Runtime
from langgraph.types import interrupt

from agent.evidence import EvidenceCatalog
from agent.state import AgentContext, AgentState, ReviewDecision
from agent.verifier import unresolved_citations


def review(state: AgentState, runtime: Runtime[AgentContext]) -> dict:
    draft = state["draft"]
    answer = interrupt(
        {
            "question": "approve, edit or reject this post-mortem draft",
            "incident": draft.incident.title,
            "primary": draft.classification.primary,
            "markdown": draft.markdown,
        }
    )
    decision = ReviewDecision.model_validate(answer)
    if decision.decision == "reject":
        return {"review": decision, "status": "rejected"}
    if decision.decision == "edit":
        edited = decision.markdown or ""
        if not edited.strip():
            raise ValueError("an edit decision needs the edited Markdown")
        store = runtime.context.store
        catalog = EvidenceCatalog(
            incident=draft.incident, span_lookup=store.get_span, pm_lookup=store.get_postmortem
        )
        known = {e.id for e in draft.evidence}
        unknown = [ref for ref in unresolved_citations(edited, known) if not catalog.has(ref)]
        added = [catalog.evidence(ref) for ref in unresolved_citations(edited, known) if catalog.has(ref)]
        notes = [*draft.notes, "edited by a reviewer"]
        if unknown:
            notes.append(f"the edited text cites evidence that does not exist: {', '.join(unknown)}")
        draft = draft.model_copy(
            update={
                "markdown": edited,
                "notes": notes,
                "evidence": [*draft.evidence, *(e for e in added if e)],
            }
        )
        return {"review": decision, "draft": draft}
    return {"review": decision}


def route_after_review(state: AgentState) -> Literal["publish", "__end__"]:
    decision = state.get("review")
    return "publish" if decision is not None and decision.decision != "reject" else END
