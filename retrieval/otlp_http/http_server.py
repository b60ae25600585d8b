"""The OTLP/HTTP receiver: `POST /v1/traces` and `/v1/logs`, protobuf or JSON, gzip/deflate, on one port.

    receiver = OtlpReceiver(store, redactor, ReceiverConfig(port=4318)).start()
    ...
    receiver.stop()          # stops listening, stores what was accepted

Each request is answered as the OTLP/HTTP specification says: 200 with an export response (partial success
naming the rejected records), 400 for a body that cannot be decoded, 401 without the bearer token (when one is
set), 404/405 elsewhere, 411 without a length, 413 past the size bound, 415 for another content type or
encoding, 503 with Retry-After when the queue is full. Bodies are read and parsed by the connection's thread
(at most PARSERS at once), then handed to the BatchWriter, which alone touches the store.
"""

from __future__ import annotations

import contextlib
import hmac
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, BinaryIO

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from retrieval.otlp_http.batch_writer import QUEUE_RECORDS, BatchWriter, WriterStats
from retrieval.otlp_http.intake import take_in
from retrieval.otlp_http.payload import (
    JSON,
    LOGS,
    TRACES,
    PayloadError,
    Signal,
    check_length,
    decode_body,
    media_type,
)
from retrieval.otlp_http.replies import failure, success

PATHS: dict[str, Signal] = {"/v1/traces": TRACES, "/v1/logs": LOGS}
PARSERS = 2  # requests decoded at once: the machine's cores; more only adds memory
PARSE_WAIT = 5.0  # seconds a request waits for a parser before 503 (the SDK's export timeout is 10 s)
RETRY_AFTER = 2  # seconds: a queue full now has been written within about this (a few batches)
MAX_CONNECTIONS = 64  # open connections; past it a new one is answered 503 and closed
IDLE_TIMEOUT = 60.0  # seconds a keep-alive connection may stay silent


class ReceiverConfig(BaseModel):
    """Where to listen and who may send."""

    model_config = ConfigDict(frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=4318, ge=0, le=65535)
    token: SecretStr | None = None  # required as `Authorization: Bearer <token>` when set
    queue_records: int = Field(default=QUEUE_RECORDS, ge=1)


class ReceiverStats(BaseModel):
    """What the receiver answered and stored since it started."""

    requests: int = 0
    answers: dict[int, int] = Field(default_factory=dict)  # HTTP status -> count
    spans_accepted: int = 0
    spans_rejected: int = 0
    events_accepted: int = 0  # GenAI events read from log records
    log_records_rejected: int = 0
    warnings: int = 0
    writer: WriterStats = Field(default_factory=WriterStats)


class Reply(BaseModel):
    status: int
    body: bytes
    media: str
    headers: dict[str, str] = Field(default_factory=dict)
    close: bool = False  # the body was not read: the connection cannot be reused


class OtlpReceiver:
    """The HTTP server, its handlers' shared state and the writer."""

    def __init__(
        self,
        store: Any,
        redactor: Any,
        config: ReceiverConfig | None = None,
        on_event: Callable[[str], None] | None = None,
    ) -> None:
        self.config = config or ReceiverConfig()
        self.redactor = redactor
        self.on_event = on_event or (lambda line: None)
        self.writer = BatchWriter(store, self.on_event, self.config.queue_records)
        self._answers: Counter[int] = Counter()
        self._stats = ReceiverStats()
        self._lock = threading.Lock()
        self._parsers = threading.BoundedSemaphore(PARSERS)
        self._last_busy = 0.0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle -----------------------------------------------------------------------------------

    def start(self) -> OtlpReceiver:
        """Bind (OSError when the port is taken) and serve in a background thread."""
        self._server = _Server((self.config.host, self.config.port), _Handler)
        self._server.receiver = self
        self._thread = threading.Thread(target=self._server.serve_forever, name="otlp-http", daemon=True)
        self._thread.start()
        return self

    @property
    def address(self) -> tuple[str, int]:
        assert self._server is not None, "start() first"
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def stop(self) -> ReceiverStats:
        """Stop listening, store everything accepted, return the counts."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self.writer.close()
        return self.stats()

    def stats(self) -> ReceiverStats:
        with self._lock:
            stats = self._stats.model_copy(update={"answers": dict(self._answers)})
        stats.requests = sum(stats.answers.values())
        stats.writer = self.writer.stats.model_copy()
        return stats

    # ---- one request ---------------------------------------------------------------------------------

    def handle(self, path: str, headers: Any, body: Callable[[], bytes], client: str) -> Reply:
        """The reply to one POST; `body()` reads the request body (PayloadError for 411/413/400)."""
        signal = PATHS.get(path.split("?", 1)[0])
        media = _reply_media(headers.get("Content-Type"))
        try:
            if signal is None:
                raise PayloadError(404, f"no OTLP endpoint at {path!r}: POST to /v1/traces or /v1/logs")
            self._authorize(headers.get("Authorization"))
            media_type(headers.get("Content-Type"))
            reply = self._export(signal, headers, body(), media, client)
        except PayloadError as exc:
            reply = self._refuse(exc, media, client, path)
        with self._lock:
            self._answers[reply.status] += 1
        return reply

    def _authorize(self, header: str | None) -> None:
        token = self.config.token
        if token is None:
            return
        expected = f"Bearer {token.get_secret_value()}".encode()
        if not hmac.compare_digest((header or "").strip().encode(), expected):
            raise PayloadError(401, "missing or wrong bearer token (send `Authorization: Bearer <token>`)")

    def _export(self, signal: Signal, headers: Any, raw: bytes, media: str, client: str) -> Reply:
        if self.writer.queued >= self.writer.capacity:
            raise PayloadError(503, "the receiver's queue is full; retry later")
        if not self._parsers.acquire(timeout=PARSE_WAIT):
            raise PayloadError(503, "the receiver is busy decoding other requests; retry later")
        try:
            request = decode_body(
                raw,
                content_type=headers.get("Content-Type"),
                content_encoding=headers.get("Content-Encoding"),
                signal=signal,
            )
            source = f"otlp-http {client} {time.strftime('%Y-%m-%dT%H:%M:%S')}"
            intake = take_in(request, signal, source, self.redactor)
        finally:
            self._parsers.release()
        if not self.writer.offer(intake):
            raise PayloadError(503, "the receiver's queue is full; retry later")
        self._count(signal, intake)
        for warning in intake.warnings[:3]:
            self.on_event(f"warning: {warning}")
        return Reply(
            status=200, body=success(signal, intake.rejected, intake.error_message(), media), media=media
        )

    def _count(self, signal: Signal, intake: Any) -> None:
        with self._lock:
            s = self._stats
            if signal == TRACES:
                s.spans_accepted += len(intake.spans)
                s.spans_rejected += intake.rejected
            else:
                s.events_accepted += len(intake.contents)
                s.log_records_rejected += intake.rejected
            s.warnings += len(intake.warnings)
        if intake.rejected:
            self.on_event(f"{intake.rejected} {signal} records rejected: {intake.error_message()}")

    def _refuse(self, exc: PayloadError, media: str, client: str, path: str) -> Reply:
        headers = {"Retry-After": str(RETRY_AFTER)} if exc.status == 503 else {}
        if exc.status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="postmortem"'
        now = time.monotonic()
        if exc.status != 503 or now - self._last_busy > 10:  # one line per 10 s while overloaded
            self._last_busy = now if exc.status == 503 else self._last_busy
            self.on_event(f"POST {path} from {client}: {exc.status} {exc.message}")
        close = exc.status != 503  # refused before, while or after reading the body: start afresh
        return Reply(status=exc.status, body=failure(exc.status, exc.message, media), media=media,
                     headers=headers, close=close)  # fmt: skip


def _reply_media(content_type: str | None) -> str:
    try:
        return media_type(content_type)
    except PayloadError:
        return JSON


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    receiver: OtlpReceiver

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            _busy(request)
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


def _busy(sock: Any) -> None:
    body = failure(503, "too many connections; retry later", JSON)
    head = (
        f"HTTP/1.1 503 Service Unavailable\r\nContent-Type: {JSON}\r\nContent-Length: {len(body)}\r\n"
        f"Retry-After: {RETRY_AFTER}\r\nConnection: close\r\n\r\n"
    )
    with contextlib.suppress(OSError):
        sock.sendall(head.encode() + body)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "postmortem-otlp"
    timeout = IDLE_TIMEOUT
    server: _Server

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        reply = self.server.receiver.handle(self.path, self.headers, self._body, self.client_address[0])
        self._send(reply)

    def _method_not_allowed(self) -> None:
        body = failure(405, "only POST is served (OTLP/HTTP)", JSON)
        self._send(Reply(status=405, body=body, media=JSON, headers={"Allow": "POST"}, close=True))

    do_GET = do_PUT = do_DELETE = do_PATCH = do_HEAD = _method_not_allowed  # noqa: N815

    def _body(self) -> bytes:
        return read_body(self.headers, self.rfile)

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.media)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the receiver reports refusals itself
        return


def read_body(headers: Any, rfile: BinaryIO) -> bytes:
    """The request body by Content-Length or chunked, never past the size bound."""
    if "chunked" in (headers.get("Transfer-Encoding") or "").lower():
        return _read_chunked(rfile)
    length = headers.get("Content-Length")
    if length is None:
        raise PayloadError(411, "Content-Length (or chunked transfer encoding) is required")
    try:
        size = int(length)
    except ValueError:
        raise PayloadError(400, f"Content-Length {length[:20]!r} is not a number") from None
    check_length(size)
    data = rfile.read(size)
    if len(data) < size:
        raise PayloadError(400, f"body ended after {len(data)} of {size} bytes")
    return data


def _read_chunked(rfile: BinaryIO) -> bytes:
    out = bytearray()
    while True:
        line = rfile.readline(1024)
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise PayloadError(400, "malformed chunked body") from None
        if size == 0:
            while rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return bytes(out)
        check_length(len(out) + size)
        chunk = rfile.read(size)
        if len(chunk) < size:
            raise PayloadError(400, "chunked body ended early")
        out += chunk
        rfile.readline(3)
