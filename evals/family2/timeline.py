"""Time and state: request times with a daily rhythm, and the application state a request sees."""

from __future__ import annotations

import copy
import math
import random
from datetime import datetime, timedelta
from typing import Any

from evals.family2.schema import AppSrc, Change


def rhythm(t: datetime) -> float:
    """Relative traffic at that hour (UTC): quiet at night, a peak in the early afternoon."""
    hour = t.hour + t.minute / 60
    return 0.2 + 0.8 * max(0.0, math.sin(math.pi * (hour - 6) / 16))


def request_times(rng: random.Random, start: datetime, end: datetime, n: int) -> list[datetime]:
    span = (end - start).total_seconds()
    out: list[datetime] = []
    while len(out) < n:
        t = start + timedelta(seconds=int(span * rng.random()))
        if rng.random() < rhythm(t):
            out.append(t)
    return sorted(out)


def initial_state(app: AppSrc) -> dict[str, Any]:
    return {
        "models": {k: m.model_dump() for k, m in app.models.items()},
        "prompts": {k: p.model_dump() for k, p in app.prompts.items()},
        "sampling": {k: s.model_dump() for k, s in app.sampling.items()},
        "attrs": {"root": dict(app.root.attrs)} | {k: dict(s.attrs) for k, s in app.steps.items()},
        "docs": {k: d.model_dump() for k, d in app.corpus.items()},
        "capture_content": app.capture_content,
    }


def set_path(state: dict[str, Any], path: str, value: Any) -> None:
    """Dotted path assignment; a mapping merges into an existing mapping. Span attributes are flat maps with
    dotted keys, so under `attrs.<step>.` the rest of the path is one key: `attrs.unlock.adapter.version` sets
    the key `adapter.version` of step `unlock` (the key its healthy requests carry), not a nested `adapter` map."""
    parts = path.split(".")
    head, last = (
        (parts[:2], ".".join(parts[2:]))
        if parts[0] == "attrs" and len(parts) > 2
        else (parts[:-1], parts[-1])
    )
    node = state
    for part in head:
        node = node.setdefault(part, {})
    if isinstance(value, dict) and isinstance(node.get(last), dict):
        node[last] = {**node[last], **copy.deepcopy(value)}
    else:
        node[last] = copy.deepcopy(value)


def state_at(
    base: dict[str, Any], changes: list[Change], t: datetime, rng: random.Random, force: bool
) -> tuple[dict[str, Any], list[str]]:
    """The state at t: every change made by then (a partial rollout reaches a share of requests; `force`
    puts a request in every rollout of a cause change, as bad requests are)."""
    state = copy.deepcopy(base)
    applied: list[str] = []
    for change in changes:
        if change.at > t:
            continue
        cause = not change.label.startswith("rh:") and change.label != "prompt-bump"
        if change.share < 1 and not (force and cause) and rng.random() >= change.share:
            continue
        for path, value in change.set.items():
            set_path(state, path, value)
        applied.append(change.label)
    return state, applied
