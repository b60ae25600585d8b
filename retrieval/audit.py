"""Telemetry readiness: per service, the share of LLM spans that carry each field a post-mortem needs, and
what to switch on in the usual instrumentations for each gap. Find out before the incident.

Trace-level fields (retrieved documents, the session) count as present when any span of the LLM span's
trace carries them: a RAG app records documents on its retriever span, and the session often on the root.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, Field

from retrieval.trace import Span, SpanContent, SpanKind

Status = Literal["ok", "partial", "missing"]
OK_SHARE = 0.95  # at or above: ok; above zero: partial; zero: missing

_CAPTURE = {
    "genai": "OpenTelemetry GenAI instrumentations: set OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true. "
    "If it is already on, the content went to OTLP log records, not to the span (opentelemetry-instrumentation-"
    "openai-v2 writes the messages, the answer and the tool calls as GenAI events: gen_ai.user.message, "
    "gen_ai.choice, ... tied to the span by its id): export logs too (an OTLPLogExporter / the Collector's logs "
    "pipeline) and ingest or audit the log file with the traces, which are joined by span id; or, with "
    "OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental, set the capture to SPAN_ONLY or SPAN_AND_EVENT "
    "so the content lands on the span",
    "openinference": "OpenInference: unset OPENINFERENCE_HIDE_INPUTS / OPENINFERENCE_HIDE_OUTPUTS / "
    "OPENINFERENCE_HIDE_INPUT_MESSAGES / OPENINFERENCE_HIDE_OUTPUT_MESSAGES / OPENINFERENCE_HIDE_INPUT_TEXT / "
    "OPENINFERENCE_HIDE_OUTPUT_TEXT (or their TraceConfig flags)",
    "openllmetry": "OpenLLMetry: set TRACELOOP_TRACE_CONTENT=true (content capture is off when it is false)",
    "langfuse": "Langfuse: pass input and output to the generation (the OpenAI/LangChain integrations do it; "
    "do not mask them)",
}
_ADVICE: dict[str, dict[str, str]] = {
    "system_instructions": {
        **_CAPTURE,
        "genai": _CAPTURE["genai"] + "; the system prompt is recorded as gen_ai.system_instructions",
    },
    "input": _CAPTURE,
    "output": _CAPTURE,
    "served_model": {
        "genai": "Record gen_ai.response.model (the snapshot that answered, e.g. gpt-4o-2024-08-06), not only "
        "the requested alias; upgrade the GenAI instrumentation if it does not",
        "openinference": "Record llm.model_name from the response (llm.response.model_name when the provider "
        "routes), not the requested alias",
        "openllmetry": "Upgrade the OpenLLMetry instrumentation so gen_ai.response.model is recorded",
        "langfuse": "Set the generation's model from the provider response (response.model), not the alias you "
        "requested",
    },
    "sampling": {
        "genai": "Record gen_ai.request.temperature / top_p / max_tokens / seed (recommended attributes of the "
        "GenAI conventions)",
        "openinference": "Record llm.invocation_parameters (the OpenInference instrumentors do it; custom spans "
        "must set it)",
        "openllmetry": "Record gen_ai.request.temperature / top_p (the OpenLLMetry instrumentations do it; custom "
        "spans must set it)",
        "langfuse": "Pass model_parameters (temperature, top_p, max_tokens, seed) to the generation",
    },
    "documents": {
        "genai": "Instrument the retriever: a retrieval span with gen_ai.retrieval.query.text and "
        "gen_ai.retrieval.documents (id, score, content, metadata with source and updated_at; opt-in content)",
        "openinference": "Instrument the retriever (LangChain / LlamaIndex instrumentors emit RETRIEVER spans with "
        "retrieval.documents.N.document.content/metadata); keep OPENINFERENCE_HIDE_OUTPUTS unset",
        "openllmetry": "Instrument the vector database (chroma, pinecone, qdrant... instrumentations) with "
        "TRACELOOP_TRACE_CONTENT=true so each hit is recorded",
        "langfuse": "Wrap retrieval in a RETRIEVER observation whose output lists the documents with their "
        "metadata (source, updated_at)",
    },
    "parent": {
        "genai": "Start the LLM call inside the request's span (instrument the web framework and propagate the "
        "trace context) so each call links to the request that caused it",
        "openinference": "Wrap the request in a CHAIN or AGENT span so LLM spans are its children",
        "openllmetry": "Decorate the request handler with @workflow so LLM spans nest under it",
        "langfuse": "Create generations inside the request's trace (observe the handler)",
    },
    "session": {
        "genai": "Record gen_ai.conversation.id (or session.id) on the spans of each conversation",
        "openinference": "Wrap requests in using_session(session_id) / using_attributes(session_id=..., "
        "user_id=...) so session.id is recorded",
        "openllmetry": 'Call Traceloop.set_association_properties({"session_id": ..., "user_id": ...}) per request',
        "langfuse": "Set session_id (and user_id) on the trace",
    },
    "prompt_version": {
        "genai": "Record the prompt's id and version on the LLM span (for example prompt.id and prompt.version; "
        "the GenAI conventions have no standard attribute yet)",
        "openinference": "Wrap calls in using_prompt_template(template=..., variables=..., version=...) so "
        "llm.prompt_template.version is recorded",
        "openllmetry": "Use Traceloop managed prompts (traceloop.prompt.key / version) or set them on the span",
        "langfuse": "Fetch prompts from Langfuse prompt management and link them to the generation "
        "(langfuse_prompt=...), which records promptName and promptVersion",
    },
}
FIELD_LABELS: dict[str, str] = {
    "system_instructions": "system instructions",
    "input": "full input (messages)",
    "output": "full output",
    "served_model": "served model version",
    "sampling": "sampling settings",
    "documents": "retrieved documents (in the trace)",
    "parent": "link to the parent request",
    "session": "session id (in the trace)",
    "prompt_version": "prompt id/version",
}
_FAMILY = {"genai": "genai", "genai-legacy": "genai", "otel": "genai"}
_DETAILS_EVENT = "gen_ai.client.inference.operation.details"
# attributes holding every request parameter the application sent (so none there means none sent)
_REQUEST_PARAMS = ("llm.invocation_parameters", "langfuse.observation.model.parameters")
_EVENT_FIELDS = {
    "gen_ai.system.message": {"system_instructions"},
    "gen_ai.user.message": {"input"},
    "gen_ai.assistant.message": {"input"},
    "gen_ai.tool.message": {"input"},
    "gen_ai.choice": {"output"},
}
_DETAILS_FIELDS = {
    "gen_ai.input.messages": "input",
    "gen_ai.output.messages": "output",
    "gen_ai.system_instructions": "system_instructions",
}


class FieldCoverage(BaseModel):
    field: str
    label: str
    present: int
    total: int
    share: float
    status: Status
    advice: list[str] = Field(default_factory=list)  # what to switch on, per instrumentation seen


class ServiceAudit(BaseModel):
    service: str
    llm_spans: int
    traces: int
    dialects: dict[str, int]
    score: float  # mean share over the fields
    fields: list[FieldCoverage]
    notes: list[str] = Field(default_factory=list)  # where content came from, defaults that were not gaps


class AuditReport(BaseModel):
    services: list[ServiceAudit] = Field(default_factory=list)
    spans_seen: int = 0
    llm_spans: int = 0
    errors: list[str] = Field(default_factory=list)  # input problems met while reading (one line each)


def _has_input(span: Span) -> bool:
    return any(m.content or m.tool_calls for m in span.input_messages) or bool(span.input_value)


def _has_output(span: Span) -> bool:
    return any(m.content or m.tool_calls for m in span.output_messages) or bool(span.output_value)


def _has_sampling(span: Span) -> bool:
    s = span.sampling
    return s.temperature is not None or s.top_p is not None or s.top_k is not None


def _if_answered(check: Callable[[Span], bool]) -> Callable[[Span], bool | None]:
    """A call that ended in an error has no output and no served model: not applicable, not a gap."""
    return lambda span: None if span.is_error else check(span)


_SPAN_CHECKS: dict[str, Callable[[Span], bool | None]] = {
    "system_instructions": lambda s: bool(s.system_instructions and s.system_instructions.strip()),
    "input": _has_input,
    "output": _if_answered(_has_output),
    "served_model": _if_answered(lambda s: bool(s.response_model)),
    "sampling": _has_sampling,
    "parent": lambda s: (
        s.parent_span_id is not None or s.dialect == "langfuse"
    ),  # a Langfuse trace is the request
    "prompt_version": lambda s: bool(
        s.prompt_template and (s.prompt_template.version or s.prompt_template.id)
    ),
}


@dataclass
class _TraceFacts:
    documents: bool = False
    session: bool = False
    llm: list[tuple[str, str, dict[str, bool | None], str]] = field(
        default_factory=list
    )  # (service, dialect, checks, span id)


class Auditor:
    """Feed spans one by one (any order), then read the report. Memory: a few flags per LLM span."""

    def __init__(self, service: str | None = None) -> None:
        self.service = service
        self.spans_seen = 0
        self._traces: dict[str, _TraceFacts] = defaultdict(_TraceFacts)
        self._seen: set[tuple[str, str]] = set()
        self._content: dict[tuple[str, str], set[str]] = defaultdict(set)  # fields filled by OTLP log events

    def add_content(self, content: SpanContent) -> None:
        """A GenAI event read from OTLP logs: it fills its span's fields whichever is read first."""
        filled = _EVENT_FIELDS.get(content.event.name)
        if filled is None and content.event.name == _DETAILS_EVENT:
            attrs = content.event.attributes
            filled = {f for key, f in _DETAILS_FIELDS.items() if attrs.get(key)}
        self._content[(content.trace_id, content.span_id)].update(filled or ())

    def add(self, span: Span) -> None:
        key = (span.trace_id, span.span_id)
        if key in self._seen:
            return  # the same span read twice (two exports of one trace) counts once
        self._seen.add(key)
        self.spans_seen += 1
        facts = self._traces[span.trace_id]
        if span.documents and any(d.content for d in span.documents):
            facts.documents = True
        if span.session_id or span.conversation_id:
            facts.session = True
        if span.kind != SpanKind.llm:
            return
        service = span.service or "(unknown service)"
        if self.service is not None and service != self.service:
            return
        checks = {name: check(span) for name, check in _SPAN_CHECKS.items()}
        checks["request_params"] = any(k in span.attributes for k in _REQUEST_PARAMS)
        facts.llm.append((service, span.dialect or "otel", checks, span.span_id))

    def _records_sampling(self) -> set[tuple[str, str]]:
        """(service, family) pairs whose instrumentation records sampling settings on some LLM span."""
        return {
            (service, _FAMILY.get(dialect, dialect))
            for facts in self._traces.values()
            for service, dialect, checks, _ in facts.llm
            if checks.get("sampling")
        }

    def _checks(self, trace_id: str, entry: tuple, records_sampling: set, notes: Counter[str]) -> dict:
        """The entry's checks with log content joined, and 'sent no sampling parameters' told apart from an
        instrumentation that records none: a span without sampling whose instrumentation records it
        elsewhere (other spans of the family, or the request parameters it sent) used the provider's
        defaults, which is not a telemetry gap."""
        service, dialect, checks, span_id = entry
        filled = self._content.get((trace_id, span_id), set())
        checks = {k: (True if k in filled and v is not None else v) for k, v in checks.items()}
        notes["logs:" + service] += bool(filled)
        sent_params = checks.pop("request_params", False)
        family_records = (service, _FAMILY.get(dialect, dialect)) in records_sampling
        if checks.get("sampling") is False and (sent_params or family_records):
            checks["sampling"] = None
            notes["defaults:" + service] += 1
        return checks

    def report(self, errors: Iterable[str] = ()) -> AuditReport:
        # counts per service, and per (service, instrumentation family) to aim the advice at the gap
        present: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        applicable: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        traces: dict[str, set[str]] = defaultdict(set)
        dialects: dict[str, Counter[str]] = defaultdict(Counter)
        notes: Counter[str] = Counter()
        records_sampling = self._records_sampling()
        for trace_id, facts in self._traces.items():
            for entry in facts.llm:
                service, dialect = entry[0], entry[1]
                checks = self._checks(trace_id, entry, records_sampling, notes)
                key = (service, _FAMILY.get(dialect, dialect))
                traces[service].add(trace_id)
                dialects[service][dialect] += 1
                for name, ok in {**checks, "documents": facts.documents, "session": facts.session}.items():
                    if ok is not None:
                        applicable[key][name] += 1
                        present[key][name] += ok
        services = []
        for name in sorted(traces):
            families = {f: (applicable[(s, f)], present[(s, f)]) for s, f in applicable if s == name}
            audit = _service_audit(name, len(traces[name]), dialects[name], families)
            audit.notes = _notes(notes, name)
            services.append(audit)
        return AuditReport(
            services=services,
            spans_seen=self.spans_seen,
            llm_spans=sum(sum(c.values()) for c in dialects.values()),
            errors=list(errors),
        )


def _notes(notes: Counter[str], service: str) -> list[str]:
    out = []
    if notes["logs:" + service]:
        out.append(
            f"the content of {notes['logs:' + service]} LLM spans came from OTLP log records (GenAI events) and "
            "was joined to them by span id: ingest the log files with the traces"
        )
    if notes["defaults:" + service]:
        out.append(
            f"{notes['defaults:' + service]} LLM calls sent no sampling parameters, so the provider's defaults "
            "applied (not an instrumentation gap: the instrumentation records them when they are sent); pass "
            "temperature / top_p explicitly to have them fixed and on record"
        )
    return out


def _service_audit(
    service: str,
    n_traces: int,
    dialects: Counter[str],
    families: dict[str, tuple[Counter[str], Counter[str]]],
) -> ServiceAudit:
    fields = []
    for name, label in FIELD_LABELS.items():
        total = sum(a[name] for a, _ in families.values())
        count = sum(p[name] for _, p in families.values())
        share = count / total if total else 1.0  # nothing applicable: nothing missing
        status: Status = "ok" if share >= OK_SHARE else ("partial" if count else "missing")
        advice = [
            _ADVICE[name][family]
            for family, (a, p) in sorted(families.items())
            if status != "ok" and family in _ADVICE[name] and p[name] < OK_SHARE * a[name]
        ]
        fields.append(
            FieldCoverage(
                field=name,
                label=label,
                present=count,
                total=total,
                share=round(share, 4),
                status=status,
                advice=advice,
            )
        )
    return ServiceAudit(
        service=service,
        llm_spans=sum(dialects.values()),
        traces=n_traces,
        dialects=dict(dialects),
        score=round(sum(f.share for f in fields) / len(fields), 4),
        fields=fields,
    )


def audit_spans(spans: Iterable[Span], *, service: str | None = None) -> AuditReport:
    """The readiness report of a collection of spans (a file, the store, a test list)."""
    auditor = Auditor(service)
    for span in spans:
        auditor.add(span)
    return auditor.report()
