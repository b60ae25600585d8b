"""The verifier: every citation must name an existing object, and every quote must appear verbatim
(whitespace-normalised) in an object its sentence cites. `revise` rewrites what it can (re-citing a quote to
the object that really holds it, dropping unknown ids) and drops what it cannot."""

from __future__ import annotations

import re

from agent.evidence import EvidenceCatalog, clean_quote
from agent.models import Draft, Section, Sentence
from agent.state import VerifyIssue, VerifyReport

MAX_REVISIONS = 2
MIN_QUOTE = 6
_QUOTED = re.compile(r"“([^”]+)”|\"([^\"]+)\"")


def sentence_quotes(sentence: Sentence) -> list[str]:
    """The quotes a sentence makes: its explicit `quote` and any text it puts in double quotes."""
    quotes = [sentence.quote] if sentence.quote else []
    for curly, straight in _QUOTED.findall(sentence.text):
        quote = clean_quote(curly or straight)
        if len(quote) >= MIN_QUOTE and quote not in quotes:
            quotes.append(quote)
    return quotes


def _check_sentence(
    section: str, index: int, sentence: Sentence, catalog: EvidenceCatalog
) -> list[VerifyIssue]:
    issues: list[VerifyIssue] = []
    valid = []
    for ref in sentence.cites:
        if catalog.has(ref):
            valid.append(ref)
        else:
            issues.append(VerifyIssue(section=section, sentence=index, kind="unknown_citation", detail=ref))
    for quote in sentence_quotes(sentence):
        if not any(catalog.contains(ref, quote) for ref in valid):
            issues.append(VerifyIssue(section=section, sentence=index, kind="misquote", detail=quote))
    return issues


def verify_draft(draft: Draft, catalog: EvidenceCatalog) -> VerifyReport:
    issues: list[VerifyIssue] = []
    checked = 0
    for section in draft.sections:
        for i, sentence in enumerate(section.sentences):
            checked += 1
            issues += _check_sentence(section.key, i, sentence, catalog)
    others = {
        "actions": [ref for item in draft.action_items for ref in item.evidence],
        "classification": [ref for layer in draft.classification.layers for ref in layer.evidence],
        "reproducibility": list(draft.reproducibility.evidence),
        "decisive": [draft.decisive_evidence] if draft.decisive_evidence else [],
        "similar": list(draft.similar_incidents),
    }
    for where, refs in others.items():
        checked += len(refs)
        issues += [
            VerifyIssue(section=where, sentence=-1, kind="unknown_citation", detail=ref)
            for ref in refs
            if not catalog.has(ref)
        ]
    return VerifyReport(checked=checked, issues=issues)


def _repair_sentence(sentence: Sentence, catalog: EvidenceCatalog) -> Sentence | None:
    cites = [ref for ref in sentence.cites if catalog.has(ref)]
    had_cites = bool(sentence.cites)
    for quote in sentence_quotes(sentence):
        if any(catalog.contains(ref, quote) for ref in cites):
            continue
        holder = catalog.find_quote(quote)
        if holder is None:
            return None  # a quote nothing holds: the sentence cannot stand
        cites.append(holder)
    if had_cites and not cites:
        return None
    return sentence.model_copy(update={"cites": cites})


def revise(draft: Draft, catalog: EvidenceCatalog) -> tuple[Draft, list[str]]:
    """Rewrite or drop every failing part of the draft; returns the draft and what was changed."""
    changes: list[str] = []
    sections: list[Section] = []
    for section in draft.sections:
        kept: list[Sentence] = []
        for sentence in section.sentences:
            repaired = _repair_sentence(sentence, catalog)
            if repaired is None:
                changes.append(f"dropped from {section.key}: {sentence.text[:80]!r}")
            else:
                if repaired.cites != sentence.cites:
                    changes.append(f"re-cited in {section.key}: {sentence.cites} -> {repaired.cites}")
                kept.append(repaired)
        sections.append(section.model_copy(update={"sentences": kept}))
    items = [
        item.model_copy(update={"evidence": [ref for ref in item.evidence if catalog.has(ref)]})
        for item in draft.action_items
    ]
    layers = [
        layer.model_copy(update={"evidence": [ref for ref in layer.evidence if catalog.has(ref)]})
        for layer in draft.classification.layers
    ]
    repro = draft.reproducibility.model_copy(
        update={"evidence": [ref for ref in draft.reproducibility.evidence if catalog.has(ref)]}
    )
    decisive = (
        draft.decisive_evidence if draft.decisive_evidence and catalog.has(draft.decisive_evidence) else None
    )
    if decisive != draft.decisive_evidence:
        changes.append(f"dropped decisive evidence {draft.decisive_evidence}")
    revised = draft.model_copy(
        update={
            "sections": sections,
            "action_items": items,
            "classification": draft.classification.model_copy(update={"layers": layers}),
            "reproducibility": repro,
            "decisive_evidence": decisive,
            "similar_incidents": [ref for ref in draft.similar_incidents if catalog.has(ref)],
        }
    )
    return revised, changes


def unresolved_citations(markdown: str, known: set[str]) -> list[str]:
    """Citations in a (possibly hand-edited) Markdown text that name no known evidence id."""
    from agent.models import citations

    return [ref for ref in citations(markdown) if ref not in known]
