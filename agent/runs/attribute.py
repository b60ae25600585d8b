"""Attribute a failed run to an agent, a step and a layer, with a confidence.

Every turn collects evidence that it is where the failure became inevitable: the claims of the bad final answer
it was responsible for introducing (weighted by how specific they are, double when they are the answer itself,
triple when the reports quote them), a correct value the reports name that it dropped, and the failure shapes
that point at it. The decisive turn is the best supported one (the earliest on a tie); the final turn wins only
when the answer's content really first appeared there. With nothing traced, the earliest turn that already says
what the final answer says is chosen, with a low confidence.
"""

from __future__ import annotations

from collections import defaultdict

from agent.detectors.text import content_tokens
from agent.models import Incident, Layer, RunAttribution
from agent.runs.provenance import ClaimOrigin, dropped_values, trace_claims
from agent.runs.shapes import Shape, find_shapes, unchecked_approvals
from agent.runs.turns import Run, Turn
from agent.thresholds import T

# every threshold and weight of the attribution is in the table: T.runs_* (agent/detector_thresholds.py)
LAYER_OF_HOW: dict[str, Layer] = {
    "handoff_lost_constraint": "system",  # the orchestration lost what the worker needed
    "tool_result": "data",  # the tool returned it: the data the agent was given
    "retrieved": "data",
    "given": "data",
    "code_output": "model",  # the agent's own code computed it from correct inputs
    "stated": "model",  # the agent asserted it: upstream inputs did not contain it
}
LAYER_LABEL = {
    "data": "data it was given",
    "model": "model",
    "prompt": "agent prompt",
    "system": "orchestration",
}


def reported_text(incident: Incident) -> str:
    """What the people who saw the failure said: the reports, and the description."""
    return "\n".join([incident.description, *(r.text for r in incident.reports)])


def attribute_run(run: Run, incident: Incident) -> RunAttribution | None:
    final = run.final
    if final is None or not run.turns:
        return None
    reported = reported_text(incident)
    origins = trace_claims(run, final, reported)
    dropped = dropped_values(run, final, reported, origins)
    shapes = find_shapes(run, final)
    _upstream(run, origins, shapes)
    support: dict[int, float] = defaultdict(float)
    for origin in origins:
        support[origin.responsible] += _claim_weight(origin)
    for drop in dropped:
        support[drop.lost_at] += T.runs_dropped_weight * drop.claim.weight
    for shape in shapes:
        support[shape.turn] += T.runs_shape_weight
    if support:
        best = max(support.values())
        step = min(i for i, v in support.items() if v == best)
        share = best / sum(support.values())
        confidence = T.runs_confidence_floor + T.runs_confidence_span * share
    else:
        step = _fallback(run, final)
        confidence = T.runs_fallback_confidence
    return _attribution(run, final, step, round(confidence, 2), origins, dropped, shapes)


def _upstream(run: Run, origins: list[ClaimOrigin], shapes: list[Shape]) -> None:
    """Upstream first: content that entered while a worker carried out a hand-off that had lost a constraint
    is the hand-off's doing (the worker answered what it was given)."""
    for shape in shapes:
        if shape.kind != "handoff_lost_constraint":
            continue
        delegator = run.turns[shape.turn].agent
        end = next(
            (t.index for t in run.turns[shape.turn + 1 :] if t.agent == delegator and t.acts), len(run.turns)
        )
        for origin in origins:
            if shape.turn < origin.responsible < end:
                origin.responsible, origin.how = shape.turn, shape.kind


def _claim_weight(origin: ClaimOrigin) -> float:
    weight = origin.claim.weight
    if origin.in_answer:
        weight *= T.runs_answer_bonus
    if origin.confirmed:
        weight *= T.runs_confirmed_bonus
    if origin.how in ("tool_result", "retrieved"):
        weight *= T.runs_grounded_factor
    if origin.replaced is not None:
        weight *= T.runs_replaced_bonus
    if origin.derived:
        weight *= T.runs_derived_factor
    return weight


def _fallback(run: Run, final: Turn) -> int:
    """The earliest acting turn before the final one that already says most of what the final answer says."""
    target = content_tokens(final.text)
    scored = [
        (len(target & content_tokens(t.content)) / max(1, len(target)), t.index)
        for t in run.turns[: final.index]
        if t.acts and t.role != "user"
    ]
    if not scored or max(s for s, _ in scored) == 0:
        return final.index
    best = max(s for s, _ in scored)
    return min(i for s, i in scored if s >= T.runs_fallback_similarity * best)


def _attribution(
    run: Run,
    final: Turn,
    step: int,
    confidence: float,
    origins: list[ClaimOrigin],
    dropped: list,
    shapes: list[Shape],
) -> RunAttribution:
    turn = run.turns[step]
    mine = [o for o in origins if o.responsible == step]
    shape = next((s for s in shapes if s.turn == step), None)
    drop = next((d for d in dropped if d.lost_at == step), None)
    if shape is not None and not mine:
        layer, how, why = shape.layer, shape.kind, shape.detail
    elif mine:
        how = max(mine, key=_claim_weight).how
        layer = LAYER_OF_HOW[how]
        values = ", ".join(o.claim.text for o in sorted(mine, key=_claim_weight, reverse=True)[:3])
        why = _why(how, turn, values, step == final.index)
    elif drop is not None:
        layer, how = "model", "dropped_value"
        why = f"turn {step} ({turn.agent}) went on without {drop.claim.text}, stated at turn {drop.last_seen}"
    else:
        layer, how = "model", "overlap"
        why = f"turn {step} ({turn.agent}) is the earliest that already says what the final answer says"
    carried = sorted({i for o in mine for i in o.carriers if i != step})
    unchecked = unchecked_approvals(run, origins, step, final)
    return RunAttribution(
        trace_id=run.trace_id,
        agent=turn.agent,
        step=step,
        span_id=turn.span_id,
        turns=len(run.turns),
        final_step=final.index,
        final_span_id=final.span_id,
        confidence=confidence,
        layer=layer,
        layer_label=LAYER_LABEL[layer],
        how=how,
        why=why,
        claims=[o.claim.text for o in mine][:8],
        carried_by=carried,
        carried_spans=[run.turns[i].span_id for i in carried],
        unchecked_by=unchecked,
        shapes=[f"{s.kind}: {s.detail}" for s in shapes],
    )


def _why(how: str, turn: Turn, values: str, is_final: bool) -> str:
    who = f"turn {turn.index} ({turn.agent})"
    if how == "tool_result":
        return f"{values} first entered the run in the tool result of {who}"
    if how == "retrieved":
        return f"{values} first entered the run in the documents retrieved at {who}"
    if how == "code_output":
        return f"{values} came out of the code written at {who}"
    if how == "given":
        return f"{values} first entered the run in the input at {who}"
    if is_final:
        return f"{values} appear nowhere before the final answer: {who} introduced them"
    return f"{values} first appear at {who}, with no earlier turn or tool result stating them"
