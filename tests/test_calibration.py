"""The draft's stated layer probabilities (agent/layer_probability.py) and how the eval scores them
(evals/harness/calibration.py): fitted mapping, cross-validated Brier beside a constant prior, reliability."""

from __future__ import annotations

import random

import pytest

from agent.layer_probability import probabilities, with_probabilities
from agent.models import LAYERS, Classification, LayerAssessment
from evals.harness.calibration import Row, calibrate, fit, held_out


def test_probabilities_follow_the_scores_and_the_primary():
    p = probabilities({"data": 0.8, "model": 0.1, "prompt": 0.0, "system": 0.0}, "data", gain=4.0, bonus=1.0)
    assert sum(p.values()) == pytest.approx(1.0)
    assert p["data"] > p["model"] > p["prompt"] == pytest.approx(p["system"])
    flat = probabilities({}, None, gain=4.0, bonus=1.0)
    assert all(v == pytest.approx(0.25) for v in flat.values())  # no evidence, no primary: four-way chance
    bonus_only = probabilities({}, "prompt", gain=4.0, bonus=1.0)
    assert bonus_only["prompt"] > 0.25 > bonus_only["data"]


def test_an_offline_classification_states_a_probability_per_layer():
    layers = [
        LayerAssessment(layer=layer, role="primary" if layer == "data" else "unknown", confidence="likely",
                        rationale="r", score=score)
        for layer, score in zip(LAYERS, (0.1, 0.0, 0.6, 0.2), strict=True)
    ]  # fmt: skip
    stated = with_probabilities(Classification(primary="data", layers=layers))
    probs = {a.layer: a.probability for a in stated.layers}
    assert sum(probs.values()) == pytest.approx(1.0, abs=0.01)
    assert max(probs, key=lambda k: probs[k] or 0.0) == "data"
    # an LLM verdict has no scores: nothing is made up
    llm = Classification(primary="data", layers=[a.model_copy(update={"score": None}) for a in layers])
    assert all(a.probability is None for a in with_probabilities(llm).layers)


def _rows(n: int, informative: bool, seed: int = 7) -> list[Row]:
    """Cases whose gold layer carries the top score 70% of the time, with a higher score when it does
    (informative), or scores unrelated to the gold layer."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        gold = rng.choice(LAYERS)
        scores = {layer: rng.random() * 0.3 for layer in LAYERS}
        top = gold if (informative and rng.random() < 0.7) else rng.choice(LAYERS)
        scores[top] = (0.6 if informative and top == gold else 0.3) + rng.random() * 0.4
        rows.append(Row(gold=gold, primary=top, scores=scores, stated={}, family=("a", "b")[i % 2]))
    return rows


def test_the_fit_finds_informative_scores_and_cross_validation_does_not_flatter_noise():
    rows = _rows(80, informative=True)
    gain, bonus = fit(rows)
    assert gain + bonus > 1.0  # the scores say something: the fit leans on them
    folds = [list(range(k, 80, 10)) for k in range(10)]
    scored = held_out(rows, folds, "10-fold")
    assert scored.layers < scored.layers_prior - 0.2 and scored.primary < scored.primary_prior

    noise = _rows(80, informative=False)
    noisy = calibrate(
        [r.gold for r in noise], [r.primary for r in noise], ["likely"] * 80, [r.scores for r in noise]
    )
    folded = noisy.scores[1]
    assert folded.how == "10-fold" and folded.cases == 80
    # fitted on noise, the held-out score is no better than the constant prior
    assert folded.layers >= folded.layers_prior - 0.02 and folded.primary >= folded.primary_prior - 0.01


def test_calibrate_reports_stated_folded_and_by_family_scores_with_reliability_bins():
    rows = _rows(40, informative=True, seed=3)
    cal = calibrate(
        [r.gold for r in rows],
        [r.primary for r in rows],
        ["likely" if i % 3 else "inconclusive" for i in range(40)],
        [r.scores for r in rows],
        [r.family for r in rows],
    )
    assert [b.how for b in cal.scores] == ["as stated", "10-fold", "leave one family out"]
    assert cal.fitted is not None and cal.brier == cal.scores[0].layers
    assert sum(b.cases for b in cal.reliability_bins) == 40
    assert {r.confidence for r in cal.reliability} == {"likely", "inconclusive"}
    for row in cal.reliability_bins:  # each bin's mean stated probability lies in the bin
        lo, hi = (float(x) for x in row.confidence.split("-"))
        assert row.stated is not None and lo <= row.stated <= hi
