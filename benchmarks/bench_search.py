"""Hybrid span search latency with 100,000 spans stored, vs a bare Chroma vector query in the same run.

Target (issue 2): search p50 under 100 ms with 100,000 spans stored (query embedding, vector + BM25 sides,
fusion and loading the hits included).

The stored spans are synthetic (services, models, kinds, error codes, ids, and free text drawn from a
5,000-word vocabulary with Zipf frequencies, as natural text has). To skip 100k
embeddings their vectors are precomputed: random unit vectors around 64 cluster centres, NOT MiniLM
vectors of their text. Queries are embedded by the real MiniLM model, as in use.
Env: BENCH_SEARCH_SPANS (default 100000), BENCH_SEARCH_DIR (reuse a filled store between runs).
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.trace import Message, Span, SpanKind, Status, ToolInfo

SERVICES = [
    f"svc-{name}"
    for name in ("support", "search", "billing", "shipping", "auth", "checkout", "catalog", "ads")
]
MODELS = ["gpt-4o-2024-08-06", "gpt-4o-2024-11-20", "gpt-4o-mini-2024-07-18", "claude-sonnet-4-20250514"]
CODES = ["ERR_RATE_LIMIT_429", "ERR_CARRIER_TIMEOUT_504", "ERR_SCHEMA_INVALID", "ERR_CONTEXT_OVERFLOW"]
WORDS = [
    "refund", "order", "parcel", "invoice", "warranty", "return", "shipping", "label", "carrier", "size",
    "boots", "jacket", "policy", "window", "customer", "agent", "escalate", "account", "billing", "renewal",
    "plan", "annual", "monthly", "receipt", "damaged", "courier", "tracking", "exchange", "voucher",
    "discount", "credit", "ticket", "delay", "warehouse", "password", "login", "search", "ranking", "price",
]  # fmt: skip
T0 = datetime(2025, 5, 1, tzinfo=UTC)


def vocabulary(size: int = 5000, seed: int = 1) -> tuple[list[str], list[float]]:
    """The domain words first, then made-up words; Zipf weights (s=1.1) as in natural text."""
    rng = random.Random(seed)
    syllables = [a + b for a in "bcdfghklmnprstvz" for b in "aeiou"]
    words = list(WORDS)
    while len(words) < size:
        word = "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))
        if word not in words:
            words.append(word)
    rng.shuffle(words)  # domain words anywhere in the frequency ranking, a few of them very common
    for rank, word in enumerate(("customer", "order", "refund", "agent", "policy", "ticket")):
        words.remove(word)
        words.insert(3 * rank + 2, word)
    return words, [1.0 / (rank**1.1) for rank in range(1, len(words) + 1)]


def synthetic_spans(n: int, seed: int = 3) -> Iterator[Span]:
    rng = random.Random(seed)
    words, weights = vocabulary()
    for i in range(n):
        kind = rng.choice([SpanKind.llm, SpanKind.llm, SpanKind.retrieval, SpanKind.tool, SpanKind.agent])
        text = " ".join(rng.choices(words, weights, k=rng.randint(12, 60)))
        error = rng.random() < 0.02
        yield Span(
            trace_id=f"{rng.getrandbits(128):032x}",
            span_id=f"{rng.getrandbits(64):016x}",
            service=rng.choice(SERVICES),
            name=f"{kind.value} step",
            kind=kind,
            start_time=T0 + timedelta(seconds=i * 26),
            end_time=T0 + timedelta(seconds=i * 26 + 2),
            request_model="gpt-4o" if kind == SpanKind.llm else None,
            response_model=rng.choice(MODELS) if kind == SpanKind.llm else None,
            status=Status(code="error", message=f"{rng.choice(CODES)}: upstream failed")
            if error
            else Status(),
            input_messages=[Message(role="user", content=text)] if kind == SpanKind.llm else [],
            output_messages=[Message(role="assistant", content=text[::-1][:80])]
            if kind == SpanKind.llm
            else [],
            tool=ToolInfo(name="lookup", arguments='{"q": 1}', result=text)
            if kind == SpanKind.tool
            else None,
            retrieval_query=text if kind == SpanKind.retrieval else None,
            input_value=text if kind == SpanKind.agent else None,
        )


class PrecomputedVectors:
    """Stands in for MiniLM while filling: unit vectors around fixed centres (same id, so the store
    accepts the real MiniLM embedder for the queries afterwards)."""

    def __init__(self, real: Any, seed: int = 5) -> None:
        self._real = real
        self._rng = np.random.default_rng(seed)
        self._centres = self._rng.normal(size=(64, 384)).astype(np.float32)

    def embed(self, texts: list[str]) -> np.ndarray:
        picks = self._rng.integers(0, len(self._centres), size=len(texts))
        vectors = self._centres[picks] + 0.6 * self._rng.normal(size=(len(texts), 384)).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def name(self) -> str:
        return self._real.name()

    def get_config(self) -> dict[str, Any]:
        return self._real.get_config()


def fill(path: Path, real: Any, n: int) -> None:
    from retrieval.store import TraceStore

    store = TraceStore(path=path, embedder=PrecomputedVectors(real))
    try:
        have = store.count_spans()
        if have >= n:
            print(f"store at {path} already holds {have} spans")
            return
        started = time.perf_counter()
        result = store.add_spans(synthetic_spans(n), batch_size=1000)
        elapsed = time.perf_counter() - started
        print(
            f"filled {result.added} spans in {elapsed:.0f}s ({result.added / elapsed:.0f} spans/s, no embedding)"
        )
    finally:
        store.close()


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return times


def _p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def main() -> None:
    from agent.settings import get_settings
    from retrieval.embeddings import MiniLMEmbedder
    from retrieval.store import TraceStore

    n = int(os.environ.get("BENCH_SEARCH_SPANS", "100000"))
    real = MiniLMEmbedder(cache_dir=get_settings().cache_dir)
    real.embed(["warm up"])
    with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
        path = Path(os.environ.get("BENCH_SEARCH_DIR") or tmp) / "db"
        fill(path, real, n)
        store = TraceStore(path=path, embedder=real)
        try:
            print(
                f"spans stored: {store.count_spans()} (vectors precomputed, not MiniLM: see module docstring)"
            )
            some = store.query_spans(limit=5000)[::500]
            window = (T0 + timedelta(days=3), T0 + timedelta(days=6))
            cases: list[tuple[str, dict[str, Any]]] = [
                ("customer asked for a refund on a damaged parcel", {}),
                ("why did the agent escalate the billing ticket", {"service": "svc-billing"}),
                ("ERR_CARRIER_TIMEOUT_504", {}),
                ("ERR_RATE_LIMIT_429 rate limited", {"kind": SpanKind.llm}),
                ("gpt-4o-2024-11-20 refused to answer", {"model": "gpt-4o-2024-11-20"}),
                ("tracking number lookup failed", {"start": window[0], "end": window[1]}),
                ("warranty policy window for boots", {"service": "svc-support", "kind": SpanKind.retrieval}),
                *[(span.span_id, {}) for span in some[:5]],
                *[(f"trace {span.trace_id}", {}) for span in some[5:8]],
            ]
            for query, filters in cases[:3]:  # warm: index pages, HNSW loaded
                store.search_spans(query, **filters)
            hybrid: list[float] = []
            vector: list[float] = []
            print(f"{'query':52s} {'filters':22s} {'hybrid p50':>10s} {'baseline p50':>12s}")
            for query, filters in cases:
                h = timed(lambda q=query, f=filters: store.search_spans(q, k=10, **f), 5)
                where = _where(filters)
                v = timed(
                    lambda q=query, w=where: store._spans.query(
                        query_embeddings=real.embed([q]), n_results=10, where=w, include=["metadatas"]
                    ),
                    5,
                )
                hybrid += h
                vector += v
                names = ",".join(filters) or "-"
                print(
                    f"{query[:52]:52s} {names:22s} {statistics.median(h):8.1f}ms {statistics.median(v):10.1f}ms"
                )
            exact = store.search_spans("ERR_CARRIER_TIMEOUT_504", k=3)
            assert exact and exact[0].exact, "the error code must be found by the keyword side"
        finally:
            store.close()
    h50, v50 = statistics.median(hybrid), statistics.median(vector)
    print(f"queries: {len(cases)} (natural language, error codes, span/trace ids, filters), 5 runs each")
    print(
        f"baseline: MiniLM query embedding + bare Chroma vector query: p50 {v50:.1f} ms, p95 {_p(vector, 95):.1f} ms"
    )
    print(f"hybrid search_spans (vector + BM25 + RRF + load): p50 {h50:.1f} ms, p95 {_p(hybrid, 95):.1f} ms")
    print(
        f"ratio hybrid/baseline p50: {h50 / v50:.2f}   (target p50 < 100 ms: {'PASS' if h50 < 100 else 'FAIL'})"
    )


def _where(filters: dict[str, Any]) -> dict[str, Any] | None:
    from retrieval.store_records import chroma_where

    return chroma_where(
        filters.get("service"),
        filters.get("start"),
        filters.get("end"),
        filters.get("model"),
        filters.get("kind"),
        None,
    )


if __name__ == "__main__":
    main()
