"""`python -m evals.generator.multiagent [--out DIR]`: rewrite the multi-agent dev cases deterministically."""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import sys
from pathlib import Path

import yaml

from evals.generator.multiagent.cases import all_cases

OUT = Path(__file__).resolve().parents[2] / "cases" / "multiagent"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.generator.multiagent")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    cases = all_cases()
    if args.out.exists():
        shutil.rmtree(args.out)
    for built in cases:
        case = built["case"]
        folder = args.out / case["id"]
        (folder / "traces").mkdir(parents=True)
        text = yaml.safe_dump(case, sort_keys=False, allow_unicode=True, width=110)
        (folder / "case.yaml").write_text(text, encoding="utf-8")
        body = json.dumps(built["request"], ensure_ascii=False, separators=(",", ":")) + "\n"
        # gzip (no name, no time: byte-identical on every run) keeps the 40 cases near 150 KB
        (folder / "traces" / "run.json.gz").write_bytes(gzip.compress(body.encode("utf-8"), mtime=0))
    print(f"{len(cases)} cases in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
