"""Graph state: a narrow input, a richer internal state, and the per-run context that is never checkpointed.

Everything in `AgentState` is small and checkpointed (SQLite when a review may pause the run). The spans an
incident gathers can number in the thousands, so they live in the run's `Workspace`, passed as LangGraph
runtime context; a node that finds the workspace empty (a resumed run) rebuilds it from the store.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Annotated, Any, Literal, NotRequired

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypedDict

from agent.models import (
    Classification,
    Draft,
    Finding,
    Incident,
    Investigation,
    Layer,
    Reproducibility,
    ToolCallRecord,
)
from agent.settings import Settings
from retrieval.trace import Span

if TYPE_CHECKING:
    from agent.evidence import EvidenceCatalog

Status = Literal["running", "done", "awaiting_review", "published", "rejected"]
Decision = Literal["approve", "edit", "reject"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RunOptions(_Model):
    provider: str | None = None  # None or "offline": no LLM
    review: bool = False
    publish: bool = False


class Scope(_Model):
    """Where to look: the incident's service, window, baseline window and search text."""

    service: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    baseline_start: datetime | None = None
    baseline_end: datetime | None = None
    trace_ids: list[str] = Field(default_factory=list)
    query: str = ""


class GatherSummary(_Model):
    spans: int = 0
    traces: int = 0
    baseline_spans: int = 0
    from_trace_ids: int = 0
    from_window: int = 0
    from_search: int = 0
    services: list[str] = Field(default_factory=list)


class SimilarIncident(_Model):
    id: str  # the post-mortem id (cite as pm:<id>)
    title: str
    score: float
    date: str | None = None
    service: str | None = None
    layers: list[str] = Field(default_factory=list)
    primary_layer: str | None = None
    excerpt: str = ""


class VerifyIssue(_Model):
    section: str
    sentence: int
    kind: Literal["unknown_citation", "misquote", "uncited"]
    detail: str


class VerifyReport(_Model):
    checked: int = 0
    issues: list[VerifyIssue] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.issues


class ReviewDecision(_Model):
    decision: Decision
    markdown: str | None = None  # the edited Markdown when decision == "edit"
    reviewer: str | None = None


class DraftInput(TypedDict):
    """What a caller gives the graph."""

    incident: Incident
    options: RunOptions
    notes: NotRequired[list[str]]  # e.g. why a requested provider could not be used


class DraftOutput(TypedDict, total=False):
    draft: Draft
    status: Status
    published_id: str | None


class AgentState(TypedDict, total=False):
    incident: Incident
    options: RunOptions
    scope: Scope
    gathered: GatherSummary
    findings: list[Finding]
    flagged: list[str]  # span ids of bad outputs
    onset: datetime | None
    reproducibility: Reproducibility
    similar: list[SimilarIncident]
    text_prior: dict[Layer, float]
    classification: Classification
    investigation: Investigation | None  # the LLM's tool calls, when it investigated
    draft: Draft
    verify: VerifyReport
    revisions: int
    status: Status
    review: ReviewDecision | None
    published_id: str | None
    notes: Annotated[list[str], operator.add]
    usage: Annotated[list[dict[str, Any]], operator.add]


@dataclass
class Workspace:
    """Per-run data too big to checkpoint: the gathered spans and the evidence catalog built over them."""

    spans: list[Span] = field(default_factory=list)
    baseline: list[Span] = field(default_factory=list)
    catalog: EvidenceCatalog | None = None
    ready: bool = False


@dataclass
class AgentContext:
    """Runtime context of one graph run (not checkpointed)."""

    settings: Settings
    store_factory: Callable[[], Any]  # -> TraceStore, opened lazily
    provider: Any | None = None  # agent.providers Provider, None = offline
    workspace: Workspace = field(default_factory=Workspace)
    _store: Any | None = None

    @property
    def store(self) -> Any:
        if self._store is None:
            self._store = self.store_factory()
        return self._store

    def embed(self) -> Callable[[list[str]], np.ndarray] | None:
        """The store's sentence embedder as a function (through the store's vector cache when it has one:
        texts already embedded at ingest or by an earlier draft are not embedded again), or None."""
        from retrieval.embeddings import embed_texts

        store = self.store
        if store.embedder is None:
            return None
        cached = getattr(store, "embed_texts", None)
        return cached if callable(cached) else partial(embed_texts, store.embedder)


# Classes the SQLite checkpointer may rebuild (langgraph blocks unregistered types by default in future).
CHECKPOINT_TYPES: tuple[type[BaseModel], ...] = (
    Incident,
    RunOptions,
    Scope,
    GatherSummary,
    SimilarIncident,
    VerifyIssue,
    VerifyReport,
    ReviewDecision,
    Finding,
    Classification,
    Reproducibility,
    Draft,
    Investigation,
    ToolCallRecord,
)
