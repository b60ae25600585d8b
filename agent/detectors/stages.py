"""The stages between the request and the model (chunkers, context assemblers, hand-offs between agents, index
look-ups, filters): did one of them change, or start cutting or rewriting what passes through it, with the bad
outputs? Structural only -- read from span attributes and the relation of a stage's input to its output, never
from the words of a case:

- **a persistent setting of a stage stepped**: an attribute of a non-model span (a version, a limit, an index
  snapshot) held one value and then another, found by the change-point logic of agent/detectors/changes.py and
  weighed by the step in the bad-output rate that followed it;
- **a stage started altering what passes through it**: its output no longer equals its input (a hand-off cap, a
  filter before the model), in more traces than before;
- **a stage started dropping items**: of two counts a stage records, the one that usually equals the other
  (kept vs total) fell below it;
- **a tool ran another call than the model asked for**: its arguments differ from those of the model's tool call
  with the same id (an adapter or orchestrator rewrote them).

A per-request signal counts by its association with the bad outputs (flag rate of traces with it against traces
without it, `stats.associate`), scaled down when it was as common before the window. A stage whose span is a
retrieval is the data layer (what the index holds), except for a stepped setting that does not name the content
(top_k, a reranker, a filter, the retriever's release): that is context assembly, the system layer. Any other
stage is the system layer.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from agent.detectors.base import DetectorContext, detector, unwrap
from agent.detectors.changes import Change, change_evidence, find_changes, score_change
from agent.detectors.common import make, pct, when
from agent.detectors.stats import Association, associate, novelty
from agent.detectors.text import snippet
from agent.models import Finding, Layer, span_ref
from agent.thresholds import T
from retrieval.trace import Span, SpanKind

NAME = "stages"
_MISSING = "(not set)"
# attribute keys that carry the request or the telemetry of one call, not a setting of the stage
PER_CALL = (
    "input",
    "output",
    "arguments",
    "result",
    "query",
    "documents",
    "session",
    "user",
    "id",
    "error",
    "status",
    "level",
    "message",
    "latency",
    "duration",
    "timestamp",
    "usage",
    "tokens",
    "time",
    "retry",
    "attempt",
)


@dataclass(frozen=True)
class Signal:
    """A per-trace signal of one stage: the traces showing it (window and baseline)."""

    stage: str
    kind: str  # "altered", "dropped" or "rewritten"
    spans: list[Span]  # one per trace, the span showing it, in time order
    what: str  # the words of the title


def _stages(ctx: DetectorContext) -> dict[str, list[Span]]:
    """In-scope non-model spans per stage (span name), in time order; roots are the request, not a stage."""
    out: dict[str, list[Span]] = defaultdict(list)
    for span in sorted(ctx.by_id.values(), key=lambda s: s.start_time):
        if span.kind != SpanKind.llm and span.parent_span_id is not None and ctx.in_scope(span):
            out[span.name].append(span)
    return dict(out)


def _layer(spans: list[Span]) -> Layer:
    return "data" if any(s.kind == SpanKind.retrieval or s.documents for s in spans) else "system"


# A setting of a retrieval stage that names what the index holds (its snapshot, corpus, collection, feed) is the
# data layer; any other setting of it (how many documents, which reranker, what filter, the retriever's own
# release) is how the context is assembled: the system layer, by the layer definitions (README, "Layers").
CONTENT_SETTING = re.compile(
    r"(?:^|[._-])(?:index|snapshot|corpus|collection|dataset|catalog|catalogue|feed|kb|knowledge|docs|documents|"
    r"source|sources)(?:[._-]|$)",
    re.IGNORECASE,
)


def setting_layer(key: str, spans: list[Span]) -> Layer:
    """The layer a stepped setting of this stage belongs to (see CONTENT_SETTING)."""
    layer = _layer(spans)
    return "data" if layer == "data" and CONTENT_SETTING.search(key) else "system"


def _settings(span: Span) -> Iterator[tuple[str, str]]:
    """(key, value) of the span's attributes that can be settings: scalars and nested maps, flattened."""
    flat: list[tuple[str, Any]] = []
    for key, value in span.attributes.items():
        if isinstance(value, dict):
            flat += [(f"{key}.{sub}", inner) for sub, inner in value.items()]
        else:
            flat.append((key, value))
    for key, value in flat:
        if any(part in key.lower() for part in PER_CALL):
            continue
        if isinstance(value, str | int | float | bool) and len(str(value)) <= T.stage_setting_chars:
            yield key, str(value)


@detector(NAME)
def detect(ctx: DetectorContext) -> list[Finding]:
    findings: list[Finding] = []
    for stage, spans in _stages(ctx).items():
        findings += _setting_steps(ctx, stage, spans)
        for signal in (
            _altered(ctx, stage, spans),
            _dropped(ctx, stage, spans),
            _rewritten(ctx, stage, spans),
        ):
            if signal is not None:
                finding = _signal_finding(ctx, signal)
                if finding is not None:
                    findings.append(finding)
    return findings


# ------------------------------------------------------------------ settings that stepped
def _setting_steps(ctx: DetectorContext, stage: str, spans: list[Span]) -> list[Finding]:
    if len(spans) < T.stage_min_spans:
        return []  # too few spans to tell a setting from the values of a few calls
    series: dict[str, list[tuple[Span, str]]] = defaultdict(list)
    keys = {k for s in spans for k, _ in _settings(s)}
    for span in spans:
        values = dict(_settings(span))
        for key in keys:
            series[key].append((span, values.get(key, _MISSING)))
    findings = []
    for key, items in series.items():
        for change in find_changes(items, group=f"{stage}/{key}", min_count=int(T.stage_min_new)):
            before = [v for s, v in items if s.start_time < change.first_new.start_time]
            if before.count(change.old or "") < T.stage_setting_constant * len(before):
                continue  # a per-request value (a count, a size) that varied before: not a setting
            if change.first_new.span_id not in ctx.window_ids and change.first_new.start_time < (
                ctx.window_start or change.first_new.start_time
            ):
                continue  # a step well before the window is the baseline's state, not a change in it
            findings.append(_step_finding(ctx, stage, key, change, setting_layer(key, spans)))
    return findings


def _step_finding(ctx: DetectorContext, stage: str, key: str, change: Change, layer: Layer) -> Finding:
    score = score_change(ctx, change, gain=T.stage_setting_gain)
    data = score.as_data()
    title = f"Setting {key} of stage {stage} changed from {change.old} to {change.new}"
    detail = (
        f"From {when(change.first_new.start_time)} the {stage} spans carry {key} = {change.new} "
        f"({change.n_new} spans; before: {change.old}, {change.n_old} spans). Bad-output rate "
        f"{pct(data['flag_rate_before'])} before vs {pct(data['flag_rate_after'])} after."
    )
    return make(
        NAME,
        title,
        strength=score.strength,
        layer_hint=layer,
        evidence=change_evidence(change, score),
        detail=detail,
        onset=change.first_new.start_time,
        change=True,
        kind="stage_setting_changed",
        stage=stage,
        key=key,
        old=change.old,
        new=change.new,
        **data,
    )


# ------------------------------------------------------------------ per-request signals
def _norm(text: str | None) -> str:
    return " ".join(unwrap(text or "").split()).lower()


def _altered(ctx: DetectorContext, stage: str, spans: list[Span]) -> Signal | None:
    """Traces where a pass-through stage (it usually returns its input) returned something else. Stages after
    the model's answer are left to the delivery detector."""
    both = [
        s
        for s in spans
        if s.kind not in (SpanKind.tool, SpanKind.retrieval) and s.input_value and s.output_value
    ]
    if len(both) < T.stage_min_pairs:
        return None
    changed = [s for s in both if _norm(s.input_value) != _norm(s.output_value) and not _after_answer(ctx, s)]
    if not changed or len(changed) == len(both):
        return None
    return Signal(stage, "altered", _per_trace(changed), "returned something other than its input")


def _requested(ctx: DetectorContext) -> dict[str, str]:
    """Tool-call id -> the arguments the model asked for, normalised: from its output messages, else from the
    assistant turns a later call replays (the conversation as the client kept it)."""
    if "stages.requested" not in ctx.memo:
        requested: dict[str, str] = {}
        llm = [s for s in ctx.by_id.values() if s.kind == SpanKind.llm]
        for span in llm:
            for message in span.output_messages:
                requested.update((c.id, _args(c.arguments)) for c in message.tool_calls if c.id)
        for span in llm:
            for message in span.input_messages:
                if message.role == "assistant":
                    for call in message.tool_calls:
                        if call.id:
                            requested.setdefault(call.id, _args(call.arguments))
        ctx.memo["stages.requested"] = requested
    return ctx.memo["stages.requested"]  # type: ignore[return-value]


def _args(text: str | None) -> str:
    try:
        return json.dumps(json.loads(text or ""), sort_keys=True)
    except (ValueError, TypeError):
        return _norm(text)


def _rewritten(ctx: DetectorContext, stage: str, spans: list[Span]) -> Signal | None:
    """Traces where a tool ran with arguments other than those of the model's tool call it answers (matched by the
    call id): the code between the model and the tool changed the call, so the model's request was right and the
    system carried out another one."""
    requested = _requested(ctx)
    pairs = [
        (s, requested[s.tool.call_id])
        for s in spans
        if s.tool and s.tool.call_id in requested and s.tool.arguments is not None
    ]
    if len(pairs) < T.stage_min_pairs:
        return None
    changed = [s for s, asked in pairs if _args(s.tool.arguments if s.tool else None) != asked]
    if not changed or len(changed) == len(pairs):
        return None
    return Signal(
        stage, "rewritten", _per_trace(changed), "ran with arguments other than the model's tool call"
    )


def _after_answer(ctx: DetectorContext, span: Span) -> bool:
    answer = ctx.answer_of(span.trace_id)
    return answer is not None and ctx.post_stage(answer) is span


def _counts(span: Span) -> dict[str, float]:
    out = {}
    for key, value in span.attributes.items():
        if isinstance(value, bool):
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(number) and number >= 0:
            out[key] = number
    return out


def _dropped(ctx: DetectorContext, stage: str, spans: list[Span]) -> Signal | None:
    """Of two counts the stage records, one usually equals the other and sometimes fell below it."""
    counts = [(s, _counts(s)) for s in spans]
    keys = sorted({k for _, c in counts for k in c})
    best: tuple[int, str, str, list[Span]] | None = None
    for a in keys:
        for b in keys:
            if a == b:
                continue
            pairs = [(s, c[a], c[b]) for s, c in counts if a in c and b in c]
            if len(pairs) < T.stage_min_pairs:
                continue
            equal = sum(1 for _, x, y in pairs if x == y)
            less = [s for s, x, y in pairs if y < x]
            above = sum(1 for _, x, y in pairs if y > x)
            if above or not less or equal < T.stage_equal_share * len(pairs):
                continue
            if best is None or len(less) > best[0]:
                best = (len(less), a, b, less)
    if best is None:
        return None
    _, total, kept, cut = best
    return Signal(stage, "dropped", _per_trace(cut), f"recorded {kept} below {total}")


def _per_trace(spans: list[Span]) -> list[Span]:
    seen: dict[str, Span] = {}
    for span in spans:
        seen.setdefault(span.trace_id, span)
    return sorted(seen.values(), key=lambda s: s.start_time)


def _signal_finding(ctx: DetectorContext, signal: Signal) -> Finding | None:
    units = [*ctx.baseline_answers, *ctx.answers]
    traces = {s.trace_id for s in signal.spans}
    assoc: Association = associate(ctx, units, traces)
    if assoc.score <= 0:
        return None  # a stage that cut or rewrote healthy and bad traces alike explains nothing
    n_win = sum(1 for u in ctx.answers if u.trace_id in traces)
    n_base = sum(1 for u in ctx.baseline_answers if u.trace_id in traces)
    new = novelty(n_win, len(ctx.answers), n_base, len(ctx.baseline_answers))
    # as common before the window as in it: the stage always did this, so it is not what changed
    strength = (
        ctx.scope_weight(signal.spans[0])
        * T.stage_signal_gain
        * assoc.score
        * (T.stage_old_habit + (1 - T.stage_old_habit) * new)
    )
    first_window = next((s for s in signal.spans if ctx.is_window(s)), signal.spans[0])
    bad = [s for s in signal.spans if ctx.is_flagged(s)]
    example = bad[0] if bad else first_window
    title = f"Stage {signal.stage} {signal.what} in {len(signal.spans)} requests"
    detail = (
        f"{signal.stage} {signal.what}: bad outputs in {assoc.with_flag} of {assoc.with_n} traces where it did "
        f"vs {assoc.without_flag} of {assoc.without_n} where it did not ({n_win} in the window, {n_base} before)."
    )
    if signal.kind == "altered":
        detail += (
            f' Input: "{snippet(unwrap(example.input_value or ""), 120)}"; '
            f'output: "{snippet(unwrap(example.output_value or ""), 120)}".'
        )
    if signal.kind == "rewritten" and example.tool is not None:
        asked = _requested(ctx).get(example.tool.call_id or "", "")
        detail += f' The model asked for {snippet(asked, 120)}; the tool ran with "{snippet(example.tool.arguments or "", 120)}".'
    evidence = [span_ref(example.span_id)] + [span_ref(s.span_id) for s in bad[1:][:2]]
    return make(
        NAME,
        title,
        strength=strength,
        layer_hint=_layer(signal.spans),
        evidence=evidence,
        detail=detail,
        onset=first_window.start_time,
        change=new >= T.stage_new_change,
        kind=f"stage_{signal.kind}",
        stage=signal.stage,
        novelty=round(new, 3),
        association=assoc.as_data(),
        lift=round(assoc.lift, 3),
        association_score=round(assoc.score, 3),
    )
