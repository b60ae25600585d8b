"""What a perturbation transforms: one case's incident and parsed traces, and the trace-level helpers they share."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from agent.models import Incident
from evals.generator.ids import IdGen
from retrieval.trace import PostmortemDoc, Span


class CaseTraces(BaseModel):
    """A case as the solver ingests it: the incident, its spans and past post-mortems, and the gold onset (the
    only gold a perturbation may read: it places nuisance changes *before* the onset)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    case_id: str
    incident: Incident
    spans: list[Span]
    docs: list[PostmortemDoc] = Field(default_factory=list)
    onset: datetime | None = None

    @property
    def service(self) -> str:
        return self.incident.service or ""

    @property
    def window_start(self) -> datetime:
        return self.incident.window_start or self.earliest

    @property
    def window_end(self) -> datetime:
        return self.incident.window_end or max(s.end_time or s.start_time for s in self.spans)

    @property
    def anchor(self) -> datetime:
        """The gold onset, else the window start: nuisance changes go before it."""
        return self.onset or self.window_start

    @property
    def earliest(self) -> datetime:
        return min(s.start_time for s in self.spans)

    def with_spans(self, spans: Iterable[Span], **update: object) -> CaseTraces:
        return self.model_copy(update={"spans": list(spans), **update})


def traces_of(spans: Iterable[Span]) -> dict[str, list[Span]]:
    """Spans grouped by trace id, each trace in start order (dict order: traces by their first span)."""
    out: dict[str, list[Span]] = defaultdict(list)
    for span in sorted(spans, key=lambda s: (s.start_time, s.span_id)):
        out[span.trace_id].append(span)
    return dict(out)


def trace_start(trace: list[Span]) -> datetime:
    return min(s.start_time for s in trace)


def trace_end(trace: list[Span]) -> datetime:
    return max(s.end_time or s.start_time for s in trace)


def root_of(trace: list[Span]) -> Span:
    ids = {s.span_id for s in trace}
    return next((s for s in trace if s.parent_span_id not in ids), trace[0])


def shift_span(span: Span, delta: timedelta) -> Span:
    """The span moved in time by delta (its events too)."""
    events = [
        e.model_copy(update={"timestamp": e.timestamp + delta}) if e.timestamp else e for e in span.events
    ]
    return span.model_copy(
        update={
            "start_time": span.start_time + delta,
            "end_time": span.end_time + delta if span.end_time else None,
            "events": events,
        }
    )


def clone_trace(trace: list[Span], ids: IdGen, delta: timedelta) -> list[Span]:
    """A copy of a trace with fresh trace and span ids (parents remapped), moved in time by delta."""
    trace_id = ids.trace_id()
    new_ids = {s.span_id: ids.span_id() for s in trace}
    out: list[Span] = []
    for span in trace:
        moved = shift_span(span, delta)
        out.append(
            moved.model_copy(
                update={
                    "trace_id": trace_id,
                    "span_id": new_ids[span.span_id],
                    "parent_span_id": new_ids.get(span.parent_span_id or "", span.parent_span_id),
                    "source": "robustness:clone",
                }
            )
        )
    return out


def llm_dialect(spans: Iterable[Span], service: str) -> str | None:
    """The dialect the service's LLM spans were recorded in."""
    for span in spans:
        if span.service == service and span.kind.value == "llm" and span.dialect:
            return span.dialect
    return None
