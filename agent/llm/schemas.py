"""The structured answers asked of a model (sent as JSON schemas through each SDK's parse helper)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from agent.models import Confidence, Layer, Role


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LayerAnswer(_Answer):
    layer: Layer
    role: Role
    confidence: Confidence
    rationale: str = Field(
        description="1-3 sentences: what this layer contributed, or why ruled out / unknown"
    )
    evidence: list[str] = Field(description="evidence ids from the data blocks only")


class ClassificationAnswer(_Answer):
    primary: Layer | None = Field(description="the primary layer, or null if the evidence singles out none")
    layers: list[LayerAnswer] = Field(description="one entry for each of model, prompt, data, system")


class SentenceAnswer(_Answer):
    text: str
    cites: list[str] = Field(description="evidence ids from the data blocks that support the sentence")
    quote: str | None = Field(description="verbatim phrase from a cited excerpt, or null")


class SectionAnswer(_Answer):
    key: str = Field(description="the section key, as requested")
    sentences: list[SentenceAnswer]


class NarrativeAnswer(_Answer):
    sections: list[SectionAnswer]
