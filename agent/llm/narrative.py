"""The LLM side of the narrative: cited sentences for the prose sections, checked against what was sent.

Figures (impact counts, reproducibility rates, action items) stay with the offline drafter; the model writes
prose, and every sentence must cite evidence ids it was given, and quote only what it was shown.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from agent.llm import blocks
from agent.llm.prompt import build_prompt
from agent.llm.schemas import NarrativeAnswer
from agent.llm.structured import ask_checked
from agent.models import SECTION_TITLES, Classification, Evidence, Finding, Incident, Section, Sentence
from agent.providers.base import Provider, Usage

NARRATIVE_MAX_TOKENS = 8000
DEFAULT_BUDGET = 24_000
DEFAULT_SECTIONS: dict[str, str] = {
    key: SECTION_TITLES[key] for key in ("summary", "timeline", "layers", "decisive", "went_well_poorly")
}
# Below SMALL_BUDGET (a small local model's context) the classification goes in as roles and confidences only:
# the offline rationales and ids repeat what the findings and evidence blocks already carry.
SMALL_BUDGET = 6000
SMALL_RATIONALE_CHARS = 0
SMALL_MAX_IDS = 0
MAX_DROPPED_SHARE = 0.5  # more sentences than this rejected: the answer is not trusted at all


@dataclass
class CheckedNarrative:
    sections: list[Section]
    kept: int = 0
    dropped: list[str] = field(default_factory=list)  # why each rejected sentence went

    @property
    def problems(self) -> list[str]:
        total = self.kept + len(self.dropped)
        if self.kept == 0:
            return ["no sentence cited evidence that was provided", *self.dropped[:5]]
        if total and len(self.dropped) / total > MAX_DROPPED_SHARE:
            return [f"{len(self.dropped)} of {total} sentences were unsupported", *self.dropped[:5]]
        return []


def write_narrative(
    provider: Provider,
    incident: Incident,
    classification: Classification,
    findings: Sequence[Finding],
    evidence: Sequence[Evidence],
    *,
    budget: int = DEFAULT_BUDGET,
    sections: Mapping[str, str] | None = None,
    max_tokens: int | None = None,
) -> tuple[list[Section], Usage]:
    """Sections (in the requested order) whose sentences cite only evidence that was sent. Raises ProviderError."""
    wanted = dict(sections or DEFAULT_SECTIONS)
    clipping = (SMALL_RATIONALE_CHARS, SMALL_MAX_IDS) if budget < SMALL_BUDGET else (600, None)
    listing = "\n".join(f"- `{key}`: {title}" for key, title in wanted.items())
    prompt = build_prompt(
        "narrative",
        incident=incident,
        findings=findings,
        evidence=evidence,
        budget=budget,
        schema=NarrativeAnswer,
        max_tokens=max_tokens or NARRATIVE_MAX_TOKENS,
        extra_blocks={"classification": blocks.classification_lines(classification, *clipping)},
        values={"sections_list": listing},
    )
    excerpts = prompt.excerpts

    def check(answer: NarrativeAnswer) -> tuple[list[Section], list[str]]:
        checked = check_narrative(answer, excerpts, wanted)
        return checked.sections, checked.problems

    return ask_checked(
        provider, prompt.request, prompt.schema(NarrativeAnswer, list(wanted)), check, what="narrative"
    )


def check_narrative(
    answer: NarrativeAnswer, excerpts: Mapping[str, str], wanted: Mapping[str, str]
) -> CheckedNarrative:
    """Drop ids that were not sent; drop sentences left without a citation or quoting what no cited excerpt says."""
    by_key: dict[str, list[Sentence]] = {}
    result = CheckedNarrative(sections=[])
    for section in answer.sections:
        if section.key not in wanted or section.key in by_key:
            continue
        kept_sentences: list[Sentence] = []
        for s in section.sentences:
            text = " ".join(s.text.split())
            if not text:
                continue
            cites = [c for c in dict.fromkeys(s.cites) if c in excerpts]
            if not cites:
                invented = [c for c in s.cites if c not in excerpts]
                why = f"cites unknown ids {', '.join(invented[:3])}" if invented else "cites nothing"
                result.dropped.append(f"{section.key}: {why}")
                continue
            quote = (s.quote or "").strip() or None
            if quote and not any(_contains(excerpts[c], quote) for c in cites):
                result.dropped.append(f"{section.key}: quote not found in its cited evidence: {quote[:60]!r}")
                continue
            kept_sentences.append(Sentence(text=text, cites=cites, quote=quote))
        by_key[section.key] = kept_sentences
        result.kept += len(kept_sentences)
    result.sections = [
        Section(key=key, title=title, sentences=by_key[key])
        for key, title in wanted.items()
        if by_key.get(key)
    ]
    return result


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _contains(haystack: str, needle: str) -> bool:
    return _norm(needle) in _norm(haystack.rstrip("…"))
