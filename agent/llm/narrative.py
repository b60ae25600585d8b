"""The LLM side of the narrative: cited sentences for the prose sections, checked against what was sent.

Figures (impact counts, reproducibility rates, action items) stay with the offline drafter; the model writes
prose, and every sentence must cite evidence ids it was given, and quote only what it was shown. The check is per
sentence, the merge per section: a section with a rejected sentence keeps the offline text, and the draft's notes
say which sections the model wrote. Only an answer with no usable section is rejected (and asked again once).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel

from agent.llm import blocks
from agent.llm.prompt import build_prompt
from agent.llm.schemas import NarrativeAnswer, compact_narrative, narrative_sections
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
# ... and the model writes the three sections where prose helps most (the timeline and what went well stay
# offline: they list figures and times), in the compact shape (agent/llm/schemas.py), within this output ceiling:
# 3 sections of one sentence of at most 160 characters is about 200 tokens (SmolLM2-135M on llama.cpp, with the
# schema as a grammar, wrote under 1 token a second on a loaded 2-core machine: 2 sentences a section timed out).
SMALL_SECTIONS: dict[str, str] = {key: SECTION_TITLES[key] for key in ("summary", "layers", "decisive")}
SMALL_MAX_TOKENS = 600
_RULES = {
    "full": (
        "Each sentence: one plain, specific, blameless statement; `cites`: ids from the data that support it; "
        "`quote`: null, or a phrase copied exactly from a cited excerpt."
    ),
    "compact": (
        "Answer one key per section, each with one sentence: `text` one plain, specific, blameless statement; "
        "`cites` the ids from the data that support it."
    ),
}


@dataclass
class CheckedNarrative:
    """The sections whose every sentence passed, and why the others keep the offline text."""

    sections: list[Section]
    kept: int = 0  # sentences kept
    dropped: list[str] = field(default_factory=list)  # why each rejected sentence went (may quote the answer)
    offline: dict[str, str] = field(default_factory=dict)  # section key -> plain reason it stays offline

    @property
    def problems(self) -> list[str]:
        """Reasons to reject the whole answer (and ask again): only when no section is usable."""
        if self.sections:
            return []
        return ["no section had every sentence citing evidence that was provided", *self.dropped[:5]]

    def notes(self) -> list[str]:
        """For the draft: which sections the model wrote, which stayed offline and why (no model text)."""
        notes = []
        if self.sections:
            notes.append(
                f"narrative: sections written by the model: {', '.join(s.key for s in self.sections)}"
            )
        if self.offline:
            kept = "; ".join(f"{key} ({why})" for key, why in self.offline.items())
            notes.append(f"narrative: kept from the offline draft: {kept}")
        return notes


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
    checked, usage = write_narrative_checked(
        provider,
        incident,
        classification,
        findings,
        evidence,
        budget=budget,
        sections=sections,
        max_tokens=max_tokens,
    )
    return checked.sections, usage


def write_narrative_checked(
    provider: Provider,
    incident: Incident,
    classification: Classification,
    findings: Sequence[Finding],
    evidence: Sequence[Evidence],
    *,
    budget: int = DEFAULT_BUDGET,
    sections: Mapping[str, str] | None = None,
    max_tokens: int | None = None,
) -> tuple[CheckedNarrative, Usage]:
    """write_narrative, keeping what the check dropped and which sections stay offline. Raises ProviderError."""
    small = budget < SMALL_BUDGET
    wanted = dict(sections or (SMALL_SECTIONS if small else DEFAULT_SECTIONS))
    clipping = (SMALL_RATIONALE_CHARS, SMALL_MAX_IDS) if small else (600, None)
    listing = "\n".join(f"- `{key}`: {title}" for key, title in wanted.items())
    # the schema the prompt is measured with; on a small budget the enum of ids sent is counted per id
    shape = compact_narrative(["x"], list(wanted)) if small else NarrativeAnswer
    prompt = build_prompt(
        "narrative",
        incident=incident,
        findings=findings,
        evidence=evidence,
        budget=budget,
        schema=shape,
        max_tokens=max_tokens or (SMALL_MAX_TOKENS if small else NARRATIVE_MAX_TOKENS),
        extra_blocks={"classification": blocks.classification_lines(classification, *clipping)},
        values={"sections_list": listing, "answer_rules": _RULES["compact" if small else "full"]},
    )
    excerpts = prompt.excerpts
    schema = compact_narrative(sorted(prompt.sent_ids), list(wanted)) if small else NarrativeAnswer

    def check(answer: BaseModel) -> tuple[CheckedNarrative, list[str]]:
        checked = check_narrative(answer, excerpts, wanted)
        return checked, checked.problems

    return ask_checked(provider, prompt.request, schema, check, what="narrative")


def check_narrative(
    answer: BaseModel, excerpts: Mapping[str, str], wanted: Mapping[str, str]
) -> CheckedNarrative:
    """Drop sentences that cite no id that was sent, quote what no cited excerpt says, or repeat an earlier
    sentence; a section keeps the model's text only when every one of its sentences passed (ids that were not sent
    are removed from a sentence that also cites a sent one)."""
    by_key: dict[str, list[Sentence]] = {}
    said: set[str] = set()  # a sentence that repeats an earlier one says nothing new (small models loop)
    result = CheckedNarrative(sections=[])
    for section in narrative_sections(answer):
        if section.key not in wanted or section.key in by_key:
            continue
        kept: list[Sentence] = []
        why: str | None = None
        for s in section.sentences:
            text = " ".join(s.text.split())
            if not text:
                continue
            sentence, reason, detail = _checked_sentence(text, s.cites, s.quote, excerpts)
            if sentence is not None and _norm(text).lower() in said | {_norm(k.text).lower() for k in kept}:
                sentence, reason, detail = (
                    None,
                    "a sentence repeated an earlier one",
                    "repeats an earlier sentence",
                )
            if sentence is None:
                result.dropped.append(f"{section.key}: {detail}")
                why = why or reason
                continue
            kept.append(sentence)
        if why or not kept:
            result.offline[section.key] = why or "no sentence"
            by_key[section.key] = []
            continue
        by_key[section.key] = kept
        said.update(_norm(k.text).lower() for k in kept)
        result.kept += len(kept)
    for key in wanted:
        if key not in by_key:
            result.offline[key] = "not written by the model"
    result.sections = [
        Section(key=key, title=title, sentences=by_key[key])
        for key, title in wanted.items()
        if by_key.get(key)
    ]
    return result


def _checked_sentence(
    text: str, cites: Sequence[str], quote: str | None, excerpts: Mapping[str, str]
) -> tuple[Sentence | None, str, str]:
    """(the sentence, or None; a plain reason for the draft; the detail, which may quote the answer: log only)."""
    valid = [c for c in dict.fromkeys(cites) if c in excerpts]
    if not valid:
        invented = [c for c in cites if c not in excerpts]
        if invented:
            return (
                None,
                "a sentence cited ids that were not sent",
                f"cites unknown ids {', '.join(invented[:3])}",
            )
        return None, "a sentence cited nothing", "cites nothing"
    quote = (quote or "").strip() or None
    if quote and not any(_contains(excerpts[c], quote) for c in valid):
        return (
            None,
            "a quote was not found in its cited evidence",
            f"quote not found in its cited evidence: {quote[:60]!r}",
        )
    return Sentence(text=text, cites=valid, quote=quote), "", ""


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _contains(haystack: str, needle: str) -> bool:
    return _norm(needle) in _norm(haystack.rstrip("…"))
