"""Issue 16, items 2 and 3: parsers a small file cannot exhaust, and data that is wrong but was silent.

Each hostile record is refused (or its one odd attribute kept as text) and named by file and place; the rest
of the file is read; memory stays small (tracemalloc peak); nothing raises."""

from __future__ import annotations

import json
import time
import tracemalloc
from pathlib import Path

import pytest
from typer.testing import CliRunner

from retrieval.ingest import iter_file
from retrieval.limits import MAX_NESTING
from retrieval.trace import IngestError, PostmortemDoc, Span
from tests import hostile
from tests.hostile import GOOD_SPAN, otlp_request, otlp_span

PEAK_BYTES = 64 << 20  # far above what these small files need once bounded; the unbounded parsers took GBs


def read(path: Path, fmt: str | None = None) -> tuple[list[Span | PostmortemDoc], list[IngestError], int]:
    """(records, errors, peak traced bytes) of one file."""
    tracemalloc.start()
    try:
        out = list(iter_file(path, fmt))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    errors = [r for r in out if isinstance(r, IngestError)]
    return [r for r in out if not isinstance(r, IngestError)], errors, peak


def test_deep_kvlist_is_refused_alone_in_bounded_memory(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text(hostile.deep_kvlist_file(10_000))  # 540 KB; took > 3 GB before
    spans, errors, peak = read(path)
    assert [s.span_id for s in spans] == [GOOD_SPAN]
    assert [str(e) for e in errors] == [
        f"{path}:resourceSpans[0].scopeSpans[0].spans[0]: span is nested deeper than {MAX_NESTING} levels; "
        "skipped"
    ]
    assert peak < PEAK_BYTES


def test_moderately_deep_kvlist_is_decoded(tmp_path):
    path = tmp_path / "nested.json"
    path.write_text(hostile.deep_kvlist_file(20))  # 80 JSON levels: within the bound
    spans, errors, _ = read(path)
    assert not errors and len(spans) == 2
    value = spans[0].attributes["deep"]
    for _ in range(20):
        value = value["k"]
    assert value == "leaf"


@pytest.mark.parametrize("levels", [500, 10_000])
def test_a_deep_json_line_is_refused_and_the_next_line_kept(tmp_path, levels):
    path = tmp_path / "deep.jsonl"
    path.write_text(hostile.deep_line_file(levels))
    spans, errors, peak = read(path)
    assert [s.span_id for s in spans] == [GOOD_SPAN]
    assert [str(e) for e in errors] == [
        f"{path}:line 1: record is nested deeper than {MAX_NESTING} levels; skipped"
    ]
    assert peak < PEAK_BYTES


@pytest.mark.parametrize("raw", [10**30, "1e30", 1e30, "12abc"])
def test_a_huge_or_odd_integer_keeps_every_span(tmp_path, raw):
    odd = otlp_span("b7ad6b7169203334", [{"key": "n", "value": {"intValue": raw}}])
    path = tmp_path / "big.json"
    path.write_text(json.dumps(otlp_request(odd, otlp_span(GOOD_SPAN))))
    spans, errors, _ = read(path)
    assert not errors and [s.span_id for s in spans] == ["b7ad6b7169203334", GOOD_SPAN]
    assert isinstance(spans[0].attributes["n"], str)  # kept as its text, not a 100-bit number
    assert spans[0].attributes["n"].replace("+", "") in (str(raw), "1e30", "1000000000000000000000000000000")


def test_huge_integers_anywhere_in_a_line_become_text(tmp_path):
    record = otlp_request(otlp_span(GOOD_SPAN, [{"key": "n", "value": {"intValue": 10**30}}]))
    path = tmp_path / "big.jsonl"
    path.write_text(json.dumps(record) + "\n")
    spans, errors, _ = read(path)
    assert not errors and spans[0].attributes["n"] == str(10**30)


@pytest.mark.parametrize(
    ("text", "fmt", "message"),
    [
        (hostile.nested_arrays(10_000), "otlp-json", "no spans found (read as otlp-json)"),
        (hostile.nested_arrays(10_000, key=None), "langfuse-json", "no Langfuse observations"),
        (hostile.nested_arrays(10_000, key=None), "otlp-json", "no resourceSpans"),
    ],
)
def test_a_file_of_nested_arrays_says_so(tmp_path, text, fmt, message):
    path = tmp_path / "arrays.json"
    path.write_text(text)
    spans, errors, peak = read(path, fmt)
    assert not spans and len(errors) == 1 and message in str(errors[0]) and str(path) in str(errors[0])
    assert peak < PEAK_BYTES


def test_alias_bomb_in_front_matter_is_refused_fast(tmp_path):
    path = tmp_path / "bomb.md"
    path.write_text("---\n" + hostile.alias_bomb() + "---\n# Title\n\nbody\n")
    started = time.monotonic()
    docs, errors, peak = read(path)
    assert time.monotonic() - started < 5 and peak < PEAK_BYTES
    assert not docs and len(errors) == 1
    assert "invalid YAML front matter (expands to more than" in str(errors[0]) and str(path) in str(errors[0])


def test_one_safe_yaml_loader_for_incidents_and_the_slack_config(tmp_path):
    from agent.api import load_incident
    from agent.errors import UserError
    from agent.slack.config import ConfigError, load_config

    bomb = tmp_path / "incident.yaml"
    bomb.write_text(hostile.alias_bomb() + "title: *a8\n")
    with pytest.raises(UserError, match="expands to more than"):
        load_incident(bomb)
    config = tmp_path / "slack.yaml"
    config.write_text(hostile.alias_bomb() + "channels: {C1: {services: *a8}}\n")
    with pytest.raises(ConfigError, match="expands to more than"):
        load_config(config)
    deep = tmp_path / "deep.yaml"
    deep.write_text("title: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(UserError, match="nested deeper than"):
        load_incident(deep)


def test_ordinary_yaml_with_aliases_still_loads():
    from retrieval.safe_yaml import load_yaml

    assert load_yaml("base: &b {x: 1}\nother: *b\nlist: [*b, *b]\n") == {
        "base": {"x": 1},
        "other": {"x": 1},
        "list": [{"x": 1}, {"x": 1}],
    }
    assert load_yaml("") is None


def test_negative_times_are_named_as_negative(tmp_path):
    path = tmp_path / "negative.json"
    spans = [otlp_span("b7ad6b7169203338", start=-5), otlp_span("b7ad6b7169203339", start="-5")]
    path.write_text(json.dumps(otlp_request(*spans, otlp_span(GOOD_SPAN))))
    kept, errors, _ = read(path)
    assert [s.span_id for s in kept] == [GOOD_SPAN]
    assert [e.message for e in errors] == [
        "span b7ad6b7169203338: startTimeUnixNano is negative (-5)",
        "span b7ad6b7169203339: startTimeUnixNano is negative (-5)",
    ]
    assert {e.kind for e in errors} == {"negative timestamp"}


def test_negative_langfuse_time_is_refused(tmp_path):
    path = tmp_path / "obs.json"
    obs = {"id": "o1", "traceId": "t1", "type": "SPAN", "startTime": -1700000000}
    good = {"id": "o2", "traceId": "t1", "type": "SPAN", "startTime": "2025-03-04T10:00:00Z"}
    path.write_text(json.dumps([obs, good]))
    kept, errors, _ = read(path)
    assert [s.span_id for s in kept] == ["o2"]
    assert [(e.location, e.kind) for e in errors] == [("record 1", "negative timestamp")]
    assert "startTime is negative" in errors[0].message


def test_data_problems_are_counted_and_named_in_the_summary(tmp_home, tmp_path, monkeypatch):
    """Through `ingest --json`: duplicate ids and end-before-start are stored sanely and reported."""
    from agent.cli import ingest
    from agent.settings import get_settings
    from tests.agentkit import CACHE

    monkeypatch.setenv("POSTMORTEM_CACHE_DIR", str(CACHE))
    get_settings.cache_clear()
    spans = [
        otlp_span("b7ad6b7169203336"),
        otlp_span("b7ad6b7169203336"),
        otlp_span("b7ad6b7169203337", start="1700000001000000000", end="1700000000000000000"),
        otlp_span("b7ad6b7169203338", start="-5"),
        otlp_span(GOOD_SPAN),
    ]
    path = tmp_path / "wrong.json"
    path.write_text(json.dumps(otlp_request(*spans)))
    import typer

    app = typer.Typer()
    ingest.register(app)
    app.command("noop")(lambda: None)
    result = CliRunner().invoke(app, ["ingest", str(path), "--json"], env={"COLUMNS": "200"})
    assert result.exit_code == 2, result.output  # the negative time is bad input
    summary = json.loads(result.stdout)
    assert summary["data_problems"] == {
        "duplicate span id": 1,
        "ends before it starts": 1,
        "negative timestamp": 1,
    }
    assert summary["spans_added"] == 3
    assert any("b7ad6b7169203336 of trace" in w and "repeats" in w for w in summary["warnings"])
    assert any("b7ad6b7169203337 ends before it starts (-1000 ms)" in w for w in summary["warnings"])
    assert all(w.startswith(str(path)) for w in summary["warnings"])
    from agent.store_factory import open_store

    store = open_store(get_settings())
    try:
        assert store.get_span("b7ad6b7169203337").end_time is None
    finally:
        store.close()


def test_an_overlong_json_line_is_skipped_without_holding_it(tmp_path, monkeypatch):
    from retrieval.ingest import stream

    monkeypatch.setattr(stream, "MAX_RECORD_BYTES", 1000)
    long = json.dumps(
        otlp_request(otlp_span("b7ad6b7169203331", [{"key": "x", "value": {"stringValue": "y" * 5000}}]))
    )
    path = tmp_path / "long.jsonl"
    path.write_text(long + "\n" + json.dumps(otlp_request(otlp_span(GOOD_SPAN))) + "\n")
    spans, errors, _ = read(path)
    assert [s.span_id for s in spans] == [GOOD_SPAN]
    assert [str(e) for e in errors] == [f"{path}:line 1: line is longer than 1,000 bytes; skipped"]


def test_an_oversized_post_mortem_is_refused_unread(tmp_path, monkeypatch):
    from retrieval.ingest import markdown

    monkeypatch.setattr(markdown, "MAX_RECORD_BYTES", 1 << 20)
    path = tmp_path / "huge.md"
    path.write_text("# Huge\n\n" + "words " * 300_000)
    docs, errors, _ = read(path)
    assert not docs and [str(e) for e in errors] == [f"{path}: post-mortem is larger than 1 MB; skipped"]
