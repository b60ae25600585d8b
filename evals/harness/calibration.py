"""What a user asks of a verdict beyond "was it right": does it favour one layer, and do its stated odds mean
anything? Layer shares beside the gold shares; Brier scores of the stated layer probabilities against a constant
prior, as stated and cross-validated; reliability tables.

The offline draft states a probability per layer (agent/layer_probability.py: a softmax of the classifier's
layer scores with a bonus for the primary, two values fitted on dev). Fitted and scored on the same cases, its
Brier score flatters it; so the mapping is also fitted again on all cases but a held-out part and scored on that
part, in 10 folds and leaving out one case family at a time, each beside a constant prior learnt on the same
training part. Runs that state no probabilities (an LLM provider) are scored through CONFIDENCE_PROB.

Two Brier scores: multi-class over the four layers (0 best, 2 worst; the constant prior is the gold shares) and
for the primary layer alone (is the named primary right, given its stated probability; the constant prior is the
accuracy).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np
from pydantic import BaseModel

from agent.layer_probability import probabilities
from agent.models import LAYERS

# The probability a stated confidence stands for when a run states no probabilities (an LLM provider's verdict).
CONFIDENCE_PROB: dict[str, tuple[float, str]] = {
    "confirmed": (
        0.9,
        "the classifier says the evidence establishes the layer: right about nine times in ten",
    ),
    "likely": (0.7, "more probable than not, with room for a rival layer"),
    "inconclusive": (0.4, "named, but barely above the four-way chance of 0.25"),
}
# A verdict share above this multiple of the gold share is flagged as a bias toward that layer.
SHARE_FLAG_RATIO = 1.3
NONE = "none"
FOLDS = 10
# the grid the mapping's two values are fitted on (agent/thresholds.py probability_score_gain, _primary_bonus)
GAINS = np.arange(0.0, 8.01, 0.25)
BONUSES = np.arange(0.0, 5.01, 0.1)
BINS = (0.0, 0.4, 0.6, 0.8, 1.0001)


class ReliabilityRow(BaseModel):
    confidence: (
        str  # confirmed, likely, inconclusive, none (no primary named), or a probability bin "0.6-0.8"
    )
    stated: float | None  # the mean probability stated for the primary (None when no primary was named)
    cases: int
    correct: int

    @property
    def observed(self) -> float | None:
        return round(self.correct / self.cases, 4) if self.cases else None


class Brier(BaseModel):
    """One way of scoring the stated probabilities, beside the constant prior scored the same way."""

    how: str  # "as stated", "10-fold", "leave one family out"
    cases: int
    layers: float  # multi-class Brier over the four layers
    layers_prior: float  # the gold shares (of the training part) for every case
    primary: float  # the primary's stated probability against whether it is right
    primary_prior: float  # the accuracy (of the training part) for every case


class Calibration(BaseModel):
    verdict_share: dict[str, float]  # layer (or "none") -> share of cases where it was named primary
    gold_share: dict[str, float]  # layer -> share of cases where it is the gold primary
    over_named: list[str]  # layers whose verdict share exceeds SHARE_FLAG_RATIO x their gold share
    brier: float | None = None  # multi-class Brier of the stated probabilities (0 best, 2 worst)
    brier_prior: float | None = None  # the same for a constant prior (the gold shares), every case
    scores: list[Brier] = []  # as stated, cross-validated in folds, leaving out one family
    fitted: tuple[float, float] | None = None  # (gain, bonus) fitted on all these cases
    reliability: list[ReliabilityRow] = []  # by stated confidence
    reliability_bins: list[ReliabilityRow] = []  # by the primary's stated probability


class Row(BaseModel):
    """One case as the calibration sees it."""

    gold: str
    primary: str | None
    scores: dict[str, float] | None = None  # the classifier's layer scores (offline drafts)
    stated: dict[str, float]  # the probabilities the draft states (or its confidence stands for)
    family: str = ""


def distribution(primary: str | None, confidence: str | None) -> dict[str, float]:
    """The layer probabilities a confidence label stands for: its probability on the primary, the rest spread
    evenly; no primary named states nothing (uniform)."""
    if primary is None or confidence not in CONFIDENCE_PROB:
        return {layer: 1.0 / len(LAYERS) for layer in LAYERS}
    p = CONFIDENCE_PROB[confidence][0]
    rest = (1.0 - p) / (len(LAYERS) - 1)
    return {layer: p if layer == primary else rest for layer in LAYERS}


def brier(dist: Mapping[str, float], gold: str) -> float:
    return sum((dist.get(layer, 0.0) - (1.0 if layer == gold else 0.0)) ** 2 for layer in LAYERS)


def shares(values: Sequence[str | None], keys: Sequence[str]) -> dict[str, float]:
    counts = Counter(v or NONE for v in values)
    n = len(values)
    return {k: round(counts[k] / n, 4) if n else 0.0 for k in keys}


def _arrays(rows: Sequence[Row]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(layer scores n x 4, one-hot primary n x 4, one-hot gold n x 4)."""
    scores = np.array([[(r.scores or {}).get(layer, 0.0) for layer in LAYERS] for r in rows], dtype=float)
    primary = np.array([[float(r.primary == layer) for layer in LAYERS] for r in rows])
    gold = np.array([[float(r.gold == layer) for layer in LAYERS] for r in rows])
    return scores, primary, gold


def fit(rows: Sequence[Row]) -> tuple[float, float]:
    """The (gain, bonus) of agent/layer_probability.py that minimise the mean multi-class Brier on these rows."""
    scores, primary, gold = _arrays(rows)
    logits = GAINS[:, None, None, None] * scores + BONUSES[None, :, None, None] * primary  # G x B x n x 4
    weights = np.exp(logits - logits.max(axis=-1, keepdims=True))
    probs = weights / weights.sum(axis=-1, keepdims=True)
    loss = ((probs - gold) ** 2).sum(axis=-1).mean(axis=-1)  # G x B
    g, b = np.unravel_index(int(np.argmin(loss)), loss.shape)
    return float(GAINS[g]), float(BONUSES[b])


def _score(
    rows: Sequence[Row], how: str, stated: Sequence[dict[str, float]], prior_rows: Sequence[Row]
) -> Brier:
    """Brier of `stated` on `rows`, beside a constant prior learnt from `prior_rows`."""
    share = shares([r.gold for r in prior_rows], LAYERS)
    accuracy = sum(r.primary == r.gold for r in prior_rows) / len(prior_rows)
    right = [float(r.primary == r.gold) for r in rows]
    p_primary = [s.get(r.primary, 0.0) if r.primary else 0.0 for r, s in zip(rows, stated, strict=True)]
    n = len(rows)
    return Brier(
        how=how,
        cases=n,
        layers=sum(brier(s, r.gold) for r, s in zip(rows, stated, strict=True)) / n,
        layers_prior=sum(brier(share, r.gold) for r in rows) / n,
        primary=sum((p - y) ** 2 for p, y in zip(p_primary, right, strict=True)) / n,
        primary_prior=sum((accuracy - y) ** 2 for y in right) / n,
    )


def held_out(rows: Sequence[Row], folds: Sequence[Sequence[int]], how: str) -> Brier:
    """Fit on all but each fold, state the fold's probabilities with that fit, score them all together; the
    constant prior is learnt on the same training parts."""
    stated: dict[int, dict[str, float]] = {}
    sums = {"layers_prior": 0.0, "primary_prior": 0.0}
    for fold in folds:
        held = set(fold)
        train = [r for i, r in enumerate(rows) if i not in held]
        gain, bonus = fit(train)
        for i in fold:
            stated[i] = probabilities(rows[i].scores or {}, rows[i].primary, gain, bonus)
        part = _score([rows[i] for i in fold], how, [stated[i] for i in fold], train)
        sums["layers_prior"] += part.layers_prior * len(fold)
        sums["primary_prior"] += part.primary_prior * len(fold)
    order = sorted(stated)
    scored = _score([rows[i] for i in order], how, [stated[i] for i in order], rows)
    n = len(order)
    return scored.model_copy(
        update={"layers_prior": sums["layers_prior"] / n, "primary_prior": sums["primary_prior"] / n}
    )


def _reliability(rows: Sequence[Row], confidence: Sequence[str | None]) -> list[ReliabilityRow]:
    """Cases by stated confidence: the mean probability stated for the primary beside the share right."""
    out: dict[str, ReliabilityRow] = {}
    stated: dict[str, float] = {}
    for r, c in zip(rows, confidence, strict=True):
        label = c if r.primary is not None and c in CONFIDENCE_PROB else NONE
        row = out.setdefault(label, ReliabilityRow(confidence=label, stated=None, cases=0, correct=0))
        row.cases += 1
        row.correct += int(r.primary == r.gold)
        stated[label] = stated.get(label, 0.0) + (r.stated.get(r.primary, 0.0) if r.primary else 0.0)
    for label, row in out.items():
        row.stated = round(stated[label] / row.cases, 4) if label != NONE else None
    return [out[k] for k in [*CONFIDENCE_PROB, NONE] if k in out]


def _bins(rows: Sequence[Row]) -> list[ReliabilityRow]:
    """Cases by the primary's stated probability: the mean stated beside the share right."""
    out = []
    for lo, hi in zip(BINS, BINS[1:], strict=False):
        inside = [r for r in rows if r.primary and lo <= r.stated.get(r.primary, 0.0) < hi]
        if inside:
            mean = sum(r.stated[r.primary or ""] for r in inside) / len(inside)
            label = f"{lo:.1f}-{min(hi, 1.0):.1f}"
            correct = sum(r.primary == r.gold for r in inside)
            out.append(
                ReliabilityRow(confidence=label, stated=round(mean, 4), cases=len(inside), correct=correct)
            )
    return out


def _rounded(b: Brier) -> Brier:
    return b.model_copy(update={k: round(v, 4) for k, v in b.model_dump().items() if isinstance(v, float)})


def calibrate(
    gold: Sequence[str],
    predicted: Sequence[str | None],
    confidence: Sequence[str | None] | None,
    scores: Sequence[dict[str, float] | None] | None = None,
    families: Sequence[str] | None = None,
) -> Calibration:
    """Layer shares for any system; Brier scores and reliability only when the system states a confidence.
    With the classifier's layer scores (offline drafts), the stated probabilities are the fitted mapping's,
    and the cross-validated scores refit it on held-out parts."""
    verdict, gold_share = shares(predicted, (*LAYERS, NONE)), shares(list(gold), LAYERS)
    over = [
        layer
        for layer in LAYERS
        if gold_share[layer] and verdict[layer] > SHARE_FLAG_RATIO * gold_share[layer]
    ]
    result = Calibration(verdict_share=verdict, gold_share=gold_share, over_named=over)
    if confidence is None or not gold:
        return result
    scores = scores or [None] * len(gold)
    families = families or [""] * len(gold)
    rows = [
        Row(
            gold=g,
            primary=p,
            scores=s,
            stated=probabilities(s, p) if s is not None else distribution(p, c),
            family=f,
        )
        for g, p, c, s, f in zip(gold, predicted, confidence, scores, families, strict=True)
    ]
    stated = _score(rows, "as stated", [r.stated for r in rows], rows)
    result.brier, result.brier_prior = round(stated.layers, 4), round(stated.layers_prior, 4)
    result.scores = [_rounded(stated)]
    scored = [r for r in rows if r.scores is not None]
    if len(scored) >= FOLDS:
        result.fitted = fit(scored)
        folds = [list(range(k, len(scored), FOLDS)) for k in range(FOLDS)]
        result.scores.append(_rounded(held_out(scored, folds, f"{FOLDS}-fold")))
        names = sorted({r.family for r in scored})
        if len(names) > 1:
            by_family = [[i for i, r in enumerate(scored) if r.family == name] for name in names]
            result.scores.append(_rounded(held_out(scored, by_family, "leave one family out")))
    result.reliability = _reliability(rows, confidence)
    result.reliability_bins = _bins(rows)
    return result
