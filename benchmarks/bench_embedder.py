"""Embedder throughput: ours (MiniLMEmbedder) vs Chroma's built-in ONNXMiniLM_L6_V2 on the same model and texts.

Targets (issue 2): >= 400 short texts/s on this machine, and >= 10x Chroma's built-in ONNX embedder.
Chroma's embedder is seeded with our exported graph (it cannot download here); it pads every text to 256 tokens.
Then, to show what this machine allows at all: the fp32 GEMM ceiling on the model's weight shapes (MiniLM is
~85% matrix products), a sweep of texts/s by tokens per text against that ceiling, and what int8 would trade.
Env: BENCH_EMBED_N (texts, default 2000), BENCH_EMBED_CHROMA_N (subset timed for Chroma, default 256),
BENCH_EMBED_SWEEP_N (texts per sweep point, default 600; 0 skips the sweep), BENCH_EMBED_INT8=0 skips int8.
"""

from __future__ import annotations

import os
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks.embed_ceiling import flops_per_token, gemm_gflops, int8_tradeoff, texts_of_tokens
from retrieval.embeddings import MiniLMEmbedder, export_chroma_layout
from retrieval.embeddings.onnx_graph import BertConfig

SUBJECTS = [
    "the assistant", "tool call search_docs", "retriever", "gpt-4o-mini", "claude-3-5-sonnet", "agent step 7",
    "the planner", "embedding lookup", "vector store query", "the support bot", "llm span chat.completions",
    "the refund workflow", "guardrail check", "function get_order_status", "the summarizer",
]  # fmt: skip
VERBS = [
    "returned", "timed out after", "failed with", "ignored", "hallucinated", "retried", "truncated",
    "looped on", "cited", "exceeded", "dropped", "misread", "called", "rejected", "answered with",
]  # fmt: skip
OBJECTS = [
    "HTTP 429 rate limit", "an outdated refund policy document", "the user's order number 88412",
    "three irrelevant chunks from the FAQ", "a JSON schema validation error", "30 seconds",
    "the system prompt instructions", "an empty tool result", "the context window of 128k tokens",
    "a wrong shipping date", "invoice INV-2291", "the escalation rule for priority customers",
    "a stale cache entry", "temperature 0.7 and top_p 0.9", "finish_reason=length",
]  # fmt: skip
TAILS = [
    "while handling a billing question", "during the nightly batch", "for tenant acme-eu",
    "after the prompt template was changed", "in session 5f2c", "so the customer was told the wrong policy",
    "and the trace shows no retrieval span", "before the fallback model was used", "with latency p95 of 4.2s",
]  # fmt: skip


def span_texts(n: int, min_words: int = 10, max_words: int = 40, seed: int = 7) -> list[str]:
    """Span-like texts of min_words..max_words words (plus a " #i" suffix so they are unique)."""
    rng = random.Random(seed)
    out: list[str] = []
    while len(out) < n:
        target = rng.randint(min_words, max_words)
        words: list[str] = []
        while len(words) < target:
            clause = f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} {rng.choice(TAILS)}"
            words.extend(clause.split())
        out.append(" ".join(words[:target]) + f" #{len(out)}")
    return out


def timed(fn: Callable[[list[str]], object], texts: list[str], repeats: int = 2) -> tuple[float, float]:
    """Best (wall, process CPU) seconds of `repeats` runs. The machine is shared: CPU time is the steadier figure."""
    best = (float("inf"), float("inf"))
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        fn(texts)
        best = min(best, (time.perf_counter() - wall, time.process_time() - cpu))
    return best


def line(label: str, n: int, secs: tuple[float, float], extra: str = "") -> None:
    wall, cpu = secs
    print(f"{label:<24}: {n / wall:8.1f} texts/s wall  {n / cpu:8.1f} texts/CPU-s  ({wall:.2f}s){extra}")


def compare_with_chroma(ours: MiniLMEmbedder, chroma: object, texts: list[str], n_chroma: int) -> float:
    """Time Chroma's embedder and ours on the same subset; return the wall-clock ratio."""
    subset = texts[:n_chroma]
    t_chroma = timed(chroma, subset, repeats=1)  # type: ignore[arg-type]
    t_sub = timed(ours.embed, subset)
    line("  chroma built-in ONNX", n_chroma, t_chroma, f"  (first {n_chroma} texts)")
    line("  ours, same texts", n_chroma, t_sub)
    ratio = t_chroma[0] / t_sub[0]
    print(
        f"  ratio ours/chroma     : {ratio:8.1f}x wall  {t_chroma[1] / t_sub[1]:8.1f}x CPU   (target >= 10x)"
    )
    return ratio


def ceiling_and_sweep(ours: MiniLMEmbedder, n: int) -> list[str]:
    """The fp32 GEMM ceiling of this machine, texts/s by text length against it, and the int8 trade-off."""
    cfg = BertConfig.from_file(ours.model_dir / "config.json")
    gflops = gemm_gflops(cfg, ours.threads)
    print(
        f"\n[ceiling] fp32 MatMul on the model's weight shapes, {ours.threads} threads: {gflops:.0f} GFLOP/s; "
        f"MiniLM needs {flops_per_token(cfg, 16) / 1e6:.1f} MFLOP per token at 16 tokens"
    )
    out = []
    sweep_n = int(os.environ.get("BENCH_EMBED_SWEEP_N", "600"))
    if sweep_n:
        words = " ".join(span_texts(n, 10, 40)).split()
        print(f"  {'tokens/text':>11} {'texts/s':>9} {'ceiling':>9} {'of ceiling':>10}  >= 400/s")
        fastest_ok = 0
        for target in (8, 10, 12, 14, 16, 20, 24, 32, 48, 64):
            texts = texts_of_tokens(ours, words, target, sweep_n)
            mean = float(np.mean(ours.token_counts(texts)))
            wall, _ = timed(ours.embed, texts)
            rate = sweep_n / wall
            ceiling = gflops * 1e9 / flops_per_token(cfg, round(mean)) / mean
            fastest_ok = round(mean) if rate >= 400 else fastest_ok
            print(
                f"  {mean:11.1f} {rate:9.0f} {ceiling:9.0f} {rate / ceiling:10.0%}  {'yes' if rate >= 400 else 'no'}"
            )
        out.append(
            f"400 texts/s holds up to ~{fastest_ok} tokens per text ([CLS]/[SEP] included) in this run"
        )
    if os.environ.get("BENCH_EMBED_INT8", "1") != "0":
        speedup, low, mean_cos = int8_tradeoff(ours, span_texts(min(n, 1000), 3, 10))
        print(
            f"\n[int8] dynamic per-channel int8: {speedup:.2f}x fp32 speed, cosine to fp32 min {low:.4f} "
            f"mean {mean_cos:.4f} (the issue asks >= 0.9999 to Chroma's fp32 vectors)"
        )
        out.append(f"int8 would be {speedup:.2f}x faster at min cosine {low:.4f}: not usable")
    return out


def main() -> None:
    from chromadb.utils.embedding_functions import ONNXMiniLM_L6_V2

    from agent.settings import get_settings

    n = int(os.environ.get("BENCH_EMBED_N", "2000"))
    n_chroma = min(n, int(os.environ.get("BENCH_EMBED_CHROMA_N", "256")))
    cache_dir = get_settings().cache_dir
    ours = MiniLMEmbedder(cache_dir=cache_dir)
    ours.embed(["warm up"])
    print(
        f"cpu: {os.cpu_count()} logical, onnxruntime intra-op threads = {ours.threads}, batch {ours.batch_size}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        chroma = ONNXMiniLM_L6_V2(preferred_providers=["CPUExecutionProvider"])
        chroma.DOWNLOAD_PATH = export_chroma_layout(Path(tmp), ours.model_dir, cache_dir)
        chroma(["warm up"])
        probe = span_texts(32)
        agree = float((np.asarray(chroma(probe)) * ours.embed(probe)).sum(1).min())
        print(f"min cosine ours vs chroma (32 texts): {agree:.6f}")
        summary = []
        for label, lo, hi in (("span-like, 10-40 words", 10, 40), ("short, 3-10 words", 3, 10)):
            texts = span_texts(n, lo, hi)
            tokens = ours.token_counts(texts)
            print(f"\n[{label}] {n} texts, tokens/text mean {np.mean(tokens):.1f}, max {max(tokens)}")
            t_ours = timed(ours.embed, texts)
            line("  ours (fused graph)", n, t_ours, f"  {sum(tokens) / t_ours[0]:.0f} tokens/s")
            if lo == 10:
                plain = MiniLMEmbedder(cache_dir=cache_dir, fused=False)
                plain.embed(["warm up"])
                t_plain = timed(plain.embed, texts)
                line(
                    "  ours (plain ONNX ops)", n, t_plain, f"  fused is {t_plain[0] / t_ours[0]:.2f}x faster"
                )
            ratio = compare_with_chroma(ours, chroma, texts, n_chroma)
            summary.append(
                f"{label}: {n / t_ours[0]:.0f} texts/s (target 400), {ratio:.1f}x chroma (target 10x)"
            )
    summary += ceiling_and_sweep(ours, n)
    print("\nsummary:\n  " + "\n  ".join(summary))
    print(
        f"load average at end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs (above ~1 the figures are noisy)"
    )


if __name__ == "__main__":
    main()
