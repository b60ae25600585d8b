"""`python -m evals.family2 [--only GLOB] [--list]`: render the production family's case folders.

Dev sources (evals/family2/cases/*.yaml) go to evals/cases/<id>/; sealed test sources (evals/sealed/sources/*.yaml)
go to evals/sealed/<id>/. Only counts are printed for the sealed half.
"""

from __future__ import annotations

import argparse
import fnmatch
import sys
from collections import Counter
from pathlib import Path

from evals.family2.assemble import Built, CaseBuildError, build
from evals.family2.schema import CaseSource, SourceError, load_source
from evals.generator.folder import write_case_folder
from evals.generator.ids import seeded
from evals.generator.index import write_index

EVALS = Path(__file__).resolve().parent.parent
DEV_SOURCES = EVALS / "family2" / "cases"
SEALED_SOURCES = EVALS / "sealed" / "sources"
CASES_DIR = EVALS / "cases"
SEALED_DIR = EVALS / "sealed"


def sources(folder: Path, split: str, only: str | None = None) -> list[CaseSource]:
    out = []
    for path in sorted(folder.glob("*.yaml")):
        src = load_source(path)
        if src.id != path.stem:
            raise SourceError(f"{path}: id {src.id!r} differs from the file name")
        if src.split != split:
            raise SourceError(f"{path}: split must be {split!r} in {folder.name}/")
        if not only or fnmatch.fnmatch(src.id, only):
            out.append(src)
    return out


def write_case(built: Built, root: Path) -> list[Path]:
    src = built.src
    rng = seeded("family2-versions", src.id)
    services = sorted({t.service for t in built.traces})
    versions = {s: f"{rng.randint(1, 9)}.{rng.randint(0, 40)}.{rng.randint(0, 12)}" for s in services}
    return write_case_folder(root / src.id, built.case, built.traces, src.dialect, src.transport, versions)


def render(dev_out: Path, sealed_out: Path, only: str | None, dry: bool) -> int:
    halves = [
        (sources(DEV_SOURCES, "dev", only), dev_out, True),
        (sources(SEALED_SOURCES, "test", only) if SEALED_SOURCES.is_dir() else [], sealed_out, False),
    ]
    for specs, out, show in halves:
        counts: Counter[str] = Counter()
        for src in specs:
            built = build(src)
            spans = sum(len(t.spans) for t in built.traces)
            if not dry:
                write_case(built, out)
            counts[src.gold.primary] += 1
            if show:
                print(f"{src.id:52} {src.gold.primary:6} {src.dialect:18} spans={spans}")
        label = "dev" if show else "sealed test"
        print(
            f"{label}: {sum(counts.values())} cases ({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))})"
        )
    if not dry and not only and dev_out == CASES_DIR:
        write_index(CASES_DIR)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.family2", description=__doc__)
    parser.add_argument("--only", default=None, help="glob on case ids")
    parser.add_argument("--list", action="store_true", help="build and list, write nothing")
    parser.add_argument(
        "--dev-out", type=Path, default=CASES_DIR, help="where dev cases go (default evals/cases)"
    )
    parser.add_argument("--sealed-out", type=Path, default=SEALED_DIR, help="where sealed cases go")
    args = parser.parse_args(argv)
    try:
        return render(args.dev_out, args.sealed_out, args.only, args.list)
    except (SourceError, CaseBuildError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
