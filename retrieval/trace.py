"""The normalized trace model: one `Span` whatever dialect it was recorded in.

Every ingester (OTLP GenAI current/legacy, OpenLLMetry, OpenInference, Langfuse) maps onto these
classes. `attributes` keeps the raw attributes verbatim so nothing the application recorded is lost;
the typed fields are what the post-mortem agent reasons with.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class SpanKind(StrEnum):
    llm = "llm"
    retrieval = "retrieval"
    tool = "tool"
    agent = "agent"
    chain = "chain"
    other = "other"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ToolCall(_Model):
    """A tool call requested by a model inside an output (or replayed in an input) message."""

    id: str | None = None
    name: str | None = None
    arguments: str | None = None  # JSON text as recorded


class Message(_Model):
    role: str  # system, user, assistant, tool, ...
    content: str | None = None
    name: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None
    finish_reason: str | None = None


class Document(_Model):
    """A document that was retrieved, and so (usually) was in the context window."""

    id: str | None = None
    content: str | None = None
    score: float | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    @property
    def source(self) -> str | None:
        value = self.metadata.get("source")
        return str(value) if value is not None else None

    @property
    def updated_at(self) -> str | None:
        for key in ("updated_at", "last_modified", "modified", "date"):
            if self.metadata.get(key) is not None:
                return str(self.metadata[key])
        return None


class Sampling(_Model):
    temperature: float | None = None
    top_p: float | None = None
    top_k: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    stop_sequences: list[str] = Field(default_factory=list)


class TokenUsage(_Model):
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None


class ToolInfo(_Model):
    name: str | None = None
    call_id: str | None = None
    description: str | None = None
    arguments: str | None = None  # JSON text as recorded
    result: str | None = None


class PromptTemplate(_Model):
    id: str | None = None
    version: str | None = None
    template: str | None = None
    variables: dict[str, Any] = Field(default_factory=dict)


class Status(_Model):
    code: Literal["unset", "ok", "error"] = "unset"
    message: str | None = None
    error_type: str | None = None


class SpanEvent(_Model):
    name: str
    timestamp: datetime | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)


class Span(_Model):
    # identity and place in the trace; ids exactly as ingested (lowercase hex for OTLP)
    trace_id: str
    span_id: str
    parent_span_id: str | None = None
    service: str | None = None
    name: str
    kind: SpanKind = SpanKind.other
    start_time: datetime
    end_time: datetime | None = None
    status: Status = Field(default_factory=Status)

    # what a post-mortem needs
    operation: str | None = None  # chat, text_completion, embeddings, execute_tool, ...
    provider: str | None = None  # openai, anthropic, aws.bedrock, ...
    request_model: str | None = None
    response_model: str | None = None  # the model version as served
    sampling: Sampling = Field(default_factory=Sampling)
    system_instructions: str | None = None
    input_messages: list[Message] = Field(default_factory=list)
    output_messages: list[Message] = Field(default_factory=list)
    input_value: str | None = None  # generic input of chain/agent/tool spans
    output_value: str | None = None
    finish_reasons: list[str] = Field(default_factory=list)
    usage: TokenUsage = Field(default_factory=TokenUsage)
    retrieval_query: str | None = None
    documents: list[Document] = Field(default_factory=list)
    tool: ToolInfo | None = None
    prompt_template: PromptTemplate | None = None
    session_id: str | None = None
    conversation_id: str | None = None
    user_id: str | None = None
    # multi-agent runs: the agent this span acted for (gen_ai.agent.*, OpenInference agent.name, Langfuse
    # AGENT observations), set on the span itself or inherited from the agent span that encloses it
    agent_name: str | None = None
    agent_id: str | None = None
    handoff_to: str | None = None  # the agent a hand-off span or transfer tool passed control to

    # verbatim record
    events: list[SpanEvent] = Field(default_factory=list)
    attributes: dict[str, Any] = Field(default_factory=dict)
    resource: dict[str, Any] = Field(default_factory=dict)
    dialect: str | None = None  # genai, genai-legacy, openllmetry, openinference, langfuse
    source: str | None = None  # "file:line" or "file#record" it came from

    @property
    def model(self) -> str | None:
        """The model as served when recorded, else as requested."""
        return self.response_model or self.request_model

    @property
    def is_error(self) -> bool:
        return self.status.code == "error"

    @property
    def duration_ms(self) -> float | None:
        if self.end_time is None:
            return None
        return (self.end_time - self.start_time).total_seconds() * 1000.0

    @property
    def user_text(self) -> str:
        """The last user message, or the generic input."""
        for message in reversed(self.input_messages):
            if message.role == "user" and message.content:
                return message.content
        return self.input_value or ""

    @property
    def output_text(self) -> str:
        parts = [m.content for m in self.output_messages if m.content]
        if parts:
            return "\n".join(parts)
        return self.output_value or ""

    @property
    def session(self) -> str | None:
        return self.session_id or self.conversation_id


class SpanContent(_Model):
    """Content an instrumentation recorded apart from its span: one GenAI event read from an OTLP log record
    (gen_ai.user.message, gen_ai.choice, gen_ai.client.inference.operation.details, ...), tied to its span by
    trace and span id. The store attaches it to the span whichever arrives first."""

    trace_id: str
    span_id: str
    event: SpanEvent
    source: str | None = None  # "file:line" or "file#record" it came from

    @property
    def span_key(self) -> str:
        return f"{self.trace_id}:{self.span_id}"


class PostmortemDoc(_Model):
    """A past post-mortem (Markdown with optional YAML front matter), or one section of it."""

    id: str
    title: str
    date: str | None = None
    service: str | None = None
    layers: list[str] = Field(default_factory=list)  # primary first when known
    primary_layer: str | None = None
    tags: list[str] = Field(default_factory=list)
    section: str | None = None  # heading of this chunk; None for the whole document
    chunk_index: int = 0
    text: str
    source: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class Skipped(_Model):
    """A file that was looked at and deliberately not read (not a trace or post-mortem): said, not an error."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: skipped ({self.reason})"


class IngestError(_Model):
    """One bad record or file: reported in one line, never a traceback."""

    path: str
    location: str | None = None  # "line 12", "record 3", "resourceSpans[0].scopeSpans[1].spans[4]"
    message: str
    kind: str | None = None  # a data problem counted in the ingest summary ("negative timestamp")

    def __str__(self) -> str:
        where = f"{self.path}:{self.location}" if self.location else self.path
        return f"{where}: {self.message}"
