"""Re-write a case in another trace dialect: parsed spans -> the generator's neutral spans -> that dialect's
writer -> the real ingesters. Only application attributes ride along verbatim; everything a dialect spells its
own way is re-spelled by its writer."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from evals.generator.ir import Doc, GSpan, Msg
from evals.generator.writers import DIALECTS, write_traces
from retrieval.trace import IngestError, Message, Span

# Attribute prefixes (and keys) a dialect writer produces itself; the rest of a span's attributes are the
# application's own and are written back verbatim.
DIALECT_PREFIXES = (
    "gen_ai.",
    "llm.",
    "traceloop.",
    "openinference.",
    "input.",
    "output.",
    "retrieval.",
    "tool.",
    "embedding.",
    "reranker.",
    "session.",
    "user.",
    "prompt.",
    "server.",
    "error.",
    "metadata",
    "tag.",
)
LANGFUSE_KEYS = {
    "id",
    "traceId",
    "parentObservationId",
    "type",
    "name",
    "startTime",
    "endTime",
    "completionStartTime",
    "level",
    "statusMessage",
    "environment",
    "sessionId",
    "userId",
    "model",
    "modelParameters",
    "usage",
    "input",
    "output",
    "promptName",
    "promptVersion",
    "metadata",
}
LANGFUSE_META = {
    "resourceAttributes",
    "provider",
    "requested_model",
    "finish_reason",
    "tool_call_id",
    "error.type",
}
# the dialect of a Span (as ingested) -> the case dialect names the writers know
SPAN_DIALECT = {
    "genai": "otlp-genai",
    "genai-legacy": "otlp-genai-legacy",
    "openllmetry": "openllmetry",
    "openinference": "openinference",
    "langfuse": "langfuse",
}


def app_attributes(span: Span) -> dict[str, Any]:
    """The application's own attributes of a span, without what its dialect's instrumentation wrote."""
    if span.dialect == "langfuse":
        meta = span.attributes.get("metadata")
        own = {k: v for k, v in span.attributes.items() if k not in LANGFUSE_KEYS}
        if isinstance(meta, dict):
            own |= {k: v for k, v in meta.items() if k not in LANGFUSE_META}
        return own
    return {k: v for k, v in span.attributes.items() if not k.startswith(DIALECT_PREFIXES)}


def _arguments(text: str | None) -> Any:
    try:
        return json.loads(text) if text else {}
    except ValueError:
        return text


def _msg(message: Message) -> Msg:
    calls = [{"id": c.id, "name": c.name, "arguments": _arguments(c.arguments)} for c in message.tool_calls]
    return Msg(
        role=message.role, content=message.content, tool_calls=calls, tool_call_id=message.tool_call_id
    )


def _kind(span: Span) -> str:
    if span.operation == "embeddings":
        return "embedding"
    if span.operation == "rerank":
        return "rerank"
    if span.kind.value == "other":
        return "http" if span.parent_span_id is None else "chain"
    return span.kind.value


def to_neutral(span: Span) -> GSpan:
    """One parsed span as the generator's dialect-neutral span."""
    system = span.system_instructions
    inputs = list(span.input_messages)
    if inputs and inputs[0].role == "system":
        system = system or inputs[0].content
        inputs = inputs[1:]
    tool = span.tool
    template = span.prompt_template
    finish = span.finish_reasons[0] if span.finish_reasons else None
    captured = bool(inputs or span.output_messages or span.kind.value != "llm" or span.is_error)
    return GSpan(
        trace_id=span.trace_id,
        span_id=span.span_id,
        parent_id=span.parent_span_id,
        name=span.name,
        kind=_kind(span),
        service=span.service or "unknown",
        start=span.start_time,
        end=span.end_time or span.start_time,
        status=span.status.code,
        status_message=span.status.message,
        error_type=span.status.error_type,
        provider=span.provider,
        request_model=span.request_model,
        response_model=span.response_model,
        temperature=span.sampling.temperature,
        top_p=span.sampling.top_p,
        max_tokens=span.sampling.max_tokens,
        seed=span.sampling.seed,
        system=system,
        input_messages=[_msg(m) for m in inputs],
        output_messages=[_msg(m) for m in span.output_messages],
        finish_reason=finish,
        input_tokens=span.usage.input_tokens,
        output_tokens=span.usage.output_tokens,
        query=span.retrieval_query,
        documents=[
            Doc(
                id=d.id or "",
                content=d.content or "",
                source=str(d.metadata.get("source", "")),
                updated_at=str(d.updated_at or ""),
                score=d.score or 0.0,
                extra={k: v for k, v in d.metadata.items() if k not in ("source", "updated_at")},
            )
            for d in span.documents
        ],
        data_source=span.attributes.get("gen_ai.data_source.id") or span.name,
        tool_name=tool.name if tool else None,
        tool_args=tool.arguments if tool else None,
        tool_result=tool.result if tool else None,
        tool_call_id=tool.call_id if tool else None,
        tool_description=tool.description if tool else None,
        template_id=template.id if template else None,
        template_version=template.version if template else None,
        template_text=template.template if template else None,
        template_vars=dict(template.variables) if template else {},
        session_id=span.session_id or span.conversation_id,
        user_id=span.user_id,
        input_value=span.input_value,
        output_value=span.output_value,
        attrs=app_attributes(span),
        events=[
            {"name": e.name, "time": e.timestamp or span.start_time, "attributes": e.attributes}
            for e in span.events
        ],
        capture_content=captured,
    )


def other_dialect(spans: list[Span], service: str, pick: int) -> str:
    """A dialect other than the one the service's LLM spans use (`pick` chooses among the others)."""
    own = next(
        (SPAN_DIALECT.get(s.dialect or "") for s in spans if s.service == service and s.kind.value == "llm"),
        None,
    )
    others = [d for d in DIALECTS if d != own]
    return others[pick % len(others)]


def rewrite(spans: list[Span], dialect: str, workdir: Path | None = None) -> tuple[list[Span], list[str]]:
    """Write the spans in `dialect` (JSON lines) and read them back with the ingesters: (spans, ingest errors)."""
    from retrieval.ingest import iter_file

    neutral = [to_neutral(s) for s in spans]
    # A request's session and user are trace-level facts; instrumentations that record them per span
    # (OpenLLMetry association properties) need them on every span, as the generator writes them.
    sessions: dict[str, tuple[str | None, str | None]] = {}
    for g in neutral:
        if g.session_id or g.user_id:
            sessions.setdefault(g.trace_id, (g.session_id, g.user_id))
    for g in neutral:
        session, user = sessions.get(g.trace_id, (None, None))
        g.session_id, g.user_id = g.session_id or session, g.user_id or user
    versions = {g.service: "1.0.0" for g in neutral}
    workflows = {g.service: g.name for g in neutral if g.parent_id is None}
    out: list[Span] = []
    errors: list[str] = []
    with tempfile.TemporaryDirectory(prefix="robust-dialect-", dir=workdir) as tmp:
        for path in write_traces(neutral, Path(tmp), dialect, "jsonl", versions, workflows=workflows):
            for record in iter_file(path):
                if isinstance(record, Span):  # where it came from, without the temporary folder
                    where = (record.source or "").replace(tmp, "").lstrip("/\\")
                    out.append(record.model_copy(update={"source": f"robustness:{dialect}:{where}"}))
                elif isinstance(record, IngestError):
                    errors.append(str(record))
    return out, errors
