"""The offline draft of a single-run incident: one multi-agent run of ~50 turns, no baseline (target: < 2 s).

The run is the generated dev cases' shape (OpenAI Agents SDK spans: agent spans holding chat and tool spans),
with a plan of 12 sub-tasks so that it has ~50 turns; the mistake is a misread early on. Ingest is set up, not
measured. Measured in the same run as the baseline for the ratio: the draft of a 10-sub-task-shorter run
(~14 turns), and the run analysis alone (turns, provenance, shapes, attribution) on the 50-turn run.
"""

from __future__ import annotations

import copy
import json
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from agent.api import draft_incident
from agent.models import Incident, Report
from agent.runs.attribute import attribute_run
from agent.runs.turns import build_run as turns_of
from agent.settings import Settings
from evals.generator.multiagent.otlp import write
from evals.generator.multiagent.runs import build_run
from evals.generator.multiagent.topics import TOPICS
from retrieval.embeddings import MiniLMEmbedder
from retrieval.ingest import iter_file
from retrieval.store import TraceStore
from retrieval.trace import Span

TARGET_S = 2.0
REPEATS = 3
CACHE = Path(__file__).resolve().parents[1] / ".postmortem" / "cache"


def _topic(subtasks: int) -> dict:
    base = TOPICS[0]
    topic = copy.deepcopy(base)
    topic["subtasks"] = [copy.deepcopy(base["subtasks"][i % 2]) for i in range(subtasks)]
    topic["combine"] = "none"
    return topic


def _spans(home: Path, subtasks: int, seed: str) -> tuple[list[Span], str, int]:
    run = build_run(_topic(subtasks), "misread", 1, verifier=True)
    start = int(datetime(2025, 3, 3, 9, tzinfo=UTC).timestamp() * 1e9)
    request, shown = write(run, "openai-agents", seed, start, "research-agents")
    path = home / f"{seed}.json"
    path.write_text(json.dumps(request))
    spans = [s for s in iter_file(path) if isinstance(s, Span)]
    return spans, spans[0].trace_id, len(dict.fromkeys(shown))


def _incident(trace_id: str) -> Incident:
    return Incident(
        title="Research agents gave a wrong answer",
        description="The final answer was wrong.",
        trace_ids=[trace_id],
        reports=[Report(text="A reviewer checked the final answer and it is wrong.")],
    )


def _timed(fn) -> float:
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="bench-multiagent-"))
    embedder = MiniLMEmbedder(cache_dir=CACHE)
    store = TraceStore(path=home / "chroma", embedder=embedder)
    try:
        long_spans, long_trace, long_turns = _spans(home, 12, "long")
        short_spans, short_trace, short_turns = _spans(home, 2, "short")
        store.add_spans([*long_spans, *short_spans])
        settings = Settings(home=home / "home")
        draft_incident(_incident(short_trace), settings=settings, store=store)  # warm up (imports, embedder)
        long_s = _timed(lambda: draft_incident(_incident(long_trace), settings=settings, store=store))
        short_s = _timed(lambda: draft_incident(_incident(short_trace), settings=settings, store=store))
        run = turns_of(long_spans)
        analysis_s = _timed(lambda: attribute_run(turns_of(long_spans), _incident(long_trace)))
        print(
            f"run of {long_turns} turns ({len(long_spans)} spans): offline draft {long_s:.2f} s (target < {TARGET_S} s)"
        )
        print(
            f"run of {short_turns} turns: offline draft {short_s:.2f} s; ratio long/short {long_s / short_s:.2f}"
        )
        print(
            f"run analysis alone on the {len(run.turns)}-turn run: {analysis_s * 1000:.1f} ms "
            f"({analysis_s / long_s:.1%} of the draft)"
        )
        print("PASS" if long_s < TARGET_S else "FAIL", f"(target < {TARGET_S} s)")
    finally:
        store.close()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
