"""Action items grouped by layer: a prompt fix with a regression eval, an index fix, model pinning,
monitoring, a guardrail, and the telemetry to add."""

from __future__ import annotations

from agent.drafter.inputs import DraftInputs
from agent.models import ActionItem, Finding, Layer, report_ref, span_ref

MAX_EVIDENCE = 3


MODEL_CHANGES = ("model_changed", "served_model_changed")


def _top(inputs: DraftInputs, layer: Layer) -> Finding | None:
    return next((f for f in inputs.cause_findings() if f.layer_hint == layer), None)


def _refs(finding: Finding | None) -> list[str]:
    return list(finding.evidence[:MAX_EVIDENCE]) if finding else []


def _why(finding: Finding | None) -> str:
    return f" Why: {finding.title.rstrip('.')}." if finding else ""


def _clip(text: str, n: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _prompt_title(finding: Finding | None) -> str:
    """Name the instruction to restore when the finding saw one removed; else the generic fix."""
    data = finding.data if finding is not None else {}
    removed = data.get("removed") or []
    if data.get("kind") in ("prompt_changed", "removed_guard") and removed:
        return (
            f"Restore the instruction {data.get('new')} of {data.get('route')} dropped: “{_clip(removed[0])}”"
        )
    return "Fix the prompt: restore or tighten the instructions the failure slipped through"


def _data_title(finding: Finding | None) -> str:
    data = finding.data if finding is not None else {}
    source = data.get("source")
    if data.get("kind") == "stale_in_context" and source:
        return f"Take {source} out of the retrieval index (or replace it with the current version)"
    if source:
        return f"Check {source} and what else the index returns for these requests: remove or fix the wrong content"
    return "Fix the retrieval data: remove or re-index the stale, wrong or missing content"


def _model_title(finding: Finding | None) -> str:
    data = finding.data if finding is not None else {}
    if data.get("kind") in MODEL_CHANGES and data.get("old") and data.get("new"):
        return (
            f"Pin the served model (answers went bad after {data['old']} became {data['new']}) "
            "and gate upgrades on a regression eval"
        )
    return "Pin the served model version and gate upgrades on a regression eval"


def _layer_items(inputs: DraftInputs, layer: Layer, examples: list[str]) -> list[ActionItem]:
    finding = _top(inputs, layer)
    why = _why(finding)
    refs = _refs(finding)
    if layer == "prompt":
        return [
            ActionItem(
                layer="prompt",
                kind="prompt_fix",
                evidence=refs,
                title=_prompt_title(finding),
                detail="Review the template diff; state the constraint explicitly and version the change."
                + why,
            ),
            ActionItem(
                layer="prompt",
                kind="regression_eval",
                evidence=list(dict.fromkeys(refs + examples)),
                title="Add the bad requests of this incident to a regression eval run on every prompt change",
                detail="Gate prompt releases on the eval; include the flagged requests cited here.",
            ),
        ]
    if layer == "data":
        return [
            ActionItem(
                layer="data",
                kind="index_fix",
                evidence=refs,
                title=_data_title(finding),
                detail="Check document freshness and expected sources after every re-index." + why,
            ),
            ActionItem(
                layer="data",
                kind="monitoring",
                evidence=refs,
                title="Monitor retrieval quality: document age, top scores and expected sources per query",
                detail="Alert when retrieval returns documents older than the latest policy change.",
            ),
        ]
    if layer == "model":
        if finding is not None and finding.data.get("kind") not in MODEL_CHANGES:
            # the model misbehaved on inputs it had before: no version to pin, a behaviour to test and guard
            return [
                ActionItem(
                    layer="model",
                    kind="regression_eval",
                    evidence=list(dict.fromkeys(refs + examples)),
                    title="Add these bad requests to a regression eval and check the behaviour the model got wrong",
                    detail="Run the eval on every model or prompt change; where the failure can be checked "
                    "(figures against sources, claims against the context), check it before the answer is used."
                    + why,
                ),
            ]
        return [
            ActionItem(
                layer="model",
                kind="model_pinning",
                evidence=refs,
                title=_model_title(finding),
                detail="Request a dated model snapshot; compare served vs requested model in monitoring."
                + why,
            ),
        ]
    return [
        ActionItem(
            layer="system",
            kind="guardrail",
            evidence=refs,
            title="Handle tool and orchestration failures explicitly instead of letting the model answer around them",
            detail="Fail closed on tool errors, truncation and context-assembly faults; add an output guardrail."
            + why,
        ),
    ]


def action_items(inputs: DraftInputs) -> list[ActionItem]:
    items: list[ActionItem] = []
    flagged = inputs.flagged_spans()
    examples = [span_ref(sp.span_id) for sp in flagged[:2]]
    for a in inputs.layers_with("primary", "contributing"):
        items += _layer_items(inputs, a.layer, examples)
    if flagged:
        items.append(
            ActionItem(
                layer=inputs.classification.primary or "system",
                kind="monitoring",
                evidence=examples,
                title="Monitor the rate of bad outputs and alert when it rises above the baseline",
                detail="Score a sample of production answers with the detectors used in this draft.",
            )
        )
        items.append(
            ActionItem(
                layer=inputs.classification.primary or "system",
                kind="guardrail",
                evidence=examples[:1],
                title="Add an output guardrail that blocks answers unsupported by the retrieved context",
                detail="Check claims (amounts, dates, policy terms) against the documents before sending.",
            )
        )
    for gap in inputs.gap_findings():
        items.append(
            ActionItem(
                layer="telemetry",
                kind="telemetry",
                evidence=list(gap.evidence[:MAX_EVIDENCE]),
                title=f"Record what is missing: {gap.title}",
                detail=gap.detail,
            )
        )
    if not inputs.findings and not inputs.gathered.spans:
        items.append(
            ActionItem(
                layer="telemetry",
                kind="telemetry",
                title="Instrument the service with OpenTelemetry GenAI spans, message content included",
            )
        )
    if not items:  # nothing singled out: watch for the symptom and keep the cases for the next analysis
        best = max(inputs.classification.layers, key=lambda a: a.score or 0.0, default=None)
        reports = [report_ref(i) for i in range(1, min(3, len(inputs.incident.reports)) + 1)]
        items.append(
            ActionItem(
                layer=best.layer if best is not None else "system",
                kind="monitoring",
                evidence=reports,
                title="Monitor for the reported symptom and collect the affected requests as eval cases",
                detail="No layer stood out; re-run this analysis when more affected traces are recorded.",
            )
        )
    return items
