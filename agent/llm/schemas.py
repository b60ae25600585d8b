"""The structured answers asked of a model (sent as JSON schemas through each SDK's parse helper, a tool's
parameters, or the prompt). The prompt templates explain the fields, so the schema carries no titles or
descriptions: on a 2,000-token budget every token of the fixed part counts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, create_model

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


A = TypeVar("A", bound=BaseModel)
MAX_CITES = 3  # per sentence, on a small budget (a grammar then keeps a small model's answer short)
MAX_SENTENCES = 3  # per section
MAX_SENTENCE_CHARS = 240


def with_ids(schema: type[A], ids: Sequence[str], keys: Sequence[str] = ()) -> type[A]:
    """`schema` with its evidence-id lists restricted to `ids`: an enum in the JSON schema, so a server that
    turns the schema into a grammar (llama.cpp), or strict structured output, cannot produce an id that was not
    sent (and, with `keys`, a narrative section key that was not asked for). Used on small budgets, where the enum
    costs a few tokens per id (agent/llm/prompt.py counts them)."""
    if not ids:
        return schema
    allowed = list[Literal[tuple(dict.fromkeys(ids))]]  # type: ignore[valid-type]
    if issubclass(schema, ClassificationAnswer):
        layer = create_model("LayerAnswer", __base__=LayerAnswer, evidence=(allowed, ...))
        return create_model("ClassificationAnswer", __base__=schema, layers=(list[layer], ...))  # type: ignore[return-value]
    if issubclass(schema, NarrativeAnswer):
        # at least one citation: a grammar then cannot write a sentence that the check would drop
        cites = (allowed, Field(min_length=1, max_length=MAX_CITES))
        # no quotes on a small budget: a small model does not copy text verbatim, and a misquote costs the sentence
        sentence = create_model(
            "SentenceAnswer",
            __base__=SentenceAnswer,
            text=(str, Field(max_length=MAX_SENTENCE_CHARS)),
            cites=cites,
            quote=(type(None), Field(default=None)),
        )
        key = (Literal[tuple(keys)], ...) if keys else (str, ...)  # type: ignore[valid-type]
        section = create_model(
            "SectionAnswer",
            __base__=SectionAnswer,
            key=key,
            sentences=(list[sentence], Field(min_length=1, max_length=MAX_SENTENCES)),
        )
        return create_model("NarrativeAnswer", __base__=schema, sections=(list[section], ...))  # type: ignore[return-value]
    return schema
