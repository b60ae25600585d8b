"""The structured answers asked of a model (sent as JSON schemas through each SDK's parse helper, a tool's
parameters, or the prompt). The prompt templates explain the fields, so the schema carries no titles or
descriptions: on a 2,000-token budget every token of the fixed part counts."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agent.models import Confidence, Layer, Role


def _lean(schema: dict[str, Any]) -> None:
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        prop.pop("title", None)
        prop.pop("description", None)


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_lean)


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
