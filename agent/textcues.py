"""A transparent, weighted lexicon over the incident's own words (title, description, reports).

A weak prior for the classifier: it decides nothing when traces carry findings, and is the main signal,
with similar past incidents, when an incident has no telemetry at all. Cues are written from the layer
definitions (evals/aiid/README.md, "How each incident was labelled"), in two registers: LLM-application
incident reports ("the system prompt template changed") and public incident write-ups ("deepfake",
"hallucinated", "wrongfully arrested"). `explain` shows which phrases chose the layer.

Phrase syntax: words match whole words (a final "s"/"es" allowed); a trailing "*" matches any ending of the
last word ("hallucinat*"); hyphens and punctuation count as spaces. Weights: 1 a hint, 2 a clear cue, 3 a
cue that by the definitions nearly decides the layer.
"""

from __future__ import annotations

import re
from functools import cache

from pydantic import BaseModel, Field

from agent.models import LAYERS, Incident, Layer

Cue = tuple[str, float]

LEXICON: dict[Layer, tuple[Cue, ...]] = {
    # the learned behaviour went wrong: hallucination, learned bias, poor accuracy, unsafe generations,
    # recognition errors; and changes of the model itself
    "model": (
        ("model update", 3),
        ("model version", 3),
        ("model upgrade", 3),
        ("upgraded the model", 3),
        ("new model", 2),
        ("model change", 2),
        ("provider update", 2),
        ("silently updated", 2),
        ("snapshot", 2),
        ("fine tun*", 2),
        ("weights", 1),
        ("checkpoint", 1),
        ("deprecat*", 1),
        ("hallucinat*", 3),
        ("confabulat*", 3),
        ("fabricat*", 2),
        ("made up", 1),
        ("non existent", 2),
        ("falsely accus*", 2),
        ("false claim", 1),
        ("false information", 2),
        ("incorrect", 1),
        ("erroneous*", 1),
        ("inaccura*", 1),
        ("wrong answer", 2),
        ("misinterpret*", 2),
        ("misidentif*", 2),
        ("misclassif*", 2),
        ("mistranslat*", 2),
        ("translation error", 2),
        ("transcription", 1),
        ("recognition error", 2),
        ("false positive", 1),
        ("accuracy", 1),
        ("bias", 2),
        ("biased", 2),
        ("discriminat*", 2),
        ("stereotyp*", 2),
        ("racis*", 2),
        ("sexis*", 2),
        ("disproportionate*", 2),
        ("gender", 1),
        ("racial*", 1),
        ("learned from", 1),
        ("learned to", 1),
        ("trained on", 1),
        ("generated response", 1),
        ("misunderst*", 2),
        ("failed to understand", 2),
        ("sycophan*", 2),
        ("unsafe response", 2),
        ("harmful response", 2),
        ("recommendation algorithm", 2),
        ("sudden braking", 2),
        ("phantom braking", 3),
    ),
    # the instructions or persona the model was given, and jailbreaks or injections they let through
    "prompt": (
        ("the prompt", 1),
        ("prompt change*", 2),
        ("prompt template", 2),
        ("prompt update", 2),
        ("system prompt", 3),
        ("system message", 3),
        ("system instruction", 3),
        ("instruction", 2),
        ("template", 1),
        ("jailbreak*", 3),
        ("prompt injection", 3),
        ("injection", 1),
        ("ignore previous", 3),
        ("persona*", 2),
        ("posing as", 1),
        ("user created character", 3),
        ("user made character", 3),
        ("custom character", 2),
        ("ai character", 2),
        ("chatbot character", 2),
        ("guidance", 1),
        ("few shot", 2),
        ("wording", 1),
        ("underspecified", 2),
    ),
    # what the system was fed: stale or wrong records, retrieval sources, poisoned or manipulated inputs,
    # training data collected without consent or contaminated, inputs outside what it had seen
    "data": (
        ("stale", 3),
        ("outdated", 2),
        ("out of date", 2),
        ("old version", 2),
        ("re index*", 2),
        ("reindex*", 2),
        ("search index", 2),
        ("vector index", 2),
        ("retrieval index", 2),
        ("indexed", 1),
        ("indexing", 1),
        ("knowledge base", 2),
        ("document", 1),
        ("retriev*", 1),
        ("corpus", 1),
        ("source data", 2),
        ("dataset", 1),
        ("upstream data", 2),
        ("data feed", 2),
        ("distribution shift", 3),
        ("new language", 1),
        ("input shift", 3),
        ("catalog*", 1),
        ("metadata", 2),
        ("price list", 2),
        ("policy page", 2),
        ("embedding", 1),
        ("training data collected", 3),
        ("without consent", 2),
        ("without their consent", 2),
        ("scraped", 2),
        ("scraping", 2),
        ("contaminat*", 2),
        ("poison*", 3),
        ("fake news site", 2),
        ("cited", 1),
        ("surfaced", 1),
        ("search results", 1),
        ("ai generated content", 1),
        ("feedback loop", 2),
        ("self reinforcing", 2),
        ("adversarial", 2),
        ("evaded", 1),
        ("coordinated attack", 2),
        ("manipulated source", 2),
    ),
    # everything around the model: integration, infrastructure, configuration, security, guardrail and filter
    # code, rule-based logic, the process around the AI; and deliberate misuse of a generator
    "system": (
        ("timeout", 2),
        ("timed out", 2),
        ("tool call", 2),
        ("tool error", 2),
        ("api", 1),
        ("http 5*", 2),
        ("500 error", 2),
        ("503 error", 2),
        ("internal server error", 2),
        ("service unavailable", 2),
        ("outage", 2),
        ("rate limit*", 2),
        ("too many requests", 2),
        ("truncat*", 2),
        ("context window", 2),
        ("context length", 2),
        ("token limit", 2),
        ("guardrail", 2),
        ("filter", 1),
        ("content moderation", 2),
        ("moderation", 1),
        ("safeguard", 1),
        ("age verification", 2),
        ("orchestrat*", 2),
        ("retry", 1),
        ("retries", 1),
        ("pipeline", 1),
        ("deploy*", 1),
        ("integration", 2),
        ("cache", 2),
        ("cached", 2),
        ("parser", 2),
        ("crash", 1),
        ("crashed", 1),
        ("collision", 2),
        ("bug", 2),
        ("glitch*", 2),
        ("configuration change*", 2),
        ("config change*", 2),
        ("misconfigur*", 3),
        ("security flaw", 2),
        ("security hole", 2),
        ("security issue", 2),
        ("vulnerab*", 2),
        ("password", 2),
        ("breach", 2),
        ("hack", 2),
        ("hacked", 2),
        ("hacker", 2),
        ("leak*", 1),
        ("human review", 2),
        ("human oversight", 2),
        ("no human", 2),
        ("wrongful arrest*", 3),
        ("wrongfully arrested", 3),
        ("falsely arrested", 3),
        ("deepfake*", 3),
        ("voice clon*", 3),
        ("cloned voice", 3),
        ("nudify", 3),
        ("impersonat*", 2),
        ("scam*", 2),
        ("fraud", 1),
        ("misuse*", 2),
        ("misused", 2),
        ("ai generated image", 2),
        ("ai generated video", 2),
        ("ai generated audio", 2),
        ("disinformation campaign", 2),
        ("influence operation", 2),
        ("circulat*", 1),
        ("viral", 1),
        ("cheat*", 2),
        ("without human", 1),
        ("rule based", 2),
        ("cruise control", 2),
        ("autopilot", 1),
    ),
}

# Why `system` when no cue matches (only with fallback=True): model, prompt and data each need the text to
# name something inside them (a wrong output, an instruction, an input); `system` is defined as everything
# around the model, including deliberate misuse and missing process, which write-ups describe by what happened
# rather than by a component. A description that names no component is read as such an account.
FALLBACK: Layer = "system"
_WORD_EDGE = re.compile(r"\W+")


class CueHit(BaseModel):
    layer: Layer
    cue: str
    weight: float


class DescriptionVerdict(BaseModel):
    """The layer the words point at, every cue that matched, and whether the fallback chose the layer."""

    layer: Layer | None
    scores: dict[Layer, float]
    hits: list[CueHit] = Field(default_factory=list)
    fallback: bool = False

    def why(self) -> str:
        if self.fallback:
            return f"no cue matched; {FALLBACK} by default (deliberate misuse and missing process)"
        if self.layer is None:
            return "no cue matched"
        cues = [f"'{h.cue}' ({h.weight:g})" for h in self.hits if h.layer == self.layer]
        return f"{self.layer}: {', '.join(cues)}"


@cache
def _pattern(phrase: str) -> re.Pattern[str]:
    words = _WORD_EDGE.sub(" ", phrase.rstrip("*").lower()).split()
    tail = r"\w*" if phrase.endswith("*") else r"(?:s|es)?"
    return re.compile(rf"(?<!\w){' '.join(map(re.escape, words))}{tail}(?!\w)")


def normalize(text: str) -> str:
    """Lower case, every run of non-word characters one space."""
    return " " + _WORD_EDGE.sub(" ", text.lower()) + " "


def cue_hits(text: str) -> list[CueHit]:
    """Every lexicon phrase found in `text` (each phrase counts once, however often it occurs)."""
    flat = normalize(text)
    return [
        CueHit(layer=layer, cue=phrase, weight=weight)
        for layer in LAYERS
        for phrase, weight in LEXICON[layer]
        if _pattern(phrase).search(flat)
    ]


def _text(incident: Incident) -> str:
    return " ".join([incident.title, incident.description, *(r.text for r in incident.reports)])


def explain(incident: Incident, *, fallback: bool = False) -> DescriptionVerdict:
    """Per-layer cue weight, the matched cues, and the top layer (ties: the heavier single cue, then LAYERS order)."""
    hits = cue_hits(_text(incident))
    scores: dict[Layer, float] = {layer: 0.0 for layer in LAYERS}
    for hit in hits:
        scores[hit.layer] += hit.weight
    if not hits:
        return DescriptionVerdict(layer=FALLBACK if fallback else None, scores=scores, fallback=fallback)
    strongest = {layer: max((h.weight for h in hits if h.layer == layer), default=0.0) for layer in LAYERS}
    best = max(LAYERS, key=lambda layer: (scores[layer], strongest[layer], -LAYERS.index(layer)))
    return DescriptionVerdict(layer=best, scores=scores, hits=hits)


def text_prior(incident: Incident) -> dict[Layer, float]:
    """Per-layer share of the matched cue weight (sums to 1, or all 0 without hits; never the fallback)."""
    scores = explain(incident).scores
    total = sum(scores.values())
    if total == 0:
        return {layer: 0.0 for layer in LAYERS}
    return {layer: scores[layer] / total for layer in LAYERS}


def classify_description(incident: Incident, *, fallback: bool = False) -> Layer | None:
    """The layer the incident's own words point at most; None when they name none (or FALLBACK if asked)."""
    return explain(incident, fallback=fallback).layer
