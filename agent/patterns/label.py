"""Human-readable cluster labels: the terms that distinguish each cluster from the others (class-based TF-IDF).

Each cluster is one "class document". A term's weight in a class is the share of the class's incidents that use
it, times log(1 + A / f), where f is how many incidents use it across the corpus and A the mean cluster size:
frequent-everywhere words fall away, words typical of one cluster rise. A term must occur in at least two of
the cluster's incidents (or all of a tiny one) and be more common there than in the whole corpus. A unigram already inside a chosen bigram is not repeated.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

# Words that say "an incident happened" in every write-up, not what kind.
DOMAIN_STOP = frozenset(
    {
        "ai", "allegedly", "reportedly", "reported", "incident", "incidents", "according", "said", "used", "using",
        "use", "uses", "based", "including", "claimed", "claims", "alleged", "new", "company", "people", "users",
        "user", "app", "apps", "platform", "media", "social", "online", "system", "systems", "tool", "tools",
        "generated", "artificial", "intelligence", "after", "led", "caused", "multiple", "various",
    }
)  # fmt: skip
STOP = sorted(set(ENGLISH_STOP_WORDS) | DOMAIN_STOP)
TOKENS = r"(?u)\b[a-zA-Z][a-zA-Z0-9'-]*[a-zA-Z0-9]\b"


def _vectorize(texts: Sequence[str]) -> tuple[np.ndarray | None, list[str]]:
    vec = CountVectorizer(
        ngram_range=(1, 2), stop_words=STOP, token_pattern=TOKENS, binary=True, lowercase=True, min_df=1
    )
    try:
        matrix = vec.fit_transform(texts)
    except ValueError:  # no usable word at all
        return None, []
    return matrix.tocsc(), list(vec.get_feature_names_out())


def _stem(word: str) -> str:
    """A crude stem so that chatbot/chatbots, tiktok/tiktok's, algorithm/algorithmic count as one word."""
    word = word.removesuffix("'s")
    if len(word) > 4 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    return word[:7]


def _same(a: str, b: str) -> bool:
    short, long = sorted((_stem(a), _stem(b)), key=len)
    return long.startswith(short) if len(short) >= 4 else short == long


def _within(term: str, other: str) -> bool:
    """Every word of `term` is (a form of) a word of `other`."""
    return all(any(_same(w, o) for o in other.split()) for w in term.split())


def _pick(order: np.ndarray, terms: list[str], n: int) -> list[str]:
    chosen: list[str] = []
    for idx in order:
        term = terms[idx]
        if any(_within(term, c) for c in chosen):
            continue
        # A bigram replaces the unigrams it contains, keeping the label short and specific.
        chosen = [c for c in chosen if not _within(c, term)] + [term]
        if len(chosen) == n:
            break
    return chosen


def cluster_terms(texts: Sequence[str], labels: Sequence[int], n: int = 4) -> dict[int, list[str]]:
    """The n most distinguishing terms of each cluster (by c-TF-IDF), best first."""
    labels_arr = np.asarray(labels)
    clusters = sorted(set(labels_arr.tolist()))
    matrix, terms = _vectorize(texts)
    if matrix is None:
        return {c: [] for c in clusters}
    matrix = matrix.tocsr()
    df_class = np.vstack([np.asarray(matrix[labels_arr == c].sum(axis=0)).ravel() for c in clusters])
    sizes = np.array([(labels_arr == c).sum() for c in clusters], dtype=np.float64)
    freq = df_class.sum(axis=0)
    idf = np.log1p(sizes.mean() / np.maximum(freq, 1.0))
    overall = freq / sizes.sum()
    out: dict[int, list[str]] = {}
    for row, c in enumerate(clusters):
        need = 2.0 if sizes[row] >= 3 else 1.0
        share = df_class[row] / sizes[row]
        score = share * idf
        score[df_class[row] < need] = 0.0
        if len(clusters) > 1:
            score[share <= overall] = 0.0  # no more common here than anywhere: distinguishes nothing
        # Highest score first; ties by term for determinism.
        order = np.lexsort((np.array(terms), -score))
        order = order[score[order] > 0]
        out[c] = _pick(order, terms, n)
    return out


def label_of(terms: Sequence[str], fallback: str) -> str:
    return " · ".join(terms[:3]) if terms else fallback
