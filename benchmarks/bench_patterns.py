"""How `postmortem patterns` scales: 1,000 to 10,000 incidents, embeddings included, and the real 1,367 AIID
incidents against the 60 s target (issue 6), with NMI/purity against the MIT labels beside the baseline.

Corpus: the AIID snapshot in shared/data/aiid (CC BY-SA 4.0, AI Incident Database), then resampled incidents with
perturbed text (words dropped and swapped, another deployer, another date) so every text is new and must be
embedded. The texts are embedded once, in chunks whose times add up to each size's embedding cost; every other
stage (corpus, clustering with k chosen by silhouette, labels and the rest of the report) is run per size.
Ratios are against the smallest size measured in the same run; wall and CPU seconds are printed because the
machine may be shared.
Env: BENCH_PATTERNS_SIZES (default "1000,2000,5000,10000"), BENCH_PATTERNS_AIID (path of incidents.csv).
"""

from __future__ import annotations

import math
import os
import random
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from agent.patterns.analyze import analyze, vectors_for
from agent.patterns.corpus import build_corpus
from agent.patterns.quality import evaluate, load_mit_labels
from agent.settings import Settings
from retrieval.aiid import read_aiid
from retrieval.embeddings import MiniLMEmbedder
from retrieval.trace import PostmortemDoc

REPO = Path(__file__).resolve().parents[1]
AIID_DIRS = (Settings().aiid_data_dir,)  # POSTMORTEM_AIID_DIR, default shared/data/aiid beside the checkout
TARGET_S = 60.0


@dataclass
class Clock:
    wall: float = 0.0
    cpu: float = 0.0
    _start: tuple[float, float] = field(default=(0.0, 0.0))

    def __enter__(self) -> Clock:
        self._start = (time.perf_counter(), time.process_time())
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall += time.perf_counter() - self._start[0]
        self.cpu += time.process_time() - self._start[1]


def _aiid_csv() -> Path:
    explicit = os.environ.get("BENCH_PATTERNS_AIID")
    if explicit:
        return Path(explicit)
    for folder in AIID_DIRS:
        if (folder / "incidents.csv").is_file():
            return folder / "incidents.csv"
    raise FileNotFoundError("no AIID incidents.csv: set BENCH_PATTERNS_AIID")


def perturb(doc: PostmortemDoc, n: int, rng: random.Random, deployers: list[str]) -> PostmortemDoc:
    """A new incident resampled from `doc`: ~15% of words dropped, two swapped, another deployer and date."""
    words = [w for w in doc.text.split() if rng.random() > 0.15] or doc.text.split()
    if len(words) > 3:
        i, j = rng.sample(range(len(words)), 2)
        words[i], words[j] = words[j], words[i]
    title = doc.title.split()
    if len(title) > 3:
        title.pop(rng.randrange(len(title)))
    deployer = rng.choice(deployers)
    year = rng.randint(2016, 2025)
    return doc.model_copy(
        update={
            "id": f"aiid-{100000 + n}",
            "title": " ".join(title),
            "text": " ".join(words),
            "service": deployer,
            "date": f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "metadata": {**doc.metadata, "deployers": [deployer], "incident_id": 100000 + n},
        }
    )


def corpus(real: list[PostmortemDoc], size: int, seed: int = 6) -> list[PostmortemDoc]:
    rng = random.Random(seed)
    deployers = sorted({d.service for d in real if d.service})
    docs = list(real[:size])
    while len(docs) < size:
        docs.append(perturb(rng.choice(real), len(docs), rng, deployers))
    return docs


def embed_in_chunks(
    embedder: MiniLMEmbedder, texts: list[str], bounds: list[int]
) -> tuple[np.ndarray, dict[int, Clock]]:
    """Vectors of all texts, and the cumulative embedding time at each bound."""
    out = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    cumulative: dict[int, Clock] = {}
    total = Clock()
    start = 0
    for bound in sorted(set(bounds)):
        with total:
            out[start:bound] = embedder.embed(texts[start:bound])
        cumulative[bound] = Clock(wall=total.wall, cpu=total.cpu)
        start = bound
    return out, cumulative


def main() -> None:
    sizes = [
        int(s) for s in os.environ.get("BENCH_PATTERNS_SIZES", "1000,2000,5000,10000").split(",") if s.strip()
    ]
    path = _aiid_csv()
    real, errors = read_aiid(path)
    if errors:
        raise ValueError(f"{path}: {len(errors)} bad rows, first: {errors[0]}")
    n_real = len(real)
    docs = corpus(real, max([*sizes, n_real]))
    embedder = MiniLMEmbedder(cache_dir=REPO / ".postmortem" / "cache")
    embedder.embed(["warm up"])
    texts = [f"{d.title}\n{d.text}" for d in docs]  # what the store embeds for a one-chunk post-mortem
    print(
        f"{len(docs)} incidents ({n_real} real AIID, the rest resampled and perturbed); embedding them...",
        flush=True,
    )
    vectors, embed_at = embed_in_chunks(embedder, texts, [*sizes, n_real])
    by_id = {d.id: v for d, v in zip(docs, vectors, strict=True)}

    print(f"\n{'n':>6} {'embed':>8} {'corpus':>7} {'cluster':>8} {'rest':>6} {'total':>8} {'cpu':>8} "
          f"{'ratio':>6} {'per-1k':>7} {'k':>3} {'peak MiB':>8}")  # fmt: skip
    base: float | None = None
    base_n = 0
    rows = []
    for n in sizes:
        with Clock() as c_corpus:
            items = build_corpus(docs[:n])  # sorted by id: vectors are looked up by id, as from the store
            rows_n = vectors_for(items, by_id, embedder.embed)
        with Clock() as c_analyze:
            report, _ = analyze(items, rows_n, embedder.embed)
        cluster_s = report.timing.cluster_s
        rest_s = c_analyze.wall - cluster_s
        total = embed_at[n].wall + c_corpus.wall + c_analyze.wall
        cpu = embed_at[n].cpu + c_corpus.cpu + c_analyze.cpu
        if base is None:
            base, base_n = total, n
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        rows.append((n, total))
        print(
            f"{n:>6} {embed_at[n].wall:>7.1f}s {c_corpus.wall:>6.1f}s {cluster_s:>7.1f}s {rest_s:>5.1f}s "
            f"{total:>7.1f}s {cpu:>7.1f}s {total / base:>5.2f}x {total / n * 1000:>6.1f}s {report.k:>3} {peak:>8.0f}",
            flush=True,
        )
    if len(rows) >= 2:
        (n0, t0), (n1, t1) = rows[0], rows[-1]
        exponent = math.log(t1 / t0) / math.log(n1 / n0)
        print(
            f"growth: cost ~ n^{exponent:.2f} from {n0} to {n1} (1.0 = linear); ratios vs n={base_n} in this run"
        )

    print(f"\nthe real snapshot: {n_real} AIID incidents, embeddings included (target {TARGET_S:.0f} s)")
    with Clock() as c_all:
        items = build_corpus(real)
        report, result = analyze(items, vectors_for(items, by_id, embedder.embed), embedder.embed)
    total = embed_at[n_real].wall + c_all.wall
    cpu = embed_at[n_real].cpu + c_all.cpu
    verdict = "within" if total < TARGET_S else "OVER"
    print(f"  embed {embed_at[n_real].wall:.1f}s + patterns {c_all.wall:.1f}s = {total:.1f}s wall ({cpu:.1f} CPU-s): "
          f"{verdict} the {TARGET_S:.0f} s target; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")  # fmt: skip
    labels = path.parent / "classifications_MIT.csv"
    if labels.is_file():
        q = evaluate(items, result, load_mit_labels(labels))
        print(f"  quality vs {q.labels} ({q.labelled} labelled, {q.classes} classes), k = {q.ours.k}:")
        print(f"    ours     NMI {q.ours.nmi:.3f}  purity {q.ours.purity:.3f}  ({q.ours.method})")
        print(f"    baseline NMI {q.baseline.nmi:.3f}  purity {q.baseline.purity:.3f}  ({q.baseline.method})")
        print(
            f"    ratio    NMI {q.ours.nmi / q.baseline.nmi:.2f}x  purity {q.ours.purity / q.baseline.purity:.2f}x"
        )


if __name__ == "__main__":
    main()
