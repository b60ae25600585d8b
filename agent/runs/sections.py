"""The draft's "decisive point" section for a multi-agent run: the decisive turn, the turns that carried its
content forward, the ones that passed it on unchecked, and the failure shapes seen."""

from __future__ import annotations

from agent.models import SECTION_TITLES, Finding, Section, Sentence, span_ref
from agent.runs.finding import attribution_of

MAX_SHAPES = 3


def run_section(findings: list[Finding]) -> Section | None:
    a = attribution_of(findings)
    if a is None:
        return None
    out = [
        s(
            f"The decisive point is step {a.step} of the run's {a.turns} turns, by {a.agent} "
            f"(confidence {a.confidence:.2f}; layer: {a.layer_label}): {a.why}; after it the bad answer was "
            "inevitable.",
            span_ref(a.span_id),
        )
    ]
    if a.step == a.final_step:
        out.append(s("The final answer itself is where the bad content first appears.", span_ref(a.span_id)))
    if a.carried_by:
        steps = ", ".join(str(i) for i in a.carried_by[:8])
        out.append(s(f"Steps {steps} carried it forward.", *(span_ref(x) for x in a.carried_spans[:8])))
    if a.unchecked_by:
        steps = ", ".join(str(i) for i in a.unchecked_by[:5])
        out.append(
            s(f"Steps {steps} passed it on without a check or call of their own.", span_ref(a.span_id))
        )
    for shape in a.shapes[:MAX_SHAPES]:
        out.append(s(f"Also seen in the run: {shape}.", span_ref(a.span_id)))
    return Section(key="decisive", title=SECTION_TITLES["decisive"], sentences=out)


def _steps(steps: list[int]) -> str:
    return ("Step " if len(steps) == 1 else "Steps ") + ", ".join(str(i) for i in steps)


def s(text: str, *cites: str) -> Sentence:
    return Sentence(text=text, cites=list(dict.fromkeys(cites)))
