"""Application state over time (changes, partial rollouts) and request times with a daily rhythm."""

from __future__ import annotations

import copy
import math
import random
from datetime import datetime, timedelta
from typing import Any

from evals.generator.spec import App, Change

STATE_KEYS = (
    "provider",
    "request_model",
    "response_model",
    "temperature",
    "top_p",
    "max_tokens",
    "seed",
    "prompt",
    "template_id",
    "template_vars",
    "capture_content",
    "record_system",
    "record_docs",
    "root_attrs",
    "llm_attrs",
)


def initial_state(app: App) -> dict[str, Any]:
    state = {key: copy.deepcopy(getattr(app, key)) for key in STATE_KEYS}
    state["top_k"] = 4
    state["step_attrs"] = {}  # step name -> extra span attributes (config in force)
    return state


def state_at(
    app: App, changes: list[Change], t: datetime, rng: random.Random
) -> tuple[dict[str, Any], list[str]]:
    """The state in force at `t`, and the labels of the changes that applied to this request."""
    state = initial_state(app)
    applied: list[str] = []
    for change in sorted(changes, key=lambda c: c.at):
        if change.at > t:
            break
        if change.share < 1.0 and rng.random() >= change.share:
            continue
        for key, value in change.updates.items():
            if isinstance(value, dict) and isinstance(state.get(key), dict):
                state[key] = {**state[key], **value}
            else:
                state[key] = copy.deepcopy(value)
        if change.label:
            applied.append(change.label)
    return state, applied


def _weight(t: datetime, tz_offset: int) -> float:
    """Relative traffic at a UTC time for users living at UTC+tz_offset: low at night, peaks mid-day."""
    hour = (t.hour + t.minute / 60 + tz_offset) % 24
    return 0.15 + max(0.0, math.sin(math.pi * (hour - 6) / 16)) ** 1.5


def request_times(
    rng: random.Random, start: datetime, end: datetime, n: int, tz_offset: int = -5
) -> list[datetime]:
    """n sorted request times in [start, end), denser in the users' daytime."""
    if n <= 0 or end <= start:
        return []
    span = (end - start).total_seconds()
    times: list[datetime] = []
    while len(times) < n:
        t = start + timedelta(seconds=rng.random() * span)
        if rng.random() < _weight(t, tz_offset) / 1.15:
            times.append(t.replace(microsecond=rng.randrange(0, 1000) * 1000))
    return sorted(times)
