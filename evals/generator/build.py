"""Assemble one case: traffic over time, noise, other services, the incident as known, and the gold labels."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from evals.generator.ids import IdGen, seeded
from evals.generator.ir import GTrace
from evals.generator.noise import DEFAULT_AUX, add_prompt_bump, side_traces
from evals.generator.spec import CaseSpec, Change, Ex
from evals.generator.timeline import request_times, state_at
from evals.generator.traffic import CHANGE_STEP, TraceBuilder


@dataclass
class BuiltCase:
    spec: CaseSpec
    traces: list[GTrace]  # every trace of every service, by start time
    case: dict[str, Any]  # the case.yaml content
    bad: list[GTrace] = field(default_factory=list)


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class _Sessions:
    """Users come back: some requests continue an earlier session of the same user."""

    def __init__(self, rng, ids: IdGen, prefix: str, turns: tuple[int, int]) -> None:
        self.rng, self.ids, self.prefix, self.turns = rng, ids, prefix, turns
        self.open: list[list[Any]] = []  # [user, session, remaining]

    def next(self) -> tuple[str, str]:
        live = [s for s in self.open if s[2] > 0]
        if live and self.rng.random() < 0.35:
            item = self.rng.choice(live)
            item[2] -= 1
            return item[1], item[0]
        user = f"{self.prefix}-{self.rng.randint(10000, 99999)}"
        session = f"sess-{self.ids.token('', 12).lower()}"
        self.open = [*live[-12:], [user, session, self.rng.randint(*self.turns) - 1]]
        return session, user


def _pick(rng, pool: list[Ex], after: bool | None = None) -> Ex:
    if after is not None:
        pool = [ex for ex in pool if ex.phase == "any" or ex.phase == ("after" if after else "before")]
    weights = [ex.weight for ex in pool]
    return rng.choices(pool, weights=weights, k=1)[0]


def _changes(spec: CaseSpec, rng, baseline_times: list[datetime]) -> list[Change]:
    """The scenario's changes plus the harmless prompt bump, placed so that traffic exists on both sides."""
    changes = [Change(c.at, dict(c.updates), c.label, c.share) for c in spec.changes]
    if spec.noise.prompt_bump is not None:
        at = spec.window[0] + spec.noise.prompt_bump
        if len(baseline_times) >= 4:
            at = max(at, baseline_times[2] + timedelta(minutes=7))
        at = min(at, spec.onset - timedelta(hours=1))
        add_prompt_bump(
            spec.app, changes, at, rng, spec.noise.prompt_bump_text, spec.noise.prompt_bump_version
        )
    return sorted(changes, key=lambda c: c.at)


def _marker_step(label: str) -> str:
    if "@" in label:
        return label.split("@", 1)[1]
    return CHANGE_STEP.get(label, "llm")


def build_case(spec: CaseSpec) -> BuiltCase:
    rng = seeded("traffic", spec.id)
    ids = IdGen(spec.id)
    app = spec.app
    baseline_times = request_times(rng, spec.baseline[0], spec.baseline[1], spec.baseline[2])
    changes = _changes(spec, rng, baseline_times)
    builder = TraceBuilder(app, ids, rng)
    sessions = _Sessions(rng, ids, app.user_prefix, app.session_turns)
    healthy_pool = spec.healthy + spec.noise.off_topic

    plan: list[tuple[datetime, Ex, bool]] = []
    for t in baseline_times:
        plan.append((t, _pick(rng, healthy_pool, t > spec.onset), False))
    first_bad = spec.bad[spec.bad_first or 0]
    plan.append((spec.onset, first_bad, True))
    for t in request_times(rng, spec.window[0], spec.window[1], spec.window[2]):
        if abs((t - spec.onset).total_seconds()) < 1:
            continue
        active = t > spec.onset and (spec.fixed_at is None or t < spec.fixed_at)
        if active and rng.random() < spec.bad_rate:
            plan.append((t, _pick(rng, spec.bad), True))
        else:
            plan.append((t, _pick(rng, healthy_pool, t > spec.onset), False))
    bumps = [c.at for c in changes if c.label == "prompt-bump"]
    if bumps and not any(bumps[0] <= t < spec.onset for t, _, _ in plan):
        t = bumps[0] + timedelta(minutes=rng.randint(8, 40))
        plan.append((t, _pick(rng, healthy_pool, t > spec.onset), False))  # the edit is seen before the onset
    plan.sort(key=lambda item: item[0])

    # noise flags on healthy traffic: unrelated tool errors and rate-limit retries
    healthy_idx = [i for i, (t, ex, bad) in enumerate(plan) if not bad and ex not in spec.noise.off_topic]
    window_idx = [i for i in healthy_idx if plan[i][0] >= spec.window[0]]
    baseline_idx = [i for i in healthy_idx if plan[i][0] < spec.window[0]]
    flags: dict[int, dict[str, Any]] = {}
    aux = app.aux_tool or DEFAULT_AUX
    n_err = spec.noise.tool_errors
    picks = rng.sample(window_idx, min(len(window_idx), max(0, n_err - 1)))
    if n_err and baseline_idx:
        picks.append(rng.choice(baseline_idx))
    for i in picks:
        flags.setdefault(i, {})["tool_error"] = aux
    for i in rng.sample(healthy_idx, min(len(healthy_idx), spec.noise.llm_retries)):
        flags.setdefault(i, {})["llm_retry"] = True

    traces: list[GTrace] = []
    for i, (t, ex, bad) in enumerate(plan):
        state, applied = state_at(app, changes, t, rng)
        state.update({k: v for k, v in ex.state.items()})
        session, user = sessions.next()
        trace = builder.build(t, ex, state, session, user, flags.get(i, {}))
        trace.bad = bad
        trace.label = "bad" if bad else ("noise" if i in flags else "healthy")
        steps = builder.steps
        if bad:
            trace.cause_span = steps.get(ex.cause) or steps.get("llm") or steps["root"]
        trace.markers = {
            label: steps[_marker_step(label)] for label in applied if _marker_step(label) in steps
        }
        trace.steps = dict(steps)
        traces.append(trace)

    side_rng = seeded("side", spec.id)
    for side in spec.noise.sides:
        traces += side_traces(side, spec.onset, spec.baseline[0], spec.window[1], ids, side_rng)
    traces.sort(key=lambda tr: tr.start)
    bad = [tr for tr in traces if tr.bad]
    case = _case_yaml(spec, traces, bad)
    return BuiltCase(spec, traces, case, bad)


def _resolve(ref: str, traces: list[GTrace], bad: list[GTrace]) -> str:
    """'bad:N' -> trace id; 'bad:N:step' -> span id of that step; 'healthy:N' likewise."""
    kind, _, rest = ref.partition(":")
    index, _, step = rest.partition(":")
    pool = (
        bad
        if kind == "bad"
        else [tr for tr in traces if tr.label == "healthy" and tr.service == bad[0].service]
    )
    trace = pool[int(index)]
    if not step:
        return trace.trace_id
    return trace.steps[step]


def _case_yaml(spec: CaseSpec, traces: list[GTrace], bad: list[GTrace]) -> dict[str, Any]:
    first = bad[0]
    keys: list[str] = []
    if spec.marker:
        marked = [tr for tr in traces if spec.marker in tr.markers and tr.service == spec.app.service]
        if marked:
            keys.append(marked[0].markers[spec.marker])
    keys += [tr.cause_span for tr in bad[:3] if tr.cause_span]
    if first.llm_span and first.llm_span != first.cause_span:
        keys.append(first.llm_span)
    keys += [_resolve(ref, traces, bad) for ref in spec.key_extra]
    keys = list(dict.fromkeys(keys))[:7]
    reports = [
        {
            "text": r.text,
            "timestamp": iso(spec.onset + r.after),
            "author": r.author,
            "source": r.source,
        }
        for r in sorted(spec.reports, key=lambda r: r.after)
    ]
    tags = list(spec.tags)
    temps = {
        s.temperature for tr in traces if tr.service == spec.app.service for s in tr.spans if s.kind == "llm"
    }
    if temps and min(t or 0 for t in temps) >= 0.9:
        tags.append("rh:high-temperature")
    if spec.noise.tool_errors:
        tags.append("rh:unrelated-tool-error")
    if spec.noise.prompt_bump is not None and spec.app.prompt and spec.app.prompt.text:
        tags.append("rh:prompt-bump")
    if spec.noise.sides:
        tags.append("rh:other-service-model-change")
    return {
        "id": spec.id,
        "split": spec.split,
        "difficulty": spec.difficulty,
        "tags": tags,
        "dialect": spec.dialect,
        "based_on": spec.based_on,
        "incident": {
            "title": spec.title,
            "description": spec.description,
            "service": spec.app.service,
            "window_start": iso(spec.window[0]),
            "window_end": iso(spec.window[1]),
            "severity": spec.severity,
            "reports": reports,
            "trace_ids": [_resolve(ref, traces, bad) for ref in spec.trace_ids],
        },
        "gold": {
            "primary": spec.primary,
            "contributing": spec.contributing,
            "key_evidence": keys,
            "decisive_span": first.cause_span,
            "onset": iso(first.start),
            "rationale": spec.rationale,
        },
    }


def span_count(traces: list[GTrace]) -> int:
    return sum(len(tr.spans) for tr in traces)


__all__ = ["BuiltCase", "build_case", "iso", "span_count", "timedelta"]
