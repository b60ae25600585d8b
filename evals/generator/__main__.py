"""`python -m evals.generator [--out DIR] [--only GLOB] [--list]`: rewrite the case folders deterministically."""

from __future__ import annotations

import argparse
import fnmatch
import sys
from pathlib import Path

from evals.generator.build import BuiltCase, build_case, span_count
from evals.generator.folder import write_case_folder
from evals.generator.ids import seeded
from evals.generator.index import write_index
from evals.generator.load import all_cases

CASES_DIR = Path(__file__).resolve().parent.parent / "cases"


def write_case(built: BuiltCase, root: Path) -> list[Path]:
    spec = built.spec
    rng = seeded("versions", spec.id)
    services = sorted({tr.service for tr in built.traces})
    versions = {s: f"{rng.randint(1, 4)}.{rng.randint(0, 30)}.{rng.randint(0, 9)}" for s in services}
    return write_case_folder(
        root / spec.id,
        built.case,
        built.traces,
        spec.dialect,
        spec.transport,
        versions,
        legacy_events="legacy-events" in spec.tags,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.generator", description=__doc__)
    parser.add_argument("--out", type=Path, default=CASES_DIR, help="cases folder (default: evals/cases)")
    parser.add_argument("--only", default=None, help="glob on case ids")
    parser.add_argument("--list", action="store_true", help="list the cases and their sizes, write nothing")
    args = parser.parse_args(argv)
    specs = [s for s in all_cases() if not args.only or fnmatch.fnmatch(s.id, args.only)]
    if not specs:
        print("no case matches", file=sys.stderr)
        return 2
    total_bytes = 0
    for spec in specs:
        built = build_case(spec)
        line = (
            f"{spec.id:48} {spec.split:4} {spec.primary:6} {spec.dialect:18} "
            f"spans={span_count(built.traces):4} bad={len(built.bad):3}"
        )
        if not args.list:
            files = write_case(built, args.out)
            size = sum(f.stat().st_size for f in files)
            total_bytes += size
            line += f" {size / 1024:7.0f} KiB"
        print(line)
    if not args.list:
        if not args.only:
            write_index(args.out)
        print(f"{len(specs)} cases, {total_bytes / 1e6:.1f} MB of traces")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
