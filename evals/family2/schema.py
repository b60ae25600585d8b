"""The case source format (one YAML file per case), validated at the boundary into typed models."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

Layer = Literal["model", "prompt", "data", "system"]
StepKind = Literal["llm", "retrieval", "tool", "chain", "agent", "guardrail", "rerank", "embedding"]
DIALECT = Literal["otlp-genai", "otlp-genai-legacy", "openllmetry", "openinference", "langfuse"]


class SourceError(ValueError):
    """A case source that cannot be read: the message names the file and the place."""


def duration(text: str | int | float) -> timedelta:
    """'90m', '-2d', '5h', '30s' -> timedelta."""
    match = re.fullmatch(r"\s*(-?\d+(?:\.\d+)?)\s*([smhd])\s*", str(text))
    if not match:
        raise ValueError(f"not a duration (e.g. 90m, -2d): {text!r}")
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
    return timedelta(**{unit: float(match.group(1))})


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DocSrc(_M):
    content: str
    source: str
    updated_at: str
    extra: dict[str, Any] = Field(default_factory=dict)


class ModelSrc(_M):
    provider: str
    request: str
    response: str


class PromptSrc(_M):
    id: str
    version: str
    text: str | None


class SamplingSrc(_M):
    """Per-request sampling: a value is drawn in each range for every request (features, A/B tests, users)."""

    temperature: tuple[float, float] | None = (0.3, 0.7)
    top_p: tuple[float, float] | None = None
    max_tokens: int | None = 800
    buckets: list[str] = Field(default_factory=list)  # A/B bucket names recorded on the root span


class StepDef(_M):
    kind: StepKind
    name: str | None = None  # span name (default: the step key)
    under: str | None = None  # key of an agent/chain step this one is nested in
    model: str = "main"
    prompt: str | None = "main"
    sampling: str = "main"
    plans: bool = False  # an llm step whose output asks for the tool steps that follow it
    context: Literal["system", "user"] = "system"  # where retrieved documents go
    source: str | None = None  # retrieval data source
    tool: str | None = None  # tool name
    description: str | None = None
    attrs: dict[str, Any] = Field(default_factory=dict)
    ms: tuple[int, int] = (40, 400)


class RootSrc(_M):
    name: str
    kind: Literal["http", "chain", "agent"] = "chain"
    attrs: dict[str, Any] = Field(default_factory=dict)


class AppSrc(_M):
    service: str
    root: RootSrc
    models: dict[str, ModelSrc]
    prompts: dict[str, PromptSrc] = Field(default_factory=dict)
    sampling: dict[str, SamplingSrc] = Field(default_factory=lambda: {"main": SamplingSrc()})
    steps: dict[str, StepDef]
    corpus: dict[str, DocSrc] = Field(default_factory=dict)
    capture_content: bool = True
    user_prefix: str = "usr"


class ToolVal(_M):
    args: dict[str, Any] = Field(default_factory=dict)
    asked: dict[str, Any] | None = None  # the model's tool call, when the tool received other arguments
    result: Any = None
    error: str | None = None  # error type, e.g. TimeoutError, HTTP 503
    message: str | None = None
    retries: int = 0  # failed attempts (same error type as `retry_error`) before this one
    retry_error: str = "TimeoutError"
    attrs: dict[str, Any] = Field(default_factory=dict)


class LlmVal(_M):
    out: str
    in_: str | None = Field(default=None, alias="in")
    finish: str = "stop"
    attrs: dict[str, Any] = Field(default_factory=dict)


class RetrievalVal(_M):
    docs: list[str]
    query: str | None = None
    attrs: dict[str, Any] = Field(default_factory=dict)


class GenericVal(_M):
    in_: str | None = Field(default=None, alias="in")
    out: str | None = None
    error: str | None = None
    message: str | None = None
    attrs: dict[str, Any] = Field(default_factory=dict)


class Exchange(BaseModel):
    """One request: the user's input plus a value per pipeline step it goes through (by step key)."""

    model_config = ConfigDict(extra="allow")

    user: str
    history: list[tuple[str, str]] = Field(default_factory=list)
    weight: float = 1.0
    phase: Literal["any", "before", "after"] = "any"
    cause: str | None = None  # the causal step of a bad exchange (default: gold.decisive)
    state: dict[str, Any] = Field(default_factory=dict)  # dotted state overrides for this request

    def values(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class Change(_M):
    at: datetime
    label: str  # cause labels name the gold marker; rh:* labels are red herrings
    set: dict[str, Any]  # dotted state paths -> new values
    share: float = 1.0  # partial rollout
    shows: str | None = None  # step whose span shows the change (for the gold marker)


class Timeline(_M):
    baseline: tuple[datetime, datetime, int]
    window: tuple[datetime, datetime, int]
    onset: datetime
    bad_rate: float
    fixed_at: datetime | None = None


class ToolErrorNoise(_M):
    step: str
    n: int = 2
    error: str = "TimeoutError"
    message: str = "upstream timed out after 10s"


class PromptBump(_M):
    at: str  # duration relative to the onset, e.g. -2d
    prompt: str = "main"
    version: str
    text: str


class NeighbourUse(_M):
    use: str  # archetype in neighbours.yaml
    model_change: str | None = "-2h"  # relative to the onset
    prompt_change: str | None = None
    errors: int = 2
    traces: int = 16


class NoiseSrc(_M):
    missing_attrs: float = 0.0  # share of healthy llm spans without usage, prompt template or sampling
    llm_retries: int = 1  # 429 then success
    tool_errors: ToolErrorNoise | None = None
    prompt_bump: PromptBump | None = None
    neighbours: list[NeighbourUse] = Field(default_factory=list)


class ReportSrc(_M):
    after: str
    text: str
    author: str
    source: str = "zendesk"


class IncidentSrc(_M):
    title: str
    description: str
    severity: Literal["sev1", "sev2", "sev3", "sev4"] = "sev2"
    reports: list[ReportSrc]
    trace_ids: list[str] = Field(default_factory=list)  # "bad:N" / "healthy:N"


class GoldSrc(_M):
    primary: Layer
    contributing: list[Layer] = Field(default_factory=list)
    decisive: str  # step key of the causal span in a bad trace
    marker: str | None = None  # change label whose first span is key evidence
    extra_keys: list[str] = Field(default_factory=list)  # "bad:N:step"
    rationale: str


class CaseSource(_M):
    id: str
    split: Literal["dev", "test"]
    difficulty: Literal["easy", "medium", "hard"]
    domain: str
    dialect: DIALECT
    transport: Literal["json", "jsonl"] = "jsonl"
    based_on: str
    identifiable_by: str  # what in the traces alone makes the cause identifiable
    tags: list[str] = Field(default_factory=list)
    red_herrings: list[str] = Field(default_factory=list)  # rh:* tags of the case-specific red herrings
    app: AppSrc
    healthy: list[Exchange]
    bad: list[Exchange]
    timeline: Timeline
    changes: list[Change] = Field(default_factory=list)
    noise: NoiseSrc = Field(default_factory=NoiseSrc)
    incident: IncidentSrc
    gold: GoldSrc

    @field_validator("id")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", value):
            raise ValueError("id must be a lowercase slug")
        return value

    @model_validator(mode="after")
    def _refs(self) -> CaseSource:
        steps = self.app.steps
        for where, ex in [*(("healthy", e) for e in self.healthy), *(("bad", e) for e in self.bad)]:
            unknown = set(ex.values()) - set(steps)
            if unknown:
                raise ValueError(f"{where} exchange {ex.user[:40]!r}: unknown steps {sorted(unknown)}")
        for key, step in steps.items():
            if step.under and step.under not in steps:
                raise ValueError(f"step {key}: under {step.under!r} is not a step")
            if step.kind == "llm" and step.model not in self.app.models:
                raise ValueError(f"step {key}: model {step.model!r} is not in app.models")
        if self.gold.decisive not in steps:
            raise ValueError(f"gold.decisive {self.gold.decisive!r} is not a step")
        if not self.red_herrings:
            raise ValueError("red_herrings: every case names at least one")
        return self


def load_source(path: Path) -> CaseSource:
    """Read one case source; SourceError names the file and the field on bad input."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SourceError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(raw, dict):
        raise SourceError(f"{path}: expected a mapping at the top level")
    try:
        return CaseSource.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise SourceError(f"{path}: {where}: {first['msg']}") from None
