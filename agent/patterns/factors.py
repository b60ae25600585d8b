"""Recurring contributing factors and action items.

Two kinds of factor: the bullets post-mortems list under "Contributing factors" (grouped when they say the
same thing), and cues found in any incident's own words by a small transparent lexicon (AIID incidents have
descriptions, not factor lists). Action items are grouped the same way; a group never closed is one where some
post-mortem left the item unchecked ("- [ ]") and none checked it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np
from sklearn.cluster import AgglomerativeClustering

from agent.patterns.corpus import natural_key
from agent.patterns.schema import ActionPattern, ActionRef, CorpusItem, FactorPattern

Embed = Callable[[list[str]], np.ndarray]
SAME_ITEM = 0.55  # cosine similarity above which two action items / factors say the same thing

# Failure mechanisms that recur across AI incident write-ups; each matches at a word start.
LEXICON: dict[str, tuple[str, ...]] = {
    "biased or unrepresentative training data": (
        "bias", "discriminat", "racis", "sexis", "stereotyp", "unrepresentative", "underrepresent",
    ),
    "fabricated or false output (hallucination)": (
        "hallucinat", "fabricat", "made-up", "made up", "nonexistent", "non-existent", "fake citation",
        "false information", "inaccurate information", "incorrect information", "false claim",
    ),
    "prompt injection or jailbreak": ("prompt injection", "jailbreak", "ignore previous", "injected instruction"),
    "stale or missing data behind answers": (
        "stale", "outdated", "out of date", "out-of-date", "re-index", "reindex", "old version", "missing from the index",
    ),
    "silent or unpinned model change": (
        "model update", "new model", "silently updated", "model version", "unpinned", "model snapshot", "upgraded the model",
    ),
    "no human oversight of automated decisions": (
        "without human", "no human", "human review", "human oversight", "automated decision", "fully automated",
    ),
    "weak moderation or guardrails": ("moderation", "guardrail", "safeguard", "content filter", "safety filter"),
    "misidentification by recognition systems": (
        "misidentif", "facial recognition", "face recognition", "wrongful arrest", "wrongly identified", "false match",
        "wrongfully arrested",
    ),
    "synthetic media and impersonation": ("deepfake", "voice clon", "impersonat", "synthetic", "ai-generated"),
    "unsafe advice to vulnerable users": (
        "suicide", "self-harm", "medical advice", "eating disorder", "dangerous advice", "mental health",
    ),
    "privacy leak or surveillance": ("privacy", "personal data", "leak", "surveillance", "without consent"),
    "tool, API or integration failure": ("timeout", "timed out", "outage", "api error", "integration", "http 5"),
    "context truncation or limits": ("truncat", "context window", "token limit", "context length"),
    "autonomous driving failure": (
        "autopilot", "self-driving", "autonomous vehicle", "driver-assist", "driver assistance", "robotaxi",
    ),
    "fraud and scams": ("scam", "fraud", "phishing"),
}  # fmt: skip
_WORDS = re.compile(r"[^a-z0-9'-]+")


def _flat(text: str) -> str:
    return " " + _WORDS.sub(" ", text.lower()) + " "


def lexicon_factors(text: str) -> list[str]:
    """The lexicon's factor names whose cues occur in the text (each cue must start a word)."""
    flat = _flat(text)
    return [name for name, cues in LEXICON.items() if any(" " + _WORDS.sub(" ", c) in flat for c in cues)]


def group_similar(vectors: np.ndarray, threshold: float = SAME_ITEM) -> list[list[int]]:
    """Groups of row indices whose vectors are alike (average-linkage, cosine), largest first, then by first row."""
    n = len(vectors)
    if n == 0:
        return []
    if n == 1:
        return [[0]]
    model = AgglomerativeClustering(
        n_clusters=None, distance_threshold=1.0 - threshold, metric="cosine", linkage="average"
    )
    labels = model.fit_predict(np.asarray(vectors, dtype=np.float64))
    groups: dict[int, list[int]] = {}
    for row, label in enumerate(labels.tolist()):
        groups.setdefault(label, []).append(row)
    return sorted(groups.values(), key=lambda g: (-len(g), g[0]))


def _typical(rows: list[int], vectors: np.ndarray) -> int:
    centre = vectors[rows].mean(axis=0)
    sims = vectors[rows] @ centre
    return rows[int(np.argmax(sims))]


def _incidents(ids: Sequence[str]) -> list[str]:
    return sorted(set(ids), key=natural_key)


def action_patterns(refs: Sequence[ActionRef], embed: Embed) -> list[ActionPattern]:
    """Every group of alike action items, most incidents first."""
    if not refs:
        return []
    vectors = np.asarray(embed([r.text for r in refs]), dtype=np.float64)
    out: list[ActionPattern] = []
    for rows in group_similar(vectors):
        items = [refs[i] for i in rows]
        out.append(
            ActionPattern(
                text=refs[_typical(rows, vectors)].text,
                incidents=_incidents([r.incident for r in items]),
                count=len(items),
                open=sum(r.status == "open" for r in items),
                done=sum(r.status == "done" for r in items),
                variants=sorted({r.text for r in items}),
            )
        )
    return sorted(out, key=lambda p: (-len(p.incidents), -p.count, p.text))


def recurring(patterns: Sequence[ActionPattern]) -> list[ActionPattern]:
    """Action items that come back: the same item in two or more post-mortems."""
    return [p for p in patterns if len(p.incidents) >= 2]


def never_closed(patterns: Sequence[ActionPattern]) -> list[ActionPattern]:
    """Action items left unchecked and checked nowhere: recurring ones first."""
    return [p for p in patterns if p.open > 0 and p.done == 0]


def factor_patterns(items: Sequence[CorpusItem], embed: Embed) -> list[FactorPattern]:
    """Stated factors (grouped) that recur, and lexicon factors found in two or more incidents; most first."""
    stated: list[tuple[str, str]] = [(item.id, text) for item in items for text in item.factors]
    out: list[FactorPattern] = []
    if stated:
        vectors = np.asarray(embed([t for _, t in stated]), dtype=np.float64)
        for rows in group_similar(vectors):
            ids = _incidents([stated[i][0] for i in rows])
            if len(ids) >= 2:
                out.append(
                    FactorPattern(
                        name=stated[_typical(rows, vectors)][1],
                        kind="stated",
                        count=len(ids),
                        incidents=ids,
                        variants=sorted({stated[i][1] for i in rows}),
                    )
                )
    found: dict[str, list[str]] = {}
    for item in items:
        for name in lexicon_factors(item.text):
            found.setdefault(name, []).append(item.id)
    for name, ids in found.items():
        if len(ids) >= 2:
            out.append(FactorPattern(name=name, kind="lexicon", count=len(ids), incidents=_incidents(ids)))
    return sorted(out, key=lambda f: (-f.count, f.kind, f.name))
