"""Latent conditions: what let a cause found in one layer do harm, named in another layer (phase 3).

A post-mortem's contributing factors are rarely new events; they are standing weaknesses that the trigger
exposed. Each rule here reads the findings of phases 1 and 2 (`ctx.prior`) and the spans, and reports a
weakness only with trace evidence tied to the bad outputs:

- tool failures covered by confident answers, under instructions that say nothing about failures (prompt);
- side-effecting tool calls that carried out the bad answers' decisions without a check (system);
- a guard instruction about what went wrong, removed before the bad outputs ran under the new prompt (prompt): a
  removed guard need not show from its first request (that is a trigger's mark), it waits for what it let through;
- a model change to a fine-tuned model whose outputs went bad: its training data shaped them (data);
- outputs newly cut at the output-token limit after a model or prompt change made them longer (system).

Findings carry `data["latent"] = True`: the classifier lets them name a contributing layer, never the primary.
"""

from __future__ import annotations

import json
import re

from agent.detectors.base import DetectorContext, detector
from agent.detectors.common import make, pct, quote, system_text
from agent.detectors.prompt_change import CONSTRAINT, route_in
from agent.detectors.text import snippet
from agent.detectors.tool_data import json_object
from agent.detectors.tool_errors import error_result
from agent.models import Finding, span_ref
from agent.thresholds import T
from retrieval.trace import Span, SpanKind

NAME = "latent_conditions"
MODEL_KINDS = {"model_changed", "served_model_changed"}
CHANGE_KINDS = {*MODEL_KINDS, "prompt_changed"}

# instructions that tell the model what to do when a tool or lookup fails
FAILURE_RULE = re.compile(
    r"\b(?:fail(?:s|ed|ing|ures?)?|errors?|unavailable|outages?|time[sd]? ?out|timeouts?|not available|"
    r"unable to|can(?:no|')t (?:reach|access|retrieve|get|find)|does(?:n't| not) (?:respond|return|work)|"
    r"no (?:results?|response|data) (?:is|are)? ?(?:returned|available)|if [^.\n]{0,60}\b(?:tool|api|lookup|"
    r"call|service|system)\b[^.\n]{0,40}\b(?:not|no|fails?|down)\b)",
    re.IGNORECASE,
)
# tool names that act on the world (as opposed to reading it)
ACTION_TOOL = re.compile(
    r"(?:^|[._\-\s])(?:create|send|reply|post|pay|charge|transfer|book|cancel|delete|"
    r"remove|update|approve|submit|enroll|grant|publish|write|execute|purchase|reset|assign)"
    r"(?:$|[._\-\s]|[a-z]*(?:$|[._\-\s]))",
    re.IGNORECASE,
)
READ_TOOL = re.compile(
    r"^(?:\w+\.)?(?:get|list|search|fetch|lookup|look_up|read|check|find|query|retrieve)", re.I
)
FINE_TUNE = re.compile(r"(?:^ft:|[:/_-]ft[:/_-]|fine-?tun|\blora\b|[-_]sft\b)", re.IGNORECASE)


@detector(NAME, phase=3)
def detect(ctx: DetectorContext) -> list[Finding]:
    return [
        *_unhandled_failures(ctx),
        *_unchecked_actions(ctx),
        *_removed_guard(ctx),
        *_fine_tune_data(ctx),
        *_output_limit(ctx),
    ]


def _asserts(text: str) -> bool:
    """An answer that states something rather than asking back (a question re-asks; it covers nothing)."""
    return bool(text.strip()) and "?" not in text


def _unhandled_failures(ctx: DetectorContext) -> list[Finding]:
    findings = []
    for trigger in ctx.prior:
        if (
            trigger.data.get("kind") != "tool_error"
            or trigger.strength < T.latent_min_trigger
            or int(trigger.data.get("ignored", 0)) < T.latent_min_cases
        ):
            continue
        ignored = [s for i in trigger.data.get("bad_span_ids", []) if (s := ctx.by_id.get(i)) is not None]
        covering = [a for a in ignored if ctx.is_window(a) and _asserts(ctx.delivered_text(a))]
        if len(covering) < T.latent_min_cases or len(covering) < T.latent_covering_share * len(ignored):
            continue
        instructed = [a for a in covering if system_text(a).strip()]
        if not instructed or any(FAILURE_RULE.search(system_text(a)) for a in instructed):
            continue  # instructions not recorded (cannot tell), or they do cover failures
        share = len(covering) / len(ignored)
        example = instructed[0]
        tool = trigger.data.get("tool", "a tool")
        findings.append(
            make(
                NAME,
                f"Instructions give no fallback for failed tools: {len(covering)} answers covered "
                f"failures of {tool} with confident statements",
                strength=min(
                    T.latent_failure_max,
                    T.latent_failure_base + T.latent_failure_gain * trigger.strength * share,
                ),
                layer_hint="prompt",
                evidence=[
                    span_ref(example.span_id),
                    *trigger.evidence[:1],
                    *(span_ref(a.span_id) for a in covering[1:3]),
                ],
                detail=(
                    f"After {tool} failed, {len(covering)} of {len(ignored)} answers that ignored the failure stated "
                    "an outcome instead of saying the lookup failed or asking again; the instructions these calls "
                    "ran under mention no failure, error or unavailable tool, so nothing told the model what to "
                    f"do then. Trigger: {trigger.title}."
                ),
                quotes=[quote(span_ref(example.span_id), snippet(system_text(example), 200), "system")],
                latent=True,
                kind="no_failure_instructions",
                trigger=trigger.title,
                trigger_detector=trigger.detector,
                covering=len(covering),
                tool=tool,
            )
        )
    return findings


def _tool_failed(span: Span) -> bool:
    result = (span.tool.result if span.tool else None) or ""
    return span.is_error or bool(result and error_result(result))


def _acknowledging_tools(ctx: DetectorContext) -> set[str]:
    """Tools whose results only acknowledge what was done, whatever their name: every field of every result is the
    same each time (status=sent) or new each time (an id, a link), none a value that recurs in some calls and not
    others (the data a lookup returns). Such a tool acts; it returns no data to answer from. (A lookup named as one,
    `get_...`, may return the same value every time: the caller leaves those out.)"""
    values: dict[str, dict[str, list[str]]] = {}
    for span in [*ctx.baseline, *ctx.spans]:
        if span.kind != SpanKind.tool or span.tool is None or _tool_failed(span) or not ctx.in_scope(span):
            continue
        data = json_object(span.tool.result)
        if not data:
            continue
        fields = values.setdefault(span.tool.name or span.name, {})
        for key, value in data.items():
            fields.setdefault(str(key), []).append(json.dumps(value, sort_keys=True))
    out = set()
    for name, fields in values.items():
        calls = max(len(v) for v in fields.values())
        if calls < T.latent_min_cases:
            continue
        if all(len(set(v)) == 1 or len(set(v)) == len(v) for v in fields.values()) and any(
            len(set(v)) == 1 for v in fields.values()
        ):
            out.add(name)
    return out


def _unchecked_actions(ctx: DetectorContext) -> list[Finding]:
    flagged = [a for a in ctx.answers if ctx.is_flagged(a)]
    if len(flagged) < T.latent_min_cases:
        return []
    acted: dict[str, list[Span]] = {}
    acknowledging = _acknowledging_tools(ctx)
    for answer in flagged:
        for span in ctx.traces.get(answer.trace_id, []):
            name = span.tool.name if span.tool and span.tool.name else span.name
            if (
                span.kind == SpanKind.tool
                and ctx.in_scope(span)
                and name
                and not READ_TOOL.search(name)
                and (ACTION_TOOL.search(name) or name in acknowledging)
                and not _tool_failed(span)
            ):
                acted.setdefault(name, []).append(span)
    findings = []
    for name, spans in acted.items():
        traces = {s.trace_id for s in spans}
        share = len(traces) / len(flagged)
        if len(traces) < T.latent_min_cases or share < T.latent_action_share:
            continue
        findings.append(
            make(
                NAME,
                f"Tool {name} carried out the bad answers' decisions unchecked ({len(traces)} of "
                f"{len(flagged)} bad requests)",
                strength=T.latent_action_base + T.latent_action_gain * share,
                layer_hint="system",
                evidence=[span_ref(s.span_id) for s in spans[:3]],
                detail=(
                    f"In {len(traces)} of {len(flagged)} requests whose answers went bad ({pct(share)}), the "
                    f"side-effecting tool {name} ran and succeeded: nothing between the model's decision and the "
                    "action checked it, so the mistake reached the world."
                ),
                latent=True,
                kind="unchecked_action",
                tool=name,
                acted_requests=len(traces),
                bad_requests=len(flagged),
            )
        )
    return findings


def _removed_guard(ctx: DetectorContext) -> list[Finding]:
    flagged = [a for a in ctx.answers if ctx.is_flagged(a)]
    if len(flagged) < T.latent_min_cases:
        return []
    findings = []
    for change in ctx.prior:
        removed = [str(line) for line in change.data.get("removed") or []]
        guards = [line for line in removed if CONSTRAINT.search(line)]
        if (
            change.data.get("kind") != "prompt_changed"
            or not guards
            or not change.data.get("related_terms")
            or float(change.data.get("scope_weight", 1.0)) < 1.0
            or change.onset is None
        ):
            continue
        route = str(change.data.get("route") or "")
        under = [a for a in flagged if a.start_time >= change.onset and route_in(ctx, a) == route]
        share = len(under) / len(flagged)
        if len(under) < T.latent_min_cases or share < T.latent_guard_share:
            continue
        old = next((ref for ref in change.evidence[1:2]), None)
        findings.append(
            make(
                NAME,
                f"A guard instruction was removed from the {route} prompt before {len(under)} of the "
                f"{len(flagged)} bad answers ran without it",
                strength=min(T.latent_failure_max, T.latent_guard_base + T.latent_guard_gain * share),
                layer_hint="prompt",
                evidence=[*([old] if old else []), *(span_ref(a.span_id) for a in under[:2])],
                detail=(
                    f'The edit removed "{snippet(guards[0], 200)}", which is about what went wrong (the reports use '
                    f"{', '.join(map(str, change.data['related_terms'][:4]))}); {len(under)} of the {len(flagged)} bad "
                    f"answers ran without it. Whatever triggered them, nothing in the instructions held them back. "
                    f"Change: {change.title}."
                ),
                quotes=[quote(old, snippet(guards[0], 200), "system")] if old else [],
                latent=True,
                kind="removed_guard",
                trigger=change.title,
                route=route,
                new=change.data.get("new"),
                removed=guards,
                covered=len(under),
            )
        )
    return findings


def _fine_tune_data(ctx: DetectorContext) -> list[Finding]:
    findings = []
    for trigger in ctx.prior:
        new = str(trigger.data.get("new") or "")
        if (
            trigger.data.get("kind") not in MODEL_KINDS
            or not FINE_TUNE.search(new)
            or trigger.strength < T.latent_trigger_strength
            or float(trigger.data.get("effect", 0.0)) < T.latent_fine_tune_effect
        ):
            continue
        findings.append(
            make(
                NAME,
                f"The new model {new} is a fine-tune: the data it was trained on shaped the outputs that went bad",
                strength=T.latent_fine_tune_factor * trigger.strength,
                layer_hint="data",
                evidence=trigger.evidence[:3],
                detail=(
                    f"Bad outputs rose with the switch to {new}, a fine-tuned model; what a fine-tune does "
                    "differently comes from its training examples, so the training set is a contributing factor to "
                    f"audit. Trigger: {trigger.title}."
                ),
                latent=True,
                kind="fine_tune_data",
                trigger=trigger.title,
                model=new,
            )
        )
    return findings


def _output_limit(ctx: DetectorContext) -> list[Finding]:
    cut = next(
        (
            f
            for f in ctx.prior
            if f.data.get("kind") == "output_truncated"
            and float(f.data.get("novelty", 0.0)) >= T.novelty_change
        ),
        None,
    )
    if cut is None or cut.onset is None:
        return []
    triggers = [
        f
        for f in ctx.prior
        if f.data.get("kind") in CHANGE_KINDS
        and f.strength >= T.latent_trigger_strength
        and float(f.data.get("scope_weight", 1.0)) >= 1.0
        and f.onset is not None
        and f.onset <= cut.onset + ctx.horizon
    ]
    if not triggers:
        return []
    trigger = max(triggers, key=lambda f: f.strength)
    novelty = float(cut.data["novelty"])
    limits = ", ".join(map(str, cut.data.get("max_tokens") or [])) or "unrecorded"
    return [
        make(
            NAME,
            f"The output-token limit ({limits}) cut outputs short once {trigger.layer_hint} behaviour changed",
            strength=T.latent_limit_base + T.latent_limit_gain * novelty,
            layer_hint="system",
            evidence=cut.evidence[:3],
            detail=(
                f"{cut.title}, newly ({pct(novelty)} novelty), after: {trigger.title}. The limit set by the "
                "application left no headroom for longer outputs, so the change upstream turned into cut-off "
                "answers."
            ),
            latent=True,
            kind="output_limit",
            trigger=trigger.title,
            max_tokens=cut.data.get("max_tokens") or [],
        )
    ]
