"""Ingest parsing and redaction cost per span, against a baseline measured in the same run.

Baseline: `json.loads` of each JSON line (the least any reader must do). Measured: `iter_file` (AnyValue
decoding, dialect mapping, pydantic Span), then `iter_file` + `Redactor().span`. The spans are the
RAG-support-bot fixtures, repeated with fresh ids into a ~20 MB JSON-lines file. The embedder, not this,
is meant to be the limit of `postmortem ingest`: compare spans/s here with bench_embedder's texts/s.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from retrieval.ingest import iter_file
from retrieval.redact import Redactor

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "traces"
SOURCES = ["otlp_genai_current.json", "otlp_openinference.json"]


def _lines(copies: int) -> list[str]:
    requests = [json.loads((FIXTURES / name).read_text()) for name in SOURCES]
    return [_retrace(request, n) for n in range(copies) for request in requests]


def _retrace(request: dict, n: int) -> str:
    for rs in request["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for span in ss["spans"]:
                span["traceId"] = f"{n:08x}" + span["traceId"][8:]
    return json.dumps(request)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.jsonl"
        lines = _lines(220)
        path.write_text("\n".join(lines) + "\n")
        size_mb = path.stat().st_size / 1e6

        started = time.perf_counter()
        raw = sum(len(json.loads(line)["resourceSpans"]) for line in path.open())
        baseline = time.perf_counter() - started

        started = time.perf_counter()
        spans = sum(1 for _ in iter_file(path))
        parse = time.perf_counter() - started

        redactor = Redactor()
        started = time.perf_counter()
        for record in iter_file(path):
            redactor.span(record)  # type: ignore[arg-type]
        both = time.perf_counter() - started
    assert raw and spans
    print(f"file: {size_mb:.1f} MB, {spans} spans ({size_mb * 1e6 / spans / 1000:.1f} KB/span)")
    print(f"baseline json.loads     : {baseline:6.2f} s  {spans / baseline:9.0f} spans/s  (1.00x)")
    print(
        f"iter_file               : {parse:6.2f} s  {spans / parse:9.0f} spans/s  ({parse / baseline:.2f}x baseline)"
    )
    print(
        f"iter_file + redact      : {both:6.2f} s  {spans / both:9.0f} spans/s  ({both / baseline:.2f}x baseline); "
        f"redaction {1e6 * (both - parse) / spans:.0f} us/span"
    )


if __name__ == "__main__":
    main()
