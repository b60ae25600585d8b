"""The LLM side of the agent: budgeted prompts, classification, narrative, replay."""

from __future__ import annotations

from agent.llm.classifier_step import classify_with_llm
from agent.llm.narrative import DEFAULT_SECTIONS, write_narrative
from agent.providers.tokens import estimate_tokens

__all__ = ["DEFAULT_SECTIONS", "classify_with_llm", "estimate_tokens", "write_narrative"]
