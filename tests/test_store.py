"""TraceStore against the embedded store and a real `chroma run` server: idempotence, filters, hybrid search,
repair of half-written batches, post-mortems."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from retrieval.keyword import KeywordIndex, KeywordRow, identifier_terms, match_expression, tokens
from retrieval.store import AddResult, EmbedderMismatch, TraceStore, rrf
from retrieval.trace import PostmortemDoc, Span, SpanKind
from tests.spanfactory import SpanFactory, Tool, at, doc
from tests.test_store_server import chroma_server  # noqa: F401 - fixture

CODE = "ERR_RATE_LIMIT_429"


def corpus() -> list[Span]:
    """Three services, two served model versions, retrieval + tool + llm spans, one rare error code."""
    f = SpanFactory(seed=11)
    spans: list[Span] = []
    for i in range(6):
        spans += f.trace(
            at(10 * i),
            f"How long do refunds take for order {1000 + i}?",
            "Refunds take 5 business days.",
            docs=[doc("Refunds are paid within 5 business days.", "kb/refunds.md", "2024-01-02")],
            served="gpt-4o-2024-08-06" if i < 3 else "gpt-4o-2024-11-20",
        )
    for i in range(4):
        spans += f.trace(
            at(5 + 10 * i),
            "Where is my parcel?",
            "We are being rate limited, please retry in a minute.",
            service="shipping-bot",
            model="claude-sonnet-4",
            served="claude-sonnet-4-20250514",
            tools=[Tool("track_parcel", "carrier returned an empty response", error=True)]
            if i == 2
            else [Tool("track_parcel", "in transit, slowed down by rate limits at the depot")],
        )
        if i == 2:  # the code only in an attribute: nothing a sentence embedding can see
            tool = next(s for s in spans[-3:] if s.kind == SpanKind.tool)
            tool.attributes["carrier.error_code"] = CODE
    spans += f.trace(at(200), "Reset my password", "Done.", service="auth-bot", template=None, system=None)
    return spans


_counter = iter(range(1_000_000))


class Memo:
    """The real embedder, remembering vectors of texts it has embedded (both backends embed the same spans)."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.seen: dict[str, np.ndarray] = {}

    def embed(self, texts: list[str]) -> np.ndarray:
        todo = [t for t in dict.fromkeys(texts) if t not in self.seen]
        if todo:
            self.seen.update(zip(todo, self.inner.embed(todo), strict=True))
        return np.stack([self.seen[t] for t in texts])

    def name(self) -> str:
        return self.inner.name()

    def get_config(self) -> dict:
        return self.inner.get_config()


@pytest.fixture(scope="module")
def memo(embedder) -> Memo:
    return Memo(embedder)


@pytest.fixture(scope="module", params=["embedded", pytest.param("server", marks=pytest.mark.server)])
def backend(request, tmp_path_factory):
    """Where stores live: a folder for the embedded store, or the URL of a real `chroma run` server."""
    if request.param == "server":
        return request.param, request.getfixturevalue("chroma_server")
    return request.param, tmp_path_factory.mktemp("embedded")


def open_store(backend, embedder, root: Path, prefix: str, keyword_dir: Path | None = None) -> TraceStore:
    """A store in its own namespace (collection prefix) on the backend."""
    kind, where = backend
    if kind == "server":
        return TraceStore(url=where, embedder=embedder, keyword_dir=keyword_dir or root / "kw", prefix=prefix)
    return TraceStore(path=where / "db", embedder=embedder, keyword_dir=keyword_dir, prefix=prefix)


@pytest.fixture
def make_store(backend, memo, tmp_path):
    """Factory for empty stores on the backend (each test gets fresh collections)."""
    opened: list[TraceStore] = []
    prefix = f"t{next(_counter)}-"

    def make(keyword_dir: Path | None = None) -> TraceStore:
        store = open_store(backend, memo, tmp_path, prefix, keyword_dir)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture(scope="module")
def filled(backend, memo, tmp_path_factory):
    """The corpus stored once per backend; tests using it only read."""
    root = tmp_path_factory.mktemp("filled")
    store = open_store(backend, memo, root, "filled-")
    spans = corpus()
    result = store.add_spans(spans, batch_size=16)
    assert result == AddResult(added=len(spans), skipped=0)
    yield store, spans
    store.close()


def test_round_trip_and_idempotent_reingest(filled):
    store, spans = filled
    assert store.count_spans() == len(spans)
    again = store.add_spans(spans)
    assert again == AddResult(added=0, skipped=len(spans))
    assert store.count_spans() == len(spans)
    llm = next(s for s in spans if s.kind == SpanKind.llm)
    assert store.get_span(llm.span_id) == llm  # every field intact, documents, messages, sampling, template
    assert store.get_span("0" * 16) is None
    trace = store.get_trace(llm.trace_id)
    assert [s.span_id for s in trace] == [
        s.span_id for s in sorted(spans, key=lambda s: s.start_time) if s.trace_id == llm.trace_id
    ]
    assert store.get_trace("f" * 32) == []


def test_duplicates_inside_one_batch_are_skipped(make_store):
    store = make_store()
    span = corpus()[0]
    assert store.add_spans([span, span, span]) == AddResult(added=1, skipped=2)
    assert store.count_spans() == 1


def test_query_filters(filled):
    store, spans = filled
    by_service = store.query_spans(service="shipping-bot")
    assert by_service and {s.service for s in by_service} == {"shipping-bot"}
    assert len(by_service) == sum(s.service == "shipping-bot" for s in spans)
    assert [s.start_time for s in by_service] == sorted(s.start_time for s in by_service)

    window = store.query_spans(start=at(9), end=at(21))
    assert window and all(at(9) <= s.start_time <= at(21) for s in window)
    assert len(window) == sum(at(9) <= s.start_time <= at(21) for s in spans)

    served = store.query_spans(model="gpt-4o-2024-11-20")
    assert len(served) == 3 and all(s.response_model == "gpt-4o-2024-11-20" for s in served)
    requested = store.query_spans(model="gpt-4o")  # requested name matches every version served for it
    assert len(requested) == sum(s.request_model == "gpt-4o" for s in spans) == 7
    assert {s.response_model for s in requested} == {"gpt-4o-2024-08-06", "gpt-4o-2024-11-20"}

    tools = store.query_spans(kind="tool", service="shipping-bot")
    assert len(tools) == 4 and all(s.kind == SpanKind.tool for s in tools)
    one = spans[0].trace_id
    assert {s.trace_id for s in store.query_spans(trace_id=one)} == {one}
    assert len(store.query_spans(limit=5)) == 5
    assert store.query_spans(service="nope") == []


def test_search_filters_apply_to_both_sides(filled):
    store, _ = filled
    hits = store.search_spans("rate limit", k=50, service="support-bot", kind=SpanKind.llm)
    assert hits, "the support-bot llm spans exist and must be found by at least one side"
    assert all(h.span.service == "support-bot" and h.span.kind == SpanKind.llm for h in hits)
    window = store.search_spans("refund", k=50, start=at(0), end=at(15))
    assert window and all(at(0) <= h.span.start_time <= at(15) for h in window)


def test_error_code_found_by_keywords_when_vectors_miss_it(filled):
    store, spans = filled
    target = next(s for s in spans if s.attributes.get("carrier.error_code") == CODE)
    hits = store.search_spans(CODE, k=5)
    assert hits[0].span.span_id == target.span_id
    assert hits[0].keyword_rank == 1
    assert hits[0].vector_rank != 1  # the nearest vectors are the spans about being rate limited
    assert hits[0].exact and not any(h.exact for h in hits[1:])
    rest = [h.score for h in hits[1:]]
    assert (
        rest == sorted(rest, reverse=True) and rest[0] > hits[0].score
    )  # fusion alone would not put it first


def test_ids_and_model_versions_match_by_keyword(filled):
    store, spans = filled
    target = spans[7]
    assert store.search_spans(target.span_id, k=3)[0].span.span_id == target.span_id
    assert store.search_spans(f"trace {target.trace_id}", k=3)[0].span.trace_id == target.trace_id
    hits = store.search_spans("gpt-4o-2024-11-20", k=3)
    assert all(h.span.response_model == "gpt-4o-2024-11-20" for h in hits)


def test_records_are_found_before_their_vectors_and_the_next_writer_embeds_them(make_store, monkeypatch):
    """Stage 1 (keyword index + queued record) at parse speed; a vector write that fails leaves the records
    findable by id, trace and keywords, waiting; the next writer writes their vectors, each once."""
    store = make_store()
    spans = corpus()[:12]
    collection = store._spans

    def down(**kwargs):
        raise ConnectionError("server went away")

    monkeypatch.setattr(collection, "upsert", down)
    with pytest.raises(ConnectionError):
        store.add_spans(spans, batch_size=4)
    monkeypatch.undo()
    stored = store._span_index.count()
    assert stored >= 4 and store.vectors_pending() == stored and collection.count() == 0
    first = spans[0]
    assert store.get_span(first.span_id) == first
    assert [s.span_id for s in store.get_trace(first.trace_id)] == sorted(
        (s.span_id for s in spans if s.trace_id == first.trace_id),
        key=lambda i: next(s.start_time for s in spans if s.span_id == i),
    )
    assert store.search_spans(first.span_id, k=1)[0].span == first  # by keyword, no vector yet
    assert store.embed_pending() == stored and store.vectors_pending() == 0
    assert collection.count() == stored
    assert store.add_spans(spans, batch_size=4) == AddResult(added=len(spans) - stored, skipped=stored)
    assert collection.count() == len(spans) == store.count_spans() == store._span_index.count()


def test_chroma_failure_midway_loses_nothing(make_store, monkeypatch):
    store = make_store()
    spans = corpus()[:12]
    collection = store._spans
    real = collection.upsert
    calls = {"n": 0}

    def flaky(**kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise ConnectionError("server went away")
        return real(**kwargs)

    monkeypatch.setattr(collection, "upsert", flaky)
    with pytest.raises(ConnectionError):
        store.add_spans(spans, batch_size=4)
    monkeypatch.undo()
    assert 4 <= collection.count() < len(spans)
    stored = store._span_index.count()
    result = store.add_spans(spans, batch_size=4)
    assert result == AddResult(added=len(spans) - stored, skipped=stored)
    assert collection.count() == len(spans) == store._span_index.count() and store.vectors_pending() == 0


def test_keyword_index_rebuilt_from_chroma(filled, backend, memo, tmp_path):
    """A store opened with an empty keyword index (another machine, lost file) rebuilds it before searching."""
    _, spans = filled
    fresh = open_store(backend, memo, tmp_path, "filled-", keyword_dir=tmp_path / "elsewhere")
    try:
        assert fresh._span_index.count() == 0
        hits = fresh.search_spans(CODE, k=1)
        assert hits[0].keyword_rank == 1 and hits[0].span.attributes["carrier.error_code"] == CODE
        assert fresh._span_index.count() == len(spans)
    finally:
        fresh.close()


def test_search_on_empty_store_and_blank_query(make_store):
    store = make_store()
    assert store.search_spans("anything") == []
    store.add_spans(corpus()[:3])
    assert store.search_spans("   ") == []
    assert store.search_postmortems("anything") == []


def _pm(pm_id: str, title: str, service: str, sections: list[tuple[str, str]]) -> list[PostmortemDoc]:
    return [
        PostmortemDoc(
            id=pm_id,
            title=title,
            service=service,
            date="2024-11-02",
            layers=["data", "prompt"],
            primary_layer="data",
            tags=["rag"],
            section=name,
            chunk_index=i,
            text=f"{name}\n\n{text}",
        )
        for i, (name, text) in enumerate(sections)
    ]


def test_postmortems(make_store):
    store = make_store()
    stale = _pm(
        "pm-2024-011",
        "Stale refund policy served by the assistant",
        "support-bot",
        [
            ("Summary", "The index still held the 2022 refund policy."),
            ("Root cause", "Re-index job failed: IDX_SYNC_TIMEOUT."),
        ],
    )
    other = _pm(
        "pm-2024-020",
        "Parcel tracking outage",
        "shipping-bot",
        [
            ("Summary", "Carrier API rate limited every request."),
            ("Action items", "Add retries with backoff."),
        ],
    )
    assert store.add_postmortems(stale + other) == AddResult(added=4, skipped=0)
    assert store.add_postmortems(stale) == AddResult(added=0, skipped=2)
    assert store.count_postmortems() == 4
    assert [d.chunk_index for d in store.get_postmortem("pm-2024-011")] == [0, 1]

    hits = store.search_postmortems("assistant answered with an outdated refund policy", k=5)
    assert hits[0].doc.id == "pm-2024-011"
    assert len({h.doc.id for h in hits}) == len(hits)  # one hit per post-mortem
    assert store.search_postmortems("IDX_SYNC_TIMEOUT", k=1)[0].doc.section == "Root cause"
    only = store.search_postmortems("refund policy", k=5, service="shipping-bot")
    assert [h.doc.id for h in only] == ["pm-2024-020"]
    chunks = store.search_postmortems("refund", k=5, per_document=False)
    assert len(chunks) == 4

    whole = {d.id: d for d in store.list_postmortems()}
    assert set(whole) == {"pm-2024-011", "pm-2024-020"}
    text = whole["pm-2024-011"].text
    assert text.index("## Summary") < text.index("2022 refund policy") < text.index("## Root cause")
    assert whole["pm-2024-011"].section is None and whole["pm-2024-011"].layers == ["data", "prompt"]


def test_other_embedder_is_refused(embedder, tmp_path):
    from chromadb.utils.embedding_functions import DefaultEmbeddingFunction

    TraceStore(path=tmp_path / "db", embedder=embedder).close()
    with pytest.raises(EmbedderMismatch, match="built with embedder"):
        TraceStore(path=tmp_path / "db", embedder=DefaultEmbeddingFunction())


def test_rrf_fuses_by_rank():
    fused = dict(rrf(["a", "b", "c"], ["c", "d"]))
    assert fused["c"] == pytest.approx(1 / 63 + 1 / 61)
    assert fused["a"] == pytest.approx(1 / 61)
    assert [key for key, _ in rrf(["a", "b", "c"], ["c", "d"])] == ["c", "a", "b", "d"]  # ties by id


def test_naive_times_are_utc(filled):
    store, spans = filled
    naive = at(0).replace(tzinfo=None)
    got = store.query_spans(start=naive, end=naive + timedelta(seconds=1))
    want = [s for s in spans if at(0) <= s.start_time <= at(0) + timedelta(seconds=1)]
    assert got and [s.span_id for s in got] == [s.span_id for s in sorted(want, key=lambda s: s.start_time)]


def test_tokens_keep_identifiers_whole_and_split():
    assert tokens("ERR_RATE_LIMIT_429 happened.") == [
        "err_rate_limit_429",
        "err",
        "rate",
        "limit",
        "429",
        "happened",
    ]
    assert tokens("served gpt-4o-2024-08-06")[1:3] == ["gpt_4o_2024_08_06", "gpt"]
    assert tokens("RateLimitError")[:4] == ["ratelimiterror", "rate", "limit", "error"]
    assert tokens("4bf92f3577b34da6") == ["4bf92f3577b34da6"]  # hex ids are not split into pieces
    assert tokens("why did the refund-bot fail", query_mode=True) == ["refund_bot", "refund", "bot", "fail"]
    assert identifier_terms("ERR_X_1 in gpt-4o for Refunds") == ["err_x_1", "gpt_4o"]


def test_query_syntax_cannot_break_the_keyword_side(filled):
    store, _ = filled
    for query in ['refund" OR (*', "NEAR(a b)", "AND", "-", "col:value ^x"]:
        store.search_spans(query, k=3)  # must not raise: terms are quoted, FTS syntax never reaches SQLite
    assert match_expression('x" OR (yy*') == '"x" OR "yy"'
    assert match_expression("the of") is None


def test_keyword_plan_finds_rare_terms_beyond_the_scan_cap(tmp_path):
    """A rare word in an old record is found although a common query word floods the newest matches."""
    index = KeywordIndex(tmp_path / "kw.sqlite3", "spans", scan_cap=50)
    assert index.search("fleece policy") == []  # nothing indexed yet, and absent terms are not cached
    index.add([KeywordRow(id="old", key="", body="the fleece jacket")])
    index.add(KeywordRow(id=f"new-{i}", key="", body=f"refund policy number {i}") for i in range(300))
    assert index.search("fleece policy", limit=5)[0] == "old"
    both = KeywordRow(id="both", key="", body="fleece policy for jackets")
    index.add([both])
    assert index.search("fleece policy", limit=5)[:2] == ["both", "old"]  # every term first
    assert set(index.search("jacket")) == {"both", "old"}  # "jackets" stemmed to "jacket"
    common = index.search("policy", limit=500)  # one term in 301 records: only the newest scan_cap scored
    assert len(common) == 50 and "both" in common and "new-0" not in common
    index.close()


def test_spans_without_text_of_their_own_get_no_vector_and_are_still_found(make_store, tmp_path):
    """An HTTP or DB span (name, attributes, status; no input, output, tool or document text) is embedded
    nowhere: no vector, no embedder call; it is found by id, trace, filters and keywords, counted, and the
    check does not call it missing. A span with text in the same trace still gets its vector."""
    store = make_store()
    llm = SpanFactory(seed=5).trace(at(0), "Where is my parcel?", "In transit.", service="shipping-bot")
    root = llm[0]
    http = Span(
        trace_id=root.trace_id,
        span_id="feedfacecafe0001",
        parent_span_id=root.span_id,
        service="shipping-bot",
        name="POST /v1/carrier/track",
        kind=SpanKind.other,
        start_time=at(1),
        attributes={"http.response.status_code": 503, "server.address": "carrier.example"},
    )
    misses = store.vector_cache.misses
    assert store.add_spans([*llm, http]) == AddResult(added=len(llm) + 1)
    assert store.vector_cache.misses - misses >= 2  # the question and the answer, not the HTTP span
    key = f"{http.trace_id}:{http.span_id}"
    assert store._spans.get(ids=[key])["ids"] == []  # no vector
    assert store.count_spans() == len(llm) + 1
    assert store.get_span(http.span_id) == http
    assert http in store.get_trace(root.trace_id) and len(store.get_trace(root.trace_id)) == len(llm) + 1
    assert http in store.query_spans(service="shipping-bot", kind="other")
    found = store.search_spans("carrier track 503", k=5, service="shipping-bot")
    assert found and found[0].span.span_id == http.span_id and found[0].vector_rank is None
    assert store.search_spans("parcel in transit", k=5, service="shipping-bot")  # the vector side still works
    spans = next(c for c in store.check() if c.name == "spans")
    assert (spans.records, spans.bare, spans.problems) == (len(llm), 1, 0)
    elsewhere = make_store(keyword_dir=tmp_path / "another-machine")  # a keyword index rebuilt from Chroma
    assert http in elsewhere.query_spans(kind="other") and elsewhere.count_spans() == len(llm) + 1


def test_filtered_vector_search_paths_agree_with_exact_search(filled, monkeypatch):
    """Candidates from the filter index, an oversampled unfiltered query, or every matching span: the same
    ranking as an exact search over the matching spans (compared by distance: spans whose texts are the same
    share one vector and tie in any order)."""
    import retrieval.store_search as search_module
    from retrieval.store_records import keyword_filter

    store, _ = filled
    vector = store._embed(["the parcel is stuck in transit"])
    filters = keyword_filter("shipping-bot", None, None, None, None, None)
    got = store._spans.get(where={"service": "shipping-bot"}, include=["embeddings"])
    by_id = dict(zip(got["ids"], got["embeddings"], strict=True))

    def distances(ids: list[str]) -> list[float]:
        return [round(1.0 - float(np.dot(vector[0], by_id[i])), 4) for i in ids]

    reference = sorted(distances(list(by_id)))[:5]
    assert len(by_id) > 5

    def nearest() -> list[str]:
        return search_module.vector_ids(store._span_kind(), vector, filters, 5)

    assert distances(nearest()) == reference  # candidates ranked by Chroma
    monkeypatch.setattr(search_module, "CANDIDATES_MAX", 2)
    oversampled = nearest()
    assert len(oversampled) >= 2 and distances(oversampled) == reference[: len(oversampled)]
    monkeypatch.setattr(search_module, "OVERSAMPLE_MAX", 1)
    assert distances(nearest()) == reference  # every matching span a candidate


def test_index_of_another_schema_version_is_dropped(tmp_path):
    path = tmp_path / "kw.sqlite3"
    index = KeywordIndex(path, "spans")
    index.add([KeywordRow(id="a", key="", body="refund")])
    index._db.execute("PRAGMA user_version = 1")  # as if written by an older tokeniser
    index.close()
    reopened = KeywordIndex(path, "spans")
    assert reopened.count() == 0 and reopened.search("refund") == []  # the store re-syncs it from Chroma
    reopened.add([KeywordRow(id="a", key="", body="refund")])
    assert reopened.search("refunds") == ["a"]
    reopened.close()


def test_postmortems_are_found_by_keyword_before_their_vectors(make_store, monkeypatch):
    store = make_store()
    doc = _pm(
        "pm-2024-031", "Checkout bot quoted expired coupons", "checkout-bot", [("Root cause", "COUPON_TTL_0")]
    )

    def down(**kwargs):
        raise ConnectionError("server went away")

    monkeypatch.setattr(store._pms, "upsert", down)
    with pytest.raises(ConnectionError):
        store.add_postmortems(doc)
    monkeypatch.undo()
    assert store.vectors_pending() == 1 and store._pms.count() == 0
    assert [h.doc.id for h in store.search_postmortems("COUPON_TTL_0")] == ["pm-2024-031"]
    assert store.embed_pending() == 1 and store._pms.count() == 1 and store.vectors_pending() == 0


def test_a_closed_store_gives_back_its_file_descriptors(tmp_path):
    """An eval opens one temporary store per case (and per perturbation): closing one gives back its Chroma
    client's files, or a run over every case passes a 1,024-descriptor limit."""
    fd_dir = Path("/proc/self/fd")
    if not fd_dir.is_dir():
        pytest.skip("needs /proc to count file descriptors")

    def open_and_close(prefix: str, n: int) -> int:
        before = len(list(fd_dir.iterdir()))
        for i in range(n):
            TraceStore(path=tmp_path / f"{prefix}{i}", embedder=None).close()
        return len(list(fd_dir.iterdir())) - before

    open_and_close("warm", 2)  # Chroma's one-off set-up (its bindings, its logs) is not a leak
    assert open_and_close("closed", 20) < 10
