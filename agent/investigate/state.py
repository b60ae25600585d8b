"""The investigation subgraph's state (small, never checkpointed) and its runtime context (the store, the run's
workspace and findings, the provider, the budgets)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from typing_extensions import TypedDict

from agent.llm.schemas import ClassificationAnswer
from agent.models import Classification, Finding, Incident, ToolCallRecord
from agent.providers.base import ChatMessage, Usage

Protocol = Literal["tools", "json"]
SMALL_BUDGET = 6000  # as agent/llm/prompt.py: below this the request is built for a 2k-8k context
# one tool result may take this share of a request: the opening turn (~half of a small budget) and the result
# must fit together, and the older results are elided first (a 2,000-token budget leaves ~400 tokens: a few rows)
RESULT_SHARE = 0.2


class Budget(BaseModel):
    """The limits of one investigation (from settings, agent/settings.py)."""

    model_config = ConfigDict(extra="forbid")

    max_steps: int = 12  # tool calls
    max_tokens: int = 120_000  # input + output tokens over every model call of the loop
    max_seconds: float = 600.0
    request_tokens: int = 24_000  # the largest request (the token budget of every LLM step)
    max_output_tokens: int = 1500  # per model turn
    max_repeats: int = 2  # identical calls answered "repeated" before the loop is cut
    max_errors: int = 3  # consecutive failed tool calls before the loop is cut

    @property
    def result_tokens(self) -> int:
        """The most one tool result may take (rows past it are left out, and the result says so)."""
        return int(self.request_tokens * RESULT_SHARE)

    @property
    def small(self) -> bool:
        """A small model's budget: fewer tools, and the answer asked for as structured output at the end."""
        return self.request_tokens < SMALL_BUDGET


class PendingCall(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | None = None
    name: str
    arguments: str = "{}"


class InvestigationState(TypedDict, total=False):
    messages: list[ChatMessage]
    pending: list[PendingCall]
    log: list[ToolCallRecord]
    seen: list[str]  # evidence ids the model was shown (the prompt and every tool result)
    tainted: list[str]  # ids whose text carried instructions: data, never support on their own
    signatures: dict[str, int]  # canonical tool call -> times asked
    errors: int  # consecutive failed tool calls
    usage: Usage
    protocol: Protocol
    answer: ClassificationAnswer | None
    stopped: str  # why the loop ended ("" while it runs)
    turns: int  # model turns


@dataclass
class InvestigationContext:
    """What the tools read (read-only) and the provider the loop asks. Not checkpointed."""

    provider: Any
    store: Any
    incident: Incident
    spans: list[Any]  # the workspace's window spans
    baseline: list[Any]
    catalog: Any  # agent.evidence.EvidenceCatalog
    findings: list[Finding]
    flagged: list[str]  # span ids of bad outputs
    offline: Classification
    onset: Any = None
    service: str | None = None
    budget: Budget = field(default_factory=Budget)
    system: str = ""  # the system prompt of every turn
    started: float = field(default_factory=time.monotonic)
    failure: Exception | None = None  # the provider error that ended the loop, if one did
    history: list[Any] | None = None  # the service's spans before the window, further back than the baseline

    def elapsed(self) -> float:
        return time.monotonic() - self.started
