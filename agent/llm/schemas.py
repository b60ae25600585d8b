"""The structured answers asked of a model (sent as JSON schemas through each SDK's parse helper, a tool's
parameters, or the prompt). The prompt templates explain the fields, so the schema carries no titles or
descriptions: on a 2,000-token budget every token of the fixed part counts."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any, ClassVar, TypeVar

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
# The compact narrative (small budgets): its shape alone bounds the answer, so a grammar-constrained small model
# ends within its output ceiling: keys x COMPACT_SENTENCES x (COMPACT_SENTENCE_CHARS/4 + ids) is about 200 tokens.
COMPACT_SENTENCES = 1
COMPACT_CITES = 2
COMPACT_SENTENCE_CHARS = 160


class CompactSentence(BaseModel):
    model_config = ConfigDict(extra="ignore")
    text: str = ""
    cites: list[str] = Field(default_factory=list)


class WireStrict(BaseModel):
    """A model whose JSON schema (what the server sees: a grammar on llama.cpp, strict output elsewhere) is
    stricter than its validation: a server that enforces the schema cannot write an uncited sentence, an invented
    id or a long answer, and an answer from one that does not is still read, so that the verifier judges each
    sentence (and drops the bad ones) instead of the whole answer failing on one of them."""

    model_config = ConfigDict(extra="ignore")
    wire_schema: ClassVar[dict[str, Any]] = {}

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return copy.deepcopy(cls.wire_schema)


def compact_narrative(ids: Sequence[str], keys: Sequence[str]) -> type[WireStrict]:
    """The narrative on a small budget: one property per section key (all required, in order), each a list of
    COMPACT_SENTENCES sentence(s) of `text` (at most COMPACT_SENTENCE_CHARS characters) and `cites` (1 to
    COMPACT_CITES ids from an enum of the ids sent). No quotes: a small model does not copy text verbatim. No list of sections to run on, no optional key: the shape itself
    bounds the answer's length."""
    sentence = {
        "type": "object",
        "properties": {
            "text": {"type": "string", "maxLength": COMPACT_SENTENCE_CHARS},
            "cites": {
                "type": "array",
                "items": {"type": "string", "enum": list(dict.fromkeys(ids))},
                "minItems": 1,
                "maxItems": COMPACT_CITES,
            },
        },
        "required": ["text", "cites"],
        "additionalProperties": False,
    }
    section = {
        "type": "array",
        "items": {"$ref": "#/$defs/Sentence"},
        "minItems": 1,
        "maxItems": COMPACT_SENTENCES,
    }
    fields: dict[str, Any] = {key: (list[CompactSentence], Field(default_factory=list)) for key in keys}
    model = create_model("Narrative", __base__=WireStrict, **fields)
    model.wire_schema = {
        "$defs": {"Sentence": sentence},
        "type": "object",
        "properties": {key: section for key in keys},
        "required": list(keys),
        "additionalProperties": False,
    }
    return model


def narrative_sections(answer: BaseModel) -> list[SectionAnswer]:
    """The sections of either narrative shape (the full NarrativeAnswer, or a compact one), in answer order."""
    if isinstance(answer, NarrativeAnswer):
        return list(answer.sections)
    return [
        SectionAnswer(
            key=key,
            sentences=[SentenceAnswer(text=s.text, cites=list(s.cites), quote=None) for s in sentences],
        )
        for key, sentences in answer
    ]


# The classification on a small budget, bounded the same way: 4 layers x (a rationale of at most 240 characters
# and at most 3 ids) is about 450 tokens, within the small budget's classification ceiling (classifier_step.py).
WIRE_RATIONALE_CHARS = 240
WIRE_LAYER_CITES = 3


def with_ids(schema: type[A], ids: Sequence[str]) -> type[A]:
    """`schema` whose JSON schema (what the server sees) lists `ids` as an enum where a layer cites evidence, so a
    server that turns the schema into a grammar (llama.cpp), or strict structured output, cannot produce an id that
    was not sent; a layer's rationale and ids are bounded too, so a grammar-constrained small model ends within
    its output ceiling. Validation still takes any string: from a server that does not enforce the schema, the checker
    drops an id that was not sent (and says so) instead of the whole answer failing. Used on small budgets, where
    the enum costs a few tokens per id (agent/llm/prompt.py counts them)."""
    if not ids or not issubclass(schema, ClassificationAnswer):
        return schema
    enum = list(dict.fromkeys(ids))

    class Listed(schema):  # type: ignore[valid-type,misc]
        @classmethod
        def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
            out = super().model_json_schema(*args, **kwargs)
            layer = out["$defs"]["LayerAnswer"]["properties"]
            layer["evidence"].update(items={"type": "string", "enum": enum}, maxItems=WIRE_LAYER_CITES)
            layer["rationale"]["maxLength"] = WIRE_RATIONALE_CHARS
            out["properties"]["layers"]["maxItems"] = 4  # one per layer
            return out

    Listed.__name__ = Listed.__qualname__ = schema.__name__
    return Listed  # type: ignore[return-value]
