"""The narrative sections about what happened: summary, impact, detection, timeline, decisive point,
reproducibility. Every factual sentence cites the evidence it rests on."""

from __future__ import annotations

from agent.drafter.fmt import clip, duration, pct, plural, s, section, ts, utc
from agent.drafter.inputs import DraftInputs
from agent.models import Affected, LayerAssessment, Section, Sentence, report_ref, span_ref

MAX_TIMELINE = 14
MAX_HOUR_ROWS = 12
TIMELINE_MIN_STRENGTH = 0.1  # weaker changes stay in the layer analysis, out of the timeline


def _first_report(inputs: DraftInputs) -> tuple[int, str] | None:
    dated = [(r.timestamp, i) for i, r in enumerate(inputs.incident.reports, start=1) if r.timestamp]
    if dated:
        n = min(dated)[1]
        return n, report_ref(n)
    return (1, report_ref(1)) if inputs.incident.reports else None


def summary(inputs: DraftInputs, impact: Affected) -> Section:
    out: list[Sentence] = []
    flagged = inputs.flagged_spans()
    service = inputs.scope.service or "the service"
    reports = [report_ref(i) for i in range(1, len(inputs.incident.reports) + 1)]
    if flagged:
        first, last = flagged[0], flagged[-1]
        out.append(
            s(
                f"Between {ts(first.start_time)} and {ts(last.start_time)}, {service} produced {len(flagged)} "
                f"responses judged bad, in {impact.traces} traces ({impact.sessions} sessions, "
                f"{impact.users} users).",
                span_ref(first.span_id),
                span_ref(last.span_id),
            )
        )
        found = next((f for f in inputs.findings if f.data.get("kind") == "bad_outputs"), None)
        if found is not None and found.data.get("sources"):
            out.append(s(f"How they were found: {found.detail}", *found.evidence[:2]))
    elif inputs.gathered.spans:
        sample = inputs.spans[0] if inputs.spans else None
        out.append(
            s(
                f"{inputs.gathered.spans} spans in {inputs.gathered.traces} traces of {service} were examined; "
                "no recorded output was judged bad by the detectors.",
                span_ref(sample.span_id) if sample else None,
            )
        )
    else:
        out.append(
            s(
                f"No traces of {service} matched this incident's window or trace ids in the store, so this "
                "draft rests on the description, the reports and similar past incidents.",
                *reports[:3],
            )
        )
    first_report = _first_report(inputs)
    if first_report:
        n, ref = first_report
        quote = clip(inputs.incident.reports[n - 1].text, 180)
        out.append(s(f"The first report said: “{quote}”", ref, quote=quote))
    primary = inputs.classification.primary
    if primary:
        main = inputs.assessment(primary)
        others = [a.layer for a in inputs.layers_with("contributing")]
        extra = f", with {', '.join(others)} contributing" if others else ", with no other layer contributing"
        out.append(
            s(
                f"The {primary} layer is assessed as primary ({_stated(main)})"
                f"{extra}; the failure-layer analysis explains what each layer contributed.",
                *(main.evidence[:3] if main else []),
            )
        )
    else:
        out.append(s("No layer could be established as primary from the available evidence."))
    causes = inputs.cause_findings()
    if causes:
        out.append(s(f"Strongest finding: {causes[0].title}.", *causes[0].evidence[:3]))
    return section("summary", out)


def impact_section(inputs: DraftInputs, impact: Affected) -> Section:
    out: list[Sentence] = []
    flagged = inputs.flagged_spans()
    if not flagged:
        text = "No affected traces could be counted: no bad output was identified in the recorded traffic."
        if not inputs.gathered.spans:
            text = "The blast radius cannot be measured: no traces were recorded for this incident."
        out.append(s(text, *[report_ref(i) for i in range(1, min(3, len(inputs.incident.reports)) + 1)]))
        return section("impact", out)
    total_traces = max(inputs.gathered.traces, 1)
    out.append(
        s(
            f"{impact.traces} of {inputs.gathered.traces} traces in the window ({impact.traces / total_traces:.0%}) "
            f"carried a bad response, reaching {impact.sessions} sessions and {impact.users} users.",
            span_ref(flagged[0].span_id),
            span_ref(flagged[-1].span_id),
        )
    )
    for row in impact.by_hour[:MAX_HOUR_ROWS]:
        out.append(
            s(
                f"{ts(_parse(row['hour']))}: {plural(row['traces'], 'affected trace')}, "
                f"{plural(row['sessions'], 'session')}, {plural(row['users'], 'user')}.",
                row.get("first"),
            )
        )
    if len(impact.by_hour) > MAX_HOUR_ROWS:
        rest = impact.by_hour[MAX_HOUR_ROWS:]
        out.append(
            s(
                f"{len(rest)} later hours had {sum(r['traces'] for r in rest)} more affected traces.",
                rest[0].get("first"),
            )
        )
    return section("impact", out)


def _parse(value: str):
    from datetime import datetime

    return datetime.fromisoformat(value)


def detection(inputs: DraftInputs) -> Section:
    out: list[Sentence] = []
    first_report = _first_report(inputs)
    flagged = inputs.flagged_spans()
    if first_report:
        n, ref = first_report
        report = inputs.incident.reports[n - 1]
        who = report.source or "a user report"
        out.append(s(f"The incident surfaced through {who} at {ts(report.timestamp)}.", ref))
        if inputs.onset and report.timestamp:
            lag = utc(report.timestamp) - utc(inputs.onset)
            onset_ref = span_ref(flagged[0].span_id) if flagged else None
            out.append(
                s(
                    f"The bad outputs began at {ts(inputs.onset)}, so the detection lag (first report minus "
                    f"onset) was {duration(lag)}.",
                    onset_ref,
                    ref,
                )
            )
    else:
        out.append(s("No report with a timestamp was given, so the detection lag cannot be measured."))
    onset_finding = next((f for f in inputs.findings if f.detector == "onset" and f.evidence), None)
    if onset_finding is not None and onset_finding.detail:
        out.append(s(onset_finding.detail.strip(), *onset_finding.evidence[:2]))
    if flagged and not first_report:
        out.append(
            s(
                f"The first bad output was recorded at {ts(flagged[0].start_time)}.",
                span_ref(flagged[0].span_id),
            )
        )
    return section("detection", out)


def timeline(inputs: DraftInputs) -> Section:
    events: list[tuple[object, Sentence]] = []
    for finding in inputs.cause_findings():
        if finding.onset is not None and finding.strength >= TIMELINE_MIN_STRENGTH:
            events.append(
                (utc(finding.onset), s(f"{ts(finding.onset)} — {finding.title}.", *finding.evidence[:2]))
            )
    flagged = inputs.flagged_spans()
    if flagged:
        first, last = flagged[0], flagged[-1]
        events.append(
            (utc(first.start_time), s(f"{ts(first.start_time)} — first bad output.", span_ref(first.span_id)))
        )
        if last.span_id != first.span_id:
            events.append(
                (
                    utc(last.start_time),
                    s(f"{ts(last.start_time)} — last bad output in the window.", span_ref(last.span_id)),
                )
            )
    for i, report in enumerate(inputs.incident.reports, start=1):
        if report.timestamp is not None:
            who = f" ({report.source})" if report.source else ""
            events.append(
                (
                    utc(report.timestamp),
                    s(
                        f"{ts(report.timestamp)} — report {i}{who}: “{clip(report.text, 120)}”",
                        report_ref(i),
                        quote=clip(report.text, 120),
                    ),
                )
            )
    events.sort(key=lambda e: e[0])  # type: ignore[arg-type,return-value]
    sentences = [sentence for _, sentence in events[:MAX_TIMELINE]]
    if not sentences:
        sentences = [s("No timestamped change, bad output or report is available to build a timeline.")]
    return section("timeline", sentences)


def decisive(inputs: DraftInputs, ref: str | None, why: str) -> Section:
    if ref is None:
        text = "No decisive span could be identified: no bad output was found in the recorded traces."
        return section("decisive", [s(text)])
    evidence = inputs.catalog.evidence(ref)
    label = evidence.label if evidence and evidence.label else ref
    when = ts(evidence.timestamp) if evidence else "unknown time"
    text = f"The decisive point is {label} at {when}: {why}; after it the bad answer was inevitable."
    return section("decisive", [s(text, ref)])


def reproducibility(inputs: DraftInputs) -> Section:
    rep = inputs.reproducibility
    out: list[Sentence] = []
    if rep.similar_requests:
        out.append(
            s(
                f"Among {rep.similar_requests} similar requests in the window, {rep.flagged} were flagged "
                f"({pct(rep.rate)}, {rep.method} CI {pct(rep.ci_low)}–{pct(rep.ci_high)}).",
                *rep.evidence[:3],
            )
        )
        how = rep.note.partition("(")[2].rstrip(")") if "(" in rep.note else ""
        if how:
            out.append(s(f"Similar requests were selected by {how}.", *rep.evidence[:1]))
    else:
        out.append(s("The recorded traffic holds no similar requests from which to estimate a failure rate."))
    flagged = inputs.flagged_spans()
    if flagged:
        trace = flagged[0].trace_id
        out.append(
            s(
                f"To test whether the live model still fails, replay the first bad request: "
                f"`postmortem replay {trace} --n 20`.",
                span_ref(flagged[0].span_id),
            )
        )
    return section("reproducibility", out)


def _stated(assessment: LayerAssessment | None) -> str:
    """The primary's confidence, and its probability when the draft states one."""
    if assessment is None:
        return "inconclusive"
    if assessment.probability is None:
        return assessment.confidence
    return f"{assessment.confidence}, probability {assessment.probability:.2f}"
