"""Figures an answer states that none of its inputs gave: a check of the claims in an output against what the
model was handed in the same trace (the request, its instructions and messages, retrieved documents, tool results
and earlier steps' outputs), with or without retrieval. An amount, account number, date or price the model was
never given was made up, misheard or garbled on the way; rising in the window, it marks the bad outputs
(agent/detectors/symptoms.py counts it only when more frequent than in the baseline)."""

from __future__ import annotations

import re

from agent.detectors.base import DetectorContext
from agent.detectors.common import system_text
from agent.detectors.text import numbers
from agent.thresholds import T
from retrieval.trace import Span

# digits written in groups ("4410 2291", "555-0142"): an account, phone or card number the model may write joined
_GROUPED = re.compile(r"(?<![\w.])\d+(?:[ -]\d+)+(?![\w.])")


def given_numbers(text: str) -> frozenset[str]:
    """The numbers of a text, plus each run of digit groups joined into one number."""
    joined = {m.group(0).replace(" ", "").replace("-", "") for m in _GROUPED.finditer(text or "")}
    return numbers(text) | joined


def specific(n: str) -> bool:
    """Numbers worth checking: not small counts like 1..9."""
    try:
        return abs(float(n)) >= T.grounding_specific_number or "." in n
    except ValueError:
        return False


def allowed_numbers(ctx: DetectorContext, answer: Span) -> frozenset[str]:
    """Figures the model was given: documents, user text, instructions, messages, finished tool results and
    the outputs of earlier steps of its trace."""
    pieces = [d.content or "" for _, _, d in ctx.documents_for(answer)]
    pieces += [answer.user_text, system_text(answer), ctx.request_text(answer)]
    pieces += [m.content or "" for m in answer.input_messages]
    for s in ctx.before(answer):
        if s.end_time is not None and s.end_time > answer.start_time:
            continue  # an ancestor still running (its output is this very answer)
        if s.tool:
            pieces += [s.tool.result or "", s.tool.arguments or ""]
        pieces += [s.output_value or "", s.input_value or ""]
    return frozenset().union(*(given_numbers(p) for p in pieces))


def invented(ctx: DetectorContext, answer: Span) -> list[str]:
    """Specific figures of the answer that none of its inputs gave (memoised per answer)."""
    memo: dict[str, list[str]] = ctx.memo.setdefault("figures.invented", {})  # type: ignore[assignment]
    if answer.span_id not in memo:
        stated = numbers(answer.output_text)
        extra = stated - allowed_numbers(ctx, answer) if stated else frozenset()
        memo[answer.span_id] = sorted(n for n in extra if specific(n))
    return memo[answer.span_id]
