"""Cluster quality measured against human labels: the MIT AI Risk Repository's Risk Subdomain of each AIID
incident (classifications_MIT.csv), as NMI and purity, beside the TF-IDF k-means baseline run on the same
incidents with the same k in the same call.
"""

from __future__ import annotations

import csv
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from sklearn.metrics import normalized_mutual_info_score

from agent.patterns.cluster import BASELINE, SEED, Clustering, baseline, kmeans
from agent.patterns.schema import CorpusItem, Quality, ScoreLine
from retrieval.aiid import aiid_id

LABEL_COLUMN = "Risk Subdomain"
LABELS_NAME = f"MIT AI Risk Repository: {LABEL_COLUMN}"


class LabelsError(ValueError):
    """A bad labels file: the message names the file and the line."""


def load_mit_labels(path: Path, column: str = LABEL_COLUMN) -> dict[str, str]:
    """Corpus id ("aiid-<n>") -> the human label in `column`; rows without a label are left out."""
    try:
        handle = path.open(encoding="utf-8", newline="")
    except OSError as exc:
        raise LabelsError(f"{path}: cannot read ({exc.strerror or exc})") from None
    with handle:
        reader = csv.DictReader(handle)
        fields = reader.fieldnames or []
        if "Incident ID" not in fields or column not in fields:
            raise LabelsError(
                f"{path}:line 1: not an MIT classifications file (needs 'Incident ID' and '{column}')"
            )
        out: dict[str, str] = {}
        start = reader.line_num + 1
        for row in reader:
            line, start = start, reader.line_num + 1
            raw = (row.get("Incident ID") or "").strip()
            if not raw.isdigit():
                raise LabelsError(f"{path}:line {line}: Incident ID {raw!r} is not a number")
            label = (row.get(column) or "").strip()
            if label:
                out[aiid_id(int(raw))] = label
    return out


def purity(truth: Sequence[str], clusters: Sequence[int]) -> float:
    """Share of items whose cluster's most common label is their own."""
    if not truth:
        return 0.0
    by_cluster: dict[int, Counter[str]] = {}
    for label, c in zip(truth, clusters, strict=True):
        by_cluster.setdefault(c, Counter())[label] += 1
    return sum(counts.most_common(1)[0][1] for counts in by_cluster.values()) / len(truth)


def nmi(truth: Sequence[str], clusters: Sequence[int]) -> float:
    return float(normalized_mutual_info_score(list(truth), list(clusters)))


def _line(method: str, k: int, scores: list[tuple[float, float]]) -> ScoreLine:
    nmis = np.array([s[0] for s in scores])
    purities = np.array([s[1] for s in scores])
    many = len(scores) > 1
    return ScoreLine(
        method=method,
        k=k,
        nmi=round(float(nmis.mean()), 4),
        purity=round(float(purities.mean()), 4),
        seeds=len(scores),
        nmi_sd=round(float(nmis.std(ddof=1)), 4) if many else None,
        purity_sd=round(float(purities.std(ddof=1)), 4) if many else None,
    )


def evaluate(
    items: Sequence[CorpusItem],
    result: Clustering,
    truth_by_id: Mapping[str, str],
    *,
    seeds: int = 1,
    labels_name: str = LABELS_NAME,
) -> Quality:
    """NMI and purity of `result` and of the baseline (same k), over the items that have a human label.

    seeds > 1 also reruns both methods with seeds SEED+1.. and reports the mean and spread (the report's own
    clustering is always the seed-SEED one, which is the first of them).
    """
    started = time.perf_counter()
    rows = [r for r, item in enumerate(items) if item.id in truth_by_id]
    if not rows:
        raise LabelsError("no corpus incident has a human label (import the AIID incidents first)")
    truth = [truth_by_id[items[r].id] for r in rows]
    texts = [i.text for i in items]
    ours: list[tuple[float, float]] = []
    base: list[tuple[float, float]] = []
    for s in range(seeds):
        labels = result.labels if s == 0 else kmeans(result.features, result.k, seed=SEED + s)
        picked = [int(labels[r]) for r in rows]
        ours.append((nmi(truth, picked), purity(truth, picked)))
        b = baseline(texts, result.k, seed=SEED + s)
        picked_b = [int(b[r]) for r in rows]
        base.append((nmi(truth, picked_b), purity(truth, picked_b)))
    return Quality(
        labels=labels_name,
        labelled=len(rows),
        classes=len(set(truth)),
        ours=_line(result.method, result.k, ours),
        baseline=_line(BASELINE, result.k, base),
        seconds=round(time.perf_counter() - started, 3),
    )
