"""Detectors on a 5,000-span incident window: run_detectors + flagging + onset + correlation + reproducibility.

Target: the whole offline draft of such an incident under 10 s, so the detectors should take a few seconds.
Prints times with and without the MiniLM embedder, and the ratio against a 500-span window measured in the
same run (about 10x means the detectors scale linearly)."""

from __future__ import annotations

import random
import time
from pathlib import Path

from agent.detectors import (
    DetectorContext,
    correlate_onset,
    estimate_onset,
    flag_bad_outputs,
    reproducibility,
    run_detectors,
)
from agent.models import Incident, Report
from tests.spanfactory import BAGGAGE, POLICY, T0, SpanFactory, Tool, at, doc

TOPICS = [
    (
        "refund",
        "Can I get a refund for order {n} I bought {d} days ago?",
        "Refunds are available within 30 days.",
    ),
    (
        "bags",
        "How many bags can I check on flight {n}?",
        "You may check one bag up to 23 kg; extra bags cost $60.",
    ),
    ("change", "What does it cost to change booking {n} to next {day}?", "After 30 days a change costs $75."),
    ("status", "Where is my refund for booking {n}?", "Your refund for booking {n} is processing."),
    ("seat", "Can I pick a seat on booking {n} for free?", "Seat selection is free on Flex fares."),
]
DAYS = ["monday", "tuesday", "friday", "sunday"]


def build(traces: int, seed: int = 3) -> tuple[DetectorContext, int]:
    rng = random.Random(seed)
    f = SpanFactory(seed=seed)
    status_ok = Tool("get_refund_status", '{"status": "processing", "amount": 240}')
    status_down = Tool("get_refund_status", "Error: 503 Service Unavailable", error=True)
    onset = traces // 2

    def one(i: int, minutes: float) -> list:
        topic, q, a = rng.choice(TOPICS)
        n = rng.randint(10000, 99999)
        question = q.format(n=n, d=rng.randint(2, 90), day=rng.choice(DAYS))
        answer = a.format(n=n)
        tools = [status_ok] if topic == "status" else None
        if i >= onset and topic == "refund" and rng.random() < 0.6:
            answer = "Yes, you get a full refund within 90 days, no questions asked."
        if i >= onset and topic == "status" and rng.random() < 0.5:
            tools, answer = [status_down], f"Your refund for booking {n} of $180 was sent yesterday."
        docs = [
            POLICY,
            BAGGAGE,
            doc(f"Booking {n} notes: fare class Y.", f"kb/booking-{n % 50}.md", "2024-10-01"),
        ]
        return f.trace(
            at(minutes), question, answer, docs=docs, tools=tools, temperature=1.0, session=f"s{i % 400}"
        )

    window = [s for i in range(traces) for s in one(i, i * (1440 / traces))]
    baseline = [s for i in range(traces // 4) for s in one(-1, -2880 + i * (2880 / (traces // 4)))]
    incident = Incident(
        title="Refund answers wrong",
        service="support-bot",
        window_start=T0,
        window_end=at(1440),
        reports=[Report(text="The bot promised a full refund within 90 days, no questions asked.")],
    )
    return DetectorContext(incident, window, baseline), len(window)


def run(ctx: DetectorContext) -> dict[str, float]:
    times: dict[str, float] = {}
    embedded = [0]
    if ctx.embed is not None:
        inner = ctx.embed

        def counting(texts: list[str]):
            embedded[0] += len(texts)
            return inner(texts)

        ctx.embed = counting
    cpu = time.process_time()
    t = time.perf_counter()
    findings = run_detectors(ctx)
    times["run_detectors"] = time.perf_counter() - t
    t = time.perf_counter()
    flagged = flag_bad_outputs(ctx, findings)
    onset = estimate_onset(ctx, flagged)
    correlate_onset(ctx, findings, onset)
    reproducibility(ctx, flagged)
    times["flag+onset+correlate+repro"] = time.perf_counter() - t
    times["total"] = sum(times.values())
    times["cpu"] = time.process_time() - cpu
    times["flagged"] = len(flagged)
    times["embedded"] = embedded[0]
    return times


def main() -> None:
    from retrieval.embeddings import MiniLMEmbedder

    embedder = MiniLMEmbedder(cache_dir=Path(__file__).resolve().parents[1] / ".postmortem" / "cache")
    embedder.embed(["warm up"])
    run(build(40)[0])  # import and warm up every detector module
    for label, embed in (("offline, no embedder", None), ("with MiniLM embeddings", embedder.embed)):
        small, n_small = build(125)
        small.embed = embed
        base = run(small)
        big, n_big = build(1560)
        big.embed = embed
        full = run(big)
        print(f"[{label}]")
        print(f"  {n_small:>5} spans: {base['total']:.2f} s   (flagged {base['flagged']:.0f})")
        print(
            f"  {n_big:>5} spans: {full['total']:.2f} s wall, {full['cpu']:.2f} s cpu   (flagged "
            f"{full['flagged']:.0f}; texts embedded {full['embedded']:.0f}; run_detectors "
            f"{full['run_detectors']:.2f} s, flag/onset/correlate/repro {full['flag+onset+correlate+repro']:.2f} s)"
        )
        print(
            f"  ratio {n_big}/{n_small} spans: {full['total'] / base['total']:.1f}x time for {n_big / n_small:.0f}x spans"
        )
