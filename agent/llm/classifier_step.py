"""The LLM side of classification: the same findings and evidence as the offline classifier, structured output,
and a validation that no answer can get past with invented or missing evidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from agent.llm.prompt import SMALL_BUDGET, build_prompt
from agent.llm.schemas import ClassificationAnswer, LayerAnswer
from agent.llm.structured import ask_checked
from agent.models import LAYERS, Classification, Evidence, Finding, Incident, LayerAssessment
from agent.providers.base import Provider, Usage

CLASSIFY_MAX_TOKENS = 4000  # room for reasoning models, whose thinking counts against it
# Below prompt.SMALL_BUDGET (a small local model, often on a CPU at a few tokens a second) the answer's wire schema
# is bounded (schemas.with_ids: about 450 tokens), so a model that rambles is cut here, not minutes later.
SMALL_CLASSIFY_MAX_TOKENS = 1000
DEFAULT_BUDGET = 24_000


@dataclass
class Checked:
    classification: Classification
    problems: list[str] = field(default_factory=list)  # make the answer unusable: re-ask, then fail
    notes: list[str] = field(default_factory=list)  # corrected silently (ids dropped, confidence capped)
    assessed: set[str] = field(default_factory=set)  # the layers the model assessed
    demoted: set[str] = field(
        default_factory=set
    )  # layers whose claim (primary / contributing) cited nothing sent


def classify_with_llm(
    provider: Provider,
    incident: Incident,
    findings: Sequence[Finding],
    evidence: Sequence[Evidence],
    similar: Sequence[Any] = (),
    *,
    budget: int = DEFAULT_BUDGET,
    max_tokens: int | None = None,
) -> tuple[Classification, Usage]:
    """Ask the provider to classify the layers. Raises ProviderError (with `.usage`) when it cannot."""
    checked, usage = classify_checked(
        provider, incident, findings, evidence, similar, budget=budget, max_tokens=max_tokens
    )
    return checked.classification, usage


def classify_checked(
    provider: Provider,
    incident: Incident,
    findings: Sequence[Finding],
    evidence: Sequence[Evidence],
    similar: Sequence[Any] = (),
    *,
    budget: int = DEFAULT_BUDGET,
    max_tokens: int | None = None,
) -> tuple[Checked, Usage]:
    """classify_with_llm, keeping the checker's notes and which layers the model assessed."""
    prompt = build_prompt(
        "classify",
        incident=incident,
        findings=findings,
        evidence=evidence,
        similar=similar,
        budget=budget,
        schema=ClassificationAnswer,
        max_tokens=max_tokens
        or (SMALL_CLASSIFY_MAX_TOKENS if budget < SMALL_BUDGET else CLASSIFY_MAX_TOKENS),
    )

    def check(answer: ClassificationAnswer) -> tuple[Checked, list[str]]:
        checked = check_classification(answer, prompt.sent_ids, findings, method=provider.name)
        return checked, checked.problems

    return ask_checked(
        provider, prompt.request, prompt.schema(ClassificationAnswer), check, what="classification"
    )


def check_classification(
    answer: ClassificationAnswer,
    sent_ids: set[str],
    findings: Sequence[Finding],
    *,
    method: str,
    read: set[str] | None = None,
) -> Checked:
    """Keep what the evidence supports.

    - ids that were not sent are removed;
    - a primary or contributing layer left without evidence is demoted to unknown / inconclusive;
    - if that leaves the named primary without support, or the answer names no consistent primary, it is unusable;
    - `confirmed` needs a finding of the same layer resting on a cited id, else it becomes `likely`; an
      investigation (agent/investigate/) may also confirm on evidence it read itself through its tools (`read`),
      so a model can disagree with the detectors when it cites what it saw.
    """
    notes: list[str] = []
    problems: list[str] = []
    seen: dict[str, LayerAnswer] = {}
    for a in answer.layers:
        seen.setdefault(a.layer, a)
    named = answer.primary
    primaries = [a.layer for a in seen.values() if a.role == "primary"]
    if named is None and len(primaries) == 1:
        named = primaries[0]
    assessments: list[LayerAssessment] = []
    demoted: set[str] = set()
    for layer in LAYERS:
        a = seen.get(layer)
        if a is None:
            notes.append(f"{layer}: not assessed by the model")
            assessments.append(
                LayerAssessment(
                    layer=layer, role="unknown", confidence="inconclusive", rationale="Not assessed."
                )
            )
            continue
        cited = list(dict.fromkeys(a.evidence))
        kept = [eid for eid in cited if eid in sent_ids]
        if len(kept) < len(cited):
            invented = [eid for eid in cited if eid not in sent_ids]
            notes.append(f"{layer}: dropped {len(invented)} cited id(s) that were not in the evidence sent")
        role, confidence, rationale = a.role, a.confidence, a.rationale.strip()
        if len(kept) < len(cited):
            rationale = (
                f"{rationale} ({len(cited) - len(kept)} cited id(s) not in the evidence were dropped.)"
            )
        if role == "primary" and layer != named:
            role = "contributing"
            notes.append(f"{layer}: a second primary, kept as contributing")
        if layer == named and role != "primary":
            role = "primary"
        if role in ("primary", "contributing") and not kept:
            if layer == named:
                problems.append(f"the primary layer {layer!r} cites no evidence id that was provided")
            role, confidence = "unknown", "inconclusive"
            rationale = f"(Demoted: the model cited no evidence that was provided.) {rationale}"
            notes.append(f"{layer}: demoted to unknown, no valid evidence")
            demoted.add(layer)
        if (
            confidence == "confirmed"
            and not _grounded(layer, kept, findings)
            and not (read or set()) & set(kept)
        ):
            confidence = "likely"
            notes.append(f"{layer}: 'confirmed' capped at 'likely', no {layer} finding rests on its evidence")
        assessments.append(
            LayerAssessment(layer=layer, role=role, confidence=confidence, rationale=rationale, evidence=kept)
        )
    if named is not None and named not in seen:
        problems.append(f"the primary layer {named!r} has no assessment")
    primary = named if not problems else None
    classification = Classification(primary=primary, layers=assessments, method=method)
    return Checked(
        classification=classification, problems=problems, notes=notes, assessed=set(seen), demoted=demoted
    )


def _grounded(layer: str, cited: list[str], findings: Sequence[Finding]) -> bool:
    wanted = set(cited)
    return any(f.layer_hint == layer and wanted.intersection(f.evidence) for f in findings)
