"""Run the benchmarks: `python -m benchmarks [name ...]` runs every benchmarks/bench_*.py `main()` (or the named ones)."""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path


def discover() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in Path(__file__).parent.glob("bench_*.py"))


def run(names: list[str]) -> int:
    available = discover()
    unknown = [n for n in names if n.removeprefix("bench_") not in available]
    if unknown:
        print(
            f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(available)}", file=sys.stderr
        )
        return 2
    failed = 0
    for name in [n.removeprefix("bench_") for n in names] or available:
        print(f"\n=== bench_{name} ===", flush=True)
        started = time.perf_counter()
        try:
            importlib.import_module(f"benchmarks.bench_{name}").main()
        except Exception as exc:  # keep going: one broken benchmark should not hide the others
            failed += 1
            print(f"bench_{name} FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
        print(f"=== bench_{name}: {time.perf_counter() - started:.1f}s ===", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
