"""Fuzzing the ingesters (issue 16): a few thousand malformed and adversarial files, derandomised so CI sees the
same ones every run, each read by every reader. The contract, for every input:

- nothing raises: each record is a Span, a PostmortemDoc, GenAI SpanContent, a Skipped file or an IngestError;
- an IngestError is one line that starts with the file's path (and says where, when it can);
- memory stays bounded (tracemalloc peak per file);
- through `postmortem ingest`: exit 2 with one `error:` line per problem, and what was stored before is kept.
"""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retrieval.ingest import FORMATS, iter_file
from retrieval.trace import IngestError, PostmortemDoc, Skipped, Span, SpanContent
from tests import hostile
from tests.conftest import FIXTURES

PEAK_BYTES = 64 << 20
SEEDS = [FIXTURES / "traces" / name for name in ("otlp_genai_current.json", "langfuse_observations.json")]
SEEDS += [
    FIXTURES / "traces" / "otlp_openllmetry.jsonl",
    FIXTURES / "postmortems" / "2024-11-14-refund-bot-stale-index.md",
]
SUFFIXES = [".json", ".jsonl", ".md", ".txt", ".json.gz"]
FUZZ = settings(
    max_examples=1000,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)

big_ints = st.sampled_from([10**30, -(10**30), 2**63, -(2**63) - 1, 10**400])
scalars = st.none() | st.booleans() | st.integers() | big_ints | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
any_value_keys = st.sampled_from(
    [
        "stringValue",
        "intValue",
        "doubleValue",
        "boolValue",
        "arrayValue",
        "kvlistValue",
        "bytesValue",
        "int_value",
    ]
)
times = st.one_of(
    st.sampled_from(["1700000000000000000", "-5", "0", "", "abc", "99999999999999999999999", "1e30"]),
    st.integers(min_value=-(10**25), max_value=10**25),
    json_values,
)


@st.composite
def otlp_files(draw) -> str:
    """A request whose spans have odd ids, times, attribute values and shapes."""
    spans = []
    for i in range(draw(st.integers(1, 4))):
        span = hostile.otlp_span(f"{i + 1:016x}", start=draw(times), end=draw(times))
        attrs = [{"key": draw(st.text(max_size=10)), "value": {draw(any_value_keys): draw(json_values)}}]
        span["attributes"] = draw(st.sampled_from([attrs, draw(json_values)]))
        for key in draw(st.lists(st.sampled_from(sorted(span)), max_size=2)):
            span[key] = draw(json_values)
        spans.append(span)
    request = hostile.otlp_request(*spans)
    if draw(st.booleans()):
        request["resourceSpans"][0][draw(st.sampled_from(["resource", "scopeSpans"]))] = draw(json_values)
    return json.dumps(request)


@st.composite
def langfuse_files(draw) -> str:
    records = []
    for i in range(draw(st.integers(1, 4))):
        record = {
            "id": f"o{i}",
            "traceId": "t1",
            "type": draw(st.sampled_from(["GENERATION", "SPAN", "TOOL", "x"])),
        }
        record["startTime"] = draw(times)
        for key in draw(
            st.lists(st.sampled_from(["input", "output", "metadata", "usage", "endTime", "id"]), max_size=3)
        ):
            record[key] = draw(json_values)
        records.append(record)
    return json.dumps(records) if draw(st.booleans()) else "\n".join(json.dumps(r) for r in records)


@st.composite
def markdown_files(draw) -> str:
    pieces = [
        "id: x",
        "a: &a [1, 2]",
        "b: [*a, *a]",
        "c: *nope",
        "!!python/object:os.system x",
        "- [",
        "date: 2025-13-45",
    ]
    front = "\n".join(draw(st.lists(st.sampled_from(pieces) | st.text(max_size=30), max_size=6)))
    if draw(st.booleans()):
        front += "\n" + hostile.alias_bomb(draw(st.integers(2, 9)))
    closing = draw(st.sampled_from(["---\n", "...\n", ""]))
    return f"---\n{front}\n{closing}# Title\n\n" + draw(st.text(max_size=200))


@st.composite
def mutated_seeds(draw) -> str:
    text = draw(st.sampled_from(SEEDS)).read_text(encoding="utf-8")
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        how = draw(st.sampled_from(["cut", "insert", "nest", "delete"]))
        if how == "cut":
            text = text[:at]
        elif how == "insert":
            text = text[:at] + draw(st.text(max_size=8)) + text[at:]
        elif how == "nest":
            n = draw(st.integers(100, 5000))
            text = text[:at] + "[" * n + "]" * draw(st.sampled_from([n, n - 1, 0])) + text[at:]
        else:
            text = text[:at] + text[at + draw(st.integers(1, 50)) :]
    return text


@st.composite
def deep_files(draw) -> str:
    levels = draw(st.integers(1, 12_000))
    return draw(
        st.sampled_from(
            [
                hostile.deep_kvlist_file(min(levels, 3000)),
                hostile.deep_line_file(levels),
                hostile.nested_arrays(levels),
                hostile.nested_arrays(levels, key=None),
            ]
        )
    )


inputs = st.one_of(otlp_files(), langfuse_files(), markdown_files(), mutated_seeds(), deep_files())


def check_file(path: Path, fmt: str | None) -> list:
    tracemalloc.start()
    try:
        records = list(iter_file(path, fmt))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < PEAK_BYTES, f"{peak >> 20} MB for {path.name}"
    for record in records:
        assert isinstance(record, Span | PostmortemDoc | SpanContent | Skipped | IngestError), type(record)
        if isinstance(record, IngestError):
            line = str(record)
            assert line.startswith(str(path)) and "\n" not in line and "Traceback" not in line, line
    return records


def write(folder: Path, text: str, suffix: str) -> Path:
    path = folder / f"input{suffix}"
    if suffix.endswith(".gz"):
        import gzip

        path.write_bytes(gzip.compress(text.encode("utf-8", errors="surrogatepass")))
    else:
        path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
    return path


@FUZZ
@given(text=inputs, suffix=st.sampled_from(SUFFIXES), fmt=st.sampled_from([None, *FORMATS]))
def test_no_input_escapes_the_contract(tmp_path, text, suffix, fmt):
    path = write(tmp_path, text, suffix)
    check_file(path, fmt)


@FUZZ
@given(data=st.binary(max_size=400), suffix=st.sampled_from(SUFFIXES))
def test_random_bytes_escape_nothing(tmp_path, data, suffix):
    path = tmp_path / f"bytes{suffix}"
    path.write_bytes(data)
    check_file(path, None)


@pytest.mark.parametrize("seed", range(2))
def test_cli_keeps_what_was_stored_and_reports_each_problem(tmp_home, tmp_path, monkeypatch, seed):
    """A folder of hostile files through `postmortem ingest`: exit 2, one `error:` line per problem, no
    traceback, and every span stored before (and every good span of this run) answers afterwards."""
    import random

    import typer
    from typer.testing import CliRunner

    from agent.cli import ingest
    from agent.settings import get_settings
    from agent.store_factory import open_store
    from tests.agentkit import CACHE

    monkeypatch.setenv("POSTMORTEM_CACHE_DIR", str(CACHE))
    get_settings.cache_clear()
    app = typer.Typer()
    ingest.register(app)
    app.command("noop")(lambda: None)

    def run(*paths: Path):
        return CliRunner().invoke(app, ["ingest", *map(str, paths), "--json"], env={"COLUMNS": "300"})

    good = FIXTURES / "traces" / "otlp_genai_legacy.jsonl"
    first = run(good)
    assert first.exit_code == 0, first.output
    stored = {(s.trace_id, s.span_id) for s in iter_file(good) if isinstance(s, Span)}

    rng = random.Random(seed)
    folder = tmp_path / "hostile"
    folder.mkdir()
    makers = [
        lambda: hostile.deep_kvlist_file(rng.randint(200, 5000)),
        lambda: hostile.deep_line_file(rng.randint(500, 10_000)),
        lambda: hostile.nested_arrays(rng.randint(100, 10_000)),
        lambda: "---\n" + hostile.alias_bomb() + "---\n# t\n\nbody\n",
    ]
    names = ["deep.json", "deep.jsonl", "arrays.json", "bomb.md"]
    for name, make in zip(names, makers, strict=True):
        (folder / name).write_text(make())
    expected = [r for p in sorted(folder.iterdir()) for r in iter_file(p)]
    problems = [str(r) for r in expected if isinstance(r, IngestError)]
    fresh = {(s.trace_id, s.span_id) for s in expected if isinstance(s, Span)}

    result = run(folder)
    assert result.exit_code == 2 and "Traceback" not in result.output
    summary = json.loads(result.stdout)
    assert sorted(summary["errors"]) == sorted(problems) and len(problems) == 4
    assert summary["spans_added"] == len(fresh - stored)
    store = open_store(get_settings())
    try:
        assert store.count_spans() == len(stored | fresh)
        for _trace_id, span_id in stored | fresh:
            assert store.get_span(span_id) is not None, span_id
    finally:
        store.close()
