"""An index that was not rebuilt after an update: the retrieval spans of the bad answers record when their index
was built (a date-valued attribute that holds for the whole window), and the incident mentions an update of the
source after that date and before the bad answers began. The documents then predate the update, however fresh
each retrieval looks. A standing condition rather than a step, so it counts by how many of the bad answers drew
on that index (coverage), never by the date alone."""

from __future__ import annotations

from collections import Counter

from agent.detectors.base import DetectorContext, detector
from agent.detectors.common import make, pct
from agent.detectors.staleness import mentioned_dates, parse_date
from agent.models import Finding, span_ref
from agent.thresholds import T
from retrieval.trace import Span, SpanKind

NAME = "index_age"
_PER_CALL = ("time", "query", "timestamp")


def _build_dates(spans: list[Span]) -> Counter[tuple[str, str]]:
    """(attribute, value) pairs of retrieval spans whose value is a date, counted over the spans."""
    out: Counter[tuple[str, str]] = Counter()
    for span in spans:
        for key, value in span.attributes.items():
            if (
                isinstance(value, str)
                and len(value) <= T.stage_setting_chars
                and not any(p in key.lower() for p in _PER_CALL)
                and parse_date(value) is not None
            ):
                out[(key, value)] += 1
    return out


@detector(NAME)
def detect(ctx: DetectorContext) -> list[Finding]:
    flagged = [a for a in ctx.answers if ctx.is_flagged(a)]
    if not flagged:
        return []
    onset_day = flagged[0].start_time.date()
    retrievals = [s for s in ctx.spans if s.kind == SpanKind.retrieval and ctx.in_scope(s)]
    findings = []
    for (key, value), n in _build_dates(retrievals).items():
        if n < T.stage_setting_constant * len(retrievals):
            continue  # not one index build that held over the window
        built = parse_date(value)
        updates = sorted(d for d in mentioned_dates(ctx) if built and built < d < onset_day)
        if not updates:
            continue
        spans = [s for s in retrievals if s.attributes.get(key) == value]
        traces = {s.trace_id for s in spans}
        covered = [a for a in flagged if a.trace_id in traces]
        coverage = len(covered) / len(flagged)
        if coverage < T.index_age_coverage:
            continue
        example = next(s for s in spans if s.trace_id == covered[0].trace_id)
        findings.append(
            make(
                NAME,
                f"The index the bad answers drew on was built {built}, before the update of {updates[-1]}",
                strength=T.index_age_gain * coverage,
                layer_hint="data",
                evidence=[span_ref(example.span_id), span_ref(covered[0].span_id)],
                detail=(
                    f"Retrieval spans record {key} = {value}; the incident mentions {updates[-1]}, after that build "
                    f"and before the first bad answer ({onset_day}). {pct(coverage)} of the bad answers drew on "
                    "that index, so their documents predate the update."
                ),
                kind="index_not_rebuilt",
                key=key,
                built=str(built),
                update=str(updates[-1]),
                coverage=round(coverage, 3),
                bad_span_ids=[],
            )
        )
    return findings
