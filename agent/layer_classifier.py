"""Offline classification: a transparent score per failure layer from the detectors' findings, the labels of
similar past post-mortems, and (weakly) the incident's own words.

Each finding counts with its strength, scaled by whether it touches the traces whose outputs went bad and
whether it lies in the incident's service: a red herring (high temperature everywhere, an unrelated tool
error, a change in another service) is weak there, so it cannot decide the answer. Scores combine by
noisy-OR, so several independent findings reinforce each other without one loud signal dominating.

A layer is contributing when its own score is high enough (absolutely and against the primary's), or when a
latent-condition finding (agent/detectors/latent.py: what let the trigger do harm) is tied to the bad outputs.
Latent findings never make a layer primary: the primary is ranked on the other evidence.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from agent.models import LAYERS, Classification, Confidence, Finding, Layer, LayerAssessment, Role
from agent.state import SimilarIncident

PRIMARY_MIN = 0.15  # below this no layer is named primary from trace findings (confidence says how sure)
CONTRIBUTING_MIN = 0.33
CONTRIBUTING_SHARE = 0.35  # of the primary's score
RULED_OUT_MAX = 0.12
OFF_SYMPTOM = 0.55  # weight of a finding none of whose evidence lies in a flagged trace
OTHER_SERVICE = 0.35  # weight of a finding whose evidence lies only in other services
PAST_PRIMARY = 0.2  # weight of a similar past incident's primary label (times its similarity)
PAST_CONTRIBUTING = 0.08
TEXT_WEIGHT_WITH_TRACES = 0.1
TEXT_WEIGHT_NO_TRACES = 0.35
LATENT_MIN = 0.15  # weight of a latent-condition finding tied to the symptom that names a contributing layer

# Which telemetry gap leaves which layer unknowable.
_GAP_LAYER: tuple[tuple[str, Layer], ...] = (
    ("system prompt", "prompt"),
    ("system instruction", "prompt"),
    ("prompt", "prompt"),
    ("served model", "model"),
    ("model version", "model"),
    ("model", "model"),
    ("document", "data"),
    ("retriev", "data"),
    ("tool", "system"),
)


@dataclass
class Contribution:
    source: str  # "finding:<i>", "pm:<id>" or "description"
    label: str
    weight: float
    evidence: list[str] = field(default_factory=list)
    linked: bool = False  # a trace finding tied to the symptom (in a flagged trace, or a change)
    latent: bool = False  # a latent condition (what let another layer's cause do harm)


@dataclass
class LayerScore:
    layer: Layer
    score: float = 0.0
    contributions: list[Contribution] = field(default_factory=list)
    gap: bool = False  # a telemetry gap hides this layer
    cause_score: float = 0.0  # the score without latent conditions: what ranks the primary

    def add(self, contribution: Contribution) -> None:
        self.contributions.append(contribution)
        keep = 1.0 - min(contribution.weight, 0.95)
        self.score = 1.0 - (1.0 - self.score) * keep
        if not contribution.latent:
            self.cause_score = 1.0 - (1.0 - self.cause_score) * keep

    def latent_support(self) -> list[Contribution]:
        """Latent-condition contributions tied to the symptom and strong enough to name this layer."""
        return [c for c in self.contributions if c.latent and c.linked and c.weight >= LATENT_MIN]


@dataclass
class ScoringInput:
    findings: Sequence[Finding]
    similar: Sequence[SimilarIncident] = ()
    flagged_traces: set[str] = field(default_factory=set)
    service: str | None = None
    has_traces: bool = True
    text_prior: dict[Layer, float] = field(default_factory=dict)
    trace_of: Callable[[str], str | None] = lambda ref: None
    service_of: Callable[[str], str | None] = lambda ref: None


def finding_weight(finding: Finding, data: ScoringInput) -> tuple[float, str, bool]:
    """The finding's strength scaled for symptom co-occurrence and service, the reason in words, and
    whether it is tied to the symptom."""
    weight, reasons, linked = finding.strength, [], True
    span_refs = [ref for ref in finding.evidence if ref.startswith(("span:", "doc:"))]
    if data.flagged_traces and span_refs and not finding.data.get("change"):
        # a change's evidence is where it first shows, not where outputs went bad; its detector
        # already weighed the association with bad outputs
        traces = {data.trace_of(ref) for ref in span_refs}
        if not traces & data.flagged_traces:
            weight *= OFF_SYMPTOM
            linked = False
            reasons.append("not in a flagged trace")
    if data.service and span_refs:
        services = {data.service_of(ref) for ref in span_refs} - {None}
        if services and data.service not in services:
            weight *= OTHER_SERVICE
            linked = False
            reasons.append("other service")
    return weight, ", ".join(reasons), linked


def score_layers(data: ScoringInput) -> dict[Layer, LayerScore]:
    scores: dict[Layer, LayerScore] = {layer: LayerScore(layer) for layer in LAYERS}
    for i, finding in enumerate(data.findings):
        if finding.is_gap:
            gap_layer = _gap_layer(finding)
            if gap_layer is not None:
                scores[gap_layer].gap = True
            continue
        if finding.layer_hint is None:
            continue
        weight, why, linked = finding_weight(finding, data)
        label = f"{finding.title} (strength {finding.strength:.2f}" + (f"; {why})" if why else ")")
        latent = bool(finding.data.get("latent"))
        contribution = Contribution(f"finding:{i}", label, weight, list(finding.evidence), linked, latent)
        scores[finding.layer_hint].add(contribution)
    for past in data.similar:
        similarity = max(0.0, min(1.0, past.score))
        layers = past.layers or ([past.primary_layer] if past.primary_layer else [])
        primary = past.primary_layer or (layers[0] if layers else None)
        for layer in layers:
            if layer not in scores:
                continue
            weight = (PAST_PRIMARY if layer == primary else PAST_CONTRIBUTING) * similarity
            role = "primary" if layer == primary else "contributing"
            label = f"similar past incident {past.id} had {layer} as {role} (similarity {similarity:.2f})"
            scores[layer].add(Contribution(f"pm:{past.id}", label, weight, [f"pm:{past.id}"]))
    text_weight = TEXT_WEIGHT_WITH_TRACES if data.has_traces else TEXT_WEIGHT_NO_TRACES
    for layer, share in data.text_prior.items():
        if share > 0 and layer in scores:
            label = f"the incident's description and reports point at {layer} ({share:.0%} of cue words)"
            scores[layer].add(Contribution("description", label, text_weight * share))
    return scores


def _gap_layer(finding: Finding) -> Layer | None:
    hint = str(finding.data.get("layer") or finding.data.get("field") or "")
    if hint in LAYERS:
        return hint  # type: ignore[return-value]
    text = f"{hint} {finding.title}".lower()
    for needle, layer in _GAP_LAYER:
        if needle in text:
            return layer
    return None


def _confidence(score: LayerScore, role: Role, margin: float) -> Confidence:
    trace_backed = [c for c in score.contributions if c.source.startswith("finding:")]
    if role == "primary":
        if score.score >= 0.8 and len(trace_backed) >= 2 and margin >= 0.15:
            return "confirmed"
        return "likely" if score.score >= 0.45 and trace_backed else "inconclusive"
    if role == "contributing":
        return "likely" if score.score >= 0.5 and trace_backed else "inconclusive"
    if role == "ruled_out":
        return "likely"
    return "inconclusive"


def _rationale(score: LayerScore, role: Role) -> str:
    if not score.contributions:
        if role == "ruled_out":
            return "The traces were checked and no detector found a problem in this layer."
        if score.gap:
            return "A telemetry gap hides this layer; nothing can be concluded either way."
        return "No evidence about this layer was available."
    ranked = sorted(score.contributions, key=lambda c: c.weight, reverse=True)
    parts = "; ".join(f"{c.label} -> {c.weight:.2f}" for c in ranked[:5])
    more = f"; and {len(ranked) - 5} more" if len(ranked) > 5 else ""
    return f"Score {score.score:.2f} (noisy-OR of: {parts}{more})."


def classify_offline(data: ScoringInput) -> Classification:
    """Roles and confidences per layer; several layers may contribute, none is forced to be the root cause."""
    scores = score_layers(data)
    ranked = sorted(scores.values(), key=lambda s: (s.cause_score, s.score), reverse=True)
    # the primary layer is the best one tied to the symptom, when any is; else the best overall
    candidates = [s for s in ranked if any(c.linked and not c.latent for c in s.contributions)] or ranked
    top = candidates[0]
    second = next(s for s in ranked if s is not top)
    floor = PRIMARY_MIN if data.has_traces else 0.05
    primary: Layer | None = top.layer if top.cause_score >= floor else None
    assessments: list[LayerAssessment] = []
    for s in ranked:
        # a layer contributes only through a finding tied to the symptom: an off-symptom signal
        # (an unrelated error, a change in another service) can raise a score, never a role
        trace_backed = any(c.linked for c in s.contributions)
        if s.layer == primary:
            role: Role = "primary"
        elif primary is not None and (
            (
                s.score >= CONTRIBUTING_MIN
                and s.score >= CONTRIBUTING_SHARE * top.score
                and (trace_backed or not data.has_traces)
            )
            or s.latent_support()
        ):
            role = "contributing"
        elif data.has_traces and not s.gap and s.score < RULED_OUT_MAX:
            role = "ruled_out"
        else:
            role = "unknown"
        margin = top.cause_score - second.cause_score if s.layer == primary else 0.0
        evidence: list[str] = []
        for c in sorted(s.contributions, key=lambda c: c.weight, reverse=True):
            evidence += [ref for ref in c.evidence if ref not in evidence]
        assessments.append(
            LayerAssessment(
                layer=s.layer,
                role=role,
                confidence=_confidence(s, role, margin),
                rationale=_rationale(s, role),
                evidence=evidence[:8],
                score=round(s.score, 3),
            )
        )
    return Classification(primary=primary, layers=assessments, method="offline")
