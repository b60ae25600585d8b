"""The hook into the detect step: the incident's agent runs, each attributed, as findings.

A run is one trace recorded as agents taking turns. The runs analysed are the incident's own trace ids when it
names them, else the window's runs when the window is only a handful of them (see `_runs_to_analyse`).
"""

from __future__ import annotations

from agent.detectors.base import DetectorContext
from agent.models import Finding, RunAttribution, span_ref
from agent.runs.attribute import attribute_run
from agent.runs.turns import agent_count, build_run, is_agent_run
from agent.thresholds import T

NAME = "run_provenance"
NO_BASELINE_NOTE = (
    "No baseline traffic before the incident was available, so the comparisons with earlier traffic (model "
    "version, prompt, sampling, retrieval and input changes; the failure rate before and during) were impossible; "
    "the analysis rests on the recorded run itself."
)


def run_findings(ctx: DetectorContext) -> list[Finding]:
    """One finding per analysed run: its attribution, the decisive turn first in the evidence."""
    out = []
    for trace_id in _runs_to_analyse(ctx):
        attribution = attribute_run(build_run(_spans(ctx, trace_id)), ctx.incident)
        if attribution is not None:
            out.append(as_finding(attribution))
    return sorted(out, key=lambda f: f.strength, reverse=True)


def _runs_to_analyse(ctx: DetectorContext) -> list[str]:
    """The runs this incident is about. Named traces: those that are runs of several agents, or any run when
    there is no baseline traffic (a single-run incident). Unnamed: the window's runs, only when the window is a
    handful of runs rather than traffic (traffic is judged by the detectors against its baseline)."""
    window = {s.trace_id for s in ctx.spans}
    named = [t.strip().lower() for t in ctx.incident.trace_ids if t.strip().lower() in window]
    if named:
        runs = [
            t
            for t in dict.fromkeys(named)
            if is_agent_run(_spans(ctx, t), named=True)
            and (not ctx.baseline or agent_count(_spans(ctx, t)) >= 2)
        ]
        return runs[: T.runs_max_runs]
    if len(window) > T.runs_max_runs:
        return []
    ordered = sorted(window, key=lambda t: ctx.traces[t][0].start_time)
    return [t for t in ordered if is_agent_run(_spans(ctx, t))]


def _spans(ctx: DetectorContext, trace_id: str) -> list:
    return [s for s in ctx.traces.get(trace_id, []) if ctx.is_window(s)]


def as_finding(attribution: RunAttribution) -> Finding:
    a = attribution
    refs = [span_ref(a.span_id), *(span_ref(s) for s in a.carried_spans[:5])]
    title = f"{a.agent} at step {a.step} of {a.turns} made the run's failure inevitable ({a.layer_label})"
    plural = "s" if len(a.carried_by) > 1 else ""
    carried = (
        f" Carried forward by step{plural} {', '.join(map(str, a.carried_by[:8]))}." if a.carried_by else ""
    )
    unchecked = (
        f" Step{'s' if len(a.unchecked_by) > 1 else ''} {', '.join(map(str, a.unchecked_by[:5]))} passed it on "
        "without a check of their own."
        if a.unchecked_by
        else ""
    )
    return Finding(
        detector=NAME,
        title=title,
        detail=f"{a.why}.{carried}{unchecked}",
        layer_hint=a.layer,
        strength=a.confidence,
        evidence=list(dict.fromkeys(refs)),
        data={"attribution": a.model_dump(mode="json"), "trace_id": a.trace_id},
    )


def attribution_of(findings: list[Finding]) -> RunAttribution | None:
    """The strongest run attribution among the findings, if any."""
    best = max((f for f in findings if f.detector == NAME), key=lambda f: f.strength, default=None)
    if best is None or "attribution" not in best.data:
        return None
    return RunAttribution.model_validate(best.data["attribution"])


def analyse_runs(ctx: DetectorContext, flagged: list[str]) -> tuple[list[Finding], list[str], list[str]]:
    """(run findings, flagged span ids, notes). A run the incident names is the bad run: its final answer joins
    the flagged outputs when no detector flagged it. Without baseline traffic the draft says what could not be
    compared."""
    notes = [] if ctx.baseline else [NO_BASELINE_NOTE]
    findings = run_findings(ctx)
    named = {t.strip().lower() for t in ctx.incident.trace_ids}
    out = list(flagged)
    for finding in findings:
        a = RunAttribution.model_validate(finding.data["attribution"])
        already = any(ctx.by_id[s].trace_id == a.trace_id for s in out if s in ctx.by_id)
        if a.trace_id in named and a.final_span_id and not already:
            out.append(a.final_span_id)
    order = {s.span_id: s.start_time for s in ctx.spans}
    out.sort(key=lambda s: order.get(s, ctx.spans[0].start_time))
    return findings, out, notes
