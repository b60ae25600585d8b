"""What the receiver refuses, with the OTLP/HTTP status, a google.rpc.Status body in the request's encoding,
and nothing stored lost: 400 (bad body), 401 (token), 404/405, 411, 413 (size, gzip bomb), 415, 503 (queue full,
Retry-After honoured by the real SDK exporter), and a graceful stop storing what was accepted."""

from __future__ import annotations

import gzip
import json
import re
import socket
import threading
import zlib

import pytest
from google.rpc.status_pb2 import Status
from opentelemetry.sdk.trace.export import SpanExportResult

from retrieval.limits import MAX_OTLP_REQUEST_BYTES
from retrieval.otlp_http.http_server import RETRY_AFTER, OtlpReceiver, ReceiverConfig
from retrieval.redact import Redactor
from retrieval.store import TraceStore
from tests.conftest import FIXTURES
from tests.otlpkit import post, record_chats, span_exporter, wait_idle

SPANS_JSON = (FIXTURES / "traces" / "otlp_openai_v2_spans.json").read_bytes()
FIXTURE_SPANS = json.loads(SPANS_JSON)["resourceSpans"][0]["scopeSpans"][0]["spans"]
N_SPANS = len(FIXTURE_SPANS)
FIXTURE_IDS = {(s["traceId"], s["spanId"]) for s in FIXTURE_SPANS}
PROTOBUF = "application/x-protobuf"


@pytest.fixture
def store(tmp_path, embedder):
    store = TraceStore(path=tmp_path / "chroma", embedder=embedder)
    yield store
    store.close()


def _start(store, **config) -> OtlpReceiver:
    return OtlpReceiver(store, Redactor(), ReceiverConfig(port=0, **config)).start()


@pytest.fixture
def receiver(store):
    receiver = _start(store)
    yield receiver
    receiver.stop()


def _status(answer) -> Status:
    if answer.headers["content-type"] == PROTOBUF:
        return Status.FromString(answer.body)
    body = answer.json()
    return Status(code=body.get("code", 0), message=body.get("message", ""))


def _stored(store: TraceStore, trace_ids: set[str]) -> set[tuple[str, str]]:
    """The (trace, span) ids stored for these traces. Not count_spans(): it adds Chroma's count to the queue's,
    so a span whose vector the writer is writing at that instant is counted twice."""
    return {(s.trace_id, s.span_id) for t in trace_ids for s in store.get_trace(t)}


def _ids(recorded) -> set[tuple[str, str]]:
    return {(f"{s.context.trace_id:032x}", f"{s.context.span_id:016x}") for s in recorded.spans}


def _raw(address, head: bytes) -> bytes:
    """Headers only: a body announced but never sent."""
    with socket.create_connection(address, timeout=10) as sock:
        sock.sendall(head)
        reply = b""
        while b"\r\n\r\n" not in reply and (chunk := sock.recv(65536)):
            reply += chunk
        head_end = reply.find(b"\r\n\r\n") + 4
        length = re.search(rb"(?im)^content-length:\s*(\d+)", reply[:head_end])
        while length and len(reply) < head_end + int(length[1]) and (chunk := sock.recv(65536)):
            reply += chunk  # the body may come in a later read than the headers
        return reply


def test_bad_bodies_are_400_and_nothing_stored_is_lost(receiver, store):
    assert post(receiver.address, "/v1/traces", SPANS_JSON).status == 200
    wait_idle(receiver)
    traces = {t for t, _ in FIXTURE_IDS}
    assert _stored(store, traces) == FIXTURE_IDS
    bad = [
        (b"{not json", "application/json", {}, "not valid JSON"),
        (b"\xff\xff\xff", PROTOBUF, {}, "not a protobuf ExportTraceServiceRequest"),
        (b"[1, 2]", "application/json", {}, "not a JSON object"),
        (b'{"resourceSpans": 7}', "application/json", {}, "resourceSpans is not a list"),
        (gzip.compress(SPANS_JSON)[:-20], "application/json", {"Content-Encoding": "gzip"}, "truncated"),
        (b"[" * 5000 + b"]" * 5000, "application/json", {}, "nested deeper"),
    ]
    for body, media, headers, says in bad:
        answer = post(receiver.address, "/v1/traces", body, content_type=media, headers=headers)
        assert answer.status == 400, (says, answer)
        assert answer.headers["content-type"] == media
        status = _status(answer)
        assert status.code == 3 and says in status.message, status
    assert post(receiver.address, "/v1/traces", SPANS_JSON, gzip_it=True).status == 200  # still serving
    wait_idle(receiver)
    assert _stored(store, traces) == FIXTURE_IDS  # the same spans again: skipped, none lost
    assert receiver.stats().writer.spans_skipped == N_SPANS


def test_unsupported_media_and_encodings_are_415(receiver):
    answer = post(receiver.address, "/v1/traces", SPANS_JSON, content_type="text/plain")
    assert answer.status == 415 and "application/x-protobuf" in _status(answer).message
    answer = post(receiver.address, "/v1/logs", SPANS_JSON, headers={"Content-Encoding": "br"})
    assert answer.status == 415 and "gzip" in _status(answer).message


def test_sizes_past_the_bound_are_413_before_and_after_decompression(receiver, store):
    head = (
        f"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: {PROTOBUF}\r\n"
        f"Content-Length: {MAX_OTLP_REQUEST_BYTES + 1}\r\n\r\n"
    ).encode()
    reply = _raw(receiver.address, head)
    assert reply.startswith(b"HTTP/1.1 413") and b"larger than 32 MB as sent" in reply
    bomb = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip of zeros: ~40 KB inflating to 40 MB
    body = bomb.compress(b"\0" * (40 << 20)) + bomb.flush()
    assert len(body) < 1 << 20
    answer = post(receiver.address, "/v1/traces", body, PROTOBUF, headers={"Content-Encoding": "gzip"})
    assert answer.status == 413 and "once decompressed" in _status(answer).message
    assert store.count_spans() == 0


def test_paths_methods_and_lengths(receiver):
    assert post(receiver.address, "/v1/metrics", SPANS_JSON).status == 404
    reply = _raw(receiver.address, b"GET /v1/traces HTTP/1.1\r\nHost: x\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 405")
    reply = _raw(
        receiver.address, b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\r\n"
    )
    assert reply.startswith(b"HTTP/1.1 411")


def test_chunked_bodies_are_read(receiver, store):
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (SPANS_JSON[:100], SPANS_JSON[100:]))
    head = b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    reply = _raw(receiver.address, head + chunked + b"0\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 200")
    wait_idle(receiver)
    assert _stored(store, {t for t, _ in FIXTURE_IDS}) == FIXTURE_IDS


def test_bearer_token_is_required_when_set(store):
    receiver = _start(store, token="s3cret-token")
    try:
        base = "http://{}:{}".format(*receiver.address)
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret-token"}):
            answer = post(receiver.address, "/v1/traces", SPANS_JSON, headers=headers)
            assert answer.status == 401 and answer.headers["www-authenticate"].startswith("Bearer")
            assert _status(answer).code == 16
        recorded = record_chats("token-bot", 1, content=False)
        assert span_exporter(base, token="wrong").export(recorded.spans) == SpanExportResult.FAILURE
        assert span_exporter(base, token="s3cret-token").export(recorded.spans) == SpanExportResult.SUCCESS
        wait_idle(receiver)
        assert _stored(store, recorded.trace_ids) == _ids(recorded)
    finally:
        receiver.stop()


class _HeldStore:
    """The real store, whose keyword stage waits until the test lets it go (the writer falls behind)."""

    def __init__(self, store: TraceStore) -> None:
        self.store = store
        self.go = threading.Event()

    def add_spans(self, *args, **kwargs):
        self.go.wait(30)
        return self.store.add_spans(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.store, name)


def test_a_full_queue_answers_503_with_retry_after_and_the_sdk_retries(store):
    held = _HeldStore(store)
    receiver = OtlpReceiver(held, None, ReceiverConfig(port=0, queue_records=1)).start()
    try:
        assert post(receiver.address, "/v1/traces", SPANS_JSON).status == 200  # taken by the writer, held
        answer = post(receiver.address, "/v1/traces", SPANS_JSON)
        assert answer.status == 503 and answer.headers["retry-after"] == str(RETRY_AFTER)
        assert _status(answer).code == 14
        recorded = record_chats("busy-bot", 2, content=False)
        exported: list = []
        exporter = span_exporter("http://{}:{}".format(*receiver.address), timeout=20)
        thread = threading.Thread(target=lambda: exported.append(exporter.export(recorded.spans)))
        thread.start()  # answered 503, waits Retry-After, sends again
        thread.join(0.5)
        held.go.set()
        thread.join(30)
        assert exported == [SpanExportResult.SUCCESS]
        wait_idle(receiver)
        assert receiver.stats().answers[503] >= 2
        assert (
            _stored(store, recorded.trace_ids | {t for t, _ in FIXTURE_IDS}) == _ids(recorded) | FIXTURE_IDS
        )
    finally:
        held.go.set()
        receiver.stop()


def test_stop_stores_everything_accepted(store):
    receiver = _start(store)
    recorded = record_chats("stopping-bot", 30, content=False)
    address = receiver.address
    exporter = span_exporter("http://{}:{}".format(*address), gzip_it=True)
    for i in range(0, len(recorded.spans), 10):
        assert exporter.export(recorded.spans[i : i + 10]) == SpanExportResult.SUCCESS
    stats = receiver.stop()  # at once: the last requests are still queued
    assert stats.writer.spans_stored == len(recorded.spans) == store.count_spans()
    with pytest.raises(ConnectionRefusedError):
        post(address, "/v1/traces", SPANS_JSON)


class _FailingOnce(_HeldStore):
    """The real store, whose first keyword write fails (a full disk, a locked database)."""

    def __init__(self, store: TraceStore) -> None:
        super().__init__(store)
        self.go.set()
        self.failed = False

    def add_spans(self, *args, **kwargs):
        if not self.failed:
            self.failed = True
            raise OSError(28, "No space left on device")
        return super().add_spans(*args, **kwargs)


def test_a_failed_store_write_is_tried_again_not_dropped(store):
    events: list[str] = []
    receiver = OtlpReceiver(_FailingOnce(store), None, ReceiverConfig(port=0), events.append).start()
    try:
        assert post(receiver.address, "/v1/traces", SPANS_JSON).status == 200
        wait_idle(receiver)
        assert _stored(store, {t for t, _ in FIXTURE_IDS}) == FIXTURE_IDS
        assert any("No space left on device" in e and "trying again" in e for e in events), events
    finally:
        stats = receiver.stop()
    assert stats.writer.store_failures == 0 and stats.writer.spans_stored == N_SPANS
