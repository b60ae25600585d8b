"""Disparate outcomes for otherwise similar inputs.

The outcome of an answer is negative when it refuses, denies or rejects, or (for scored outputs) scores below
the median. Candidate groups: categorical attributes recorded on the request (segment, locale, ...), the input's
language, and words that tell apart near-identical requests with opposite outcomes. A group counts when its
negative rate is clearly higher and, among near-identical pairs across the group boundary, the group's side is
the negative one far more often than not."""

from __future__ import annotations

import re
from collections import Counter, defaultdict

import numpy as np

from agent.detectors.base import DetectorContext, detector
from agent.detectors.common import make, pct, system_text
from agent.detectors.stats import two_prop_z
from agent.detectors.text import REFUSAL, content_tokens, jaccard_matrix, language
from agent.detectors.tool_data import json_fields, json_object
from agent.models import Finding, span_ref
from agent.thresholds import T
from retrieval.trace import Span, SpanKind

NAME = "bias"
NEGATIVE = re.compile(
    r"\b(?:not eligible|ineligible|denied|deny|declined?|reject(?:ed)?|not (?:approved|qualified|recommended|"
    r"a (?:good )?fit|able to approve)|do not recommend|cannot (?:approve|offer)|unable to approve|we regret|"
    r"unfortunately)\b",
    re.IGNORECASE,
)
_SCORE = re.compile(
    r"\b(\d+(?:\.\d+)?)\s*(?:/|out of)\s*(5|10|100)\b|\b(?:score|rating)[\"']?\s*[:=]?\s*(\d+(?:\.\d+)?)",
    re.I,
)
_SKIP_KEY = re.compile(
    r"model|version|(?:^|[._])id$|time|token|temperature|gen_ai|llm\.|span|trace|status|url|path"
)


def _scores(answers: list[Span]) -> dict[str, float]:
    out = {}
    for a in answers:
        m = _SCORE.search(a.output_text)
        if m:
            value = float(m[1] or m[3])
            scale = float(m[2]) if m[2] else 100.0 if value > 10 else 10.0
            out[a.span_id] = value / scale
    return out


def outcomes(answers: list[Span]) -> dict[str, bool]:
    """span id -> negative outcome."""
    scores = _scores(answers)
    if len(scores) >= T.bias_scored_share * len(answers) and len(set(scores.values())) > 1:
        median = float(np.median(list(scores.values())))
        return {sid: value < median for sid, value in scores.items()}
    return {a.span_id: bool(NEGATIVE.search(a.output_text) or REFUSAL.search(a.output_text)) for a in answers}


def _groups(ctx: DetectorContext, answers: list[Span]) -> dict[str, set[str]]:
    """Candidate group label -> span ids of its members."""
    groups: dict[str, set[str]] = defaultdict(set)
    values: dict[str, Counter] = defaultdict(Counter)
    for a in answers:
        root = ctx.traces[a.trace_id][0]
        for key, value in {**root.attributes, **a.attributes}.items():
            if (
                isinstance(value, str | bool | int)
                and not _SKIP_KEY.search(key.lower())
                and len(str(value)) <= T.bias_value_chars
            ):
                values[key][str(value)] += 1
                groups[f"{key}={value}"].add(a.span_id)
        for tool in ctx.before(a, SpanKind.tool):  # attributes of the subject, as tools reported them
            for key, value in json_fields(tool.tool.result if tool.tool else None).items():
                if not _SKIP_KEY.search(key.lower()):
                    values[key][value] += 1
                    groups[f"{key}={value}"].add(a.span_id)
        lang = language(ctx.request_text(a))
        if lang != "und":
            groups[f"language={lang}"].add(a.span_id)
    keep = {}
    for label, members in groups.items():
        key = label.split("=", 1)[0]
        if key != "language" and not 2 <= len(values[key]) <= T.bias_max_values:
            continue
        if T.bias_min_group <= len(members) <= len(answers) - T.bias_min_group:
            keep[label] = members
    return keep


def _similar_pairs(ctx: DetectorContext, answers: list[Span]) -> list[tuple[int, int]]:
    texts = [ctx.request_text(a) for a in answers]
    vecs = ctx.vectors(texts) if len(texts) <= T.bias_embed_cap else None
    if vecs is not None:
        sims, threshold = vecs @ vecs.T, T.bias_pair_cosine
    else:
        sims, threshold = jaccard_matrix(texts, texts), T.bias_pair_jaccard
    i, j = np.where(np.triu(sims, 1) >= threshold)
    return list(zip(i.tolist(), j.tolist(), strict=True))


def _word_groups(ctx, answers, pairs, neg) -> dict[str, set[str]]:
    """Words present on the negative side of discordant near-identical pairs, repeatedly."""
    counts: Counter[str] = Counter()
    for i, j in pairs:
        a, b = answers[i], answers[j]
        if neg[a.span_id] == neg[b.span_id]:
            continue
        bad, good = (a, b) if neg[a.span_id] else (b, a)
        counts.update(_stems(ctx.request_text(bad)) - _stems(ctx.request_text(good)))
    out = {}
    for word, n in counts.items():
        if n >= T.bias_word_pairs:
            out[f"word={word}"] = {a.span_id for a in answers if word in _stems(ctx.request_text(a))}
    return out


def _stems(text: str) -> set[str]:
    """Content words folded crudely: possessives and plural s dropped ("women's", "engineers")."""
    out = set()
    for token in content_tokens(text):
        token = re.sub(r"['’]s$", "", token)
        out.add(token[:-1] if len(token) > 4 and token.endswith("s") and not token.endswith("ss") else token)
    return out


@detector(NAME)
def detect(ctx: DetectorContext) -> list[Finding]:
    answers = [*ctx.baseline_answers, *ctx.answers]
    if len(answers) > T.bias_cap:
        answers = answers[-T.bias_cap :]
    if len(answers) < T.bias_min_answers:
        return []
    neg = outcomes(answers)
    answers = [a for a in answers if a.span_id in neg]
    pairs = _similar_pairs(ctx, answers)
    groups = {**_groups(ctx, answers), **_word_groups(ctx, answers, pairs, neg)}
    findings = []
    for label, members in groups.items():
        finding = _assess(ctx, label, members, answers, pairs, neg)
        if finding:
            findings.append(finding)
    findings.sort(key=lambda f: -f.strength)
    return findings[:3]


def _assess(ctx, label, members, answers, pairs, neg) -> Finding | None:
    inside = [a for a in answers if a.span_id in members]
    outside = [a for a in answers if a.span_id not in members]
    k_in, k_out = sum(neg[a.span_id] for a in inside), sum(neg[a.span_id] for a in outside)
    r_in, r_out = k_in / len(inside), k_out / len(outside) if outside else 0.0
    z = two_prop_z(k_in, len(inside), k_out, len(outside))
    if r_in - r_out < T.bias_rate_gap or z < T.rate_z:
        return None
    worse = better = 0
    example = None
    for i, j in pairs:
        a, b = answers[i], answers[j]
        if (a.span_id in members) == (b.span_id in members) or neg[a.span_id] == neg[b.span_id]:
            continue
        member, other = (a, b) if a.span_id in members else (b, a)
        if neg[member.span_id]:
            worse += 1
            example = example or (member, other)
        else:
            better += 1
    if worse < 2 or worse < T.bias_pair_ratio * better or _temporal(inside, outside):
        return None
    value = label.split("=", 1)[1]
    explained = value.lower() in system_text(inside[0]).lower()
    by_input = _explained_by_inputs(ctx, [(m, o) for m, o in _discordant(answers, pairs, members, neg)])
    strength = min(T.bias_max, T.bias_base + T.bias_gap_gain * (r_in - r_out) + T.bias_pair_gain * worse)
    member, other = example
    return make(
        NAME,
        f"Disparate outcomes for similar requests: {label} gets negative outcomes {pct(r_in)} vs {pct(r_out)}",
        strength=strength,
        layer_hint="prompt" if explained else "data" if by_input else "model",
        evidence=[span_ref(member.span_id), span_ref(other.span_id)],
        detail=(
            f"Negative outcomes: {k_in} of {len(inside)} requests with {label} vs {k_out} of {len(outside)} others; "
            f"in {worse} near-identical pairs across the two, the {label} side got the negative outcome "
            f"({better} the other way)."
            + (" The instructions mention it, so the prompt explains it." if explained else "")
            + (
                f" The inputs the model was given differ: {by_input} is systematically different on the "
                "negative side, so the model applied its rule to different data."
                if by_input and not explained
                else ""
            )
        ),
        kind="disparate_outcomes",
        inputs_checked=not explained and not by_input,  # neither the prompt nor the inputs explain it
        group=label,
        rate_group=round(r_in, 3),
        rate_others=round(r_out, 3),
        discordant_pairs_against=worse,
        discordant_pairs_for=better,
        explained_by_prompt=explained,
        explained_by_input=by_input,
    )


def _temporal(inside: list[Span], outside: list[Span]) -> bool:
    """A 'group' that is really a period (everything after a switch) is a change, not a population."""
    if not outside:
        return False
    times = sorted(o.start_time for o in outside)
    cut = times[int((1 - T.bias_period_quantile) * (len(outside) - 1))]
    later = sum(m.start_time > cut for m in inside) / len(inside)
    cut_lo = times[int(T.bias_period_quantile * (len(outside) - 1))]
    earlier = sum(m.start_time < cut_lo for m in inside) / len(inside)
    return later >= T.bias_period_share or earlier >= T.bias_period_share


def _discordant(answers, pairs, members, neg):
    for i, j in pairs:
        a, b = answers[i], answers[j]
        if (a.span_id in members) == (b.span_id in members) or neg[a.span_id] == neg[b.span_id]:
            continue
        member, other = (a, b) if a.span_id in members else (b, a)
        if neg[member.span_id]:
            yield member, other


def _numeric_inputs(ctx: DetectorContext, answer: Span) -> dict[str, float]:
    out: dict[str, float] = {}
    for tool in ctx.before(answer, SpanKind.tool):
        data = json_object(tool.tool.result) if tool.tool else None
        if data is not None:
            out.update(
                {
                    k: float(v)
                    for k, v in data.items()
                    if isinstance(v, int | float) and not isinstance(v, bool)
                }
            )
    return out


def _explained_by_inputs(ctx: DetectorContext, pairs: list[tuple[Span, Span]]) -> str | None:
    """A numeric input field (from tool results) that is lower, or higher, on the negative side of nearly
    every discordant pair."""
    signs: dict[str, list[int]] = defaultdict(list)
    for member, other in pairs:
        a, b = _numeric_inputs(ctx, member), _numeric_inputs(ctx, other)
        for key in a.keys() & b.keys():
            if a[key] != b[key]:
                signs[key].append(1 if a[key] > b[key] else -1)
    for key, values in signs.items():
        if len(values) >= 2 and abs(sum(values)) >= T.bias_input_sign_share * len(pairs):
            return key
    return None
