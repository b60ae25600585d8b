"""The searched vector index holds each distinct vector once (retrieval/vector_keys.py), so records sharing a
vector are all reachable; a store written before that gets its searched collections filled; and a process
that opens and closes stores again and again gives back every file descriptor."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

from retrieval.store import TraceStore
from retrieval.store_chroma import collection_names
from retrieval.store_search import nearest
from retrieval.trace import Span
from tests.spanfactory import SpanFactory, at


def repeated_traffic(copies: int) -> list[Span]:
    """Many requests of the same text (their spans share vectors) and a few different ones."""
    f = SpanFactory(seed=5)
    spans: list[Span] = []
    for i in range(copies):
        spans += f.trace(at(i), "Where is my parcel?", "It is in transit.")
    for i in range(8):
        spans += f.trace(at(copies + i), f"Can I change the address of order {i}?", f"Yes, until {i} pm.")
    return spans


def reaches_every_record(store: TraceStore) -> None:
    kind = store._span_kind()
    got = store._spans.get(include=["embeddings"])
    ids, vectors = got["ids"], np.asarray(got["embeddings"], dtype=np.float32)
    assert sorted(nearest(kind, vectors[:1], len(ids))) == sorted(ids)
    vkey_of = kind.keys.keys_of(ids)
    for key, vector in zip(ids, vectors, strict=True):
        sharing = sum(1 for v in vkey_of.values() if v == vkey_of[key])
        assert key in nearest(kind, vector[None, :], sharing), key
    assert all(c.problems == 0 for c in store.check()), [c.shown() for c in store.check()]


def test_records_sharing_a_vector_are_all_found(tmp_path, embedder):
    spans = repeated_traffic(120)
    with TraceStore(path=tmp_path / "chroma", embedder=embedder) as store:
        store.add_spans(spans, batch_size=64)
        distinct = store._chroma.span_vectors.count()
        assert store._spans.count() == len(spans) and distinct < len(spans) // 10  # one point per vector
        reaches_every_record(store)
        hits = store.search_spans("where is my parcel", k=5)
        assert len(hits) == 5 and all(h.span.input_value == "Where is my parcel?" for h in hits[:3])
    with TraceStore(path=tmp_path / "chroma", embedder=embedder) as store:  # rebuilt from Chroma's log
        reaches_every_record(store)


def test_records_queued_again_are_not_rewritten_and_all_stay_reachable(tmp_path, embedder, monkeypatch):
    """Issue 16: re-upserting ids that exist left records unreachable inside one process. Every stored record
    queued again for its vector (what a writer cut off after Chroma took its batch leaves behind) and the same
    spans added again: nothing is written to Chroma a second time, and every record is still found."""
    spans = repeated_traffic(60)
    with TraceStore(path=tmp_path / "chroma", embedder=embedder) as store:
        store.add_spans(spans, batch_size=50)
        kind = store._span_kind()
        distinct = kind.vectors.count()
        writes: list[str] = []
        for collection in (kind.collection, kind.vectors):
            for name in ("add", "upsert", "update"):
                real = getattr(collection, name)

                def spy(*args, _real=real, _name=name, **kwargs):
                    writes.append(_name)
                    return _real(*args, **kwargs)

                monkeypatch.setattr(collection, name, spy)
        stored = kind.collection.get(include=["metadatas"])
        kind.index.pending_queue(
            {key: m["json"] for key, m in zip(stored["ids"], stored["metadatas"], strict=True)}
        )
        assert store.vectors_pending() == len(spans)
        assert store.embed_pending() == 0 and store.vectors_pending() == 0
        assert store.add_spans(spans).added == 0
        assert writes == [] and kind.vectors.count() == distinct
        assert store._spans.count() == len(spans)
        reaches_every_record(store)


def test_a_store_from_before_the_searched_collections_is_filled(tmp_path, embedder):
    spans = repeated_traffic(10)
    home = tmp_path / "chroma"
    with TraceStore(path=home, embedder=embedder) as store:
        store.add_spans(spans)
        client = store._chroma.client
        for name in collection_names("")[2:]:  # as written before they existed: records only
            client.delete_collection(name)
        store._span_keys.remove(store._span_keys.all_ids())
    with TraceStore(path=home, embedder=embedder) as store:
        assert store._chroma.span_vectors.count() == 0
        assert store.search_spans("where is my parcel", k=3)  # the first read fills them (writer lock)
        assert store._span_keys.count() == len(spans) == store._spans.count()
        reaches_every_record(store)


def test_store_check_repairs_an_unreachable_vector(tmp_path, embedder):
    with TraceStore(path=tmp_path / "chroma", embedder=embedder) as store:
        store.add_spans(repeated_traffic(6))
        kind = store._span_kind()
        victim = store._spans.get(include=[], limit=1)["ids"][0]
        vkey = kind.keys.keys_of([victim])[victim]
        kind.vectors.delete(ids=[vkey])  # the searched point of the victim (and of the spans sharing it) gone
        kind.vectors.add(ids=["orphan"], embeddings=[np.ones(384, dtype=np.float32) / np.sqrt(384)])
        spans = next(c for c in store.check() if c.name == "spans")
        assert victim in spans.unreachable and spans.orphan_vectors == ["orphan"]
        assert all(c.problems == 0 for c in store.check(repair=True))
        reaches_every_record(store)


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts /proc/self/fd")
def test_opening_and_closing_a_store_50_times_keeps_the_fd_count(tmp_path, embedder):
    """A long-lived process (the Slack bot, a receiver, drafts one after another, an eval over every case)
    opens stores again and again, the same one and new ones: each close gives back what the open took
    (Chroma's client held ~7 fds per store folder until closed)."""
    home: Path = tmp_path / "chroma"
    spans = repeated_traffic(2)

    def use(i: int) -> None:
        with TraceStore(path=home if i % 2 else tmp_path / f"new-{i}", embedder=embedder) as store:
            if i % 2 == 0 or i % 10 == 1:
                store.add_spans(spans[i % 5 :: 3])
            assert store.search_spans("where is my parcel", k=2) and store.count_spans() > 0

    use(0)
    use(1)
    before = _open_fds()
    for i in range(2, 50):
        use(i)
    assert _open_fds() <= before + 2, (before, _open_fds())
