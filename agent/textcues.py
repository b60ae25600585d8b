"""A transparent lexicon over the incident's own words (title, description, reports).

A weak prior for the classifier: it decides nothing when traces carry findings, and is the main signal,
with similar past incidents, when an incident has no telemetry at all.
"""

from __future__ import annotations

import re

from agent.models import LAYERS, Incident, Layer

# Phrases that, in an incident write-up, point at a failure layer. Generic, not tuned to any one scenario.
LEXICON: dict[Layer, tuple[str, ...]] = {
    "model": (
        "model update",
        "model version",
        "new model",
        "model change",
        "provider update",
        "silently updated",
        "upgraded the model",
        "model upgrade",
        "snapshot",
        "fine-tun",
        "training data",
        "learned",
        "bias",
        "biased",
        "discriminat",
        "gender",
        "race",
        "stereotyp",
        "weights",
        "deprecat",
        "checkpoint",
    ),
    "prompt": (
        "prompt",
        "system message",
        "system instruction",
        "instruction",
        "template",
        "jailbreak",
        "injection",
        "ignore previous",
        "persona",
        "guidance",
        "few-shot",
        "wording",
        "underspecified",
    ),
    "data": (
        "stale",
        "outdated",
        "out of date",
        "old version",
        "re-index",
        "reindex",
        "index",
        "knowledge base",
        "document",
        "retriev",
        "corpus",
        "source data",
        "dataset",
        "upstream data",
        "feed",
        "distribution",
        "new language",
        "input shift",
        "catalog",
        "price list",
        "policy page",
        "embedding",
    ),
    "system": (
        "timeout",
        "timed out",
        "tool",
        "api",
        "http 5",
        "500",
        "503",
        "outage",
        "rate limit",
        "429",
        "truncat",
        "context window",
        "context length",
        "token limit",
        "guardrail",
        "filter",
        "orchestrat",
        "retry",
        "pipeline",
        "deploy",
        "integration",
        "cache",
        "parser",
        "crash",
    ),
}
_WORD_EDGE = re.compile(r"\W+")


def _text(incident: Incident) -> str:
    parts = [incident.title, incident.description, *(r.text for r in incident.reports)]
    return " " + _WORD_EDGE.sub(" ", " ".join(parts).lower()) + " "


def count_cues(text: str) -> dict[Layer, int]:
    """How many lexicon phrases of each layer occur in `text` (already lowercased and word-split)."""
    counts: dict[Layer, int] = {}
    for layer in LAYERS:
        counts[layer] = sum(
            1 for phrase in LEXICON[layer] if f" {_WORD_EDGE.sub(' ', phrase).strip()}" in text
        )
    return counts


def text_prior(incident: Incident) -> dict[Layer, float]:
    """Per-layer share of the lexicon hits in the incident's words (sums to 1, or all 0 without hits)."""
    counts = count_cues(_text(incident))
    total = sum(counts.values())
    if total == 0:
        return {layer: 0.0 for layer in LAYERS}
    return {layer: counts[layer] / total for layer in LAYERS}


def classify_description(incident: Incident) -> Layer | None:
    """The layer the incident's own words point at most, or None when they name none."""
    prior = text_prior(incident)
    best = max(LAYERS, key=lambda layer: prior[layer])
    return best if prior[best] > 0 else None
