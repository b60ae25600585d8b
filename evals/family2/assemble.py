"""One case: traffic over time with production noise, the other services, the incident and the gold labels."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from evals.family2.neighbours import neighbour_traces
from evals.family2.render import Flags, Renderer
from evals.family2.schema import CaseSource, Change, Exchange, duration
from evals.family2.timeline import initial_state, request_times, set_path, state_at
from evals.generator.ids import IdGen, seeded
from evals.generator.ir import GTrace

SHORT_BASELINE = 12  # baseline requests below which a case is tagged noise:short-baseline


class CaseBuildError(ValueError):
    """The case source is well-formed but does not produce a valid case (names the case and the problem)."""


@dataclass
class Built:
    src: CaseSource
    traces: list[GTrace]
    case: dict[str, Any]


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _changes(src: CaseSource) -> list[Change]:
    changes = list(src.changes)
    bump = src.noise.prompt_bump
    if bump:
        text = {"version": bump.version, "text": bump.text}
        changes.append(
            Change(
                at=src.timeline.onset + duration(bump.at),
                label="prompt-bump",
                set={f"prompts.{bump.prompt}": text},
                shows=None,
            )
        )
    return sorted(changes, key=lambda c: c.at)


def _pick(rng, pool: list[Exchange], after: bool) -> Exchange:
    pool = [ex for ex in pool if ex.phase in ("any", "after" if after else "before")]
    return rng.choices(pool, weights=[ex.weight for ex in pool], k=1)[0]


def _plan(src: CaseSource, rng, changes: list[Change]) -> list[tuple[datetime, Exchange, bool]]:
    line = src.timeline
    plan = [(t, _pick(rng, src.healthy, t > line.onset), False) for t in request_times(rng, *line.baseline)]
    plan.append((line.onset, src.bad[0], True))
    for t in request_times(rng, *line.window):
        if abs((t - line.onset).total_seconds()) < 1:
            continue
        active = t > line.onset and (line.fixed_at is None or t < line.fixed_at)
        bad = active and rng.random() < line.bad_rate
        plan.append((t, _pick(rng, src.bad, True) if bad else _pick(rng, src.healthy, t > line.onset), bad))
    for change in changes:  # a change before the onset is seen by requests on both sides of it
        if change.at < line.onset and not any(t < change.at for t, _, _ in plan):
            plan.append(
                (change.at - timedelta(minutes=rng.randint(20, 90)), _pick(rng, src.healthy, False), False)
            )
        if change.at < line.onset and not any(change.at <= t < line.onset for t, _, _ in plan):
            t = min(change.at + timedelta(minutes=rng.randint(8, 40)), line.onset - timedelta(minutes=2))
            plan.append((t, _pick(rng, src.healthy, False), False))
    return sorted(plan, key=lambda item: item[0])


def _flags(src: CaseSource, rng, plan, changes: list[Change]) -> dict[int, Flags]:
    healthy = [i for i, (_, _, bad) in enumerate(plan) if not bad]
    firsts = {next((i for i, (t, _, _) in enumerate(plan) if t >= c.at), -1) for c in changes}
    flags = {i: Flags() for i in healthy}
    noise = src.noise
    if noise.tool_errors:
        with_step = [i for i in healthy if noise.tool_errors.step in plan[i][1].values()]
        before = [i for i in with_step if plan[i][0] < src.timeline.window[0]]
        inside = [i for i in with_step if plan[i][0] >= src.timeline.window[0]]
        picks = rng.sample(inside, min(len(inside), max(0, noise.tool_errors.n - 1)))
        picks += rng.sample(before, 1) if before else []
        if not picks:
            raise CaseBuildError(f"{src.id}: no healthy request uses step {noise.tool_errors.step!r}")
        for i in picks:
            flags[i].tool_error = noise.tool_errors
    for i in rng.sample(healthy, min(len(healthy), noise.llm_retries)):
        flags[i].llm_retry = True
    for i in healthy:
        flags[i].strip = i not in firsts and rng.random() < noise.missing_attrs
    return flags


def build(src: CaseSource) -> Built:
    rng = seeded("family2-traffic", src.id)
    ids = IdGen(src.id)
    changes = _changes(src)
    plan = _plan(src, rng, changes)
    flags = _flags(src, rng, plan, changes)
    renderer = Renderer(src, ids, rng)
    base = initial_state(src.app)
    sessions = _Sessions(rng, ids, src.app.user_prefix)
    traces: list[GTrace] = []
    for i, (t, ex, bad) in enumerate(plan):
        state, applied = state_at(base, changes, t, rng, force=bad)
        for path, value in ex.state.items():
            set_path(state, path, value)
        trace = renderer.trace(t, ex, state, sessions.next(), flags.get(i, Flags()))
        trace.bad = bad
        trace.label = "bad" if bad else "healthy"
        if bad:
            cause = ex.cause or src.gold.decisive
            if cause not in trace.steps:
                raise CaseBuildError(f"{src.id}: bad exchange {ex.user[:40]!r} has no step {cause!r}")
            trace.cause_span = trace.steps[cause]
        trace.markers = {
            c.label: trace.steps[c.shows]
            for c in changes
            if c.label in applied and c.shows and c.shows in trace.steps
        }
        traces.append(trace)
    side_rng = seeded("family2-neighbours", src.id)
    for use in src.noise.neighbours:
        traces += neighbour_traces(
            use, src.timeline.onset, src.timeline.baseline[0], src.timeline.window[1], ids, side_rng
        )
    traces.sort(key=lambda tr: tr.start)
    return Built(src, traces, case_yaml(src, traces))


class _Sessions:
    """Returning users: some requests continue an open session."""

    def __init__(self, rng, ids: IdGen, prefix: str) -> None:
        self.rng, self.ids, self.prefix = rng, ids, prefix
        self.open: list[tuple[str, str]] = []

    def next(self) -> tuple[str, str]:
        if self.open and self.rng.random() < 0.3:
            return self.rng.choice(self.open)
        pair = (f"s-{self.ids.token('', 10).lower()}", f"{self.prefix}-{self.rng.randint(1000, 99999)}")
        self.open = [*self.open[-8:], pair]
        return pair


def _resolve(ref: str, src: CaseSource, traces: list[GTrace], bad: list[GTrace]) -> str:
    """'bad:N' -> trace id; 'bad:N:step' -> that step's span id; 'healthy:N' likewise."""
    kind, _, rest = ref.partition(":")
    index, _, step = rest.partition(":")
    pool = (
        bad if kind == "bad" else [t for t in traces if t.label == "healthy" and t.service == src.app.service]
    )
    trace = pool[int(index)]
    if not step:
        return trace.trace_id
    if step not in trace.steps:
        raise CaseBuildError(f"{src.id}: {ref}: that trace has no step {step!r}")
    return trace.steps[step]


def _gold(src: CaseSource, traces: list[GTrace], bad: list[GTrace]) -> dict[str, Any]:
    if len(bad) < 3:
        raise CaseBuildError(f"{src.id}: only {len(bad)} bad traces; raise bad_rate or window traffic")
    keys: list[str] = []
    if src.gold.marker:
        marked = [t for t in traces if src.gold.marker in t.markers]
        if not marked:
            raise CaseBuildError(f"{src.id}: no span shows the change {src.gold.marker!r}")
        keys.append(marked[0].markers[src.gold.marker])
    keys += [t.cause_span for t in bad[:3] if t.cause_span]
    if bad[0].llm_span and bad[0].llm_span != bad[0].cause_span:
        keys.append(bad[0].llm_span)
    keys += [_resolve(ref, src, traces, bad) for ref in src.gold.extra_keys]
    return {
        "primary": src.gold.primary,
        "contributing": list(src.gold.contributing),
        "key_evidence": list(dict.fromkeys(keys))[:8],
        "decisive_span": bad[0].cause_span,
        "onset": iso(bad[0].start),
        "rationale": src.gold.rationale.strip(),
    }


def _tags(src: CaseSource) -> list[str]:
    noise = src.noise
    tags = ["family:production", f"domain:{src.domain}", *src.tags, *src.red_herrings]
    if any(n.model_change for n in noise.neighbours):
        tags.append("rh:other-service-model-change")
    if noise.tool_errors:
        tags.append("rh:unrelated-tool-error")
    if noise.prompt_bump:
        tags.append("rh:prompt-bump")
    tags += ["noise:sampling-jitter", "noise:daily-rhythm"]
    if src.timeline.baseline[2] < SHORT_BASELINE:
        tags.append("noise:short-baseline")
    if noise.missing_attrs:
        tags.append("noise:missing-attrs")
    if noise.llm_retries or any(v.get("retries") for ex in src.healthy for v in _dicts(ex)):
        tags.append("noise:retries")
    if any(n.errors for n in noise.neighbours):
        tags.append("noise:other-service-errors")
    return list(dict.fromkeys(tags))


def _dicts(ex: Exchange) -> list[dict[str, Any]]:
    return [v for v in ex.values().values() if isinstance(v, dict)]


def case_yaml(src: CaseSource, traces: list[GTrace]) -> dict[str, Any]:
    own = [t for t in traces if t.service == src.app.service]
    bad = [t for t in own if t.bad]
    text = f"{src.incident.title} {src.incident.description}".lower()
    if re.search(rf"\b{src.gold.primary}\b", text):
        raise CaseBuildError(f"{src.id}: the title or description names the answer ({src.gold.primary!r})")
    onset = bad[0].start
    reports = sorted(src.incident.reports, key=lambda r: duration(r.after))
    return {
        "id": src.id,
        "split": src.split,
        "difficulty": src.difficulty,
        "tags": _tags(src),
        "dialect": src.dialect,
        "based_on": src.based_on,
        "incident": {
            "title": src.incident.title,
            "description": " ".join(src.incident.description.split()),
            "service": src.app.service,
            "window_start": iso(src.timeline.window[0]),
            "window_end": iso(src.timeline.window[1]),
            "severity": src.incident.severity,
            "reports": [
                {
                    "text": r.text.strip(),
                    "timestamp": iso(onset + duration(r.after)),
                    "author": r.author,
                    "source": r.source,
                }
                for r in reports
            ],
            "trace_ids": [_resolve(ref, src, traces, bad) for ref in src.incident.trace_ids],
        },
        "gold": _gold(src, own, bad),
    }
