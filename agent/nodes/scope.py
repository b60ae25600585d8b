"""Node `scope`: where to look. Fills the incident id, the window (from reports when absent), the baseline
window before it, and the text used for semantic search."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

from agent.models import Incident
from agent.state import AgentState, Scope

BASELINE_MIN = timedelta(hours=6)
BASELINE_MAX = timedelta(days=7)
REPORT_LOOKBACK = timedelta(hours=24)  # without a window, look this far before the first report
QUERY_CHARS = 1500


def incident_id(incident: Incident) -> str:
    """A stable id: a slug of the title, the window's date, and a short hash of the title."""
    slug = re.sub(r"[^a-z0-9]+", "-", incident.title.lower()).strip("-")[:48].rstrip("-") or "incident"
    day = incident.window_start.strftime("%Y%m%d") if incident.window_start else ""
    digest = hashlib.sha1(incident.title.encode()).hexdigest()[:6]
    return "-".join(p for p in (slug, day, digest) if p)


def plan_scope(incident: Incident) -> Scope:
    start, end = incident.window_start, incident.window_end
    stamps = sorted(r.timestamp for r in incident.reports if r.timestamp)
    if start is None and stamps:
        start = stamps[0] - REPORT_LOOKBACK
    if end is None and stamps:
        end = stamps[-1]
    baseline_start = baseline_end = None
    if start is not None:
        span = (end - start) if end is not None and end > start else BASELINE_MIN
        baseline_end = start
        baseline_start = start - min(max(span, BASELINE_MIN), BASELINE_MAX)
    query = " ".join([incident.title, incident.description, *(r.text for r in incident.reports)])
    return Scope(
        service=incident.service,
        start=start,
        end=end,
        baseline_start=baseline_start,
        baseline_end=baseline_end,
        trace_ids=[t.strip().lower() for t in incident.trace_ids if t.strip()],
        query=" ".join(query.split())[:QUERY_CHARS],
    )


def scope(state: AgentState) -> dict:
    incident = state["incident"]
    if not incident.id:
        incident = incident.model_copy(update={"id": incident_id(incident)})
    return {"incident": incident, "scope": plan_scope(incident), "status": "running", "revisions": 0}
