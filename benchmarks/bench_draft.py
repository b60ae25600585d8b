"""The offline draft of an incident with 5,000 spans in its window (target: under 10 s).

The traffic is the demo's support assistant (retrieval/samples/generate.py) at a higher request rate, so the
window holds ~5,000 spans plus a baseline before it. Ingest uses the real MiniLM embedder but embeds each
distinct span text once (the generated traffic repeats itself); it is set up, not measured. Measured in the
same run: the draft of a ~500-span slice of the same incident, and the bare cost of reading the window's
spans from the store, as baselines for the ratios.
"""

from __future__ import annotations

import random
import shutil
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import numpy as np

from agent.api import draft_incident, load_incident
from agent.settings import Settings
from retrieval.embeddings import MiniLMEmbedder
from retrieval.ingest import iter_file
from retrieval.samples import DEMO_INCIDENT
from retrieval.samples import generate as gen
from retrieval.store import TraceStore
from retrieval.trace import Span

TARGET_S = 10.0
WINDOW_SPANS = 5_000
CACHE = Path(__file__).resolve().parents[1] / ".postmortem" / "cache"


class OncePerText:
    """MiniLM that embeds each distinct text once (same embedder id, so the store reopens with MiniLM)."""

    def __init__(self, inner: MiniLMEmbedder) -> None:
        self.inner = inner
        self.seen: dict[str, np.ndarray] = {}

    def name(self) -> str:
        return self.inner.name()

    def get_config(self) -> dict:
        return self.inner.get_config()

    def embed(self, texts: list[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self.seen]
        if missing:
            self.seen.update(zip(missing, self.inner.embed(missing), strict=True))
        return np.stack([self.seen[t] for t in texts])

    __call__ = embed


def traffic(window_spans: int) -> list[dict]:
    """OTLP spans: a 12 h baseline at the demo's pace, then the window at the rate that fills it."""
    rng, ids = random.Random(7), gen.Ids("bench-draft")
    out: list[dict] = []
    at, n, in_window = gen.BASELINE_START, 0, 0
    while at < gen.WINDOW_END and in_window < window_spans:
        n += 1
        trace = gen.support_trace(ids, at, rng, f"conv-{n:05d}", f"u-{rng.randint(1000, 99999)}")
        out += trace
        if at >= gen.WINDOW_START:
            in_window += len(trace)
        pace = (14, 24) if at < gen.WINDOW_START else (0.25, 0.45)
        at += timedelta(minutes=rng.uniform(*pace))
    return out


def build_store(home: Path, embedder: MiniLMEmbedder) -> tuple[int, float]:
    import json

    payload = gen._request(gen.T.SERVICE, traffic(WINDOW_SPANS))
    source = home / "bench.otlp.json"
    source.write_text(json.dumps(payload))
    spans = [s for s in iter_file(source) if isinstance(s, Span)]
    started = time.perf_counter()
    store = TraceStore(path=home / "chroma", embedder=OncePerText(embedder))
    store.add_spans(spans, batch_size=1024)
    store.close()
    return len(spans), time.perf_counter() - started


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="bench-draft-"))
    try:
        embedder = MiniLMEmbedder(cache_dir=CACHE)
        embedder.embed(["warm up"])
        total, setup_s = build_store(home, embedder)
        store = TraceStore(path=home / "chroma", embedder=embedder)
        settings = Settings(home=home, cache_dir=CACHE)
        incident = load_incident(DEMO_INCIDENT)
        started = time.perf_counter()
        window = store.query_spans(
            service=gen.T.SERVICE, start=incident.window_start, end=incident.window_end
        )
        read_s = time.perf_counter() - started
        end = window[0].start_time + (window[-1].start_time - window[0].start_time) * 500 / len(window)
        small = incident.model_copy(update={"id": "bench-small", "window_end": end})
        started = time.perf_counter()
        draft_incident(small, settings=settings, store=store)
        small_s = time.perf_counter() - started
        started = time.perf_counter()
        result = draft_incident(incident, settings=settings, store=store)
        draft_s = time.perf_counter() - started
        store.close()
        print(f"spans stored: {total} (set-up, not measured: {setup_s:.1f} s)")
        print(f"window spans: {len(window)}; reading them from the store: {read_s:.2f} s")
        print(
            f"offline draft, {len(window)}-span window: {draft_s:.2f} s "
            f"(target < {TARGET_S:.0f} s: {'PASS' if draft_s < TARGET_S else 'FAIL'}); "
            f"primary {result.draft.classification.primary}, {len(result.draft.evidence)} evidence items"
        )
        small_spans = sum(1 for s in window if s.start_time < end)
        print(f"offline draft, {small_spans}-span slice of the same window: {small_s:.2f} s")
        print(f"ratio 5,000-span draft / 500-span draft: {draft_s / small_s:.1f}x (10x = linear)")
        print(f"ratio draft / reading the window from the store: {draft_s / read_s:.1f}x")
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
