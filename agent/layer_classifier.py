"""Offline classification: a transparent score per failure layer from the detectors' findings, the labels of
similar past post-mortems, and (weakly) the incident's own words.

How findings combine (the rule the README and every rationale state): each finding counts with its strength,
scaled down when none of its spans lies in a trace whose output went bad and when it lies only in other services.
Findings of one detector about one kind of cause form a group, and a group counts once, with its strongest
finding: near-duplicates are one piece of evidence, not many. A layer's score is the noisy-OR of its groups,
1 - prod(1 - best of each group), so independent kinds of evidence reinforce each other and none decides alone.

Upstream first: the model layer is named primary only when its evidence shows the model itself changed with the
bad outputs (a model or snapshot change with a step in the bad-output rate) or that its inputs were right
(findings marked `inputs_checked`: grounded instructions and context present, disparity not explained by the
prompt or inputs, identical requests answered both ways). Otherwise a data, system or prompt cause tied to the
bad outputs is preferred, and the rationale says which were examined.

The primary layer is always named; a weak case says so through its confidence ('inconclusive').
A layer is contributing when its own score is high enough (absolutely and against the primary's), or when a
latent-condition finding (agent/detectors/latent.py: what let the trigger do harm) is tied to the bad outputs.
Latent findings never make a layer primary: the primary is ranked on the other evidence.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from agent.models import LAYERS, Classification, Confidence, Finding, Layer, LayerAssessment, Role
from agent.state import SimilarIncident
from agent.thresholds import T

MODEL_CHANGE_KINDS = frozenset({"model_changed", "served_model_changed", "served_differs_from_requested"})
UPSTREAM: tuple[Layer, ...] = ("data", "system", "prompt")

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
    group: str = ""  # findings of one group are one piece of evidence (see the module docstring)
    finding: Finding | None = None


def _combine(contributions: Sequence[Contribution]) -> tuple[float, int]:
    """Noisy-OR over groups, each group counting with its strongest member (plus T.group_extra per further
    member, 0 by default): (score, number of groups)."""
    groups: dict[str, list[float]] = {}
    for c in contributions:
        groups.setdefault(c.group or c.source, []).append(min(c.weight, 0.95))
    keep = 1.0
    for weights in groups.values():
        weights.sort(reverse=True)
        best = min(0.95, weights[0] + T.group_extra * sum(weights[1:]))
        keep *= 1.0 - best
    return 1.0 - keep, len(groups)


@dataclass
class LayerScore:
    layer: Layer
    contributions: list[Contribution] = field(default_factory=list)
    gap: bool = False  # a telemetry gap hides this layer

    def add(self, contribution: Contribution) -> None:
        self.contributions.append(contribution)

    @property
    def score(self) -> float:
        return _combine(self.contributions)[0]

    @property
    def cause_score(self) -> float:
        """The score without latent conditions: what ranks the primary."""
        return _combine([c for c in self.contributions if not c.latent])[0]

    @property
    def linked_score(self) -> float:
        """The cause score from trace findings tied to the symptom only."""
        return _combine([c for c in self.contributions if c.linked and not c.latent])[0]

    @property
    def groups(self) -> int:
        return _combine(self.contributions)[1]

    def latent_support(self) -> list[Contribution]:
        """Latent-condition contributions tied to the symptom and strong enough to name this layer."""
        return [c for c in self.contributions if c.latent and c.linked and c.weight >= T.latent_min]


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
            weight *= T.off_symptom
            linked = False
            reasons.append("not in a flagged trace")
    effect = finding.data.get("effect")
    stepped = effect is None or float(effect) >= T.change_linked_effect
    if finding.data.get("change") and data.flagged_traces and not stepped:
        linked = False  # a change the bad-output rate did not step with is not tied to them
        reasons.append("no step in bad outputs with it")
    if data.service and span_refs:
        services = {data.service_of(ref) for ref in span_refs} - {None}
        if services and data.service not in services:
            weight *= T.other_service
            linked = False
            reasons.append("other service")
    return weight, ", ".join(reasons), linked


def group_of(finding: Finding) -> str:
    """The group a finding belongs to: its detector and the kind of cause it names."""
    return f"{finding.detector}/{finding.data.get('kind') or finding.title}"


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
        scores[finding.layer_hint].add(
            Contribution(
                f"finding:{i}",
                label,
                weight,
                list(finding.evidence),
                linked,
                latent,
                group_of(finding),
                finding,
            )
        )
    for past in data.similar:
        similarity = max(0.0, min(1.0, past.score))
        layers = past.layers or ([past.primary_layer] if past.primary_layer else [])
        primary = past.primary_layer or (layers[0] if layers else None)
        for layer in layers:
            if layer not in scores:
                continue
            weight = (T.past_primary if layer == primary else T.past_contributing) * similarity
            role = "primary" if layer == primary else "contributing"
            label = f"similar past incident {past.id} had {layer} as {role} (similarity {similarity:.2f})"
            scores[layer].add(Contribution(f"pm:{past.id}", label, weight, [f"pm:{past.id}"], group="past"))
    text_weight = T.text_weight_with_traces if data.has_traces else T.text_weight_no_traces
    for layer, share in data.text_prior.items():
        if share > 0 and layer in scores:
            label = f"the incident's description and reports point at {layer} ({share:.0%} of cue words)"
            scores[layer].add(Contribution("description", label, text_weight * share, group="description"))
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


def model_qualified(score: LayerScore, data: ScoringInput) -> bool:
    """Whether the model layer's evidence shows the model itself at fault: its model or snapshot changed in the
    incident's service with a step up in bad outputs (or no bad output was recognised to measure it against),
    or a finding checked that the inputs of the bad outputs were right."""
    for c in score.contributions:
        f = c.finding
        if f is None or c.latent:
            continue
        if f.data.get("inputs_checked") and c.linked:
            return True
        in_service = float(f.data.get("scope_weight", 1.0)) >= 1.0
        effect = float(f.data.get("effect", 0.0))
        measured = bool(data.flagged_traces)
        at_onset = (
            float(f.data.get("proximity", 1.0)) >= T.model_change_proximity
        )  # 1.0 when no onset is known
        if (
            f.data.get("kind") in MODEL_CHANGE_KINDS
            and in_service
            and (not measured or (effect >= T.model_change_effect and at_onset))
        ):
            return True
    return False


def _confidence(score: LayerScore, role: Role, margin: float) -> Confidence:
    trace_backed = [c for c in score.contributions if c.source.startswith("finding:")]
    if role == "primary":
        if score.cause_score < T.primary_likely or not trace_backed:
            return "inconclusive"
        if (
            score.score >= T.confirmed_score
            and score.groups >= T.confirmed_groups
            and margin >= T.confirmed_margin
        ):
            return "confirmed"
        return "likely" if score.score >= T.likely_score else "inconclusive"
    if role == "contributing":
        return "likely" if score.score >= 0.5 and trace_backed else "inconclusive"
    if role == "ruled_out":
        return "likely"
    return "inconclusive"


def _rationale(score: LayerScore, role: Role, note: str = "") -> str:
    if not score.contributions:
        if role == "ruled_out":
            return "The traces were checked and no detector found a problem in this layer." + note
        if score.gap:
            return "A telemetry gap hides this layer; nothing can be concluded either way." + note
        return "No evidence about this layer was available." + note
    groups: dict[str, list[Contribution]] = {}
    for c in sorted(score.contributions, key=lambda c: c.weight, reverse=True):
        groups.setdefault(c.group or c.source, []).append(c)
    parts = []
    for members in list(groups.values())[:5]:
        best = members[0]
        dupes = f" [+{len(members) - 1} more of the same kind, not counted again]" if len(members) > 1 else ""
        parts.append(f"{best.label} -> {best.weight:.2f}{dupes}")
    more = f"; and {len(groups) - 5} more groups" if len(groups) > 5 else ""
    return (
        f"Score {score.score:.2f} = 1 - prod(1 - strongest finding of each group) over {len(groups)} "
        f"group(s): {'; '.join(parts)}{more}.{note}"
    )


def _pick_primary(ranked: list[LayerScore], data: ScoringInput) -> tuple[LayerScore, str]:
    """The best layer tied to the symptom (else the best overall), upstream first; and a note saying why."""
    candidates = [s for s in ranked if s.linked_score > 0] or ranked
    top = candidates[0]
    if top.layer != "model" or model_qualified(top, data):
        return top, ""
    upstream = [s for s in candidates if s.layer in UPSTREAM and s.linked_score >= T.upstream_floor]
    examined = ", ".join(f"{s.layer} {s.linked_score:.2f}" for s in ranked if s.layer in UPSTREAM)
    if upstream:
        note = (
            f" Upstream first: the model evidence shows neither a model change with the bad outputs nor that "
            f"their inputs were right, so the strongest upstream cause tied to them is primary (examined: {examined})."
        )
        return upstream[0], note
    note = (
        f" Upstream causes examined first (data, system, prompt: {examined} tied to the bad outputs) and none "
        "found, so the model is the most probable layer, without proof that its inputs were right."
    )
    return top, note


def classify_offline(data: ScoringInput) -> Classification:
    """Roles and confidences per layer; several layers may contribute, the primary is always named."""
    scores = score_layers(data)
    order = {
        layer: i for i, layer in enumerate(("data", "system", "prompt", "model"))
    }  # upstream first on ties
    ranked = sorted(scores.values(), key=lambda s: (-s.cause_score, order[s.layer]))
    top, note = _pick_primary(ranked, data)
    second = max((s.cause_score for s in ranked if s is not top), default=0.0)
    assessments: list[LayerAssessment] = []
    for s in ranked:
        # a layer contributes only through a finding tied to the symptom: an off-symptom signal
        # (an unrelated error, a change in another service) can raise a score, never a role
        trace_backed = any(c.linked for c in s.contributions)
        if s is top:
            role: Role = "primary"
        elif top.cause_score > 0 and (  # with no cause found, nothing is said to have contributed to it
            (
                s.score >= T.contributing_min
                and s.score >= T.contributing_share * top.score
                and (trace_backed or not data.has_traces)
            )
            or s.latent_support()
        ):
            role = "contributing"
        elif data.has_traces and not s.gap and s.score < T.ruled_out_max:
            role = "ruled_out"
        else:
            role = "unknown"
        margin = top.cause_score - second if s is top else 0.0
        evidence: list[str] = []
        for c in sorted(s.contributions, key=lambda c: c.weight, reverse=True):
            evidence += [ref for ref in c.evidence if ref not in evidence]
        assessments.append(
            LayerAssessment(
                layer=s.layer,
                role=role,
                confidence=_confidence(s, role, margin),
                rationale=_rationale(s, role, note if s is top else ""),
                evidence=evidence[:8],
                score=round(s.score, 3),
            )
        )
    return Classification(primary=top.layer, layers=assessments, method="offline")
