"""Node `detect`: run the detectors over the window and baseline, flag the bad outputs, estimate the onset,
correlate it with the changes found, and measure how often the failure recurs. With no traces at all, the
missing telemetry is the first finding."""

from __future__ import annotations

from typing import TYPE_CHECKING

from langgraph.runtime import Runtime

from agent.models import Finding, Incident, Reproducibility, report_ref
from agent.nodes.gather import ensure_workspace
from agent.state import AgentContext, AgentState, Scope

if TYPE_CHECKING:
    from agent.detectors.base import Embed
    from retrieval.trace import Span

NO_TRACES = "no_traces"


def missing_telemetry(incident: Incident, scope: Scope) -> Finding:
    """The first finding of an incident with no matching traces."""
    where = []
    if scope.service:
        where.append(f"service {scope.service}")
    if scope.start or scope.end:
        where.append(
            f"window {scope.start.isoformat() if scope.start else '?'} to {scope.end.isoformat() if scope.end else '?'}"
        )
    if scope.trace_ids:
        where.append(f"trace ids {', '.join(scope.trace_ids[:5])}")
    place = "; ".join(where) or "the incident (no service, window or trace ids given)"
    return Finding(
        detector=NO_TRACES,
        title="No traces were recorded for this incident",
        detail=(
            f"The store holds no spans for {place}. Nothing in this draft could be checked against telemetry: "
            "the analysis rests on the description, the reports and similar past incidents."
        ),
        layer_hint=None,
        strength=1.0,
        evidence=[report_ref(i) for i in range(1, min(3, len(incident.reports)) + 1)],
        is_gap=True,
        data={"service": scope.service, "trace_ids": scope.trace_ids},
    )


def detect(state: AgentState, runtime: Runtime[AgentContext]) -> dict:
    ctx = runtime.context
    workspace = ensure_workspace(state, runtime)
    incident, scope = state["incident"], state["scope"]
    if not workspace.spans:
        return {
            "findings": [missing_telemetry(incident, scope)],
            "flagged": [],
            "onset": None,
            "reproducibility": Reproducibility(
                note="no traces recorded: the failure rate cannot be estimated"
            ),
        }
    return detect_all(
        incident.model_copy(update={"service": scope.service}),
        workspace.spans,
        workspace.baseline,
        ctx.embed(),
    )


def detect_all(incident: Incident, spans: list[Span], baseline: list[Span], embed: Embed | None) -> dict:
    """The detectors over a window and its baseline, and what follows from them: the bad outputs, how they were
    found, multi-agent runs, the onset, each finding weighed by its timing, and reproducibility."""
    from agent.detectors import (
        DetectorContext,
        correlate_onset,
        estimate_onset,
        flag_bad_outputs,
        how_found,
        reproducibility,
        run_detectors,
    )
    from agent.runs.finding import analyse_runs

    detector_ctx = DetectorContext(incident=incident, spans=spans, baseline=baseline, embed=embed)
    findings = run_detectors(detector_ctx)
    flagged = flag_bad_outputs(detector_ctx, findings)
    found = how_found(detector_ctx)  # the foundation of every other finding: how the bad outputs were found
    runs, flagged, notes = analyse_runs(detector_ctx, flagged)  # multi-agent runs: agent, step, provenance
    onset = estimate_onset(detector_ctx, flagged)
    findings = correlate_onset(detector_ctx, [*findings, *runs, *([found] if found else [])], onset)
    gaps = [f for f in findings if f.is_gap]
    ordered = [*[f for f in findings if not f.is_gap], *gaps]
    return {
        "findings": ordered,
        "flagged": flagged,
        "onset": onset,
        "reproducibility": reproducibility(detector_ctx, flagged),
        "notes": notes,
    }
