"""Deterministic clustering of incidents: sentence vectors joined with a latent-semantic (TF-IDF + SVD) view
of the same texts, k-means with a fixed seed, k chosen by silhouette among a few candidates.

The baseline the quality check compares with is plain k-means over TF-IDF with the same k and seed.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from sklearn.cluster import KMeans
from sklearn.decomposition import TruncatedSVD
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import normalize

SEED = 0
N_INIT = 4
N_INIT_SMALL = 10  # restarts for corpora of at most SMALL items (cheap there, and fewer bad optima)
SMALL = 500
LSA_DIM = 100
LSA_WEIGHT = 0.5  # of the TF-IDF view beside the sentence vectors (both unit length)
K_MAX = 24
SILHOUETTE_SAMPLE = 2000
ROUND = 4  # decimals kept of the vectors: float noise below this cannot move an incident between clusters
METHOD = f"k-means (seed {SEED}) over MiniLM vectors + {LSA_WEIGHT} x TF-IDF/SVD{LSA_DIM}, k by silhouette"
BASELINE = f"k-means (seed {SEED}) over TF-IDF"
STOP_WORDS = "english"


@dataclass
class Clustering:
    labels: np.ndarray  # cluster index per item, 0..k-1
    k: int
    features: np.ndarray  # the rows that were clustered (unit length)
    silhouette: dict[int, float] = field(default_factory=dict)
    method: str = METHOD


def tfidf(texts: Sequence[str]) -> sparse.csr_matrix:
    """Sublinear TF-IDF over words seen in at least two texts (all words for tiny corpora)."""
    min_df = 2 if len(texts) >= 20 else 1
    try:
        vec = TfidfVectorizer(stop_words=STOP_WORDS, min_df=min_df, sublinear_tf=True, dtype=np.float64)
        return vec.fit_transform(texts)
    except ValueError:  # no word survives (empty or stop-word-only texts)
        return sparse.csr_matrix(np.ones((len(texts), 1)))


def features(texts: Sequence[str], vectors: np.ndarray) -> np.ndarray:
    """Unit rows: [sentence vector, LSA_WEIGHT * unit LSA vector], rounded so runs agree to the bit."""
    if len(texts) != len(vectors):
        raise ValueError(f"{len(texts)} texts but {len(vectors)} vectors")
    emb = normalize(np.asarray(vectors, dtype=np.float64))
    matrix = tfidf(texts)
    dim = min(LSA_DIM, matrix.shape[1] - 1, len(texts) - 1)
    if dim >= 2:
        lsa = TruncatedSVD(dim, algorithm="randomized", random_state=SEED).fit_transform(matrix)
        joined = np.hstack([emb, LSA_WEIGHT * normalize(lsa)])
    else:
        joined = emb
    return np.round(normalize(joined), ROUND)


def candidate_ks(n: int) -> list[int]:
    """The k values tried: about sqrt(2n) at most (capped at K_MAX), from half of that."""
    if n < 4:
        return [1]
    k_max = max(2, min(K_MAX, int(math.sqrt(n / 2)) * 2, n // 2))
    k_min = max(2, min(8, k_max // 2))
    step = 2 if k_max - k_min > 8 else 1
    ks = list(range(k_min, k_max + 1, step))
    return ks if ks[-1] == k_max else [*ks, k_max]


def kmeans(
    x: np.ndarray | sparse.spmatrix, k: int, seed: int = SEED, n_init: int | None = None
) -> np.ndarray:
    if k <= 1 or x.shape[0] <= k:
        return np.zeros(x.shape[0], dtype=np.int64) if k <= 1 else np.arange(x.shape[0], dtype=np.int64)
    n_init = n_init or (N_INIT_SMALL if x.shape[0] <= SMALL else N_INIT)
    model = KMeans(n_clusters=k, n_init=n_init, random_state=seed, algorithm="lloyd")
    with warnings.catch_warnings():  # duplicate incidents can leave fewer distinct clusters than k
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit_predict(x).astype(np.int64)


def _silhouette(x: np.ndarray, labels: np.ndarray) -> float:
    if len(set(labels.tolist())) < 2:
        return -1.0
    size = min(SILHOUETTE_SAMPLE, x.shape[0])
    return float(silhouette_score(x, labels, sample_size=size, random_state=SEED))


def cluster(texts: Sequence[str], vectors: np.ndarray, k: int | None = None) -> Clustering:
    """Cluster the texts (with their sentence vectors). k=None: the candidate with the best silhouette.

    Candidates are scored on a single k-means start each; the chosen k is then fitted with N_INIT starts.
    """
    x = features(texts, vectors)
    scores: dict[int, float] = {}
    if k is None:
        for cand in candidate_ks(len(texts)):
            scores[cand] = round(_silhouette(x, kmeans(x, cand, n_init=1)), 4) if cand > 1 else 0.0
        k = max(scores, key=lambda c: (scores[c], -c))
    labels = kmeans(x, max(1, min(k, len(texts))))
    _, labels = np.unique(labels, return_inverse=True)  # 0..k-1 over the clusters actually found
    return Clustering(labels=labels.astype(np.int64), k=int(labels.max()) + 1 if len(labels) else 0,
                      features=x, silhouette=scores)  # fmt: skip


def baseline(texts: Sequence[str], k: int, seed: int = SEED) -> np.ndarray:
    """The simple baseline: k-means over TF-IDF of the same texts, same k and seed."""
    return kmeans(tfidf(texts), k, seed)


def centrality(x: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Cosine of each row to its cluster's mean: the most typical incidents come first in citations."""
    out = np.zeros(len(labels))
    for c in np.unique(labels):
        rows = labels == c
        centre = x[rows].mean(axis=0)
        norm = float(np.linalg.norm(centre)) or 1.0
        out[rows] = x[rows] @ (centre / norm)
    return out
