"""Baselines reported beside the agent: the dev majority class, and a keyword classifier over the description.

The keyword classifier is a transparent lexicon per layer (written from the layer definitions, not fitted to any
case): each hit adds its weight, the top layer is primary, layers scoring at least half of the top are
contributing. It is also the description-only classifier for incidents without telemetry (AIID).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from pydantic import BaseModel, Field

from agent.models import LAYERS, Layer

# (regex, weight). Regexes are matched on the lower-cased text, on word boundaries; stems end in \w*.
LEXICON: dict[Layer, list[tuple[str, float]]] = {
    "model": [
        (r"hallucinat\w*", 2.0),
        (r"fabricat\w*", 1.0),
        (r"confabulat\w*", 2.0),
        (r"made[- ]up", 1.0),
        (r"invent(ed|s|ing)?", 1.0),
        (r"bias(ed|es)?", 2.0),
        (r"racis[mt]\w*", 1.5),
        (r"sexis[mt]\w*", 1.5),
        (r"stereotyp\w*", 1.5),
        (r"discriminat\w*", 1.5),
        (r"disparat\w*", 1.5),
        (r"model (update|upgrade|version|change)\w*", 3.0),
        (r"(new|newer|updated|upgraded|different) (model|version of the model|snapshot)", 3.0),
        (r"provider (silently )?(updated|changed|upgraded|rolled)", 3.0),
        (r"silent(ly)? (update|upgrade|change)\w*", 2.0),
        (r"(facial|face|voice|speech|image) recognition", 1.5),
        (r"misidentif\w*", 1.5),
        (r"misclassif\w*", 1.5),
        (r"false (positive|negative|match)\w*", 1.0),
        (r"(trained|training|learned|learnt)", 1.0),
        (r"training data", 1.0),
        (r"deepfake\w*", 1.5),
        (
            r"(chatbot|llm|language model|gpt|claude|gemini|copilot) (generated|produced|wrote|claimed|said|told)",
            1.0,
        ),
        (r"inaccura\w*", 0.5),
        (r"accuracy", 0.5),
        (r"(offensive|toxic|harmful) (content|output|response)s?", 1.0),
        (r"sycophan\w*", 1.5),
        (r"refus(al|ed|es) to", 0.5),
        (r"edge case\w*", 1.0),
        (r"tone", 0.5),
    ],
    "prompt": [
        (r"prompt\w*", 2.0),
        (r"system (prompt|message|instruction)s?", 3.0),
        (r"instruction\w*", 2.0),
        (r"template\w*", 2.0),
        (r"jailbr[eo]a?k\w*", 3.0),
        (r"(prompt )?injection\w*", 2.5),
        (r"ignore (all |the )?(previous|prior|above)", 3.0),
        (r"guideline\w*", 1.0),
        (r"persona", 1.0),
        (r"role[- ]?play\w*", 1.5),
        (r"(reworded|rewrote|rewritten|rewording|wording)", 1.5),
        (r"underspecif\w*", 2.5),
        (r"(vague|ambiguous|unclear) (instruction|prompt|wording)s?", 2.5),
        (r"(told|instructed|asked|tricked|manipulated) (it|the (bot|chatbot|assistant|model)) to", 1.5),
        (r"trick(ed|s|ing)?", 1.0),
        (r"few[- ]shot", 1.5),
        (r"disclaimer\w*", 0.5),
        (r"(policy|rule)s? (were|was) (not|never) (stated|given|specified)", 2.0),
    ],
    "data": [
        (r"stale", 3.0),
        (r"outdated", 2.5),
        (r"out[- ]of[- ]date", 2.5),
        (
            r"(old|obsolete|superseded|previous|expired) (policy|price|version|document|page|article|fare|rate)s?",
            2.5,
        ),
        (r"(knowledge[- ]base|kb|index|corpus|documentation|docs|faq|wiki|catalog(ue)?)", 1.5),
        (r"re-?index\w*", 2.5),
        (r"retriev\w*", 2.0),
        (r"(rag|vector (store|database|db)|embedding\w*)", 1.5),
        (r"(document|source|record|listing)s?", 0.5),
        (r"(dataset|data set|database|records?|data feed|feed|upstream data|source data)", 1.0),
        (
            r"(wrong|incorrect|bad|missing|corrupt\w*|erroneous|mislabel\w*|duplicate\w*) (data|records?|labels?|rows|"
            r"entries|prices|values|fields|context|documents?)",
            2.5,
        ),
        (r"distribution shift", 3.0),
        (
            r"(new|different|unfamiliar|unseen|unexpected) (language|locale|market|region|users?|population|"
            r"inputs?|queries|traffic|customers?)",
            2.0,
        ),
        (r"(language|locale|dialect|slang|accent)s?", 0.5),
        (r"(input|data|query|traffic) (drift|shift)\w*", 3.0),
        (r"(surge|spike|influx) (of|in) (new|non-english|foreign|unusual)", 2.0),
        (r"(pricing|price|valuation|housing|market) (data|estimates?|predictions?|forecasts?)", 1.5),
        (r"(not|never) (updated|refreshed|synced|re-?indexed)", 2.5),
        (r"(scraped|crawled|ingested)", 1.0),
        (r"(personal|private|sensitive) (data|information)", 1.0),
    ],
    "system": [
        (r"(tool|function) (call|calls|error|errors|failure|failed|timeout)\w*", 3.0),
        (r"\bapi\b|apis", 1.5),
        (r"(timeout|timed out|time-out)s?", 2.5),
        (r"outage\w*", 2.5),
        (r"(5\d\d|4\d\d) (error|response|status)s?", 2.0),
        (r"(http|server|service) error\w*", 2.0),
        (r"rate[- ]limit\w*", 2.0),
        (r"(crash|crashed|crashes|exception|stack trace|traceback)", 2.0),
        (
            r"(bug|glitch|defect|regression) in (the )?(code|software|integration|pipeline|parser|guardrail|filter)",
            2.5,
        ),
        (r"(bug|glitch|software (error|flaw|defect|update))s?", 1.5),
        (r"(truncat\w*|context (window|limit|length))", 2.5),
        (r"(token limit|max(imum)? tokens|cut off|cut-off)", 2.0),
        (r"(guardrail|safety filter|content filter|moderation( layer| filter)?|filter)s?", 1.5),
        (
            r"(orchestrat\w*|pipeline|workflow|integration|middleware|connector|plugin|agent loop|retry|retries)",
            1.5,
        ),
        (r"(cache|cached|caching|config|configuration|misconfigur\w*|deploy\w*|rollout|release)", 1.0),
        (r"(sensor|lidar|radar|autopilot|braking|hardware|firmware|vehicle|robot\w*)", 1.0),
        (r"(automat\w* (system|process|decision)s?|algorithm\w*)", 0.5),
        (r"(human oversight|oversight|review process|safety driver|human review|no human)", 1.0),
        (r"(leak\w*|exposed|security (flaw|hole|vulnerability)|vulnerab\w*|access control)", 1.0),
        (r"(error|failure|failed|failing|unavailable|down)", 0.5),
    ],
}

_COMPILED: dict[Layer, list[tuple[re.Pattern[str], str, float]]] = {
    layer: [(re.compile(rf"\b(?:{pattern})\b"), pattern, weight) for pattern, weight in entries]
    for layer, entries in LEXICON.items()
}
MAX_HITS_PER_TERM = 2  # a word repeated ten times is not ten times the evidence


class LayerPrediction(BaseModel):
    """What a baseline (or the agent, once scored) says about one case."""

    primary: Layer | None
    contributing: list[Layer] = Field(default_factory=list)
    scores: dict[str, float] = Field(default_factory=dict)
    matched: dict[str, list[str]] = Field(default_factory=dict)  # layer -> the words that matched


def keyword_scores(text: str) -> tuple[dict[Layer, float], dict[Layer, list[str]]]:
    """The lexicon score of each layer and the words that produced it."""
    text = text.lower()  # the lexicon is lower case
    scores: dict[Layer, float] = {}
    matched: dict[Layer, list[str]] = {}
    for layer, entries in _COMPILED.items():
        total = 0.0
        words: list[str] = []
        for regex, _pattern, weight in entries:
            hits = [m.group(0) for m in regex.finditer(text)]
            if hits:
                total += weight * min(len(hits), MAX_HITS_PER_TERM)
                words.extend(dict.fromkeys(hits))
        scores[layer] = round(total, 3)
        matched[layer] = words
    return scores, matched


def keyword_baseline(text: str, *, default: Layer = "model") -> LayerPrediction:
    """Primary layer (and contributing layers) of an incident from its text alone.

    Ties go to the order model, prompt, data, system; a text that matches nothing gets `default`.
    """
    scores, matched = keyword_scores(text)
    top = max(scores.values())
    if top <= 0:
        return LayerPrediction(primary=default, contributing=[], scores=dict(scores), matched=dict(matched))
    primary = next(layer for layer in LAYERS if scores[layer] == top)
    contributing = [layer for layer in LAYERS if layer != primary and scores[layer] >= 0.5 * top]
    return LayerPrediction(
        primary=primary, contributing=contributing, scores=dict(scores), matched=dict(matched)
    )


def incident_text(title: str, description: str) -> str:
    """The text the keyword baseline reads: the title and the description, nothing from traces or reports."""
    return f"{title}. {description}".strip()


class MajorityBaseline(BaseModel):
    """Predicts the commonest dev primary layer everywhere; contributing = layers contributing in most dev cases."""

    primary: Layer
    contributing: list[Layer] = Field(default_factory=list)
    fitted_on: int = 0

    @classmethod
    def fit(
        cls, primaries: Iterable[Layer], contributing_sets: Iterable[Iterable[Layer]]
    ) -> MajorityBaseline:
        primaries = list(primaries)
        sets = [set(s) for s in contributing_sets]
        if not primaries:
            raise ValueError("the majority baseline needs at least one dev case")
        counts = Counter(primaries)
        best = max(counts.values())
        primary = next(layer for layer in LAYERS if counts.get(layer) == best)
        contributing = [
            layer for layer in LAYERS if layer != primary and sum(layer in s for s in sets) * 2 > len(sets)
        ]
        return cls(primary=primary, contributing=contributing, fitted_on=len(primaries))

    def predict(self) -> LayerPrediction:
        return LayerPrediction(primary=self.primary, contributing=list(self.contributing))
