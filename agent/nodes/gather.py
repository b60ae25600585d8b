"""Node `gather`: the incident's spans (explicit trace ids, the service in the window, semantic search with
the description) and baseline traffic of the same service from before the window."""

from __future__ import annotations

from collections import Counter

from langgraph.runtime import Runtime

from agent.evidence import EvidenceCatalog
from agent.models import Incident
from agent.state import AgentContext, AgentState, GatherSummary, Scope, Workspace
from retrieval.trace import Span, SpanKind

MAX_WINDOW_SPANS = 50_000
MAX_BASELINE_SPANS = 5_000
SEARCH_K = 20


def collect(store, scope: Scope) -> tuple[list[Span], list[Span], GatherSummary]:
    """(window spans, baseline spans, summary) for a scope, read from the store."""
    found: dict[str, Span] = {}
    summary = GatherSummary()
    for trace_id in scope.trace_ids:
        for span in store.get_trace(trace_id):
            if span.span_id not in found:
                found[span.span_id] = span
                summary.from_trace_ids += 1
    service = scope.service or _main_service(found.values())
    if scope.start is not None or scope.service is not None:
        for span in store.query_spans(
            service=service, start=scope.start, end=scope.end, limit=MAX_WINDOW_SPANS
        ):
            if span.span_id not in found:
                found[span.span_id] = span
                summary.from_window += 1
    if scope.query and (scope.start is not None or service is not None):
        hits = store.search_spans(scope.query, k=SEARCH_K, service=service, start=scope.start, end=scope.end)
        known = {span.trace_id for span in found.values()}
        for trace_id in dict.fromkeys(hit.span.trace_id for hit in hits):
            if trace_id in known:
                continue
            for span in store.get_trace(trace_id):
                if span.span_id not in found:
                    found[span.span_id] = span
                    summary.from_search += 1
    spans = sorted(found.values(), key=lambda sp: sp.start_time)
    service = service or _main_service(spans)
    baseline: list[Span] = []
    if scope.baseline_start is not None and service is not None:
        baseline = [
            span
            for span in store.query_spans(
                service=service, start=scope.baseline_start, end=scope.baseline_end, limit=MAX_BASELINE_SPANS
            )
            if span.span_id not in found
        ]
    summary.spans = len(spans)
    summary.traces = len({span.trace_id for span in spans})
    summary.baseline_spans = len(baseline)
    summary.services = sorted({span.service for span in spans if span.service})
    return spans, baseline, summary


def _main_service(spans) -> str | None:
    """The service most LLM spans belong to (an incident given only trace ids)."""
    counts = Counter(sp.service for sp in spans if sp.service and sp.kind == SpanKind.llm)
    counts = counts or Counter(sp.service for sp in spans if sp.service)
    return counts.most_common(1)[0][0] if counts else None


def build_workspace(store, incident: Incident, scope: Scope) -> tuple[Workspace, GatherSummary]:
    spans, baseline, summary = collect(store, scope)
    catalog = EvidenceCatalog(
        [*spans, *baseline], incident, span_lookup=store.get_span, pm_lookup=store.get_postmortem
    )
    return Workspace(spans=spans, baseline=baseline, catalog=catalog, ready=True), summary


def ensure_workspace(state: AgentState, runtime: Runtime[AgentContext]) -> Workspace:
    """The run's workspace; rebuilt from the store when this process did not gather it (a resumed run)."""
    ctx = runtime.context
    if not ctx.workspace.ready:
        ctx.workspace, _ = build_workspace(ctx.store, state["incident"], state["scope"])
    return ctx.workspace


def gather(state: AgentState, runtime: Runtime[AgentContext]) -> dict:
    ctx = runtime.context
    incident, scope = state["incident"], state["scope"]
    ctx.workspace, summary = build_workspace(ctx.store, incident, scope)
    updates: dict = {"gathered": summary}
    if scope.service is None and summary.services:
        main = _main_service(ctx.workspace.spans)  # an incident given by trace ids: its service, inferred
        updates["scope"] = scope.model_copy(update={"service": main})
        if incident.service is None:
            updates["incident"] = incident.model_copy(update={"service": main})
    return updates
