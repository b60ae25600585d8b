"""Action items for a failed run, from its attribution: a check at the step where the failure became inevitable,
and at the steps that passed it on unchecked. They come first: they name the agent and the step."""

from __future__ import annotations

from agent.models import ActionItem, Finding, span_ref
from agent.runs.finding import attribution_of

_BY_HOW = {
    "stated": (
        "guardrail",
        "Make {agent} state only figures its inputs support, and check it at step {step}",
        "Compare what {agent} reported at step {step} with the tool results and messages it had; the claims "
        "it introduced there had no source in the run.",
    ),
    "code_output": (
        "regression_eval",
        "Test the code {agent} writes before its output is used (step {step})",
        "The figure came out of code written at step {step}; run it against a case with a known answer.",
    ),
    "tool_result": (
        "index_fix",
        "Validate what the tool returns before agents use it (step {step})",
        "The bad figure entered in a tool result at step {step}: check its source and freshness.",
    ),
    "retrieved": (
        "index_fix",
        "Fix the source the documents at step {step} came from",
        "The bad figure entered with the documents retrieved at step {step}.",
    ),
    "tool_error_ignored": (
        "guardrail",
        "Stop the run, or retry, when a tool fails (step {step})",
        "{agent} went on at step {step} as if the failed call had succeeded.",
    ),
    "loop": (
        "guardrail",
        "Cap repeated identical actions and escalate (step {step})",
        "{agent} repeated one action; the run should change course or stop.",
    ),
    "handoff_lost_constraint": (
        "prompt_fix",
        "Carry the task's constraints in every hand-off (step {step})",
        "{agent}'s delegation at step {step} dropped a term the plan or task stated.",
    ),
    "plan_step_skipped": (
        "prompt_fix",
        "Check every plan step is done before answering (step {step})",
        "The run moved on at step {step} with a plan step never carried out.",
    ),
    "different_question": (
        "prompt_fix",
        "Check a sub-agent's answer against what it was asked (step {step})",
        "{agent} answered something other than the delegation at step {step}.",
    ),
}


def run_action_items(findings: list[Finding]) -> list[ActionItem]:
    a = attribution_of(findings)
    if a is None:
        return []
    kind, title, detail = _BY_HOW.get(a.how, _BY_HOW["stated"])
    layer = a.layer
    items = [
        ActionItem(
            layer=layer,
            kind=kind,
            title=title.format(agent=a.agent, step=a.step),
            detail=detail.format(agent=a.agent, step=a.step),
            evidence=[span_ref(a.span_id)],
        )
    ]
    if a.unchecked_by:
        steps = ", ".join(str(i) for i in a.unchecked_by[:5])
        items.append(
            ActionItem(
                layer="system",
                kind="regression_eval",
                title=f"Make the review steps ({steps}) re-check figures against their sources",
                detail="They repeated the bad content with no call or new evidence of their own.",
                evidence=[span_ref(a.span_id)],
            )
        )
    return items
