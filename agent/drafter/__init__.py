"""The drafter: sections with cited sentences, action items, Markdown and JSON renderings of a Draft."""

from agent.drafter.builder import build_draft, build_sections, cited_refs, finalize
from agent.drafter.inputs import DraftInputs
from agent.drafter.markdown import render_markdown
from agent.drafter.render_json import draft_json
from agent.models import citations

__all__ = [
    "DraftInputs",
    "build_draft",
    "build_sections",
    "cited_refs",
    "citations",
    "draft_json",
    "finalize",
    "render_markdown",
]
