"""The symptom: which LLM outputs were bad. Scored per answer (window and baseline alike, so rates compare):

- the incident names the trace, or a report quotes the output verbatim;
- a phase-1 detector (unsupported claims, obeyed injection, ignored tool error, ...) cited the output;
- an output pattern (refusal, empty, wrong language, cut off) that is clearly more frequent than in baseline;
- it states a figure none of its inputs gave, in a service whose healthy answers do not;
- the output shares terms with the reports that healthy (baseline) outputs rarely use, or is unusually
  close to the reports in embedding space.

An answer is flagged when its score reaches 1.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable

import numpy as np

from agent.detectors.base import DetectorContext, evenly
from agent.detectors.figures import invented
from agent.detectors.output_fields import odd_fields
from agent.detectors.stats import all_clean_chance, novelty, rise_p
from agent.detectors.text import REFUSAL, content_tokens, language, norm, numbers
from agent.models import Finding, span_ref
from agent.thresholds import T
from retrieval.trace import Span

_QUOTE = re.compile(r"[\"“”«»]([^\"“”«»]{8,300})[\"“”«»]|(?<![\w])'([^'\n]{12,300})'(?![\w])")
EMBED_CAP = 150  # window answers embedded for report similarity; the rest get the lexical signals only
BASELINE_CAP = 60
STRONG_FINDING = 0.25


def flag_bad_outputs(ctx: DetectorContext, findings: list[Finding]) -> list[str]:
    """Span ids of window LLM outputs judged bad, in time order (also stored on the context)."""
    ctx.flags = compute_flags(ctx, findings)
    return [s.span_id for s in ctx.answers if s.span_id in ctx.flags]


def compute_flags(ctx: DetectorContext, findings: list[Finding]) -> set[str]:
    answers = [*ctx.baseline_answers, *ctx.answers]
    if not answers:
        return set()
    if "symptoms.patterns" not in ctx.memo:  # independent of the findings: computed once per context
        ctx.memo["symptoms.patterns"] = _patterns(ctx)
    signals: list[tuple[str, dict[str, float]]] = [
        _finding_scores(ctx, findings),
        ("the incident names its trace", dict.fromkeys(_explicit(ctx), 1.0)),
        # the reports describe the window: they mark window answers only (the baseline keeps its own signals)
        ("a report quotes it", dict.fromkeys(_quoted(ctx, ctx.answers), 1.0)),
        *ctx.memo["symptoms.patterns"].items(),  # type: ignore[attr-defined]
        ("a field of it left the range of the baseline's answers", odd_fields(ctx)),
        ("it states figures none of its inputs gave, which healthy answers do not", _invented_figures(ctx)),
        ("it uses terms of the reports that healthy outputs do not", _report_terms(ctx)),
        ("it is unusually close to the reports", _report_similarity(ctx)),
    ]
    score: Counter[str] = Counter()
    for _, values in signals:
        for span_id, value in values.items():
            score[span_id] += value
    flagged = {span_id for span_id, value in score.items() if value >= 0.999}
    window = [a.span_id for a in ctx.answers if a.span_id in flagged]
    ctx.memo["symptoms.sources"] = {
        name: n for name, values in signals if (n := sum(1 for i in window if values.get(i, 0.0) > 0))
    }
    return flagged


def weigh_by_flags(ctx: DetectorContext, findings: list[Finding]) -> list[Finding]:
    """Once the bad outputs are known, a phase-1 finding none of whose candidate outputs (the answers of the requests
    it is about, `request_span_ids`, else the ones it judged bad, `bad_span_ids`) is among them explains none of them. Its strength is scaled by the chance that its n requests would all have stayed clean
    were they as prone to bad outputs as the rest of the window once bad outputs began (`stats.all_clean_chance`,
    p the flagged rate of the other window answers from the first bad one on)."""
    flagged = ctx.flagged_traces()
    if not flagged:
        return findings
    # the rate a cause would have given its requests: that of the window from its first bad answer on (before it,
    # clean requests are what any request was, cause or not)
    first_bad = min((a.start_time for a in ctx.answers if a.trace_id in flagged), default=None)
    if first_bad is None:
        return findings
    out = []
    for finding in findings:
        ids = finding.data.get("request_span_ids") or finding.data.get("bad_span_ids") or []
        traces = {s.trace_id for i in ids if (s := ctx.by_id.get(i)) is not None and ctx.is_window(s)}
        if finding.layer_hint is None or not traces or traces & flagged:
            out.append(finding)
            continue
        others = [a for a in ctx.answers if a.trace_id not in traces and a.start_time >= first_bad]
        p = sum(a.trace_id in flagged for a in others) / len(others) if others else 0.0
        factor = all_clean_chance(len(traces), p)
        data = {**finding.data, "clean_requests": len(traces), "clean_factor": round(factor, 3)}
        out.append(finding.model_copy(update={"strength": finding.strength * factor, "data": data}))
    return out


def how_found(ctx: DetectorContext) -> Finding | None:
    """A finding saying how the bad outputs were found: per signal, how many flagged window answers it marked
    (after `flag_bad_outputs`). No layer: it is the foundation the other findings are weighed against."""
    sources: dict[str, int] = dict(ctx.memo.get("symptoms.sources", {}))  # type: ignore[arg-type]
    flagged = [a for a in ctx.answers if ctx.flags and a.span_id in ctx.flags]
    if not flagged:
        return None
    ranked = sorted(sources.items(), key=lambda kv: -kv[1])
    return Finding(
        detector="symptoms",
        title=f"{len(flagged)} of {len(ctx.answers)} answers in the window were judged bad",
        detail="Marked because " + "; ".join(f"{reason} ({n})" for reason, n in ranked) + ".",
        layer_hint=None,
        strength=0.0,
        evidence=[span_ref(a.span_id) for a in flagged[:3]],
        data={
            "kind": "bad_outputs",
            "sources": dict(ranked),
            "flagged": len(flagged),
            "answers": len(ctx.answers),
        },
    )


def pattern_flags(ctx: DetectorContext) -> dict[str, Callable[[Span], bool]]:
    """Per-output anomalies that count as a symptom only when they became more frequent than in baseline."""
    return {
        "refusal": lambda s: bool(REFUSAL.search(ctx.delivered_text(s))),
        "cut_off": lambda s: any(
            r.lower() in {"length", "max_tokens", "max_output_tokens"} for r in s.finish_reasons
        ),
        "error": lambda s: s.is_error,
        "wrong_language": lambda s: _wrong_language(ctx, s),
        "very_short": lambda s: len(s.output_text.split()) < 3,
    }


def _wrong_language(ctx: DetectorContext, span: Span) -> bool:
    asked, answered = language(ctx.request_text(span)), language(ctx.delivered_text(span))
    return "und" not in (asked, answered) and asked != answered


def _finding_scores(ctx: DetectorContext, findings: list[Finding]) -> tuple[str, dict[str, float]]:
    """("a detector found it wrong (names)", answer span id -> the strongest such judgement)."""
    out: dict[str, float] = {}
    names: set[str] = set()
    for finding in findings:
        # how sure the detector is that its outputs were bad (may differ from how much it explains the incident)
        sure = float(finding.data.get("symptom_strength", finding.strength))
        weight = 1.0 if sure >= STRONG_FINDING else 0.5 if sure >= 0.1 else 0.0
        if not weight:
            continue
        ids = [*finding.data.get("bad_span_ids", []), *finding.data.get("baseline_bad_span_ids", [])]
        for span_id in ids:
            span = ctx.by_id.get(span_id)
            answer = ctx.answer_of(span.trace_id) if span else None
            if answer is not None:
                out[answer.span_id] = max(out.get(answer.span_id, 0.0), weight)
                names.add(finding.detector)
    return f"a detector found it wrong ({', '.join(sorted(names))})", out


def _explicit(ctx: DetectorContext) -> list[str]:
    wanted = {t.lower() for t in ctx.incident.trace_ids}
    return [a.span_id for a in ctx.answers if a.trace_id.lower() in wanted]


def report_texts(ctx: DetectorContext) -> list[str]:
    """What people said went wrong: the reports, and the description (written from them)."""
    texts = [r.text for r in ctx.incident.reports if r.text and r.text.strip()]
    if ctx.incident.description.strip():
        texts.append(ctx.incident.description)
    return texts


def quotes(ctx: DetectorContext) -> list[str]:
    """Quoted phrases of the reports and description (at least three words)."""
    out = []
    for text in [*report_texts(ctx), ctx.incident.description]:
        for a, b in _QUOTE.findall(text or ""):
            phrase = norm(a or b)
            if len(phrase.split()) >= 3:
                out.append(phrase.lower())
    return out


def _quoted(ctx: DetectorContext, answers: list[Span]) -> list[str]:
    """Answers containing a quoted phrase; an elided quote ("a ... b") needs each part, in order."""
    phrases = [[p for p in re.split(r"\s*(?:\.\.\.|…)\s*", q) if len(p.split()) >= 2] for q in quotes(ctx)]
    phrases = [parts for parts in phrases if parts]
    if not phrases:
        return []
    out = []
    for a in answers:
        # a report may quote what the bot said, or what the user sent it
        text = norm("\n".join([ctx.delivered_text(a), a.output_text, ctx.request_text(a)])).lower()
        if any(_in_order(text, parts) for parts in phrases):
            out.append(a.span_id)
    return out


def _in_order(text: str, parts: list[str]) -> bool:
    pos = 0
    for part in parts:
        pos = text.find(part, pos)
        if pos < 0:
            return False
        pos += len(part)
    return True


def _patterns(ctx: DetectorContext) -> dict[str, dict[str, float]]:
    """Per output pattern that became more frequent than in baseline: its outputs (window and baseline)."""
    out: dict[str, dict[str, float]] = {}
    for name, check in pattern_flags(ctx).items():
        win = [a.span_id for a in ctx.answers if check(a)]
        base = [a.span_id for a in ctx.baseline_answers if check(a)]
        n_win, n_base = len(ctx.answers), len(ctx.baseline_answers)
        new = novelty(len(win), n_win, len(base), n_base)
        # a significant rise also counts when the baseline is too short for the interval test to see it
        risen = rise_p(len(win), n_win, len(base), n_base) < T.symptom_rise_p and len(win) * n_base >= (
            T.symptom_rise_ratio * len(base) * n_win
        )
        if new >= 0.3 or risen:  # clearly more frequent than before: a symptom on its own from novelty 0.5
            label = f"more often {name.replace('_', ' ')} than in the baseline"
            out[label] = dict.fromkeys([*win, *base], 1.0 if new >= 0.5 or risen else 0.7)
    return out


def _invented_figures(ctx: DetectorContext) -> dict[str, float]:
    """Answers stating a figure (an amount, an account number, a date) that none of their inputs gave, when the
    service's healthy answers do not: each such answer is wrong on its own, whatever the window's rate. A figure a
    healthy answer also stated (a fee it always quotes) is how the service answers; where its healthy answers
    compute, convert or recall figures often, a figure of their own marks nothing."""
    base = ctx.baseline_answers
    if len(base) < T.figures_min_baseline:
        return {}
    own = [set(figures) for a in base if (figures := invented(ctx, a))]
    if len(own) > T.figures_baseline_share * len(base):
        return {}
    known = set().union(
        *own
    )  # a figure a healthy answer also stated (a fee it always quotes) is how it answers
    return {a.span_id: 1.0 for a in ctx.answers if set(invented(ctx, a)) - known}


def _terms(text: str) -> set[str]:
    return content_tokens(text) | {n for n in numbers(text) if len(n.lstrip("-")) >= 2}


def _specific_number(term: str) -> bool:
    """A figure specific enough to identify an output on its own: three or more significant digits."""
    digits = term.lstrip("-").replace(".", "")
    return digits.isdigit() and len(digits.strip("0")) >= 3


def _report_terms(ctx: DetectorContext) -> dict[str, float]:
    """Terms of the reports that healthy outputs never or rarely use, found in an output: 0.5 each, fewer than
    three never flag an output alone -- except a specific figure (a price, an amount) no healthy output gave."""
    reports = report_texts(ctx)
    if not reports:
        return {}
    reference = ctx.baseline_answers or ctx.answers
    df: Counter[str] = Counter()
    for a in reference:
        df.update(_terms(ctx.delivered_text(a)))
    n = len(reference)
    wanted: set[str] = set()
    for text in reports:
        wanted |= _terms(text)
    rare = {t for t in wanted if df[t] / n <= 0.05}
    if not rare:
        return {}
    # a term every window output uses is the topic, not the symptom
    win_df: Counter[str] = Counter()
    for a in ctx.answers:
        win_df.update(_terms(ctx.delivered_text(a)) & rare)
    rare = {t for t in rare if win_df[t] <= 0.8 * max(1, len(ctx.answers))}
    figures = {t for t in rare if _specific_number(t) and (df[t] == 0 or not ctx.baseline_answers)}
    out: dict[str, float] = {}
    named = {t for t in wanted if _specific_number(t)}  # an order, patient or ticket number the reports name
    for a in ctx.answers:
        hits = _terms(ctx.delivered_text(a)) & rare
        if hits & figures or named & numbers(ctx.request_text(a)):
            out[a.span_id] = 1.0
        elif hits:
            weight = sum(min(1.0, math.log((n + 1) / (df[t] + 1)) / math.log(20)) for t in hits)
            out[a.span_id] = min(1.0 if len(hits) >= 3 else 0.8, 0.5 * weight)
    return out


def _report_similarity(ctx: DetectorContext) -> dict[str, float]:
    """Embedding similarity of outputs to the reports, against the baseline outputs' similarity."""
    reports = report_texts(ctx)
    if not reports or ctx.embed is None or not ctx.answers:
        return {}
    win = _cap(ctx.answers, EMBED_CAP, reports)
    base = evenly(ctx.baseline_answers, BASELINE_CAP)
    rep = ctx.vectors(reports)
    out_vecs = ctx.vectors([ctx.delivered_text(a) for a in [*base, *win]])
    if rep is None or out_vecs is None:
        return {}
    sims = (out_vecs @ rep.T).max(axis=1)
    base_sims, win_sims = sims[: len(base)], sims[len(base) :]
    if len(base_sims) >= 10:
        null_hi = float(np.quantile(base_sims, 0.95))
    elif len(base_sims) >= T.symptom_similarity_short_baseline:
        # a short baseline: its highest similarity (a healthy output passes it 1 time in n+1); the window's own
        # spread holds the bad outputs and moves with whatever else the window holds
        null_hi = float(base_sims.max())
    else:
        med = float(np.median(win_sims))
        null_hi = med + 2.5 * float(np.median(np.abs(win_sims - med)) + 1e-3)
    out: dict[str, float] = {}
    for span, sim in zip(win, win_sims, strict=True):
        if sim >= max(0.35, null_hi + 0.08):
            out[span.span_id] = 0.6
        elif sim >= max(0.3, null_hi):
            out[span.span_id] = 0.4
    return out


def _cap(spans: list[Span], cap: int, reports: list[str]) -> list[Span]:
    """All spans when few; else the ones sharing most terms with the reports."""
    if len(spans) <= cap:
        return spans
    wanted = set().union(*(_terms(r) for r in reports))
    ranked = sorted(spans, key=lambda s: -len(_terms(s.output_text) & wanted))
    return sorted(ranked[:cap], key=lambda s: s.start_time)
