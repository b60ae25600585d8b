"""What a scenario declares: the application, its exchanges, what changed and when, and the gold answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import ConfigDict

from evals.generator.ir import Doc

STRICT = ConfigDict(
    extra="forbid"
)  # the case data files are validated into these types (evals/generator/load.py)


def ts(text: str) -> datetime:
    """Parse '2025-03-04T09:12:00Z' (UTC)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class Prompt:
    __pydantic_config__ = STRICT

    version: str
    text: str | None  # None: nothing was sent as system instructions


@dataclass
class Call:
    """A tool call inside an exchange; `error` is an error type (e.g. '503', 'TimeoutError')."""

    __pydantic_config__ = STRICT

    name: str
    args: dict[str, Any]
    result: Any = None
    error: str | None = None
    message: str | None = None
    ms: int | None = None
    retries: list[tuple[str, str, int]] = field(
        default_factory=list
    )  # failed attempts first: (error, msg, ms)


@dataclass
class Ex:
    """One request/response exchange, written by hand per scenario.

    `state` overrides the application state for this trace (e.g. a served model); `extra` carries data for
    optional pipeline steps (asr transcript, guardrail verdict, cache hit, router decision, context budget...).
    """

    __pydantic_config__ = STRICT

    user: str
    answer: str
    docs: list[str] = field(default_factory=list)  # corpus keys, rank order
    scores: list[float] | None = None
    tools: list[Call] = field(default_factory=list)
    history: list[tuple[str, str]] = field(default_factory=list)
    finish: str = "stop"
    cause: str = "llm"  # the causal step when the exchange is bad: llm, retrieval, tool, guardrail, ...
    state: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    weight: float = 1.0
    phase: str = "any"  # any | before | after (the onset): e.g. questions that only start after it


@dataclass
class Change:
    """From `at` on, the application state takes `updates` (on a `share` of traffic when below 1)."""

    __pydantic_config__ = STRICT

    at: datetime
    updates: dict[str, Any]
    label: str = ""  # names the change for gold markers ("model", "prompt", ...)
    share: float = 1.0


@dataclass
class App:
    __pydantic_config__ = STRICT

    service: str
    pipeline: list[str]  # steps: asr, cache, router, embed, retrieve, rerank, context, llm, guardrail, post
    root: str = "chain"  # http | chain | agent
    root_name: str = "handle_request"
    route: str = "/v1/chat"
    provider: str = "openai"
    request_model: str = "gpt-4o"
    response_model: str = "gpt-4o-2024-08-06"
    temperature: float | None = 0.7
    top_p: float | None = None
    max_tokens: int | None = 800
    seed: int | None = None
    prompt: Prompt | None = None
    template_id: str | None = None
    template_vars: dict[str, Any] = field(default_factory=dict)
    context_in: str = "system"  # where retrieved documents go: system | user
    retriever: str = "kb"
    corpus: dict[str, Doc] = field(default_factory=dict)
    tools_desc: dict[str, str] = field(default_factory=dict)
    aux_tool: Call | None = None  # for the unrelated tool error
    capture_content: bool = True
    record_system: bool = True
    record_docs: bool = True
    session_turns: tuple[int, int] = (1, 3)
    user_prefix: str = "u"
    root_attrs: dict[str, Any] = field(default_factory=dict)
    llm_attrs: dict[str, Any] = field(default_factory=dict)
    llm_ms: tuple[int, int] = (700, 3200)


@dataclass
class ReportSpec:
    __pydantic_config__ = STRICT

    text: str
    after: timedelta  # after the onset
    author: str
    source: str = "zendesk"


@dataclass
class SideService:
    """Another service in the same export, where a red-herring model change lives."""

    __pydantic_config__ = STRICT

    service: str
    pool: str  # name of a side pool in noise.SIDE_POOLS
    model_before: str
    model_after: str
    provider: str = "openai"
    change_offset: timedelta = timedelta(hours=-1)  # relative to the incident onset
    traces: int = 20
    temperature: float = 0.3


@dataclass
class Noise:
    __pydantic_config__ = STRICT

    prompt_bump: timedelta | None = timedelta(days=-3)  # harmless template edit, relative to window start
    prompt_bump_text: str | None = None  # the edited prompt; default: a cosmetic edit of the current one
    prompt_bump_version: str | None = None
    tool_errors: int = 2  # unrelated tool errors in healthy traces
    llm_retries: int = 1  # 429-then-success retries on the llm
    sides: list[SideService] = field(default_factory=list)
    off_topic: list[Ex] = field(default_factory=list)  # healthy off-topic exchanges (polite refusals)


@dataclass
class CaseSpec:
    __pydantic_config__ = STRICT

    id: str
    split: str
    difficulty: str
    tags: list[str]
    dialect: str  # otlp-genai | otlp-genai-legacy | openllmetry | openinference | langfuse
    transport: str  # json | jsonl
    based_on: str
    app: App
    healthy: list[Ex]
    bad: list[Ex]
    baseline: tuple[datetime, datetime, int]  # start, end, traces
    window: tuple[datetime, datetime, int]
    onset: datetime
    bad_rate: float
    title: str
    description: str
    severity: str
    reports: list[ReportSpec]
    primary: str
    contributing: list[str]
    rationale: str
    changes: list[Change] = field(default_factory=list)
    marker: str | None = None  # label of the change whose first span is key evidence
    fixed_at: datetime | None = None
    trace_ids: list[str] = field(default_factory=list)  # "bad:N" / "healthy:N" references given to the agent
    noise: Noise = field(default_factory=Noise)
    key_extra: list[str] = field(default_factory=list)  # extra gold keys: "bad:N:step"
    bad_first: int | None = None  # index into `bad` for the very first bad trace
