"""Assembles a `models.Draft` from the analysis, and finalises it (evidence list + Markdown) once verified."""

from __future__ import annotations

from agent.drafter import actions, analysis, impact, sections
from agent.drafter.inputs import DraftInputs
from agent.drafter.markdown import render_markdown
from agent.evidence import EvidenceCatalog
from agent.models import Draft, Evidence, Section, pm_ref
from agent.runs.actions import run_action_items
from agent.runs.finding import attribution_of
from agent.runs.sections import run_section
from agent.verifier import sentence_quotes


def build_sections(inputs: DraftInputs) -> tuple[list[Section], dict]:
    """The offline sections, plus the figures they were computed from (affected, decisive point)."""
    blast = impact.affected(inputs)
    decisive_ref, why = impact.decisive_point(inputs)
    built = [
        sections.summary(inputs, blast),
        sections.impact_section(inputs, blast),
        sections.detection(inputs),
        sections.timeline(inputs),
        analysis.layers(inputs),
        run_section(inputs.findings) or sections.decisive(inputs, decisive_ref, why),
        sections.reproducibility(inputs),
        analysis.went_well_and_poorly(inputs),
        analysis.similar(inputs),
        analysis.gaps(inputs),
    ]
    return built, {"affected": blast, "decisive": decisive_ref}


def build_draft(inputs: DraftInputs, narrative: list[Section] | None = None) -> Draft:
    """The draft before verification. `narrative` (from an LLM) replaces offline sections with the same key."""
    built, figures = build_sections(inputs)
    if narrative:
        by_key = {section.key: section for section in narrative if section.sentences}
        built = [by_key.pop(section.key, section) for section in built] + list(by_key.values())
    return Draft(
        incident=inputs.incident,
        classification=inputs.classification,
        evidence=[],
        findings=inputs.findings,
        sections=built,
        decisive_evidence=figures["decisive"],
        attribution=attribution_of(inputs.findings),
        onset=inputs.onset,
        affected=figures["affected"],
        reproducibility=inputs.reproducibility,
        action_items=[*run_action_items(inputs.findings), *actions.action_items(inputs)],
        similar_incidents=[pm_ref(p.id) for p in inputs.similar],
        telemetry_gaps=[f.title for f in inputs.gap_findings()],
        provider=inputs.provider,
        notes=list(inputs.notes),
    )


def cited_refs(draft: Draft) -> list[tuple[str, str | None]]:
    """Every (id, quote) the draft relies on, in first-use order."""
    refs: list[tuple[str, str | None]] = []
    for section in draft.sections:
        for sentence in section.sentences:
            refs += [(ref, sentence.quote) for ref in sentence.cites]
    for item in draft.action_items:
        refs += [(ref, None) for ref in item.evidence]
    for layer in draft.classification.layers:
        refs += [(ref, None) for ref in layer.evidence]
    refs += [(ref, None) for ref in draft.reproducibility.evidence]
    if draft.decisive_evidence:
        refs.append((draft.decisive_evidence, None))
    refs += [(ref, None) for ref in draft.similar_incidents]
    return refs


def finalize(draft: Draft, catalog: EvidenceCatalog) -> Draft:
    """Fill the evidence list (resolvable ids only, verbatim excerpts) and render the Markdown."""
    focus: dict[str, str | None] = {}
    for ref, quote in cited_refs(draft):
        if focus.get(ref) is None:
            focus[ref] = quote
    for section in draft.sections:  # a quoted passage is the best excerpt of the object that holds it
        for sentence in section.sentences:
            for quote in sentence_quotes(sentence):
                for ref in sentence.cites:
                    if focus.get(ref) is None and catalog.contains(ref, quote):
                        focus[ref] = quote
    evidence: dict[str, Evidence] = {}
    for ref, quote in focus.items():
        record = catalog.evidence(ref, focus=quote)
        if record is not None:
            evidence[ref] = record
    draft = draft.model_copy(update={"evidence": list(evidence.values())})
    return draft.model_copy(update={"markdown": render_markdown(draft)})
