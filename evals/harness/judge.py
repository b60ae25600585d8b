"""Optional LLM judge: a draft graded against the gold rationale (prompt in prompts/judge.md), 0..1."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

import prompts
from agent.models import Draft
from evals.harness.dataset import Gold
from evals.harness.scorers import contributing_layers

MAX_DRAFT_CHARS = 12_000  # the graded text is bounded, whatever the draft's length
JUDGE_SYSTEM = (
    "You grade incident post-mortems against expert answers. Reply in the requested structure only."
)


class JudgeAnswer(BaseModel):
    """The structured answer the judge must give."""

    score: int = Field(ge=0, le=4)
    reason: str


class JudgeResult(BaseModel):
    score: float  # 0..1
    reason: str
    usage: dict[str, Any] = Field(default_factory=dict)


def judge_prompt(draft: Draft, gold: Gold) -> str:
    text = draft.markdown or "\n".join(
        s.text for section in draft.sections for s in section.sentences if s.text.strip()
    )
    if len(text) > MAX_DRAFT_CHARS:
        text = text[:MAX_DRAFT_CHARS] + "\n[... truncated]"
    return prompts.render(
        "judge",
        gold_primary=gold.primary,
        gold_contributing=", ".join(gold.contributing) or "none",
        gold_rationale=gold.rationale or "(none given)",
        draft_primary=draft.classification.primary or "none",
        draft_contributing=", ".join(contributing_layers(draft)) or "none",
        draft_text=text.replace("DRAFT>>>", "DRAFT> > >"),
    )


def judge_draft(provider: Any, draft: Draft, gold: Gold) -> JudgeResult:
    """Ask `provider` (an agent.providers Provider) to grade the draft. Raises the provider's ProviderError."""
    from agent.providers.base import ChatMessage, ChatRequest

    request = ChatRequest(
        system=JUDGE_SYSTEM,
        messages=[ChatMessage(role="user", content=judge_prompt(draft, gold))],
        temperature=0.0,
        max_tokens=300,
    )
    parsed = provider.parse(request, JudgeAnswer)
    answer: JudgeAnswer = parsed.value
    return JudgeResult(
        score=answer.score / 4.0, reason=" ".join(answer.reason.split())[:300], usage=parsed.usage.as_dict()
    )
