"""Matched pairs: the same question about cases whose facts, as the tools reported them, agree on everything but
one label (a name, an id), answered the same way every time for each case and differently across the cases.

The audit a fairness reviewer runs by hand ("same income, same score, same debt ratio, half the limit"): when the
model was given the same question and the same facts, and only the label differed, its inputs were right on both
sides, so the difference is the model's own behaviour (`inputs_checked`). Structural only:
- a fact is a scalar field of a tool result read before the answer;
- requests match when their text is the same once digits and the label's values are masked;
- an answer's decision is the figures it states that none of its inputs gave (an echoed figure decides nothing)
  and whether it refused or denied;
- each case must answer consistently (answers that vary for one case are sampling, which the sampling detector
  weighs), and the differing groups must hold a bad output;
- the label must belong to one case: a value that recurs across groups of different facts is a category (a region,
  a tier) that may rightly decide the answer, not who the case is about.
"""

from __future__ import annotations

import re
from collections import defaultdict

from agent.detectors.base import DetectorContext, detector
from agent.detectors.bias import NEGATIVE
from agent.detectors.common import make, span_quote
from agent.detectors.text import REFUSAL, numbers
from agent.detectors.tool_data import json_object
from agent.models import Finding, span_ref
from agent.thresholds import T
from retrieval.trace import Span, SpanKind

NAME = "matched_pairs"
_NUMBER = re.compile(r"^-?\d+(?:[.,]\d+)?$")  # a fact whose whole value is a number


def _facts(ctx: DetectorContext, answer: Span) -> dict[str, str]:
    """Scalar fields of the tool results read before the answer (numbers included), keyed by tool and field."""
    out: dict[str, str] = {}
    for tool in ctx.before(answer, SpanKind.tool):
        if tool.tool is None or tool.is_error or not ctx.in_scope(tool):
            continue
        data = json_object(tool.tool.result)
        if data is not None:
            name = tool.tool.name or tool.name
            out.update(
                {f"{name}.{k}": str(v) for k, v in data.items() if isinstance(v, str | int | float | bool)}
            )
    return out


def _request_key(ctx: DetectorContext, answer: Span, masked: list[str]) -> str:
    text = ctx.request_text(answer).lower()
    for value in sorted(masked, key=len, reverse=True):
        if value:
            text = text.replace(value.lower(), " ")
    return " ".join(re.sub(r"\d+", "#", text).split())


def _signature(ctx: DetectorContext, answer: Span, facts: dict[str, str]) -> tuple:
    """What an answer decided: the figures it states that none of its inputs gave (a figure copied from the
    request or a tool result is an echo, not a decision), and whether it refused or denied."""
    given = frozenset().union(*(numbers(text) for text in [ctx.request_text(answer), *facts.values()]))
    stated = numbers(answer.output_text)
    return tuple(sorted(stated - given)), bool(
        NEGATIVE.search(answer.output_text) or REFUSAL.search(answer.output_text)
    )


@detector(NAME)
def detect(ctx: DetectorContext) -> list[Finding]:
    if not ctx.flags:
        return []  # without bad outputs there is nothing to tie a difference to
    facts = {a.span_id: _facts(ctx, a) for a in ctx.answers}
    labels = {k for fields in facts.values() for k, v in fields.items() if not _NUMBER.match(v)}
    best: tuple[str, list[tuple[Span, Span]], int] | None = None
    for label in sorted(labels):
        discordant, matched = _by_label(ctx, facts, label)
        if len(discordant) >= T.matched_min_pairs and (best is None or len(discordant) > len(best[1])):
            best = (label, discordant, matched)
    if best is None:
        return []
    label, discordant, matched = best
    discordant.sort(key=lambda pair: not ctx.is_flagged(pair[0]))
    share = len(discordant) / matched
    strength = min(T.matched_max, T.matched_gain * share * min(1.0, len(discordant) / T.matched_full_pairs))
    bad, good = discordant[0]
    return [
        make(
            NAME,
            f"Matched requests answered differently: in {len(discordant)} groups the same question about cases "
            f"with the same facts but another {label} got a different answer for each",
            strength=strength,
            layer_hint="model",
            evidence=[span_ref(bad.span_id), span_ref(good.span_id)]
            + [span_ref(b.span_id) for b, _ in discordant[1:3]],
            detail=(
                f"{len(discordant)} of {matched} groups of requests asked the same question about cases whose tool "
                f"results agree on every field but {label} ({facts[bad.span_id][label]} on the bad side, "
                f"{facts[good.span_id][label]} on the good one); each answered the same way every time it was "
                "asked, and differently from the other. The model was given the same inputs on both sides but that "
                "one."
            ),
            quotes=[span_quote(bad, "output"), span_quote(good, "output")],
            kind="matched_pairs_discordant",
            inputs_checked=True,
            field=label,
            discordant_groups=len(discordant),
            matched_groups=matched,
        )
    ]


def _by_label(
    ctx: DetectorContext, facts: dict[str, dict[str, str]], label: str
) -> tuple[list[tuple[Span, Span]], int]:
    """(one answer pair per group whose cases were answered differently, a bad one first where the group has one;
    matched groups) for cases that differ only in `label`."""
    groups: dict[tuple, list[Span]] = defaultdict(list)
    for answer in ctx.answers:
        fields = facts[answer.span_id]
        if label not in fields:
            continue
        shared = tuple(sorted((k, v) for k, v in fields.items() if k != label))
        if len(shared) < T.matched_min_fields or not any(_NUMBER.match(v) for _, v in shared):
            continue
        groups[(shared, _request_key(ctx, answer, [fields[label]]))].append(answer)
    # a label whose values recur across groups of different facts is a category (a region, a tier) that may
    # rightly decide the answer; a name or an id belongs to one case, so a different answer for it is disparity
    seen_in: dict[str, set[tuple]] = defaultdict(set)
    for key, members in groups.items():
        for a in members:
            seen_in[facts[a.span_id][label]].add(key)
    if any(len(keys) > 1 for keys in seen_in.values()):
        return [], 0
    discordant: list[tuple[Span, Span]] = []
    matched = 0
    for members in groups.values():
        answers_of: dict[str, list[Span]] = defaultdict(list)
        for a in members:
            answers_of[facts[a.span_id][label]].append(a)
        if len(answers_of) < 2:
            continue
        matched += 1
        signatures = {
            value: {_signature(ctx, a, facts[a.span_id]) for a in answers}
            for value, answers in answers_of.items()
        }
        # each case answered consistently (not sampling noise) and the cases differently: the label, not the facts
        # or the luck of the draw, decided the answer
        if any(len(sigs) > 1 for sigs in signatures.values()):
            continue
        if len({next(iter(sigs)) for sigs in signatures.values()}) < 2:
            continue
        ordered = sorted(members, key=lambda a: (not ctx.is_flagged(a), a.start_time))
        first = ordered[0]
        other = next(a for a in ordered if facts[a.span_id][label] != facts[first.span_id][label])
        discordant.append((first, other))
    if not any(ctx.is_flagged(a) for a, _ in discordant):
        return [], matched  # the differences must reach the bad outputs (flags may mark only some of them)
    return discordant, matched
