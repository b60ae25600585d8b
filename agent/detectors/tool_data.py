"""Upstream data changes seen through tools: the same tool called with the same arguments started returning
different data (a feed import, a schema or unit change). Volatile fields (timestamps, request ids) are ignored."""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict

from agent.detectors.base import DetectorContext, detector
from agent.detectors.changes import Change, change_evidence, find_changes, score_change
from agent.detectors.common import make, pct, span_quote, when
from agent.detectors.stats import associate, step_effect
from agent.detectors.text import numbers
from agent.models import Finding, span_ref
from retrieval.trace import Span, SpanKind

NAME = "tool_data"
_VOLATILE = re.compile(
    r"time|date|_at$|^at$|request_?id|trace|span|nonce|latency|elapsed|duration|etag", re.I
)
_STAMP = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?|\b[0-9a-f]{8}-[0-9a-f-]{27}\b"
)


def _canonical(text: str | None) -> str:
    raw = (text or "").strip()
    try:
        data = json.loads(raw)
    except ValueError:
        return _STAMP.sub("#", raw)

    def clean(x: object) -> object:
        if isinstance(x, dict):
            return {k: clean(v) for k, v in sorted(x.items()) if not _VOLATILE.search(str(k))}
        if isinstance(x, list):
            return [clean(v) for v in x]
        return x

    return json.dumps(clean(data), sort_keys=True)


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:10]


@detector(NAME)
def detect(ctx: DetectorContext) -> list[Finding]:
    groups: dict[tuple[str, str], list[tuple[Span, str]]] = defaultdict(list)
    for span in [*ctx.baseline, *ctx.spans]:
        if (
            span.kind == SpanKind.tool
            and span.tool
            and span.tool.result
            and not span.is_error
            and ctx.in_scope(span)
        ):
            key = (span.tool.name or span.name, _canonical(span.tool.arguments))
            groups[key].append((span, _digest(_canonical(span.tool.result))))
    by_tool: dict[str, list[Change]] = defaultdict(list)
    for (tool, args), items in groups.items():
        by_tool[tool].extend(find_changes(items, group=args))
    findings = [f for tool, changes in by_tool.items() if changes and (f := _finding(ctx, tool, changes))]
    return findings + _field_changes(ctx)


def json_object(result: str | None) -> dict | None:
    """A tool result's JSON object, also when it was recorded as a JSON string (a call's serialised return value,
    as some instrumentations write it); None when it is not one."""
    try:
        data = json.loads(result or "")
        if isinstance(data, str):
            data = json.loads(data)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def json_fields(result: str | None) -> dict[str, str]:
    """Top-level scalar fields of a JSON object result (volatile ones left out)."""
    data = json_object(result)
    if data is None:
        return {}
    return {
        str(k): str(v)
        for k, v in data.items()
        if isinstance(v, str | bool) and not _VOLATILE.search(str(k)) and len(str(v)) <= 60
    }


def _field_changes(ctx: DetectorContext) -> list[Finding]:
    """A categorical field of a tool's results (a model, basis, source or version tag, shared by different
    requests) switching value."""
    per_field: dict[tuple[str, str], list[tuple[Span, str]]] = defaultdict(list)
    per_args: dict[tuple[str, str], dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    calls: dict[str, int] = defaultdict(int)
    for span in [*ctx.baseline, *ctx.spans]:
        if span.kind == SpanKind.tool and span.tool and not span.is_error and ctx.in_scope(span):
            name = span.tool.name or span.name
            calls[name] += 1
            args = _canonical(span.tool.arguments)
            for field, value in json_fields(span.tool.result).items():
                per_field[(name, field)].append((span, value))
                per_args[(name, field)][args].add(value)
    findings = []
    for (tool, field), items in per_field.items():
        values = {v for _, v in items}
        if not 2 <= len(values) <= 5 or len(items) < max(6, 0.5 * calls[tool]):
            continue
        for change in find_changes(items, group=f"{tool}.{field}", min_count=3):
            after = [v for sp, v in items if sp.start_time >= change.first_new.start_time]
            if sum(v == change.old for v in after) > 0.2 * len(after):
                continue  # values that alternate per request are data, not a switch
            groups = per_args[(tool, field)]
            if len(groups) > 1 and any(
                sum(v in g for g in groups.values()) < 2 for v in (change.old, change.new)
            ):
                continue  # a value tied to one request (an order's item), not a tag shared across requests
            score = score_change(ctx, change)
            findings.append(
                make(
                    NAME,
                    f"Tool {tool} results switched {field} from {change.old} to {change.new}",
                    strength=score.strength,
                    layer_hint="data",
                    evidence=change_evidence(change, score),
                    detail=(
                        f"From {when(change.first_new.start_time)} {tool} returned {field}={change.new} "
                        f"({change.n_new} calls; before: {change.old}, {change.n_old} calls): the upstream data "
                        "the answers rest on changed."
                    ),
                    onset=change.first_new.start_time,
                    quotes=[span_quote(change.first_new, "tool_result")],
                    change=True,
                    kind="tool_field_changed",
                    tool=tool,
                    field=field,
                    old=change.old,
                    new=change.new,
                    **score.as_data(),
                )
            )
    return findings


def _finding(ctx: DetectorContext, tool: str, changes: list[Change]) -> Finding | None:
    changes.sort(key=lambda c: c.first_new.start_time)
    first = changes[0]
    traces = {s.trace_id for c in changes for s in c.new_spans}
    assoc = associate(ctx, ctx.answers, traces)
    _, step = step_effect(ctx, first.first_new.start_time)
    effect = max(assoc.score, step) if ctx.flags else 0.2
    scope = ctx.scope_weight(first.first_new)
    old_nums = numbers(first.last_old.tool.result or "") if first.last_old and first.last_old.tool else set()
    new_nums = numbers(first.first_new.tool.result or "") if first.first_new.tool else set()
    ratio = _ratio(sorted(old_nums - new_nums), sorted(new_nums - old_nums))
    example = next((u for u in ctx.answers if u.trace_id in traces and ctx.is_flagged(u)), None)
    evidence = [span_ref(first.first_new.span_id)]
    if first.last_old:
        evidence.append(span_ref(first.last_old.span_id))
    if example and effect >= 0.3:
        evidence.append(span_ref(example.span_id))
    detail = (
        f"{len(changes)} distinct {tool} requests got different results than before for the same arguments, "
        f"first at {when(first.first_new.start_time)}. Answers using the changed results were flagged "
        f"{pct(assoc.with_flag / assoc.with_n) if assoc.with_n else 'n/a'} of the time, others "
        f"{pct(assoc.without_flag / assoc.without_n) if assoc.without_n else 'n/a'}."
    )
    if ratio:
        detail += f" Figures changed by about x{ratio:g}."
    return make(
        NAME,
        f"Tool {tool} returned different data for the same requests from {when(first.first_new.start_time)}",
        strength=scope * (0.15 + 0.75 * effect),
        layer_hint="data",
        evidence=evidence,
        detail=detail,
        onset=first.first_new.start_time,
        quotes=[span_quote(first.first_new, "tool_result")],
        change=True,
        kind="tool_data_changed",
        tool=tool,
        changed_requests=len(changes),
        value_ratio=ratio,
        **assoc.as_data(),
    )


def _ratio(old: list[str], new: list[str]) -> float | None:
    """The factor between the first changed figures, when they differ by a clean order of magnitude or so."""
    try:
        a, b = float(old[0]), float(new[0])
    except (IndexError, ValueError):
        return None
    if a == 0 or b == 0:
        return None
    r = b / a if abs(b) >= abs(a) else -a / b
    return round(r, 2)
