"""Blast radius (traces, sessions, users over time) and the decisive point of the failure."""

from __future__ import annotations

from collections import defaultdict

from agent.drafter.fmt import utc
from agent.drafter.inputs import DraftInputs
from agent.models import Affected, span_ref
from agent.runs.finding import attribution_of
from retrieval.trace import Span

MAX_HOURS = 48


def affected(inputs: DraftInputs) -> Affected:
    """Traces, sessions and users with a flagged output, in total and per hour."""
    flagged = inputs.flagged_spans()
    if not flagged:
        return Affected()
    by_trace: dict[str, list[Span]] = defaultdict(list)
    for span in inputs.spans:
        by_trace[span.trace_id].append(span)
    traces: set[str] = set()
    sessions: set[str] = set()
    users: set[str] = set()
    hours: dict[str, dict[str, object]] = {}
    for span in flagged:
        related = by_trace.get(span.trace_id, [span])
        session = span.session or next((sp.session for sp in related if sp.session), None)
        user = span.user_id or next((sp.user_id for sp in related if sp.user_id), None)
        hour = utc(span.start_time).replace(minute=0, second=0, microsecond=0).isoformat()
        row = hours.setdefault(hour, {"hour": hour, "traces": set(), "sessions": set(), "users": set()})
        row.setdefault("first", span_ref(span.span_id))
        for key, value in (("traces", span.trace_id), ("sessions", session), ("users", user)):
            if value:
                row[key].add(value)  # type: ignore[union-attr]
        traces.add(span.trace_id)
        if session:
            sessions.add(session)
        if user:
            users.add(user)
    by_hour = [
        {
            "hour": row["hour"],
            "traces": len(row["traces"]),  # type: ignore[arg-type]
            "sessions": len(row["sessions"]),  # type: ignore[arg-type]
            "users": len(row["users"]),  # type: ignore[arg-type]
            "first": row["first"],
        }
        for row in sorted(hours.values(), key=lambda r: str(r["hour"]))
    ]
    return Affected(traces=len(traces), sessions=len(sessions), users=len(users), by_hour=by_hour[:MAX_HOURS])


def decisive_point(inputs: DraftInputs) -> tuple[str | None, str]:
    """The earliest span after which the failure was inevitable, and why it was chosen.

    In the first trace whose output went bad, the earliest span that the primary layer's findings cite
    (e.g. the retrieval that returned the stale document, or the call made with the changed prompt);
    failing that, any cause finding's span in that trace; failing that, the first bad output itself.
    """
    run = attribution_of(inputs.findings)  # a multi-agent run: the attributed turn, not the last output
    if run is not None:
        return span_ref(run.span_id), f"step {run.step} of {run.turns} ({run.agent}): {run.why}"
    flagged = inputs.flagged_spans()
    if not flagged:
        return None, ""
    first = flagged[0]
    in_trace: dict[str, tuple[int, Span]] = {}
    primary = inputs.classification.primary
    contributing = {a.layer for a in inputs.layers_with("contributing")}
    # a latent condition (what let the trigger do harm: an action nothing checked) is not where the failure
    # became inevitable, so it does not place the decisive span
    for finding in (f for f in inputs.cause_findings() if not f.data.get("latent")):
        tier = 0 if finding.layer_hint == primary else 1 if finding.layer_hint in contributing else 2
        for ref in finding.evidence:
            span = _span_of(inputs, ref)
            if span is not None and span.trace_id == first.trace_id and span.start_time <= first.start_time:
                best = in_trace.get(span.span_id)
                if best is None or tier < best[0]:
                    in_trace[span.span_id] = (tier, span)
    if in_trace:
        tier = min(t for t, _ in in_trace.values())
        chosen = min((sp for t, sp in in_trace.values() if t == tier), key=lambda sp: sp.start_time)
        why = {
            0: f"the first bad trace's earliest span cited by the {primary} findings",
            1: "the first bad trace's earliest span cited by a contributing layer's findings",
            2: "the first bad trace's earliest span cited by any cause finding",
        }[tier]
        return span_ref(chosen.span_id), why
    return span_ref(
        first.span_id
    ), "the first bad output (no cause finding cites an earlier span of its trace)"


def _span_of(inputs: DraftInputs, ref: str) -> Span | None:
    if ref.startswith("span:"):
        return inputs.catalog.span(ref.removeprefix("span:"))
    if ref.startswith("doc:"):
        span_id = ref.removeprefix("doc:").rpartition(":")[0]
        return inputs.catalog.span(span_id)
    return None
