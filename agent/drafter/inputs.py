"""What the drafter reads: the analysis the graph produced, plus the catalog of citable objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from agent.evidence import EvidenceCatalog
from agent.models import Classification, Finding, Incident, Layer, LayerAssessment, Reproducibility
from agent.state import GatherSummary, Scope, SimilarIncident
from retrieval.trace import Span


@dataclass
class DraftInputs:
    incident: Incident
    scope: Scope
    gathered: GatherSummary
    findings: list[Finding]
    flagged: list[str]  # span ids
    onset: datetime | None
    reproducibility: Reproducibility
    similar: list[SimilarIncident]
    classification: Classification
    catalog: EvidenceCatalog
    spans: list[Span] = field(default_factory=list)
    provider: str = "offline"
    notes: list[str] = field(default_factory=list)

    def assessment(self, layer: Layer) -> LayerAssessment | None:
        return next((a for a in self.classification.layers if a.layer == layer), None)

    def layers_with(self, *roles: str) -> list[LayerAssessment]:
        return [a for a in self.classification.layers if a.role in roles]

    def flagged_spans(self) -> list[Span]:
        spans = [self.catalog.span(span_id) for span_id in self.flagged]
        return sorted((sp for sp in spans if sp is not None), key=lambda sp: sp.start_time)

    def cause_findings(self) -> list[Finding]:
        """Findings with a layer (not gaps), strongest first."""
        causes = [f for f in self.findings if f.layer_hint is not None and not f.is_gap]
        return sorted(causes, key=lambda f: f.strength, reverse=True)

    def gap_findings(self) -> list[Finding]:
        return [f for f in self.findings if f.is_gap]
