"""Typed shapes of the patterns analysis: corpus items in, the patterns report out.

The report's JSON (`postmortem patterns --format json`) is a public contract: fields may be added, none renamed.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

LayerName = Literal["model", "prompt", "data", "system", "unclassified"]
LAYER_ORDER: tuple[LayerName, ...] = ("model", "prompt", "data", "system", "unclassified")
ItemStatus = Literal["open", "done", "unknown"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ActionRef(_Model):
    """One action item as written in one post-mortem."""

    incident: str
    text: str
    status: ItemStatus = "unknown"  # "- [ ]" open, "- [x]" done, a plain bullet or number unknown


class CorpusItem(_Model):
    """One past incident as the patterns analysis sees it."""

    id: str
    title: str
    date: str | None = None  # YYYY-MM-DD (or a prefix of it)
    service: str | None = None
    deployers: list[str] = Field(default_factory=list)
    layer: LayerName = "unclassified"  # the primary layer
    layer_source: Literal["front-matter", "classifier", "none"] = "none"
    origin: Literal["aiid", "markdown", "agent"] = "markdown"
    text: str  # what is clustered: title and the incident's description or summary
    factors: list[str] = Field(default_factory=list)  # "Contributing factors" bullets, as written
    actions: list[ActionRef] = Field(default_factory=list)
    source: str | None = None

    @property
    def month(self) -> str | None:
        return self.date[:7] if self.date and len(self.date) >= 7 else None

    @property
    def year(self) -> str | None:
        return self.date[:4] if self.date and len(self.date) >= 4 else None


class Filters(_Model):
    since: str | None = None
    until: str | None = None
    service: str | None = None


class Tally(_Model):
    """A name (service, deployer, factor, layer) and the incidents behind it."""

    name: str
    count: int
    incidents: list[str] = Field(default_factory=list)


class Cluster(_Model):
    id: int  # 1 = the largest cluster
    label: str  # its distinguishing terms, joined
    terms: list[str] = Field(default_factory=list)
    size: int
    incidents: list[str]  # most typical first
    examples: list[str] = Field(default_factory=list)  # titles of the most typical incidents
    layers: dict[str, int] = Field(default_factory=dict)
    by_period: dict[str, int] = Field(default_factory=dict)  # period -> incidents
    trend: Literal["rising", "falling", "steady", "too few"] = "steady"
    recent_share: float = 0.0  # of the recent window's incidents
    earlier_share: float = 0.0
    first: str | None = None
    last: str | None = None
    services: list[Tally] = Field(default_factory=list)
    factors: list[Tally] = Field(default_factory=list)


class ActionPattern(_Model):
    """Action items that say the same thing in several post-mortems."""

    text: str  # the most typical wording
    incidents: list[str]
    count: int  # items in the group
    open: int = 0
    done: int = 0
    variants: list[str] = Field(default_factory=list)


class FactorPattern(_Model):
    name: str
    kind: Literal["stated", "lexicon"]  # a written contributing factor, or a cue found in the text
    count: int
    incidents: list[str]
    variants: list[str] = Field(default_factory=list)


class ScoreLine(_Model):
    method: str
    k: int
    nmi: float
    purity: float
    seeds: int = 1
    nmi_sd: float | None = None
    purity_sd: float | None = None


class Quality(_Model):
    """Agreement of the clusters with human labels, beside a baseline measured in the same run."""

    labels: str  # e.g. "MIT AI Risk Repository: Risk Subdomain"
    labelled: int  # corpus items with a label
    classes: int
    ours: ScoreLine
    baseline: ScoreLine
    seconds: float = 0.0


class Timing(_Model):
    corpus_s: float = 0.0
    vectors_s: float = 0.0
    cluster_s: float = 0.0
    label_s: float = 0.0
    rest_s: float = 0.0


class PatternsReport(_Model):
    filters: Filters = Field(default_factory=Filters)
    size: int
    origins: dict[str, int] = Field(default_factory=dict)
    first: str | None = None
    last: str | None = None
    method: str = ""
    k: int = 0
    silhouette: dict[int, float] = Field(default_factory=dict)  # candidate k -> score
    period_unit: Literal["month", "year"] = "year"
    periods: list[str] = Field(default_factory=list)
    recent_window: str = ""  # e.g. "2025-02..2026-02"
    clusters: list[Cluster] = Field(default_factory=list)
    layers: list[Tally] = Field(default_factory=list)
    layer_sources: dict[str, int] = Field(default_factory=dict)
    months: list[Tally] = Field(default_factory=list)  # incidents per month, oldest first
    factors: list[FactorPattern] = Field(default_factory=list)
    recurring_actions: list[ActionPattern] = Field(default_factory=list)
    open_actions: list[ActionPattern] = Field(default_factory=list)  # never closed anywhere
    services: list[Tally] = Field(default_factory=list)
    deployers: list[Tally] = Field(default_factory=list)
    quality: Quality | None = None
    credits: list[str] = Field(default_factory=list)
    timing: Timing = Field(default_factory=Timing)
