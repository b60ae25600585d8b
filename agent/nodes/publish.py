"""Node `publish`: the approved post-mortem goes into the store as a past post-mortem (one chunk per
section, layers primary first), so the next incident's recall finds it."""

from __future__ import annotations

import re

from langgraph.runtime import Runtime

from agent.models import Draft
from agent.state import AgentContext, AgentState
from retrieval.trace import PostmortemDoc

SKIP_SECTIONS = {"Evidence"}  # the evidence table is long and adds nothing to search
_HEADING = re.compile(r"^## +(.+?)\s*$", re.MULTILINE)


def postmortem_id(draft: Draft) -> str:
    return draft.incident.id or "incident"


def postmortem_docs(draft: Draft, *, source: str | None = None) -> list[PostmortemDoc]:
    """The draft's Markdown as PostmortemDoc chunks, one per `##` section."""
    c = draft.classification
    layers = [
        a.layer
        for a in sorted(c.layers, key=lambda a: a.role != "primary")
        if a.role in ("primary", "contributing")
    ]
    incident = draft.incident
    when = draft.onset or incident.window_start
    date = when.date().isoformat() if when else None
    markdown = draft.markdown
    marks = list(_HEADING.finditer(markdown))
    chunks: list[tuple[str | None, str]] = []
    head = markdown[: marks[0].start()] if marks else markdown
    if head.strip():
        chunks.append((None, head.strip()))
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(markdown)
        title = mark.group(1)
        body = markdown[mark.end() : end].strip()
        if title not in SKIP_SECTIONS and body:
            chunks.append((title, body))
    return [
        PostmortemDoc(
            id=postmortem_id(draft),
            title=incident.title,
            date=date,
            service=incident.service,
            layers=layers,
            primary_layer=c.primary,
            tags=["drafted", draft.provider],
            section=section,
            chunk_index=i,
            text=text,
            source=source,
            metadata={"severity": incident.severity} if incident.severity else {},
        )
        for i, (section, text) in enumerate(chunks)
    ]


def publish(state: AgentState, runtime: Runtime[AgentContext]) -> dict:
    draft = state["draft"]
    docs = postmortem_docs(draft, source="postmortem draft")
    runtime.context.store.add_postmortems(docs)
    return {"status": "published", "published_id": postmortem_id(draft)}
