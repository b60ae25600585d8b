"""The generator's neutral trace representation, serialised by one writer per dialect."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ConfigDict


@dataclass
class Doc:
    """A document of an application's corpus (as retrieved: with a score)."""

    __pydantic_config__ = ConfigDict(
        extra="forbid"
    )  # validated from case data files (evals/generator/load.py)

    id: str
    content: str
    source: str
    updated_at: str
    score: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def metadata(self) -> dict[str, Any]:
        return {"source": self.source, "updated_at": self.updated_at, **self.extra}


@dataclass
class Msg:
    role: str
    content: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)  # [{"id", "name", "arguments": dict}]
    tool_call_id: str | None = None


@dataclass
class GSpan:
    """One span, dialect-neutral. `kind`: llm, retrieval, tool, agent, chain, guardrail, embedding, http."""

    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    kind: str
    service: str
    start: datetime
    end: datetime
    status: str = "unset"  # unset, ok, error
    status_message: str | None = None
    error_type: str | None = None
    # llm
    provider: str | None = None
    request_model: str | None = None
    response_model: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    system: str | None = None
    input_messages: list[Msg] = field(default_factory=list)
    output_messages: list[Msg] = field(default_factory=list)
    finish_reason: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    response_id: str | None = None
    # retrieval
    query: str | None = None
    documents: list[Doc] = field(default_factory=list)
    data_source: str | None = None
    # tool
    tool_name: str | None = None
    tool_args: str | None = None
    tool_result: str | None = None
    tool_call_id: str | None = None
    tool_description: str | None = None
    # prompt template
    template_id: str | None = None
    template_version: str | None = None
    template_text: str | None = None
    template_vars: dict[str, Any] = field(default_factory=dict)
    # identity
    session_id: str | None = None
    user_id: str | None = None
    # generic chain/agent/guardrail input and output
    input_value: str | None = None
    output_value: str | None = None
    attrs: dict[str, Any] = field(default_factory=dict)  # extra application attributes, verbatim
    events: list[dict[str, Any]] = field(default_factory=list)  # [{"name", "time", "attributes"}]
    capture_content: bool = True  # False: the instrumentation recorded no prompt/response content

    @property
    def is_error(self) -> bool:
        return self.status == "error"


@dataclass
class GTrace:
    trace_id: str
    service: str
    spans: list[GSpan]
    bad: bool = False
    cause_span: str | None = None  # span id of the causal step when bad
    llm_span: str | None = None  # span id of the final answer's llm call
    markers: dict[str, str] = field(default_factory=dict)  # change label -> span id that shows it
    steps: dict[str, str] = field(default_factory=dict)  # pipeline step -> span id
    label: str = ""  # scenario note (healthy, bad, noise:...)

    @property
    def start(self) -> datetime:
        return min(s.start for s in self.spans)
