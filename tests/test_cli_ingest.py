"""`postmortem ingest` and `postmortem trace show`, on the fixture traces and post-mortems, in a temporary home."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import typer
from click.testing import Result
from typer.testing import CliRunner

from agent.errors import UserError
from retrieval.trace import IngestError, PostmortemDoc, Span
from tests.conftest import FIXTURES

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / ".postmortem" / "cache"  # the embedder's built graph, shared with the `embedder` fixture
GOOD = ["otlp_genai_current.json", "otlp_openllmetry.jsonl", "langfuse_trace.json"]
_SHARED: dict[str, tuple[Path, dict]] = {}
POSTMORTEMS = ["2024-11-14-refund-bot-stale-index.md", "2025-02-03-json-mode-model-update.md"]


def cli_app() -> typer.Typer:
    """Only this area's commands, registered the way main.py registers them."""
    from agent.cli import ingest, search, traces

    app = typer.Typer()
    for module in (ingest, search, traces):
        module.register(app)
    return app


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli_app(), list(args), env={"COLUMNS": "200"})


def records(paths: list[Path]) -> list[Span | PostmortemDoc | IngestError]:
    from retrieval.ingest import iter_file

    return [r for p in paths for r in iter_file(p)]


@contextmanager
def settings_env(home: Path, **extra: str) -> Iterator[None]:
    """POSTMORTEM_HOME (and the embedder cache, and any `extra` variables) set, settings re-read, inside the block
    only."""
    from agent.settings import get_settings

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("POSTMORTEM_HOME", str(home))
        mp.setenv("POSTMORTEM_CACHE_DIR", str(CACHE))
        for name, value in extra.items():
            mp.setenv(name, value)
        get_settings.cache_clear()
        try:
            yield
        finally:
            get_settings.cache_clear()


@pytest.fixture(scope="session")
def inputs(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("inputs")
    for name in GOOD:
        shutil.copy(FIXTURES / "traces" / name, folder / name)
    (folder / "postmortems").mkdir()
    for name in POSTMORTEMS:
        shutil.copy(FIXTURES / "postmortems" / name, folder / "postmortems" / name)
    return folder


@pytest.fixture(scope="session")
def ingested_home(tmp_path_factory, inputs) -> tuple[Path, dict]:
    """A home holding the inputs, ingested once per session through the CLI (env restored after).

    test_cli_search imports this fixture, which makes a second definition: the memo keeps it one ingest.
    """
    if "home" not in _SHARED:
        home = tmp_path_factory.mktemp("cli") / "home"
        with settings_env(home):
            result = invoke("ingest", str(inputs), "--json")
        assert result.exit_code == 0, result.output
        _SHARED["home"] = (home, json.loads(result.stdout))
    return _SHARED["home"]


@pytest.fixture(scope="module")
def home(ingested_home) -> Iterator[Path]:
    """This module's commands run against the ingested home."""
    with settings_env(ingested_home[0]):
        yield ingested_home[0]


@pytest.fixture
def ingested(home, ingested_home) -> dict:
    return ingested_home[1]


def open_store():
    from agent.settings import get_settings
    from agent.store_factory import open_store as factory

    return factory(get_settings())


def test_ingest_folder_counts_what_the_files_hold(ingested, inputs):
    read = records(sorted(inputs.rglob("*.json*")) + sorted((inputs / "postmortems").glob("*.md")))
    spans = [r for r in read if isinstance(r, Span)]
    unique = {(s.trace_id, s.span_id) for s in spans}
    chunks = [r for r in read if isinstance(r, PostmortemDoc)]
    assert not [r for r in read if isinstance(r, IngestError)]
    assert ingested["files"] == len(GOOD) + len(POSTMORTEMS)
    assert ingested["spans_read"] == len(spans)
    assert ingested["spans_added"] == len(unique)
    assert ingested["spans_skipped"] == len(spans) - len(unique)
    assert ingested["postmortem_chunks"] == ingested["postmortem_chunks_added"] == len(chunks)
    assert ingested["by_kind"] == {
        k: sum(s.kind.value == k for s in spans) for k in {s.kind.value for s in spans}
    }
    assert set(ingested["services"]) == {s.service for s in spans}
    assert ingested["first_start"] and ingested["last_start"] >= ingested["first_start"]
    assert ingested["errors"] == []
    store = open_store()
    try:
        assert store.count_spans() == len(unique)
        assert store.count_postmortems() == len(chunks)
    finally:
        store.close()


def test_reingest_adds_nothing_and_prints_the_summary(ingested, inputs):
    result = invoke("ingest", str(inputs / "*.json*"), str(inputs / "postmortems"))
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"{ingested['spans_read']} read, 0 added, {ingested['spans_read']} skipped" in out
    for service in ingested["services"]:
        assert service in out
    for model in list(ingested["models"])[:3]:
        assert model in out
    assert (
        "time range" in out
        and "post-mortems" in out
        and f"{ingested['postmortem_chunks']} chunks read, 0 added" in out
    )


def test_trace_show_prints_the_span_fields(ingested):
    store = open_store()
    try:
        llm = next(
            s
            for s in store.query_spans(kind="llm")
            if s.response_model and s.sampling.temperature is not None
        )
        spans = store.get_trace(llm.trace_id)
    finally:
        store.close()
    result = invoke("trace", "show", llm.trace_id, "--full")
    assert result.exit_code == 0, result.output
    out = result.stdout
    for span in spans:
        assert span.name in out and span.span_id in out
    assert f"provider {llm.provider}" in out
    assert f"model requested {llm.request_model} → served {llm.response_model}" in out
    assert f"temperature={llm.sampling.temperature}" in out
    for reason in llm.finish_reasons:
        assert reason in out
    if llm.usage.input_tokens is not None:
        assert f"input_tokens={llm.usage.input_tokens}" in out
    docs = [d for s in spans for d in s.documents]
    for d in docs:
        assert f"source {d.source or '?'}" in out
    tools = [s.tool for s in spans if s.tool]
    for tool in tools:
        assert f"tool {tool.name}" in out
    errors = [s for s in spans if s.is_error]
    for span in errors:
        assert span.status.message.splitlines()[0][:40] in out

    as_json = invoke("trace", "show", llm.trace_id, "--json")
    assert as_json.exit_code == 0
    payload = json.loads(as_json.stdout)
    assert [Span.model_validate(s) for s in payload["spans"]] == spans


def test_trace_show_unknown_id_is_a_user_error(ingested):
    """UserError is what the console entry turns into one line and exit code 2."""
    result = invoke("trace", "show", "deadbeef" * 4)
    assert isinstance(result.exception, UserError)
    assert str(result.exception).startswith(f"trace '{'deadbeef' * 4}': not in the store")


def test_service_default_for_records_lacking_one(home, tmp_home, tmp_path):
    source = FIXTURES / "traces" / "langfuse_blob_export.jsonl"
    lines = []
    for line in source.read_text().splitlines():
        record = json.loads(line)
        (record.get("metadata") or {}).pop("service.name", None)
        lines.append(json.dumps(record))
    path = tmp_path / "no-service.jsonl"
    path.write_text("\n".join(lines) + "\n")
    recorded = {s.service for s in records([source]) if isinstance(s, Span)}
    bare = [r for r in records([path]) if isinstance(r, Span)]
    assert bare and recorded == {"support-bot"} and "support-bot" not in {s.service for s in bare}

    result = invoke("ingest", str(path), "--service", "checkout-bot", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["services"] == {"checkout-bot": len(bare)}
    store = open_store()
    try:
        assert {s.service for s in store.query_spans()} == {"checkout-bot"}
    finally:
        store.close()


def test_bad_format_flag_is_a_usage_error(home, inputs):
    result = invoke("ingest", str(inputs), "--format", "zipkin")
    assert isinstance(result.exception, UserError) and "--format 'zipkin'" in str(result.exception)


def test_bad_files_one_line_each_exit_2_good_files_stored(home, tmp_home, tmp_path):
    """Through the real console script: one line per bad file/record, good data stored, exit 2, no traceback."""
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(FIXTURES / "traces" / "otlp_genai_legacy.jsonl", folder / "good.jsonl")
    for name in ("truncated.jsonl", "zipkin_unknown_dialect.json", "missing_ids.json"):
        shutil.copy(FIXTURES / "bad" / name, folder / name)
    expected = records(sorted(folder.iterdir()))
    problems = [str(r) for r in expected if isinstance(r, IngestError)]
    good = {(r.trace_id, r.span_id) for r in expected if isinstance(r, Span)}
    assert problems and good

    env = {**os.environ, "POSTMORTEM_HOME": str(tmp_home), "POSTMORTEM_CACHE_DIR": str(CACHE)}
    exe = Path(sys.executable).parent / "postmortem"
    run = subprocess.run(
        [str(exe), "ingest", str(folder), str(tmp_path / "missing.json"), "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr
    lines = [line for line in run.stderr.splitlines() if line.strip() and not line.startswith("warning:")]
    assert len(lines) == len(problems) + 1  # + the path that does not exist
    repeats = sum(isinstance(r, Span) for r in expected) - len(good)  # truncated.jsonl repeats good.jsonl
    assert repeats and run.stderr.count("repeats a span id read before") == repeats
    for problem in problems:
        assert any(problem in line for line in lines), problem
    assert any("missing.json" in line and "no such file" in line for line in lines)
    summary = json.loads(run.stdout)
    assert summary["spans_added"] == len(good)
    assert summary["data_problems"] == {"duplicate span id": repeats}

    again = invoke("ingest", str(folder / "good.jsonl"), "--json")  # in-process: same home
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["spans_added"] == 0
    store = open_store()
    try:
        assert store.count_spans() == len(good)
    finally:
        store.close()


def test_unreachable_server_is_a_failure(home, monkeypatch, inputs):
    """A configured Chroma URL where nothing listens: one-line Failure (exit code 1 at the console entry)."""
    from agent.errors import Failure
    from agent.settings import get_settings
    from tests.test_store_server import free_port

    monkeypatch.setenv("POSTMORTEM_CHROMA_URL", f"http://127.0.0.1:{free_port()}")
    get_settings.cache_clear()
    try:
        result = invoke("ingest", str(inputs), "--json")
        assert isinstance(result.exception, Failure)
        assert "cannot open the Chroma store at http://127.0.0.1:" in str(result.exception)
        assert isinstance(invoke("search", "refund").exception, Failure)
    finally:
        monkeypatch.delenv("POSTMORTEM_CHROMA_URL")
        get_settings.cache_clear()
