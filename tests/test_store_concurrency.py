"""Several processes writing one store: one writer at a time (a lock file under the home, waited on with a
message), no vector lost or unreachable, and `store check` that finds lost vectors and repairs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from retrieval.ingest import iter_file
from retrieval.store import TraceStore
from retrieval.store_lock import WriterLock
from retrieval.store_search import nearest
from retrieval.trace import Span

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / ".postmortem" / "cache"
DEMO = REPO / "retrieval" / "samples" / "demo" / "traces"
SUPPORT, SEARCH = DEMO / "support-assistant.otlp.json", DEMO / "product-search.otlp.json"


def spans_of(path: Path) -> list[Span]:
    return [r for r in iter_file(path) if isinstance(r, Span)]


def every_vector_answers(store: TraceStore, expected: int) -> None:
    """What issue 16 saw fail: the store's vector search reaches every record. A query for all N nearest
    returns all N; a query with each record's own vector finds it (among the records sharing that vector);
    and the deep check finds nothing to repair. Spans with no text of their own are kept without a vector."""
    kind = store._span_kind()
    bare = store._chroma.bare_spans.count()
    assert store._spans.count() + bare == expected == store._span_index.count() and bare < expected
    expected -= bare
    got = store._spans.get(include=["embeddings"])  # raises when a vector went missing
    ids, vectors = got["ids"], np.asarray(got["embeddings"], dtype=np.float32)
    assert len(ids) == expected
    assert sorted(nearest(kind, vectors[:1], expected)) == sorted(ids)
    vkey_of = kind.keys.keys_of(ids)
    sharing = Counter(vkey_of.values())
    assert max(sharing.values()) > 1  # the case that left records unreachable: many share one vector
    for key, vector in zip(ids, vectors, strict=True):
        assert key in nearest(kind, vector[None, :], sharing[vkey_of[key]]), key
    spans = next(c for c in store.check() if c.name == "spans")
    assert spans.records == expected and spans.problems == 0, spans.shown()


def start_ingest(home: Path, path: Path, log: Path) -> subprocess.Popen:
    env = {**os.environ, "POSTMORTEM_HOME": str(home), "POSTMORTEM_CACHE_DIR": str(CACHE)}
    exe = Path(sys.executable).parent / "postmortem"
    with log.open("w") as err:
        return subprocess.Popen(
            [str(exe), "ingest", str(path), "--json"], stdout=subprocess.PIPE, stderr=err, text=True, env=env
        )


def test_two_ingests_of_one_file_at_once_keep_every_vector(tmp_path, embedder):
    home = tmp_path / "home"
    lock = WriterLock(home / "chroma" / "write.lock")  # a third party holding the lock at the start
    logs = [tmp_path / "a.err", tmp_path / "b.err"]
    with lock.hold():
        procs = [start_ingest(home, SUPPORT, log) for log in logs]
        deadline = time.monotonic() + 240
        while not all("waiting for it to finish" in " ".join(log.read_text().split()) for log in logs):
            assert time.monotonic() < deadline, [log.read_text() for log in logs]
            assert all(p.poll() is None for p in procs), [log.read_text() for log in logs]
            time.sleep(0.2)
    outs = [p.communicate(timeout=300)[0] for p in procs]  # both released at once: they race for the lock
    assert [p.returncode for p in procs] == [0, 0], [log.read_text() for log in logs]
    summaries = [json.loads(out) for out in outs]
    total = len(spans_of(SUPPORT))
    assert sorted(s["spans_added"] for s in summaries) == [0, total]  # the second found them all stored
    assert all(s["vectors_pending"] == 0 for s in summaries)
    store = TraceStore(path=home / "chroma", embedder=embedder)
    try:
        every_vector_answers(store, total)
    finally:
        store.close()


def test_a_writer_whose_index_copy_is_outdated_reopens_it(tmp_path, embedder):
    """This process searched (its client read the vector index), another process ingested, then this one
    writes: without reopening it would persist its outdated copy over the other's vectors."""
    home = tmp_path / "home"
    store = TraceStore(path=home / "chroma", embedder=embedder)
    try:
        store.add_spans(spans_of(SEARCH)[:20])
        assert store.search_spans("running shoes", k=3)
        proc = start_ingest(home, SUPPORT, tmp_path / "other.err")
        assert proc.wait(timeout=300) == 0, (tmp_path / "other.err").read_text()
        store.add_spans(spans_of(SEARCH)[20:])
        every_vector_answers(store, len(spans_of(SEARCH)) + len(spans_of(SUPPORT)))
    finally:
        store.close()


def test_store_check_finds_lost_vectors_and_repairs_them(tmp_home, embedder, monkeypatch):
    from agent.cli.main import app

    monkeypatch.setenv("POSTMORTEM_CACHE_DIR", str(CACHE))
    runner = CliRunner()
    assert runner.invoke(app, ["ingest", str(SEARCH), "--json"]).exit_code == 0
    clean = runner.invoke(app, ["store", "check", "--json"])
    assert clean.exit_code == 0, clean.output
    assert json.loads(clean.stdout)["ok"] is True

    store = TraceStore(path=tmp_home / "chroma", embedder=embedder)
    try:  # damage: vectors gone from Chroma, one keyword row gone, one orphan keyword row
        victims = store._spans.get(include=[], limit=5)["ids"]
        store._spans.delete(ids=victims[:4])
        store._span_index.remove(victims[4:5])
        store._span_index.pending_done(victims[:4])
        total = store._span_index.count() + 1
    finally:
        store.close()
    broken = runner.invoke(app, ["store", "check", "--json"])
    assert broken.exit_code == 1
    spans = json.loads(broken.stdout)["collections"][0]
    assert sorted(spans["orphans"]) == sorted(victims[:4]) and spans["not_indexed"] == victims[4:5]

    fixed = runner.invoke(app, ["store", "check", "--repair"])
    assert fixed.exit_code == 0, fixed.output
    store = TraceStore(path=tmp_home / "chroma", embedder=embedder)
    try:
        # orphans are dropped (their records were lost with the vectors); re-ingesting brings them back
        assert store._span_index.count() == total - 4
        assert runner.invoke(app, ["ingest", str(SEARCH), "--json"]).exit_code == 0
        every_vector_answers(store, total)
        vector = store._spans.get(ids=victims[:1], include=["embeddings"])["embeddings"][0]
        assert np.linalg.norm(vector) > 0.99
    finally:
        store.close()
