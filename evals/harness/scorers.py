"""Scorers: one draft (or one baseline prediction) against one case's gold labels and the facts of its store."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from pydantic import BaseModel, Field

from agent.models import CITATION_RE, SECTION_KEYS, Draft, Layer
from evals.harness.baselines import LayerPrediction
from evals.harness.dataset import Gold

# The sections a complete draft has, each with a non-empty sentence (issue 3 item 5); "action_items" is satisfied
# by the draft's action items.
REQUIRED_SECTIONS: tuple[str, ...] = SECTION_KEYS


class CaseFacts(BaseModel):
    """What exists in one case's store: what a citation may resolve to."""

    spans: dict[str, str] = Field(default_factory=dict)  # span_id -> trace_id
    documents: dict[str, int] = Field(default_factory=dict)  # retrieval span_id -> number of documents
    reports: int = 0
    postmortems: set[str] = Field(default_factory=set)

    def trace_of(self, span_id: str | None) -> str | None:
        return self.spans.get(span_id) if span_id else None

    def resolves(self, ref: str) -> bool:
        kind, _, rest = ref.partition(":")
        if kind == "span":
            return rest in self.spans
        if kind == "doc":
            span_id, _, index = rest.rpartition(":")
            return index.isdigit() and int(index) < self.documents.get(span_id, 0)
        if kind == "report":
            return rest.isdigit() and 1 <= int(rest) <= self.reports
        if kind == "pm":
            return rest in self.postmortems
        return False


class CaseScore(BaseModel):
    """Every per-case score; evidence scores are None for baselines (they cite nothing)."""

    primary_pred: Layer | None = None
    primary_gold: Layer
    primary_correct: bool
    primary_confidence: str | None = None  # the draft's stated confidence in its primary layer
    layer_scores: dict[str, float] | None = None  # the offline classifier's score per layer (calibration)
    contributing_pred: list[Layer] = Field(default_factory=list)
    contributing_gold: list[Layer] = Field(default_factory=list)
    key_recall: float | None = None
    key_precision: float | None = None
    key_hits: list[str] = Field(default_factory=list)
    citations_total: int | None = None
    citations_valid: int | None = None
    invalid_citations: list[str] = Field(default_factory=list)
    onset_error_min: float | None = None
    onset_missing: bool | None = None
    decisive_exact: bool | None = None
    decisive_in_trace: bool | None = None
    sections_missing: list[str] = Field(default_factory=list)
    section_completeness: float | None = None


def span_of(ref: str) -> str | None:
    """The span id an evidence id points into (span:X and doc:X:i both point at span X)."""
    kind, _, rest = ref.partition(":")
    if kind == "span":
        return rest or None
    if kind == "doc":
        return rest.rpartition(":")[0] or None
    return None


def cited_ids(draft: Draft) -> list[str]:
    """Every evidence id the draft cites: sentences, Markdown, layer assessments, the decisive point."""
    ids: list[str] = []
    for section in draft.sections:
        for sentence in section.sentences:
            ids.extend(sentence.cites)
    ids.extend(m.group(1) for m in CITATION_RE.finditer(draft.markdown))
    for layer in draft.classification.layers:
        ids.extend(layer.evidence)
    for item in draft.action_items:
        ids.extend(item.evidence)
    if draft.decisive_evidence:
        ids.append(draft.decisive_evidence)
    return list(dict.fromkeys(ids))


def contributing_layers(draft: Draft) -> list[Layer]:
    primary = draft.classification.primary
    return [a.layer for a in draft.classification.layers if a.role == "contributing" and a.layer != primary]


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def score_layers(pred: LayerPrediction, gold: Gold) -> CaseScore:
    """Primary and contributing layers only: what a baseline can be scored on."""
    return CaseScore(
        primary_pred=pred.primary,
        primary_gold=gold.primary,
        primary_correct=pred.primary == gold.primary,
        contributing_pred=list(pred.contributing),
        contributing_gold=list(gold.contributing),
    )


def score_draft(draft: Draft, gold: Gold, facts: CaseFacts) -> CaseScore:
    """All scores of one agent draft."""
    score = score_layers(
        LayerPrediction(primary=draft.classification.primary, contributing=contributing_layers(draft)), gold
    )
    primary = draft.classification.primary
    score.primary_confidence = next(
        (a.confidence for a in draft.classification.layers if primary is not None and a.layer == primary),
        None,
    )
    layer_scores = {a.layer: a.score for a in draft.classification.layers}
    if layer_scores and all(v is not None for v in layer_scores.values()):
        score.layer_scores = {k: float(v or 0.0) for k, v in layer_scores.items()}
    known = {e.id for e in draft.evidence}
    cites = cited_ids(draft)
    invalid = [ref for ref in cites if ref not in known or not facts.resolves(ref)]
    score.citations_total = len(cites)
    score.citations_valid = len(cites) - len(invalid)
    score.invalid_citations = invalid

    cited_spans = {s for s in (span_of(ref) for ref in cites if ref not in invalid) if s}
    gold_keys = set(gold.key_evidence)
    if gold_keys:
        hits = sorted(cited_spans & gold_keys)
        score.key_hits = hits
        score.key_recall = len(hits) / len(gold_keys)
        score.key_precision = len(hits) / len(cited_spans) if cited_spans else 0.0

    if gold.onset is not None:
        score.onset_missing = draft.onset is None
        if draft.onset is not None:
            delta = _utc(draft.onset) - _utc(gold.onset)
            score.onset_error_min = round(abs(delta.total_seconds()) / 60.0, 2)

    if gold.decisive_span:
        predicted = span_of(draft.decisive_evidence) if draft.decisive_evidence else None
        score.decisive_exact = predicted == gold.decisive_span
        gold_trace = facts.trace_of(gold.decisive_span)
        score.decisive_in_trace = (
            predicted is not None and gold_trace is not None and (facts.trace_of(predicted) == gold_trace)
        )

    score.sections_missing = missing_sections(draft)
    score.section_completeness = 1.0 - len(score.sections_missing) / len(REQUIRED_SECTIONS)
    return score


def missing_sections(draft: Draft, required: Iterable[str] = REQUIRED_SECTIONS) -> list[str]:
    """Required sections that are absent or have no sentence with text."""
    filled = {section.key for section in draft.sections if any(s.text.strip() for s in section.sentences)}
    if any(item.title.strip() for item in draft.action_items):
        filled.add("action_items")
    return [key for key in required if key not in filled]


def score_failed(gold: Gold) -> CaseScore:
    """A case whose draft could not be produced: wrong on everything it would have been scored on."""
    return CaseScore(
        primary_gold=gold.primary,
        primary_correct=False,
        contributing_gold=list(gold.contributing),
        key_recall=0.0 if gold.key_evidence else None,
        key_precision=0.0 if gold.key_evidence else None,
        citations_total=0,
        citations_valid=0,
        onset_missing=True if gold.onset else None,
        decisive_exact=False if gold.decisive_span else None,
        decisive_in_trace=False if gold.decisive_span else None,
        sections_missing=list(REQUIRED_SECTIONS),
        section_completeness=0.0,
    )
