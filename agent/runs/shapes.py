"""The usual shapes of an agent run going wrong, each found by a general mechanism over the turns:

- a tool error ignored and reasoned over (an error result, then an acting turn that neither acknowledges it nor
  retries);
- a loop repeating one action (the same call or the same message by one agent, again and again);
- a hand-off that lost a constraint (a delegation that restates the task without one of its specific terms,
  which no later turn recovers);
- a plan step that was skipped (an enumerated plan item no later turn addresses, while later items are);
- a sub-agent that answered a different question (a reply sharing none of the delegation's specific terms);
- a verifier that approved without checking (a later agent repeating the bad claim with no call and nothing new).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agent.detectors.text import ERROR_ACK, REFUSAL, content_tokens, norm
from agent.detectors.tool_errors import error_result
from agent.models import Layer
from agent.runs.claims import extract_claims, occurs
from agent.runs.provenance import ClaimOrigin
from agent.runs.turns import Run, Turn
from agent.thresholds import T

# every threshold of the shapes is in the table: T.runs_* (agent/detector_thresholds.py)
_PLAN_LINE = re.compile(r"^\s*(?:\d{1,2}[.)]|[-*•])\s+(.{8,})$", re.MULTILINE)


@dataclass
class Shape:
    kind: str  # tool_error_ignored, loop, handoff_lost_constraint, plan_step_skipped, different_question
    turn: int  # the turn where the shape makes the failure (the decisive candidate)
    layer: Layer
    detail: str
    related: list[int] = field(default_factory=list)  # the other turns of the shape


def find_shapes(run: Run, final: Turn) -> list[Shape]:
    turns = run.turns[: final.index + 1]
    out: list[Shape] = []
    for finder in (_errors_ignored, _loops, _lost_constraints, _skipped_steps, _different_answers):
        out += finder(run, turns)
    return out


def _is_result(run: Run, turn: Turn, previous: Turn | None) -> bool:
    """A tool/retrieval result, a turn that only reports what came back from the previous turn's call, or the
    output of the code the previous turn wrote."""
    return (
        turn.role in ("tool", "retrieval")
        or (previous is not None and bool(previous.calls) and not turn.acts)
        or run.executes(turn)
    )


def _errors_ignored(run: Run, turns: list[Turn]) -> list[Shape]:
    out = []
    for turn in turns:
        previous = turns[turn.index - 1] if turn.index > 0 else None
        failed = turn.error is not None or (
            _is_result(run, turn, previous) and error_result(_output(turn.text))
        )
        if not failed:
            continue
        for after in turns[turn.index + 1 :]:
            if not after.acts or run.executes(after):
                continue
            if set(after.calls) & set(previous.calls if previous else []):
                break  # a retry of the failed call
            if not (ERROR_ACK.search(after.text) or REFUSAL.search(after.text)):
                out.append(
                    Shape(
                        "tool_error_ignored",
                        after.index,
                        "system",
                        f"turn {turn.index} ({turn.agent}) returned an error; turn {after.index} "
                        f"({after.agent}) went on as if it had succeeded",
                        [turn.index],
                    )
                )
            break
    return out[:1]


_STATUS_LINE = re.compile(r"^\s*exit\s*code\s*:?\s*\d+[^\n]*\n", re.IGNORECASE)


def _output(text: str) -> str:
    """What a result says, without a leading exit-status line (the error check reads the output's start)."""
    return _STATUS_LINE.sub("", text, count=1)


def _signature(turn: Turn) -> str:
    return " | ".join(sorted(turn.calls)) if turn.calls else norm(turn.text.lower())[:300]


def _loops(run: Run, turns: list[Turn]) -> list[Shape]:
    by_agent: dict[str, list[Turn]] = {}
    for turn in turns:
        if turn.acts and (turn.calls or turn.text.strip()):
            by_agent.setdefault(turn.agent, []).append(turn)
    out = []
    for agent, acts in by_agent.items():
        for i, first in enumerate(acts):
            same = [t for t in acts[i + 1 :] if _same_action(first, t)]
            if len(same) + 1 >= T.runs_loop_repeats:
                out.append(
                    Shape(
                        "loop",
                        same[0].index,
                        "system",
                        f"{agent} repeated the same action {len(same) + 1} times (turns "
                        f"{', '.join(str(t.index) for t in [first, *same])})",
                        [first.index, *(t.index for t in same)],
                    )
                )
                break
    return sorted(out, key=lambda s: s.turn)[:1]


def _same_action(a: Turn, b: Turn) -> bool:
    if a.calls or b.calls:
        return _signature(a) == _signature(b)
    ta, tb = content_tokens(a.text), content_tokens(b.text)
    if len(ta) < 3 or len(tb) < 3:
        return False
    return len(ta & tb) / len(ta | tb) >= T.runs_loop_similarity


def _delegations(run: Run, turns: list[Turn]) -> list[tuple[Turn, Turn]]:
    """(delegating turn, the receiving agent's next acting turn) where control passed to another agent; a
    terminal printing what code returned delegates nothing."""
    out = []
    acting = [t for t in turns if t.acts and not run.executes(t)]
    for i, turn in enumerate(acting[:-1]):
        receiver = turn.handoff_to
        nxt = acting[i + 1]
        if receiver is None and nxt.agent != turn.agent:
            receiver = nxt.agent
        if receiver is None:
            continue
        reply = next((t for t in acting[i + 1 :] if t.agent == receiver), None)
        if reply is not None and reply.agent != turn.agent:
            out.append((turn, reply))
    return out


def _plan_items(turns: list[Turn]) -> list[str]:
    """The enumerated steps of the run's first plan (an acting turn listing T.runs_plan_items or more)."""
    for turn in turns:
        items = [m.group(1) for m in _PLAN_LINE.finditer(turn.text)] if turn.acts else []
        if len(items) >= T.runs_plan_items:
            return items
    return []


def _lost_constraints(run: Run, turns: list[Turn]) -> list[Shape]:
    """A delegation that restates a plan step (or the task) without one of its specific terms."""
    sources = _plan_items(turns) or [run.task]
    for delegation, _reply in _delegations(run, turns):
        words = content_tokens(delegation.text)
        best = max(sources, key=lambda p: _restates(delegation, words, p))
        source_words = content_tokens(best)
        if not source_words or len(words & source_words) / len(source_words) < T.runs_delegation_restates:
            continue
        terms = [c for c in extract_claims(best) if c.weight >= T.runs_specific_weight]
        lost = [c for c in terms if not occurs(c, delegation.content)]
        if lost and len(lost) < len(terms):
            return [
                Shape(
                    "handoff_lost_constraint",
                    delegation.index,
                    "system",
                    f"{delegation.agent} handed step on at turn {delegation.index} without "
                    + ", ".join(c.text for c in lost[:3])
                    + ", which the plan or task stated",
                )
            ]
    return []


def _restates(delegation: Turn, words: frozenset[str], source: str) -> tuple[int, float]:
    """How closely a delegation restates a plan step: its specific terms first, then its words."""
    terms = sum(
        occurs(c, delegation.content) for c in extract_claims(source) if c.weight >= T.runs_specific_weight
    )
    return terms, len(words & content_tokens(source)) / max(1, len(content_tokens(source)))


def _skipped_steps(run: Run, turns: list[Turn]) -> list[Shape]:
    for plan in turns:
        items = [m.group(1) for m in _PLAN_LINE.finditer(plan.text)] if plan.acts else []
        if len(items) < T.runs_plan_items:
            continue
        later = turns[plan.index + 1 :]
        addressed = [_first_addressing(item, later) for item in items]
        for k, at in enumerate(addressed):
            moved_on = [a for a in addressed[k + 1 :] if a is not None]
            if at is None and moved_on:
                turn = min(moved_on)
                return [
                    Shape(
                        "plan_step_skipped",
                        turn,
                        "system",
                        f"plan step ({items[k][:80]}) (turn {plan.index}) was never carried out; the run moved "
                        f"on to a later step at turn {turn}",
                        [plan.index],
                    )
                ]
        return []
    return []


def _first_addressing(item: str, turns: list[Turn]) -> int | None:
    words = content_tokens(item)
    if len(words) < 2:
        return None
    for turn in turns:
        if len(words & content_tokens(turn.content)) / len(words) >= T.runs_plan_coverage:
            return turn.index
    return None


def _different_answers(run: Run, turns: list[Turn]) -> list[Shape]:
    for delegation, reply in _delegations(run, turns):
        asked = [
            c
            for c in extract_claims(delegation.text)
            if c.weight >= T.runs_specific_weight and not occurs(c, run.task)
        ]
        if not asked or any(occurs(c, reply.content) for c in asked):
            continue
        own = [c for c in extract_claims(reply.text) if c.weight >= T.runs_specific_weight]
        if len(own) >= 2 and not content_tokens(delegation.text) & content_tokens(reply.text):
            return [
                Shape(
                    "different_question",
                    reply.index,
                    "model",
                    f"{reply.agent} (turn {reply.index}) answered none of what {delegation.agent} asked at "
                    f"turn {delegation.index}",
                    [delegation.index],
                )
            ]
    return []


def unchecked_approvals(run: Run, origins: list[ClaimOrigin], decisive: int, final: Turn) -> list[int]:
    """Turns after the decisive one, by another agent, that repeated its bad content with no call of their own
    and nothing new: they approved or passed it on without checking."""
    bad = [o for o in origins if o.responsible == decisive]
    out = []
    source_agent = run.turns[decisive].agent
    for turn in run.turns[decisive + 1 : final.index]:
        if not turn.acts or turn.agent == source_agent or turn.calls:
            continue
        if not any(occurs(o.claim, turn.content) for o in bad):
            continue
        new = [
            c
            for c in extract_claims(turn.text)
            if c.weight >= T.runs_specific_weight
            and not any(occurs(c, t.content) for t in run.turns[: turn.index])
        ]
        if not new:
            out.append(turn.index)
    return out
