"""Sensitivity of the offline verdicts to the classifier's thresholds and weights (agent/thresholds.py), dev only.

Drafts every dev case once with the offline agent, keeping what the classifier was given; then moves each classifier
threshold to 0.8x and 1.2x its value, one at a time, and re-classifies. Prints, per threshold, how many primary
verdicts moved and the dev primary accuracy at each end, beside the unperturbed run measured in the same process. A
verdict that flips under a 20% move of one threshold sits on a knife edge.

Detector thresholds (change gains, persistence shares, the symptom test) act before the findings exist; moving them
means drafting again, so they are left to `postmortem eval` runs.

`python -m benchmarks sensitivity` (about 2 minutes warm, most of it the drafts).
"""

from __future__ import annotations

import dataclasses
from unittest import mock

FACTORS = (0.8, 1.2)
# the thresholds the classifier reads (agent/layer_classifier.py); the others act inside the detectors
CLASSIFIER = (
    "off_symptom",
    "other_service",
    "past_primary",
    "past_contributing",
    "text_weight_with_traces",
    "primary_likely",
    "likely_score",
    "contributing_min",
    "contributing_share",
    "ruled_out_max",
    "latent_min",
    "model_change_effect",
    "upstream_floor",
)


def _inputs(samples):  # noqa: ANN001, ANN202
    """case id -> the ScoringInput the offline classifier saw (callables resolved while the store is open)."""
    import agent.nodes.classify as node
    from agent.settings import get_settings
    from evals.harness.embedcache import CachedEmbedder
    from evals.harness.runner import AgentSolver

    seen: dict[str, object] = {}
    original = node.classify_offline

    def keep(data):  # noqa: ANN001, ANN202
        refs = {ref for f in data.findings for ref in f.evidence}
        traces = {ref: data.trace_of(ref) for ref in refs}
        services = {ref: data.service_of(ref) for ref in refs}
        seen["last"] = dataclasses.replace(data, trace_of=traces.get, service_of=services.get)
        return original(data)

    settings = get_settings()
    embedder = _embedder(settings)
    out = {}
    with mock.patch.object(node, "classify_offline", keep):
        solver = AgentSolver(embedder=embedder, settings=settings)
        for sample in samples:
            solver(sample)
            out[sample.id] = seen.pop("last", None)
    if isinstance(embedder, CachedEmbedder):
        embedder.close()
    return out


def _embedder(settings):  # noqa: ANN001, ANN202
    from evals.harness.embedcache import CachedEmbedder
    from evals.harness.workflow import vector_cache_path  # the cache postmortem eval uses
    from retrieval.embeddings import get_embedding_function

    return CachedEmbedder(
        get_embedding_function(settings.embedder, settings.cache_dir), vector_cache_path(settings)
    )


def _verdicts(inputs) -> dict[str, str | None]:  # noqa: ANN001
    from agent.layer_classifier import classify_offline

    return {cid: classify_offline(data).primary for cid, data in inputs.items() if data is not None}


def main() -> None:
    from agent.thresholds import T, scaled
    from evals.harness.dataset import load_samples

    samples = load_samples(split="dev")
    if not samples:
        print("no dev cases: nothing to measure")
        return
    gold = {s.id: s.gold.primary for s in samples}
    inputs = _inputs(samples)
    base = _verdicts(inputs)

    def accuracy(verdicts: dict[str, str | None]) -> float:
        return sum(verdicts[c] == gold[c] for c in verdicts) / len(verdicts)

    print(f"{len(base)} dev cases; unperturbed primary accuracy {accuracy(base):.3f}")
    print(f"{'threshold':26} {'value':>6} " + " ".join(f"{f'x{f}: moved / acc':>18}" for f in FACTORS))
    worst = 0
    for name in CLASSIFIER:
        cells = []
        for factor in FACTORS:
            with scaled(name, factor):
                moved = _verdicts(inputs)
            flips = sum(moved[c] != base[c] for c in base)
            worst = max(worst, flips)
            cells.append(f"{flips:>7} / {accuracy(moved):.3f}")
        print(f"{name:26} {getattr(T, name):>6.3g} " + " ".join(f"{c:>18}" for c in cells))
    print(f"most verdicts moved by one 20% move: {worst} of {len(base)} ({worst / len(base):.0%})")
