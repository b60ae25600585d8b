"""Sensitivity of the offline verdicts to every threshold and weight of the table (agent/thresholds.py), dev only.

Drafts every dev case once with the offline agent, keeping what detection was given (the window, its baseline,
the incident) and what the classifier was given besides the findings (similar past incidents, the text prior).
Then it moves each value of the table to 0.8x and 1.2x, one at a time (counts to the nearest count), runs
detection and classification again on the cases that read that value, and prints how many primary verdicts
moved and the dev primary accuracy at each end, beside the unperturbed verdicts recomputed in the same run. A
verdict that flips under a 20% move of one value sits on a knife edge. Budgets (how many answers are sampled or
embedded) and values at 0 are not moved.

`python -m benchmarks sensitivity` (drafts ~2 minutes warm, then ~1 s per case and moved value that a case reads;
20-40 minutes on two busy cores). `BENCH_SENSITIVITY_ONLY=<regex>` moves only the matching values.
"""

from __future__ import annotations

import dataclasses
import os
import re
import time
from collections import Counter
from functools import partial
from unittest import mock

FACTORS = (0.8, 1.2)


@dataclasses.dataclass
class Case:
    """What one dev case's detection and classification were given, to run them again."""

    gold: str
    drafted: str | None  # the draft's primary layer
    detect_args: tuple
    scoring: object  # the ScoringInput of the draft (similar incidents, text prior, service)
    where: dict[str, tuple[str, str | None]]  # span id -> (trace id, service)

    def trace_of(self, ref: str) -> str | None:
        return self.where.get(_span_id(ref), (None, None))[0]

    def service_of(self, ref: str) -> str | None:
        return self.where.get(_span_id(ref), (None, None))[1]


def _span_id(ref: str) -> str:
    parts = ref.split(":")
    return parts[1] if len(parts) > 1 and parts[0] in ("span", "doc") else ""


def _capture(samples, embedder) -> dict[str, Case]:  # noqa: ANN001
    """Draft each case once, keeping the inputs of detection and classification."""
    import agent.nodes.classify as classify_node
    import agent.nodes.detect as detect_node
    from agent.settings import get_settings
    from evals.harness.runner import AgentSolver
    from retrieval.embeddings import embed_texts

    seen: dict[str, object] = {}
    detect_all, classify_offline = detect_node.detect_all, classify_node.classify_offline

    def keep_detect(incident, spans, baseline, embed):  # noqa: ANN001, ANN202
        seen["detect"] = (incident, spans, baseline, partial(embed_texts, embedder) if embed else None)
        return detect_all(incident, spans, baseline, embed)

    def keep_classify(data):  # noqa: ANN001, ANN202
        seen["scoring"] = data
        seen["primary"] = classify_offline(data)
        return seen["primary"]

    cases = {}
    solver = AgentSolver(embedder=embedder, settings=get_settings())
    with (
        mock.patch.object(detect_node, "detect_all", keep_detect),
        mock.patch.object(classify_node, "classify_offline", keep_classify),
    ):
        for sample in samples:
            seen.clear()
            solver(sample)
            if "detect" in seen and "scoring" in seen:
                _, spans, baseline, _ = seen["detect"]
                where = {s.span_id: (s.trace_id, s.service) for s in [*baseline, *spans]}
                drafted = seen["primary"].primary  # type: ignore[attr-defined]
                cases[sample.id] = Case(sample.gold.primary, drafted, seen["detect"], seen["scoring"], where)
    return cases


def _detect(case: Case) -> dict:
    from agent.nodes.detect import detect_all

    return detect_all(*case.detect_args)


def _classify(case: Case, detected: dict) -> str | None:
    from agent.layer_classifier import classify_offline

    flagged = {t for sid in detected["flagged"] if (t := case.where.get(sid, (None, None))[0])}
    data = dataclasses.replace(
        case.scoring,
        findings=detected["findings"],
        flagged_traces=flagged,
        trace_of=case.trace_of,
        service_of=case.service_of,
    )
    return classify_offline(data).primary


def _reading(fn):  # noqa: ANN001, ANN202
    """(fn's result, the names of the table it read)."""
    from agent.thresholds import Thresholds

    names, read = set(Thresholds.model_fields), set()
    original = Thresholds.__getattribute__

    def tracing(self, name: str):  # noqa: ANN001, ANN202
        if name in names:
            read.add(name)
        return original(self, name)

    Thresholds.__getattribute__ = tracing  # type: ignore[method-assign]
    try:
        return fn(), read
    finally:
        Thresholds.__getattribute__ = original  # type: ignore[method-assign]


@dataclasses.dataclass
class Baseline:
    detected: dict[str, dict]
    verdicts: dict[str, str | None]
    detect_reads: dict[str, set[str]]  # case -> names read by detection
    classify_reads: dict[str, set[str]]  # case -> names read by classification


def _baseline(cases: dict[str, Case]) -> Baseline:
    base = Baseline({}, {}, {}, {})
    for cid, case in cases.items():
        base.detected[cid], base.detect_reads[cid] = _reading(partial(_detect, case))
        base.verdicts[cid], base.classify_reads[cid] = _reading(partial(_classify, case, base.detected[cid]))
    return base


def _moved(name: str, factor: float, cases: dict[str, Case], base: Baseline) -> dict[str, str | None]:
    """The verdicts with one value moved: detection again where it reads the value, else only classification."""
    from agent.thresholds import scaled

    verdicts = dict(base.verdicts)
    with scaled(name, factor):
        for cid, case in cases.items():
            if name in base.detect_reads[cid]:
                verdicts[cid] = _classify(case, _detect(case))
            elif name in base.classify_reads[cid]:
                verdicts[cid] = _classify(case, base.detected[cid])
    return verdicts


def _names(base: Baseline) -> list[str]:
    from agent.thresholds import T, is_budget, table

    only = re.compile(os.environ.get("BENCH_SENSITIVITY_ONLY", ".*"))
    read = set().union(*base.detect_reads.values(), *base.classify_reads.values())
    return [
        name
        for name, value, _ in table()
        if name in read and not is_budget(name) and getattr(T, name) and only.search(name)
    ]


def _report(name: str, cases, base: Baseline, accuracy, flipped: Counter) -> tuple[str, int]:  # noqa: ANN001
    """One value's line; `flipped` counts, per case, the moves that changed its verdict."""
    from agent.thresholds import T

    readers = sum(name in base.detect_reads[c] or name in base.classify_reads[c] for c in cases)
    cells, flips = [], 0
    for factor in FACTORS:
        moved = _moved(name, factor, cases, base)
        changed = [c for c in cases if moved[c] != base.verdicts[c]]
        flipped.update(changed)
        flips = max(flips, len(changed))
        cells.append(f"{len(changed):>4} / {accuracy(moved):.3f}")
    mark = "  <- knife edge" if flips > 1 else "  <- one verdict" if flips else ""
    line = f"{name:30} {getattr(T, name):>7.3g} {readers:>5} " + " ".join(f"{c:>14}" for c in cells) + mark
    return line, flips


def main() -> None:
    from agent.settings import get_settings
    from evals.harness.dataset import load_samples
    from evals.harness.embedcache import CachedEmbedder
    from evals.harness.workflow import vector_cache_path
    from retrieval.embeddings import get_embedding_function

    samples = load_samples(split="dev")
    if not samples:
        print("no dev cases: nothing to measure")
        return
    settings = get_settings()
    embedder = CachedEmbedder(
        get_embedding_function(settings.embedder, settings.cache_dir), vector_cache_path(settings)
    )
    started = time.perf_counter()
    cases = _capture(samples, embedder)
    base = _baseline(cases)
    same = sum(base.verdicts[c] == case.drafted for c, case in cases.items())
    print(f"{len(cases)} dev cases drafted in {time.perf_counter() - started:.0f} s")

    def accuracy(verdicts: dict[str, str | None]) -> float:
        return sum(verdicts[c] == cases[c].gold for c in cases) / len(cases)

    print(
        f"unperturbed primary accuracy {accuracy(base.verdicts):.3f}; run again, {same} of {len(cases)} verdicts as drafted"
    )
    names = _names(base)
    print(f"{'value':30} {'now':>7} {'cases':>5} " + " ".join(f"{f'x{f}: moved/acc':>14}" for f in FACTORS))
    worst, edges, flipped = 0, [], Counter()
    for name in names:
        line, flips = _report(name, cases, base, accuracy, flipped)
        print(line, flush=True)
        worst = max(worst, flips)
        edges += [name] * bool(flips)
    moves = len(names) * len(FACTORS)
    print(f"{len(names)} values moved 20% each way ({moves} moves): {sum(flipped.values())} verdict changes")
    print(f"most verdicts moved by one move: {worst} of {len(cases)}")
    print(f"values that moved any verdict ({len(edges)}): {', '.join(edges) or 'none'}")
    print("cases whose verdict moved (moves that moved it; gold, unperturbed verdict):")
    for cid, n in flipped.most_common():
        print(f"  {n:>3}  {cid}  ({cases[cid].gold}, {base.verdicts[cid]})")
    embedder.close()
