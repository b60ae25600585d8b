"""The analytic sections: failure-layer analysis, what went well and poorly, similar past incidents and
telemetry gaps."""

from __future__ import annotations

from agent.drafter.fmt import duration, s, section, utc
from agent.drafter.inputs import DraftInputs
from agent.models import Finding, Section, Sentence, pm_ref, report_ref, span_ref
from retrieval.trace import SpanKind

ROLE_ORDER = {"primary": 0, "contributing": 1, "unknown": 2, "ruled_out": 3}
FINDINGS_PER_LAYER = 3
MIN_LISTED_STRENGTH = 0.1  # below this, a layer's second and later findings are left out of the analysis
ROLE_WORDS = {
    "primary": "primary",
    "contributing": "contributing",
    "unknown": "unknown",
    "ruled_out": "ruled out",
}


def _finding_sentence(finding: Finding) -> Sentence:
    text = finding.title.rstrip(".") + "."
    if finding.detail:
        text += " " + finding.detail.strip()
    return s(text, *finding.evidence[:4])


def layers(inputs: DraftInputs) -> Section:
    out: list[Sentence] = []
    by_layer: dict[str, list[Finding]] = {}
    for finding in inputs.cause_findings():
        by_layer.setdefault(finding.layer_hint or "", []).append(finding)
    for layer, found in by_layer.items():  # strongest first; a near-zero signal beside real ones is noise
        by_layer[layer] = [f for i, f in enumerate(found) if i == 0 or f.strength >= MIN_LISTED_STRENGTH]
    for a in sorted(inputs.classification.layers, key=lambda a: (ROLE_ORDER[a.role], -(a.score or 0))):
        odds = f", probability {a.probability:.2f}" if a.probability is not None else ""
        head = f"**{a.layer}** — {ROLE_WORDS[a.role]} ({a.confidence}{odds})."
        findings = by_layer.get(a.layer, [])
        if a.role == "ruled_out":
            out.append(
                s(f"{head} The detectors examined this layer and found nothing that explains the failure.")
            )
            continue
        if a.role == "unknown" and not findings:
            out.append(s(f"{head} {a.rationale}", *a.evidence[:2]))
            continue
        if findings and inputs.classification.method == "offline" and a.score is not None:
            # the findings below are the score's terms; the full formula stays in the JSON's rationale
            shown = min(len(findings), FINDINGS_PER_LAYER)
            rule = (
                "noisy-OR over groups of findings, each group (one detector, one kind of cause) counted once"
            )
            lead = f"Score {a.score:.2f} ({rule}); " + (
                f"the {shown} strongest findings behind it:" if shown > 1 else "the finding behind it:"
            )
            upstream = a.rationale.find(" Upstream ")
            if upstream >= 0:  # why the primary is (or is not) upstream of the model
                lead = f"{a.rationale[upstream + 1 :]} {lead}"
            out.append(s(f"{head} {lead}", *a.evidence[:3]))
        else:
            out.append(s(f"{head} {a.rationale}", *a.evidence[:3]))
        for finding in findings[:FINDINGS_PER_LAYER]:
            out.append(_finding_sentence(finding).model_copy(update={"level": 1}))
        timing = [f for f in inputs.findings if f.data.get("change_layer") == a.layer and f.evidence]
        if timing:  # how the layer's strongest change lines up with the onset of bad outputs
            best = max(timing, key=lambda f: f.strength)
            out.append(s(best.title.rstrip(".") + ".", *best.evidence[:2]).model_copy(update={"level": 1}))
    if inputs.classification.primary and len(inputs.layers_with("primary", "contributing")) > 1:
        out.append(
            s(
                "More than one layer contributed: fixing only the primary one would leave the others able to "
                "cause a similar failure."
            )
        )
    return section("layers", out)


def _coverage(inputs: DraftInputs) -> tuple[int, dict[str, int], str | None]:
    llm = [sp for sp in inputs.spans if sp.kind == SpanKind.llm]
    counts = {
        "system instructions": sum(1 for sp in llm if sp.system_instructions),
        "input and output messages": sum(1 for sp in llm if sp.input_messages and sp.output_messages),
        "served model version": sum(1 for sp in llm if sp.response_model),
        "prompt version": sum(1 for sp in llm if sp.prompt_template and sp.prompt_template.version),
    }
    return len(llm), counts, (span_ref(llm[0].span_id) if llm else None)


def went_well_and_poorly(inputs: DraftInputs) -> Section:
    out: list[Sentence] = []
    total, counts, sample = _coverage(inputs)
    complete = [name for name, n in counts.items() if total and n == total]
    if complete:
        out.append(
            s(
                f"Went well: every one of the {total} LLM spans recorded its {', '.join(complete)}, so the failure could be traced to its inputs.",
                sample,
            )
        )
    reports = inputs.incident.reports
    if reports:
        out.append(
            s(
                f"Went well: {len(reports)} user report(s) described the symptom precisely enough to match it to the traces.",
                report_ref(1),
            )
        )
    flagged = inputs.flagged_spans()
    dated = [r.timestamp for r in reports if r.timestamp]
    if flagged and dated and inputs.onset:
        lag = utc(min(dated)) - utc(inputs.onset)
        out.append(
            s(
                f"Went poorly: no monitor caught the bad outputs; users found them {duration(lag)} after the onset.",
                span_ref(flagged[0].span_id),
                report_ref(1),
            )
        )
    implicated = {a.layer for a in inputs.layers_with("primary", "contributing")}
    changes = [f for f in inputs.cause_findings() if f.onset is not None and f.layer_hint in implicated]
    if changes:
        out.append(
            s(
                f"Went poorly: a change reached production without a regression eval that would have caught it ({changes[0].title}).",
                *changes[0].evidence[:2],
            )
        )
    missing = [name for name, n in counts.items() if total and n < total]
    if missing:
        out.append(s(f"Went poorly: some LLM spans did not record their {', '.join(missing)}.", sample))
    if not inputs.gathered.spans:
        out.append(
            s(
                "Went poorly: no traces were recorded for this service, so nothing could be verified from telemetry.",
                *[report_ref(1)] if reports else [],
            )
        )
    if not out:
        out.append(
            s("Nothing stands out as having gone particularly well or poorly from the recorded evidence.")
        )
    return section("went_well_poorly", out)


def similar(inputs: DraftInputs) -> Section:
    out: list[Sentence] = []
    for past in inputs.similar:
        layers = ", ".join(past.layers) if past.layers else "unlabelled"
        when = f", {past.date}" if past.date else ""
        out.append(s(f"{past.title}{when}: layers {layers} (similarity {past.score:.2f}).", pm_ref(past.id)))
    if not out:
        out.append(s("No similar past post-mortem was found in the store."))
    return section("similar", out)


def gaps(inputs: DraftInputs) -> Section:
    out = [_finding_sentence(f) for f in inputs.gap_findings()]
    if not out:
        out.append(s("No telemetry gap was found: the recorded spans carry what this analysis needed."))
    return section("gaps", out)
