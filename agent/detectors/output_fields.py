"""Bad structured outputs: an answer that is a JSON object (an extraction, a classification record) whose field
left the range the baseline's answers kept -- a number orders of magnitude outside every healthy value of that
field, or a field empty that no healthy answer left empty. Compared field by field against the baseline's own
answers, so no field name or value of any case is known in advance."""

from __future__ import annotations

import json
from collections import defaultdict

from agent.detectors.base import DetectorContext
from agent.thresholds import T
from retrieval.trace import Span


def _fields(text: str) -> dict[str, object] | None:
    raw = text.strip()
    if not raw.startswith("{"):
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


class _Profile:
    """What healthy answers put in one field: how often, how often empty, the range of its numbers. With a
    baseline too short to profile, the window's own answers are the reference: their median, which the bad
    answers (a minority, or the report would name them all) cannot move far."""

    def __init__(self) -> None:
        self.seen = 0
        self.empty = 0
        self.numbers: list[float] = []
        self.own = False  # profiled on the window itself (short baseline)

    def add(self, value: object) -> None:
        self.seen += 1
        if value is None or value == "":
            self.empty += 1
        elif (n := _number(value)) is not None:
            self.numbers.append(n)

    def odd(self, value: object) -> bool:
        if self.seen < T.output_field_min_seen:
            return False
        if value is None or value == "":
            return self.empty == 0 and not self.own
        n = _number(value)
        if n is None or len(self.numbers) < T.output_field_min_seen or min(self.numbers) <= 0 or n <= 0:
            return False
        if self.own:
            middle = sorted(self.numbers)[len(self.numbers) // 2]
            return n > T.output_field_range * middle or n * T.output_field_range < middle
        return n > T.output_field_range * max(self.numbers) or n * T.output_field_range < min(self.numbers)


def odd_fields(ctx: DetectorContext) -> dict[str, float]:
    """Answer span id -> 1.0 for window answers with a field outside the healthy range (empty when the answers
    are not JSON objects)."""
    healthy = ctx.baseline_examples  # a repeated healthy answer shows its range once
    own = len(healthy) < T.output_field_min_seen
    profiles: dict[str, _Profile] = defaultdict(_Profile)
    for answer in [*healthy, *ctx.answers] if own else healthy:
        for key, value in (_fields(ctx.delivered_text(answer)) or {}).items():
            profiles[key].add(value)
            profiles[key].own = own
    if not profiles:
        return {}
    return {a.span_id: 1.0 for a in ctx.answers if _odd(ctx, a, profiles)}


def _odd(ctx: DetectorContext, answer: Span, profiles: dict[str, _Profile]) -> bool:
    fields = _fields(ctx.delivered_text(answer)) or {}
    return any(key in profiles and profiles[key].odd(value) for key, value in fields.items())
