"""Language of short Latin-script texts from character trigrams.

Stopword counting (text.language) needs a sentence or two; a support message like "Mijn remmen piepen erg" has
none of the listed stopwords. Here each language is a trigram frequency profile (the profiles shipped with the
`langdetect` package, built from Wikipedia), and a text is scored by naive Bayes over its trigrams. Deterministic
and fast: one matrix of log-probabilities, one row lookup per trigram.
"""

from __future__ import annotations

import json
import math
from functools import cache, lru_cache
from importlib import resources

import numpy as np

# the Latin-script languages text.language knows stopwords of; close relatives outside the set (Danish beside
# Dutch and German) would only add confusions on short texts
LANGUAGES = ("en", "es", "fr", "de", "pt", "it", "nl")
MIN_TRIGRAMS = 6  # fewer than this (about 8 letters) and no guess is made
MIN_LEAD = 5.0  # log-likelihood lead of the best language over the second (odds of about 150 to 1)


@cache
def _model() -> tuple[dict[str, int], np.ndarray, np.ndarray] | None:
    """(trigram -> row, log P(trigram | language) per row, log P(unseen trigram) per language), or None when the
    profiles are not installed."""
    try:
        root = resources.files("langdetect") / "profiles"
        profiles = {code: json.loads((root / code).read_text(encoding="utf-8")) for code in LANGUAGES}
    except (ModuleNotFoundError, FileNotFoundError, OSError, ValueError):
        return None
    trigrams = {code: {g: f for g, f in p["freq"].items() if len(g) == 3} for code, p in profiles.items()}
    index: dict[str, int] = {}
    for grams in trigrams.values():
        for g in grams:
            index.setdefault(g, len(index))
    # a profile keeps only its commonest trigrams: one it lacks is rarer than its rarest kept one
    unseen = np.array(
        [math.log(0.5 * min(trigrams[c].values()) / sum(trigrams[c].values())) for c in LANGUAGES],
        dtype=np.float32,
    )
    table = np.tile(unseen, (len(index), 1))
    for j, code in enumerate(LANGUAGES):
        total = sum(trigrams[code].values())
        for g, f in trigrams[code].items():
            table[index[g], j] = math.log(f / total)
    return index, table, unseen


@lru_cache(maxsize=8192)
def trigram_language(text: str) -> str:
    """The most likely language code of a Latin-script text, or "und" when too short or too close to call."""
    model = _model()
    if model is None:
        return "und"
    index, table, unseen = model
    padded = " " + " ".join("".join(c if c.isalpha() else " " for c in text.lower()).split()) + " "
    rows = [index[g] for i in range(len(padded) - 2) if (g := padded[i : i + 3]) in index]
    total = len(padded) - 2
    if total < MIN_TRIGRAMS or len(rows) < MIN_TRIGRAMS // 2:
        return "und"
    scores = table[rows].sum(axis=0) + unseen * (total - len(rows))
    order = np.argsort(scores)[::-1]
    lead = scores[order[0]] - scores[order[1]]
    return LANGUAGES[int(order[0])] if lead >= MIN_LEAD else "und"
