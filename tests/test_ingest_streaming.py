"""Streaming: a JSON-lines file and a single big JSON document are read with bounded memory.

The files are generated on the fly in tmp (~30 MB and ~12 MB); tracemalloc's peak while iterating must stay
far below the file size. Throughput targets live in benchmarks/, not here.
"""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

from retrieval.ingest import iter_file
from retrieval.trace import Span

FILLER = (
    "The refund window for annual plans is 30 days after renewal; monthly plans are not refundable. " * 100
)


def _span(i: int) -> dict:
    attrs = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.response.model": "gpt-4o-2024-08-06",
        "gen_ai.usage.input_tokens": 812,
        "gen_ai.input.messages": json.dumps(
            [{"role": "user", "parts": [{"type": "text", "content": f"q{i} {FILLER}"}]}]
        ),
        "gen_ai.output.messages": json.dumps(
            [{"role": "assistant", "parts": [{"type": "text", "content": FILLER}]}]
        ),
    }
    return {
        "traceId": f"{i // 8 + 1:032x}",
        "spanId": f"{i + 1:016x}",
        "name": "chat gpt-4o",
        "startTimeUnixNano": str(1748959632120000000 + i * 1_000_000),
        "endTimeUnixNano": str(1748959632920000000 + i * 1_000_000),
        "attributes": [
            {"key": k, "value": {"intValue": str(v)} if isinstance(v, int) else {"stringValue": v}}
            for k, v in attrs.items()
        ],
    }


def _request(first: int, n: int) -> dict:
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "support-bot"}}]}
    spans = [_span(i) for i in range(first, first + n)]
    return {
        "resourceSpans": [{"resource": resource, "scopeSpans": [{"scope": {"name": "t"}, "spans": spans}]}]
    }


def _peak_while_reading(path: Path) -> tuple[int, int, int]:
    """(spans read, peak bytes allocated while reading, last progress value)."""
    seen = [0]
    tracemalloc.start()
    try:
        count = 0
        for record in iter_file(path, progress=lambda n: seen.__setitem__(0, n)):
            assert isinstance(record, Span)
            count += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return count, peak, seen[0]


def test_json_lines_memory_is_bounded(tmp_path):
    path = tmp_path / "big.jsonl"
    with path.open("w") as fp:
        for batch in range(75):
            fp.write(json.dumps(_request(batch * 20, 20)) + "\n")
    size = path.stat().st_size
    assert size > 25_000_000
    count, peak, progressed = _peak_while_reading(path)
    assert count == 1500
    assert progressed == size
    assert peak < 6_000_000, f"peak {peak / 1e6:.1f} MB for a {size / 1e6:.0f} MB file"


def test_single_json_document_is_streamed(tmp_path):
    path = tmp_path / "big.json"
    path.write_text(json.dumps(_request(0, 600)))
    size = path.stat().st_size
    assert size > 10_000_000
    count, peak, progressed = _peak_while_reading(path)
    assert count == 600 and progressed == size
    assert peak < 3_000_000, f"peak {peak / 1e6:.1f} MB for a {size / 1e6:.0f} MB file"
