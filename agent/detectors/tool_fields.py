"""A categorical field of a tool's results whose value is new in the window and marks the bad outputs: the
upstream data the answers rest on (a unit, a source, a format tag of some records) changed for part of the
requests. Not a step over time (tool_data.py finds those) but a per-request signal, so it counts only by its
association with the bad outputs (flag rate of traces with the value against traces without it) times how new
the value is: a value as common before the incident is how the data always looked. A field that never took
another value (status=sent after every send) is no category at all: it says only that the tool ran."""

from __future__ import annotations

from collections import defaultdict

from agent.detectors.base import DetectorContext, detector
from agent.detectors.common import make, span_quote
from agent.detectors.stats import associate, novelty
from agent.detectors.tool_data import json_fields
from agent.models import Finding, span_ref
from agent.thresholds import T
from retrieval.trace import Span, SpanKind

NAME = "tool_fields"


def _values(ctx: DetectorContext) -> dict[tuple[str, str, str], list[Span]]:
    """(tool, field, value) -> the in-scope tool spans whose result carries it, in time order."""
    out: dict[tuple[str, str, str], list[Span]] = defaultdict(list)
    for span in sorted([*ctx.baseline, *ctx.spans], key=lambda s: s.start_time):
        if span.kind == SpanKind.tool and span.tool and not span.is_error and ctx.in_scope(span):
            asked = (span.tool.arguments or "").lower()
            for field, value in json_fields(span.tool.result).items():
                if value.lower() not in asked:  # a field echoing the request is the request, not its data
                    out[(span.tool.name or span.name, field, value)].append(span)
    return dict(out)


@detector(NAME)
def detect(ctx: DetectorContext) -> list[Finding]:
    if not ctx.flags:
        return []  # without bad outputs a value marks nothing
    # a short or missing baseline is not a reason to look away: `novelty` caps what it cannot tell new from usual
    values = _values(ctx)
    kinds: dict[tuple[str, str], int] = defaultdict(int)
    for tool, field, _ in values:
        kinds[(tool, field)] += 1
    units = [*ctx.baseline_answers, *ctx.answers]
    best: dict[tuple[str, str], Finding] = {}
    for (tool, field, value), spans in values.items():
        if kinds[(tool, field)] > T.tool_field_max_values or len(spans) < T.stage_min_new:
            continue  # free text or an identifier, not a category; or a one-off
        if kinds[(tool, field)] == 1:
            # the tool never returned another value here (status=sent after every send): the value tells the
            # tool's bad calls from none of its good ones, so its association is only that the tool ran, which
            # for an action is the model's decision, a consequence of what went wrong, not its upstream data
            continue
        traces = {s.trace_id for s in spans}
        assoc = associate(ctx, units, traces)
        n_win = sum(1 for u in ctx.answers if u.trace_id in traces)
        n_base = sum(1 for u in ctx.baseline_answers if u.trace_id in traces)
        new = novelty(n_win, len(ctx.answers), n_base, len(ctx.baseline_answers))
        strength = ctx.scope_weight(spans[0]) * T.tool_field_gain * assoc.score * new
        if strength <= 0:
            continue
        bad = [s for s in spans if ctx.is_flagged(s)]
        first = next((s for s in spans if ctx.is_window(s)), spans[0])
        finding = make(
            NAME,
            f"Tool {tool} results with {field}={value} went with the bad outputs",
            strength=strength,
            layer_hint="data",
            evidence=[span_ref(s.span_id) for s in (bad or [first])[:3]],
            detail=(
                f"{tool} returned {field}={value} in {n_win} window requests and {n_base} before; bad outputs in "
                f"{assoc.with_flag} of {assoc.with_n} traces with it vs {assoc.without_flag} of "
                f"{assoc.without_n} without it."
            ),
            onset=first.start_time,
            quotes=[span_quote((bad or [first])[0], "tool_result")],
            change=new >= T.stage_new_change,
            kind="tool_field_value",
            tool=tool,
            field=field,
            value=value,
            novelty=round(new, 3),
            association=assoc.as_data(),
        )
        key = (tool, field)
        if key not in best or finding.strength > best[key].strength:
            best[key] = finding
    return list(best.values())
