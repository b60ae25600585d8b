"""Typed models at the agent's boundaries: the incident it is given, the findings detectors return,
the classification, and the draft (whose JSON form is a public contract: fields may be added, none renamed).

Evidence ids are stable strings, built only by the helpers below:
  span:<span_id>                 a span (span ids are unique within the store)
  doc:<span_id>:<doc_index>      a document retrieved by that retrieval span
  report:<n>                     the n-th report (complaint/message) of the incident, from 1
  pm:<postmortem_id>             a past post-mortem
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Layer = Literal["model", "prompt", "data", "system"]
LAYERS: tuple[Layer, ...] = ("model", "prompt", "data", "system")
Role = Literal["primary", "contributing", "ruled_out", "unknown"]
Confidence = Literal["confirmed", "likely", "inconclusive"]
EvidenceKind = Literal["span", "document", "report", "postmortem"]


def span_ref(span_id: str) -> str:
    return f"span:{span_id}"


def doc_ref(span_id: str, index: int) -> str:
    return f"doc:{span_id}:{index}"


def report_ref(n: int) -> str:
    return f"report:{n}"


def pm_ref(postmortem_id: str) -> str:
    return f"pm:{postmortem_id}"


# A citation in Markdown: `[span:…]`, `[doc:…]`, `[report:n]`, `[pm:…]`, unless escaped as `\[`.
CITATION_RE = re.compile(r"(?<!\\)\[((?:span|doc|report|pm):[^\]\s]+)\]")


def citations(markdown: str) -> list[str]:
    """Every evidence id cited in a Markdown text, in order, without duplicates."""
    seen: list[str] = []
    for ref in CITATION_RE.findall(markdown):
        if ref not in seen:
            seen.append(ref)
    return seen


# The sections of a complete draft, in the order the Markdown shows them (Section keys). "action_items" is not a
# Section: it stands for the draft's action items, which the Markdown renders as a section of their own.
# The draft's sections in reading order, with their titles (drafter, Markdown, LLM narrative and scorer share it).
SECTION_TITLES: dict[str, str] = {
    "summary": "Summary",
    "impact": "Impact and blast radius",
    "detection": "Detection",
    "timeline": "Timeline",
    "layers": "Failure-layer analysis",
    "decisive": "The decisive point",
    "reproducibility": "Reproducibility",
    "went_well_poorly": "What went well and what went poorly",
    "action_items": "Action items",
    "similar": "Similar past incidents",
    "gaps": "Telemetry gaps",
}
SECTION_KEYS: tuple[str, ...] = tuple(SECTION_TITLES)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Report(_Model):
    """A user complaint or message about the incident, as reported (Slack thread, ticket, e-mail)."""

    text: str
    timestamp: datetime | None = None
    author: str | None = None
    source: str | None = None  # "slack", "zendesk", ...


class Incident(_Model):
    id: str | None = None
    title: str
    description: str = ""
    service: str | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    reports: list[Report] = Field(default_factory=list)
    trace_ids: list[str] = Field(default_factory=list)
    severity: str | None = None


class Evidence(_Model):
    """Something a sentence can cite. `excerpt` is verbatim text of the cited object."""

    id: str
    kind: EvidenceKind
    trace_id: str | None = None
    span_id: str | None = None
    excerpt: str = ""
    timestamp: datetime | None = None
    label: str | None = None  # short human label, e.g. "llm chat gpt-4o-2024-08-06 (refund-bot)"


class Finding(_Model):
    """What one detector concluded, with the evidence it rests on."""

    detector: str  # the detector's registered name
    title: str  # one line, human readable
    detail: str = ""  # may quote evidence; quotes must be verbatim
    layer_hint: Layer | None = None  # None: relevant to no layer in particular (e.g. onset)
    strength: float = Field(ge=0.0, le=1.0)  # how strongly this indicates a cause
    evidence: list[str] = Field(default_factory=list)  # evidence ids
    onset: datetime | None = None  # when this change/bad behaviour began, if the detector knows
    is_gap: bool = False  # a telemetry gap (also an action item)
    data: dict[str, Any] = Field(default_factory=dict)  # detector-specific figures (rates, diffs)


class LayerAssessment(_Model):
    layer: Layer
    role: Role
    confidence: Confidence
    rationale: str
    evidence: list[str] = Field(default_factory=list)
    score: float | None = None  # the offline classifier's transparent score
    probability: float | None = None  # how probable this layer is (agent/layer_probability.py), offline only


class Classification(_Model):
    primary: Layer | None
    layers: list[LayerAssessment]
    method: str = "offline"  # "offline" or the provider name


class ActionItem(_Model):
    layer: Layer | Literal["telemetry"]
    title: str
    detail: str = ""
    # prompt_fix, regression_eval, index_fix, model_pinning, monitoring, guardrail, telemetry
    kind: str = "fix"
    evidence: list[str] = Field(default_factory=list)


class RunAttribution(_Model):
    """Which agent, at which step of a multi-step run, made the failure inevitable, and how sure that is."""

    trace_id: str
    agent: str
    step: int  # 0-based index of the decisive turn among the run's turns (spans in start order)
    span_id: str
    turns: int  # how many turns the run has
    final_step: int  # the turn holding the final answer
    final_span_id: str = ""
    confidence: float = Field(ge=0.0, le=1.0)
    layer: Layer
    layer_label: str = ""  # agent prompt, model, data it was given, orchestration
    how: str = ""  # stated, tool_result, retrieved, code_output, given, dropped_value, a shape, overlap
    why: str = ""
    claims: list[str] = Field(default_factory=list)  # claims of the bad answer that entered at this step
    carried_by: list[int] = Field(default_factory=list)  # later steps that carried them forward
    carried_spans: list[str] = Field(default_factory=list)
    unchecked_by: list[int] = Field(default_factory=list)  # later agents that passed them on without checking
    shapes: list[str] = Field(default_factory=list)  # failure shapes seen in the run


class Reproducibility(_Model):
    similar_requests: int = 0
    flagged: int = 0
    rate: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    method: str = "wilson 95%"
    note: str = ""
    evidence: list[str] = Field(default_factory=list)


class Affected(_Model):
    traces: int = 0
    sessions: int = 0
    users: int = 0
    by_hour: list[dict[str, Any]] = Field(default_factory=list)  # [{"hour": iso, "traces": n}]


class ToolCallRecord(_Model):
    """One tool call of an LLM investigation, as a reviewer reads it: what was asked, what came back (sizes)."""

    step: int  # 1-based, in the order the model made the calls
    tool: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    status: Literal["ok", "error", "repeated", "cut"] = "ok"  # cut: not run, a budget was spent
    result_chars: int = 0
    result_tokens: int = 0
    ids: int = 0  # evidence ids the result offered
    note: str = ""  # the error, or "the result carried instructions (treated as data)"


class Investigation(_Model):
    """The path an LLM investigation took (agent/investigate/): its tool calls in order and what they cost."""

    protocol: Literal["tools", "json"] = "tools"  # native tool calling, or the JSON action protocol
    calls: list[ToolCallRecord] = Field(default_factory=list)
    model_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    seconds: float = 0.0
    stopped: str = ""  # answered, or which budget/guard ended it: steps, tokens, time, loop, errors, failed
    read: list[str] = Field(default_factory=list)  # evidence ids the tools showed the model
    disagreements: list[str] = Field(default_factory=list)  # where the verdict departs from the detectors


class Sentence(_Model):
    """One factual sentence of the draft and the evidence it cites."""

    text: str
    cites: list[str] = Field(default_factory=list)
    quote: str | None = None  # verbatim text that must appear in one of the cited objects
    level: int = Field(default=0, ge=0, le=1)  # 1: a detail of the sentence before it (a nested bullet)


class Section(_Model):
    key: str  # summary, impact, detection, timeline, layers, decisive, reproducibility, ...
    title: str
    sentences: list[Sentence] = Field(default_factory=list)


class Draft(_Model):
    incident: Incident
    classification: Classification
    evidence: list[Evidence]
    findings: list[Finding] = Field(default_factory=list)
    sections: list[Section] = Field(default_factory=list)
    decisive_evidence: str | None = None
    attribution: RunAttribution | None = None  # multi-agent runs: the agent and step to blame
    onset: datetime | None = None
    affected: Affected = Field(default_factory=Affected)
    reproducibility: Reproducibility = Field(default_factory=Reproducibility)
    action_items: list[ActionItem] = Field(default_factory=list)
    similar_incidents: list[str] = Field(default_factory=list)  # pm: ids
    telemetry_gaps: list[str] = Field(default_factory=list)
    provider: str = "offline"
    notes: list[str] = Field(default_factory=list)  # e.g. "provider failed; offline analysis used"
    usage: dict[str, Any] = Field(default_factory=dict)  # tokens in/out, cost, latency
    investigation: Investigation | None = None  # the LLM's tool calls, when it investigated
    markdown: str = ""
