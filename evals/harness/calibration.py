"""What a user asks of a verdict beyond "was it right": does it favour one layer, and does its stated confidence
mean anything? Layer shares beside the gold shares, a multi-class Brier score against a constant prior, and a
reliability table."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from pydantic import BaseModel

from agent.models import LAYERS

# The probability a stated confidence stands for when scoring calibration; one table, a line each on why.
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


class ReliabilityRow(BaseModel):
    confidence: str  # confirmed, likely, inconclusive, or none (no primary named)
    stated: float | None  # the probability the label stands for (None for "none")
    cases: int
    correct: int

    @property
    def observed(self) -> float | None:
        return round(self.correct / self.cases, 4) if self.cases else None


class Calibration(BaseModel):
    verdict_share: dict[str, float]  # layer (or "none") -> share of cases where it was named primary
    gold_share: dict[str, float]  # layer -> share of cases where it is the gold primary
    over_named: list[str]  # layers whose verdict share exceeds SHARE_FLAG_RATIO x their gold share
    brier: float | None = None  # multi-class Brier of the stated primary confidence (0 best, 2 worst)
    brier_prior: float | None = None  # the same for a constant prior (the gold shares), every case
    reliability: list[ReliabilityRow] = []


def distribution(primary: str | None, confidence: str | None) -> dict[str, float]:
    """The layer probabilities a verdict states: its confidence on the primary, the rest spread evenly; no primary
    named states nothing (uniform)."""
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


def calibrate(
    gold: Sequence[str], predicted: Sequence[str | None], confidence: Sequence[str | None] | None
) -> Calibration:
    """Layer shares for any system; Brier and reliability only when the system states a confidence."""
    verdict = shares(predicted, (*LAYERS, NONE))
    gold_share = shares(list(gold), LAYERS)
    over = [
        layer
        for layer in LAYERS
        if gold_share[layer] and verdict[layer] > SHARE_FLAG_RATIO * gold_share[layer]
    ]
    result = Calibration(verdict_share=verdict, gold_share=gold_share, over_named=over)
    if confidence is None or not gold:
        return result
    n = len(gold)
    result.brier = round(
        sum(brier(distribution(p, c), g) for g, p, c in zip(gold, predicted, confidence, strict=True)) / n, 4
    )
    result.brier_prior = round(sum(brier(gold_share, g) for g in gold) / n, 4)
    rows: dict[str, ReliabilityRow] = {}
    for g, p, c in zip(gold, predicted, confidence, strict=True):
        label = c if p is not None and c in CONFIDENCE_PROB else NONE
        row = rows.setdefault(
            label,
            ReliabilityRow(
                confidence=label, stated=CONFIDENCE_PROB.get(label, (None,))[0], cases=0, correct=0
            ),
        )
        row.cases += 1
        row.correct += int(p == g)
    order = [*CONFIDENCE_PROB, NONE]
    result.reliability = [rows[k] for k in order if k in rows]
    return result
