"""Offline eval of every case in evals/cases: wall time against the 2-minute target, cold and warm.

Cold: a fresh vector cache, so every span text is embedded (what a first run on a new machine pays). Warm: the same
run again, reusing the cached vectors (every later run). Baseline measured in the same run: the time spent inside
the embedder alone during the cold run, so the ratios show what the store, detectors and drafting add on top.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

TARGET_S = 120.0


def _once(samples, embedder, settings, workdir: Path):  # noqa: ANN001, ANN202
    from evals.harness.runner import AgentSolver, run_eval

    solver = AgentSolver(embedder=embedder, settings=settings, workdir=workdir)
    started = time.perf_counter()
    runs = run_eval(samples, solver, prime=os.environ.get("BENCH_EVAL_PRIME", "1") == "1")
    return runs, time.perf_counter() - started


def main() -> None:
    from agent.settings import get_settings
    from evals.harness.dataset import load_samples
    from evals.harness.embedcache import CachedEmbedder
    from retrieval.embeddings import get_embedding_function

    settings = get_settings()
    samples = load_samples(split="all")
    if not samples:
        print("no cases in evals/cases: nothing to measure")
        return
    started = time.perf_counter()
    inner = get_embedding_function(settings.embedder, settings.cache_dir)
    inner(["warm up"])
    load_s = time.perf_counter() - started

    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "vectors.sqlite3"
        cold_embedder = CachedEmbedder(inner, cache)
        runs, cold_s = _once(samples, cold_embedder, settings, Path(tmp))
        cold_embedder.close()
        warm_embedder = CachedEmbedder(inner, cache)
        _runs, warm_s = _once(samples, warm_embedder, settings, Path(tmp))
        warm_embedder.close()

    spans = sum(r.spans for r in runs)
    ingest = sum(r.ingest_s for r in runs)
    draft = sum(r.draft_s for r in runs)
    errors = [r.case_id for r in runs if r.error]
    slowest = max(runs, key=lambda r: r.ingest_s + r.draft_s)
    embed_s = cold_embedder.embed_s
    print(
        f"cases: {len(samples)}, spans: {spans}, cores: {os.cpu_count()}, errors: {len(errors)} {errors or ''}"
    )
    print(f"embedder load: {load_s:.1f} s (once per run, not counted below)")
    for label, seconds in (("cold (no cached vectors)", cold_s), ("warm (cached vectors)", warm_s)):
        verdict = "OK" if seconds < TARGET_S else "MISSED"
        print(f"eval of all cases, {label}: {seconds:.1f} s  (target < {TARGET_S:.0f} s: {verdict})")
    print(f"  cold: ingest {ingest:.1f} s (of which embedding {embed_s:.1f} s), draft {draft:.1f} s")
    print(
        f"  per case (cold): {cold_s / len(samples):.2f} s mean; slowest {slowest.case_id} "
        f"{slowest.ingest_s + slowest.draft_s:.2f} s"
    )
    print(
        f"  vectors: {cold_embedder.misses} embedded cold; warm run {warm_embedder.hits} reused, "
        f"{warm_embedder.misses} embedded"
    )
    if embed_s > 0:
        print(
            f"baseline, embedding alone during the cold run: {embed_s:.1f} s ({embed_s / max(spans, 1) * 1000:.1f} ms/span)"
        )
        print(
            f"ratio cold eval / embedding alone: {cold_s / embed_s:.2f}x; warm / embedding alone: {warm_s / embed_s:.2f}x"
        )
    print(f"ratio cold / warm: {cold_s / warm_s:.1f}x; warm / target: {warm_s / TARGET_S:.2f}")


if __name__ == "__main__":
    main()
