"""`postmortem demo` wall time, cold (a fresh home: empty store and vector cache, ONNX graph already built) and
warm (the same home again), against the targets of issue 17: cold < 15 s, warm < 5 s.

Each run is a fresh process (`python -m agent.cli.main demo`), so start-up (imports) counts, as it does for a user.
Baselines measured in the same run, so the ratios hold on a loaded machine:
- the import floor: a process importing only the third-party libraries the demo cannot do without (chromadb,
  langgraph, numpy, pydantic), i.e. what no change of ours can remove;
- with BENCH_DEMO_BASELINE=<git revision>: that revision's demo, cold and warm, run the same way from a
  `git archive` of it (e.g. `BENCH_DEMO_BASELINE=2aa3c81 python -m benchmarks demo` for before/after issue 17).
BENCH_DEMO_RUNS (default 3) warm runs each; the median is reported. The load average is printed beside the figures.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COLD_TARGET_S = 15.0
WARM_TARGET_S = 5.0
FLOOR = "import chromadb, langgraph.graph, numpy, pydantic"


def _timed(args: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {done.returncode}: {done.stderr.strip()[-400:]}")
    return seconds


def _demo(code: Path, home: Path, warm_runs: int) -> tuple[float, float]:
    """(cold seconds, median warm seconds) of the demo of the source tree at `code`."""
    env = {**os.environ, "POSTMORTEM_HOME": str(home), "PYTHONPATH": str(code)}
    args = [
        sys.executable,
        "-c",
        "from agent.cli.main import run; import sys; sys.argv[0] = 'postmortem'; run()",
    ]
    args += ["demo"]
    cold = _timed(args, env, code)
    warm = statistics.median(_timed(args, env, code) for _ in range(warm_runs))
    return cold, warm


def _checkout(revision: str, into: Path) -> Path:
    """The tree of a git revision, unpacked (no .git, no build): enough to import and run its demo."""
    archive = into / "baseline.tar"
    with archive.open("wb") as out:
        subprocess.run(["git", "archive", revision], cwd=REPO, stdout=out, check=True)
    tree = into / "baseline"
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    return tree


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    runs = int(os.environ.get("BENCH_DEMO_RUNS", "3"))
    baseline = os.environ.get("BENCH_DEMO_BASELINE")
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as tmp:
        work = Path(tmp)
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        floor = statistics.median(_timed([sys.executable, "-c", FLOOR], env, REPO) for _ in range(runs))
        print(f"import floor ({FLOOR}): {floor:.2f} s  [load {_load()}]")
        rows = [("this tree", REPO)]
        if baseline:
            rows.insert(0, (f"baseline {baseline}", _checkout(baseline, work)))
        results: dict[str, tuple[float, float]] = {}
        for label, code in rows:
            cold, warm = _demo(code, work / f"home-{len(results)}", runs)
            results[label] = (cold, warm)
            print(
                f"{label}: cold {cold:.2f} s (target < {COLD_TARGET_S:.0f}), warm {warm:.2f} s "
                f"(target < {WARM_TARGET_S:.0f}); warm / import floor {warm / floor:.2f}x  [load {_load()}]"
            )
        if baseline:
            (b_cold, b_warm), (cold, warm) = results.values()
            print(f"before -> after: cold {b_cold:.2f} -> {cold:.2f} s ({b_cold / cold:.2f}x), "
                  f"warm {b_warm:.2f} -> {warm:.2f} s ({b_warm / warm:.2f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
