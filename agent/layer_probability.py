"""How probable each failure layer is, from the offline classifier's layer scores: the draft's stated odds.

p(layer) = softmax over the four layers of (gain * score(layer) + bonus * [layer is the primary]). The score is
the classifier's noisy-OR of the layer's evidence (agent/layer_classifier.py); the bonus carries what the score
does not: the primary was chosen upstream first and tied to the bad outputs. Both values are fitted on the dev
cases to minimise the Brier score (`evals/harness/calibration.py`, which also reports the cross-validated
figure, so the fit is judged on cases it did not see) and live in the table (agent/thresholds.py).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from agent.models import LAYERS, Classification
from agent.thresholds import T


def probabilities(
    scores: Mapping[str, float], primary: str | None, gain: float | None = None, bonus: float | None = None
) -> dict[str, float]:
    """Layer -> probability (sums to 1); the table's fitted gain and bonus unless given."""
    gain = T.probability_score_gain if gain is None else gain
    bonus = T.probability_primary_bonus if bonus is None else bonus
    logits = {layer: gain * scores.get(layer, 0.0) + (bonus if layer == primary else 0.0) for layer in LAYERS}
    top = max(logits.values())
    weights = {layer: math.exp(v - top) for layer, v in logits.items()}
    total = sum(weights.values())
    return {layer: w / total for layer, w in weights.items()}


def with_probabilities(classification: Classification) -> Classification:
    """The classification with each layer's probability filled in, when every layer has a score (offline)."""
    scores = {a.layer: a.score for a in classification.layers}
    if set(scores) != set(LAYERS) or any(v is None for v in scores.values()):
        return classification
    probs = probabilities({k: float(v or 0.0) for k, v in scores.items()}, classification.primary)
    layers = [a.model_copy(update={"probability": round(probs[a.layer], 3)}) for a in classification.layers]
    return classification.model_copy(update={"layers": layers})
