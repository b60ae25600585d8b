"""Outputs unsupported by, or contradicting, the retrieved context (offline).

Per answer sentence: numbers, amounts and dates that appear in no document, input or tool result; citations and
links to sources that were not retrieved; a sentence that closely matches a document sentence but flips its
polarity (negation cue on one side only); and, with embeddings, sentences far from every document sentence.
Answers given with no retrieved document at all, by a service that normally retrieves, are reported apart
(layer data)."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

from agent.detectors.base import DetectorContext, detector
from agent.detectors.common import make, pct, quote, system_text
from agent.detectors.figures import specific
from agent.detectors.prompt_change import instructions_key, static_units
from agent.detectors.stats import novelty
from agent.detectors.text import (
    NEGATION,
    citations,
    content_tokens,
    jaccard,
    numbers,
    sentences,
    snippet,
    urls,
)
from agent.models import Finding, doc_ref, span_ref
from agent.thresholds import T
from retrieval.trace import Span, SpanKind

NAME = "grounding"
GROUNDING_RULE = re.compile(
    r"\b(?:only|solely|exclusively|strictly)\b[^.\n]{0,60}\b(?:context|documents?|sources?|provided|knowledge|"
    r"policy|policies|information)\b|\bdo not (?:make up|invent|guess|speculate)|\bnever (?:make up|invent|guess)|"
    r"\bif [^.\n]{0,60}(?:do(?:es)? not|don't|doesn't) [^.\n]{0,30}(?:answer|contain|know|say)|"
    r"\b(?:use|base [^.\n]{0,20} on|rely on) (?:only )?the (?:data|information|facts|documents?|sources?|excerpts?|"
    r"context|formulas?)\b[^.\n]{0,40}\b(?:context|provided|below|above|given)\b",
    re.IGNORECASE,
)


@dataclass
class Verdict:
    span: Span
    reasons: list[str] = field(default_factory=list)
    claim: str | None = None  # a verbatim sentence of the output
    doc: str | None = None  # doc ref it contradicts, if any
    kinds: set[str] = field(default_factory=set)  # signatures: the figure, source or sentence at fault

    @property
    def bad(self) -> bool:
        return bool(self.reasons)


@detector(NAME, phase=1)
def detect(ctx: DetectorContext) -> list[Finding]:
    win, base = ctx.answers, ctx.baseline_answers
    if not win:
        return []
    retrieves = any(
        s.kind == SpanKind.retrieval or s.documents for s in [*ctx.spans, *ctx.baseline] if ctx.in_scope(s)
    )
    findings = []
    if retrieves:
        findings += _no_context(ctx, win, base)
    checked_win = [v for a in win if (v := _check(ctx, a)) is not None]
    checked_base = [v for a in base if (v := _check(ctx, a)) is not None]
    _embedding_support(ctx, [*checked_base, *checked_win])
    known = set().union(*(v.kinds for v in checked_base if v.bad))
    bad_win = [v for v in checked_win if v.bad and v.kinds - known]  # the baseline's usual misses are noise
    if bad_win:
        findings.append(_finding(ctx, bad_win, checked_win, _base_rate(checked_base)))
    return findings


def _base_rate(checked: list[Verdict]) -> tuple[int, int]:
    """How often the baseline itself produced a new kind of miss: its second half against its first."""
    half = len(checked) // 2
    seen = set().union(*(v.kinds for v in checked[:half] if v.bad))
    later = checked[half:]
    return sum(1 for v in later if v.bad and v.kinds - seen), len(later)


def _allowed_numbers(ctx: DetectorContext, answer: Span, docs: list) -> frozenset[str]:
    """Figures the model was given: documents, user text, instructions, messages, finished tool results."""
    pieces = [d.content or "" for _, _, d in docs]
    pieces += [answer.user_text, system_text(answer)]
    pieces += [m.content or "" for m in answer.input_messages]
    for s in ctx.before(answer):
        if s.end_time is not None and s.end_time > answer.start_time:
            continue  # an ancestor still running (its output is this very answer)
        if s.tool and s.tool.result:
            pieces.append(s.tool.result)
        pieces.append(s.output_value or "")
    return frozenset().union(*(numbers(p) for p in pieces))


def _check(ctx: DetectorContext, answer: Span) -> Verdict | None:
    docs = ctx.documents_for(answer)
    if not docs:
        return None
    verdict = Verdict(answer)
    allowed = _allowed_numbers(ctx, answer, docs)
    claims = sentences(answer.output_text)[: T.grounding_max_claims]
    doc_sents = [(sid, i, s) for sid, i, d in docs for s in sentences(d.content or "")]
    known_refs = {x.lower() for _, _, d in docs for x in (d.id, d.source) if x}
    known_refs |= set().union(*(urls(d.content or "") for _, _, d in docs))
    for claim in claims:
        extra = sorted(n for n in numbers(claim) - allowed if specific(n))
        if extra:
            verdict.reasons.append(f"figure {extra[0]} appears in no retrieved document")
            verdict.claim = verdict.claim or claim
            verdict.kinds |= {f"figure:{n}" for n in extra}
        refs = {c for c in citations(claim) | urls(claim) if not any(c in k or k in c for k in known_refs)}
        if refs:
            verdict.reasons.append(f"cites {sorted(refs)[0]}, which was not retrieved")
            verdict.claim = verdict.claim or claim
            verdict.kinds |= {f"cites:{r}" for r in refs}
        flip = _polarity_flip(claim, doc_sents)
        if flip:
            verdict.reasons.append("contradicts a retrieved document (negation)")
            verdict.claim = verdict.claim or claim
            verdict.kinds.add("flip:" + " ".join(claim.lower().split()))
            verdict.doc = verdict.doc or flip
    return verdict


def _polarity_flip(claim: str, doc_sents: list[tuple[str, int, str]]) -> str | None:
    words, neg = _polarity(claim)
    if len(words) < T.grounding_flip_min_words:
        return None
    best, best_ref = 0.0, None
    for span_id, index, sent in doc_sents:
        other, other_neg = _polarity(sent)
        sim = jaccard(words, other)
        if sim > best:
            best, best_ref = sim, (doc_ref(span_id, index), other_neg)
    if best_ref and best >= T.grounding_flip_overlap and best_ref[1] != neg:
        return best_ref[0]
    return None


@lru_cache(maxsize=32768)
def _polarity(sentence: str) -> tuple[frozenset[str], bool]:
    """(content words without the negation, whether the sentence is negated)."""
    return content_tokens(NEGATION.sub(" ", sentence)), bool(NEGATION.search(sentence))


def _embedding_support(ctx: DetectorContext, verdicts: list) -> None:
    """With embeddings: an answer most of whose sentences are far from every document sentence is unsupported."""
    if ctx.embed is None or not verdicts:
        return
    step = max(1, len(verdicts) // T.grounding_embed_answers)
    work = []
    for v in verdicts[::step]:
        claims = [c for c in sentences(v.span.output_text)[: T.grounding_max_claims] if _factual(c)]
        doc_sents = [s for _, _, d in ctx.documents_for(v.span) for s in sentences(d.content or "")][
            : T.grounding_embed_doc_sentences
        ]
        if not v.bad and len(claims) >= 2 and doc_sents:
            work.append((v, claims, doc_sents))
    texts = list(dict.fromkeys(t for _, c, d in work for t in [*c, *d]))
    vecs = ctx.vectors(texts) if texts else None
    if vecs is None:
        return
    index = {t: i for i, t in enumerate(texts)}
    for v, claims, doc_sents in work:
        c = vecs[[index[t] for t in claims]]
        d = vecs[[index[t] for t in doc_sents]]
        support = (c @ d.T).max(axis=1)
        weak = [claim for claim, s in zip(claims, support, strict=True) if s < T.grounding_far_cosine]
        if len(weak) * 2 > len(claims):
            v.reasons.append("most sentences are far from every retrieved document")
            v.kinds.add("far:" + " ".join(weak[0].lower().split()))
            v.claim = weak[0]


_NAME = re.compile(r"(?<=\w )[A-Z][\w-]+")


def _factual(claim: str) -> bool:
    """A sentence stating something checkable: a figure or a proper name (not a greeting or a pleasantry)."""
    return bool(numbers(claim) or _NAME.search(claim))


def _layer(bad: list[Verdict], good: list[Verdict]) -> tuple[str, str]:
    """prompt when the bad answers ran under instructions the good ones did not, or under instructions that
    do not require grounding; model when grounded instructions were in place and were not followed."""
    static = static_units(sorted([v.span for v in [*bad, *good]], key=lambda s: s.start_time))
    keys_bad = Counter(instructions_key(system_text(v.span), static) for v in bad)
    keys_good = Counter(instructions_key(system_text(v.span), static) for v in good)
    key, n = keys_bad.most_common(1)[0]
    if (
        good
        and n >= T.grounding_prompt_bad_share * len(bad)
        and keys_good[key] <= T.grounding_prompt_good_share * len(good)
    ):
        return "prompt", "the answers that went wrong ran under instructions the good answers did not use"
    ruled = sum(bool(GROUNDING_RULE.search(system_text(v.span))) for v in bad)
    if ruled * 2 >= len(bad):
        return "model", "the instructions require grounded answers, yet the model departed from the documents"
    return "prompt", "the instructions do not require answers to stay within the retrieved documents"


def _finding(ctx, bad_win, checked_win, base_rate: tuple[int, int]) -> Finding:
    k_base, n_base = base_rate
    new = novelty(len(bad_win), len(checked_win), k_base, n_base)
    bad_ids = {id(v) for v in bad_win}
    layer, why = _layer(bad_win, [v for v in checked_win if id(v) not in bad_ids])
    first = bad_win[0]
    quotes = [
        quote(span_ref(v.span.span_id), snippet(v.claim, 200), "output") for v in bad_win[:3] if v.claim
    ]
    evidence = [span_ref(v.span.span_id) for v in bad_win[:5]] + [v.doc for v in bad_win[:3] if v.doc]
    detail = (
        f"{len(bad_win)} of {len(checked_win)} window answers with retrieved context contain claims the context "
        "does not support, in ways the baseline answers never showed "
        f"({pct(k_base / n_base) if n_base else 'n/a'} of late baseline answers showed a new kind of miss). "
        f"First: {first.reasons[0]}"
    )
    if first.claim:
        detail += f', in "{snippet(first.claim, 200)}"'
    detail += f". Layer {layer}: {why}."
    return make(
        NAME,
        f"Answers unsupported by their retrieved context ({len(bad_win)} of {len(checked_win)} in the window)",
        strength=T.grounding_base + T.grounding_gain * new,
        layer_hint=layer,
        evidence=evidence,
        detail=detail,
        onset=first.span.start_time,
        quotes=quotes,
        kind="unsupported",
        layer_reason=why,
        inputs_checked=layer
        == "model",  # context present and instructions require grounding: inputs were right
        rate_window=round(len(bad_win) / len(checked_win), 3),
        rate_baseline=round(k_base / n_base, 3) if n_base else None,
        novelty=round(new, 3),
        reasons=sorted({r.split(" ", 1)[0] for v in bad_win for r in v.reasons}),
        bad_span_ids=[v.span.span_id for v in bad_win],
    )


def _no_context(ctx: DetectorContext, win: list[Span], base: list[Span]) -> list[Finding]:
    bare_win = [a for a in win if not ctx.documents_for(a) and _has_facts(a)]
    bare_base = [a for a in base if not ctx.documents_for(a) and _has_facts(a)]
    if not bare_win:
        return []
    new = novelty(len(bare_win), len(win), len(bare_base), len(base))
    if new < T.grounding_no_context_novelty:
        return []
    return [
        make(
            NAME,
            f"Answers given without any retrieved document ({len(bare_win)} of {len(win)} in the window)",
            strength=T.grounding_no_context_base + T.grounding_no_context_gain * new,
            layer_hint="data",
            evidence=[span_ref(a.span_id) for a in bare_win[:5]],
            detail=(
                f"{len(bare_win)} window answers state specific facts with no retrieved document in their trace "
                f"({len(bare_base)} of {len(base)} in the baseline)."
            ),
            onset=bare_win[0].start_time,
            quotes=[quote(span_ref(a.span_id), snippet(a.output_text, 160), "output") for a in bare_win[:1]],
            kind="no_context",
            novelty=round(new, 3),
            bad_span_ids=[a.span_id for a in bare_win],
            baseline_bad_span_ids=[a.span_id for a in bare_base],
        )
    ]


def _has_facts(answer: Span) -> bool:
    given = numbers(
        "\n".join([answer.user_text, system_text(answer), *(m.content or "" for m in answer.input_messages)])
    )
    return any(specific(n) for n in numbers(answer.output_text) - given)
