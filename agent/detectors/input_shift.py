"""Input distribution shift between baseline and window: language, length, and topic (embedding novelty:
inputs unlike any baseline input, judged against how unlike each other the baseline inputs are)."""

from __future__ import annotations

from collections import Counter

import numpy as np

from agent.detectors.base import DetectorContext, detector, evenly
from agent.detectors.common import make, pct, request_quote, shift_strength
from agent.detectors.onset import change_point
from agent.detectors.stats import associate, novelty, two_prop_z
from agent.detectors.text import jaccard_matrix, language
from agent.models import Finding, span_ref
from agent.thresholds import T
from retrieval.trace import Span

NAME = "input_shift"


@detector(NAME)
def detect(ctx: DetectorContext) -> list[Finding]:
    win = [a for a in ctx.answers if ctx.request_text(a).strip()]
    base = [a for a in ctx.baseline_answers if ctx.request_text(a).strip()]
    if not base or len(win) < T.input_min_window:
        return []
    # a language's share is a rate: its rise test (rate_z) respects the counts, so a short baseline only makes
    # it harder to pass. Length and topic compare against the baseline's spread (quantiles), which needs a few.
    spread = len(base) >= T.input_min_baseline
    return [*_language(ctx, win, base), *(_length(ctx, win, base) + _topic(ctx, win, base) if spread else [])]


def _effect(ctx: DetectorContext, traces: set[str]) -> tuple[float, dict]:
    assoc = associate(ctx, ctx.answers, traces)
    return (assoc.score if ctx.flags else T.shift_no_symptom_effect), assoc.as_data()


def _onset(spans: list[Span], marked: set[str]) -> Span | None:
    seq = [s.span_id in marked for s in spans]
    i = change_point(seq, min_llr=T.input_onset_llr) or 0
    return next((s for s in spans[i:] if s.span_id in marked), None)


def _finding(ctx, title, detail, hits, base_hits, win, base, kind, **data) -> Finding:
    new = novelty(len(hits), len(win), len(base_hits), len(base))
    effect, assoc = _effect(ctx, {s.trace_id for s in hits})
    first = _onset([*base, *win], {s.span_id for s in hits}) or hits[0]
    return make(
        NAME,
        title,
        strength=shift_strength(new, effect),
        layer_hint="data",
        evidence=[span_ref(first.span_id)] + [span_ref(s.span_id) for s in hits[:3] if s is not first][:2],
        detail=detail,
        onset=first.start_time,
        quotes=[request_quote(ctx, first)],
        change=new >= T.novelty_change,
        kind=kind,
        novelty=round(new, 3),
        **data,
        **assoc,
    )


def _language(ctx: DetectorContext, win: list[Span], base: list[Span]) -> list[Finding]:
    lang = {s.span_id: language(ctx.request_text(s)) for s in [*win, *base]}
    cw = Counter(lang[s.span_id] for s in win)
    cb = Counter(lang[s.span_id] for s in base)
    findings = []
    for code, k in cw.items():
        if code == "und":
            continue
        share_w, share_b = k / len(win), cb[code] / len(base)
        rise_z = two_prop_z(k, len(win), cb[code], len(base))
        if share_w - share_b < T.input_language_rise or rise_z < T.rate_z:
            continue
        hits = [s for s in win if lang[s.span_id] == code]
        base_hits = [s for s in base if lang[s.span_id] == code]
        findings.append(
            _finding(
                ctx,
                f"Inputs in language '{code}' rose to {pct(share_w)} of requests ({pct(share_b)} in the baseline)",
                f"{k} of {len(win)} window inputs are in '{code}' vs {cb[code]} of {len(base)} baseline inputs.",
                hits,
                base_hits,
                win,
                base,
                "language",
                language=code,
                share_window=round(share_w, 3),
                share_baseline=round(share_b, 3),
            )
        )
    return findings


def _length(ctx: DetectorContext, win: list[Span], base: list[Span]) -> list[Finding]:
    lw = np.array([len(ctx.request_text(s).split()) for s in win], dtype=float)
    lb = np.array([len(ctx.request_text(s).split()) for s in base], dtype=float)
    med_w, med_b = float(np.median(lw)), float(np.median(lb))
    ratio = (med_w + 1) / (med_b + 1)
    if T.input_length_low < ratio < T.input_length_high:
        return []
    if ratio >= T.input_length_high:
        cut = float(np.quantile(lb, 1 - T.input_length_tail))
        hits = [s for s, n in zip(win, lw, strict=True) if n > cut]
        base_hits = [s for s, n in zip(base, lb, strict=True) if n > cut]
        word = "longer"
    else:
        cut = float(np.quantile(lb, T.input_length_tail))
        hits = [s for s, n in zip(win, lw, strict=True) if n < cut]
        base_hits = [s for s, n in zip(base, lb, strict=True) if n < cut]
        word = "shorter"
    if not hits:
        return []
    return [
        _finding(
            ctx,
            f"Inputs got {word}: median {med_w:.0f} words vs {med_b:.0f} in the baseline",
            f"{len(hits)} of {len(win)} window inputs are {word} than 90% of baseline inputs.",
            hits,
            base_hits,
            win,
            base,
            "length",
            median_words_window=med_w,
            median_words_baseline=med_b,
        )
    ]


def _similarity(ctx: DetectorContext, a: list[str], b: list[str]) -> tuple[np.ndarray, np.ndarray, str]:
    """(window x baseline, baseline x baseline) similarities of distinct texts: embeddings, else token Jaccard."""
    vecs = ctx.vectors([*a, *b])
    if vecs is not None:
        va, vb = vecs[: len(a)], vecs[len(a) :]
        return va @ vb.T, vb @ vb.T, "embeddings"
    return jaccard_matrix(a, b), jaccard_matrix(b, b), "token overlap"


def _topic(ctx: DetectorContext, win: list[Span], base: list[Span]) -> list[Finding]:
    """Window inputs further from every baseline input than nearly all baseline inputs are from the other
    (distinct) baseline inputs. Repeated texts count once when setting the bar."""
    sw, sb = evenly(win, T.input_sample), evenly(base, T.input_sample)
    text_w = {s.span_id: " ".join(ctx.request_text(s).lower().split()) for s in sw}
    text_b = {s.span_id: " ".join(ctx.request_text(s).lower().split()) for s in sb}
    uniq_b = list(dict.fromkeys(text_b.values()))
    uniq_w = [t for t in dict.fromkeys(text_w.values()) if t not in set(uniq_b)]
    if len(uniq_b) < T.input_min_baseline or not uniq_w:
        return []
    wb, bb, how = _similarity(ctx, uniq_w, uniq_b)
    np.fill_diagonal(bb, -1.0)
    # a margin below the baseline's own outliers
    threshold = float(np.quantile(bb.max(axis=1), T.input_topic_quantile)) - T.input_topic_margin
    novel_texts = {t for t, x in zip(uniq_w, wb.max(axis=1), strict=True) if x < threshold}
    novel_base = {t for t, x in zip(uniq_b, bb.max(axis=1), strict=True) if x < threshold}
    hits = [s for s in sw if text_w[s.span_id] in novel_texts]
    base_hits = [s for s in sb if text_b[s.span_id] in novel_base]
    if not hits or novelty(len(hits), len(sw), len(base_hits), len(sb)) < T.input_topic_novelty:
        return []
    return [
        _finding(
            ctx,
            f"New kinds of requests: {pct(len(hits) / len(sw))} of window inputs are unlike any baseline input",
            f"{len(hits)} of {len(sw)} sampled window inputs are further from every baseline input than 95% of "
            f"distinct baseline inputs are from each other, with a margin ({how}; threshold {threshold:.2f}).",
            hits,
            base_hits,
            sw,
            sb,
            "topic",
            method=how,
            threshold=round(threshold, 3),
            share_window=round(len(hits) / len(sw), 3),
        )
    ]
