"""HTTP mode: a small threaded http.server in front of the Bolt app. POST /slack/events is dispatched to
Bolt; GET /healthz answers "ok".

It fails closed: the signature and timestamp are checked on the raw bytes before anything parses the body
(401 otherwise, a body that does not parse is a 400, never a dropped connection); a request seen before (Slack
retries with X-Slack-Retry-Num, or a replay of the same signed bytes) is acknowledged and not run again; slow
clients are cut off at a deadline, at most MAX_CONNECTIONS are served at once and the rest wait in the listen
backlog (or get a 503 once that wait is over).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import socket
import threading
import time
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from slack_bolt import App, BoltRequest
from slack_sdk.signature import SignatureVerifier

log = logging.getLogger("postmortem.slack.http")
EVENTS_PATH = "/slack/events"
MAX_BODY = 1_000_000  # Slack payloads are far smaller
REQUEST_DEADLINE = 10.0  # seconds a client has to send its whole request (Slack sends it at once)
MAX_CONNECTIONS = 32  # served at once; Slack's own rate is a few requests a second per workspace
SLOT_WAIT = 3.0  # how long a connection beyond MAX_CONNECTIONS waits for a slot before a 503
LISTEN_BACKLOG = 128  # connections the kernel holds before accepting (http.server's default is 5)
SIGNATURE_WINDOW = 300  # Slack's signature timestamps are valid for five minutes
REMEMBERED = 10_000  # request digests kept for deduplication (oldest forgotten first)


class _Replays:
    """Digests of the request bodies seen within the signature window: a retry or replay is answered once."""

    def __init__(self) -> None:
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, body: bytes) -> bool:
        digest = hashlib.sha256(body).hexdigest()
        now = time.monotonic()
        with self._lock:
            while self._seen and (
                len(self._seen) >= REMEMBERED or next(iter(self._seen.values())) < now - SIGNATURE_WINDOW
            ):
                self._seen.popitem(last=False)
            if digest in self._seen:
                return False
            self._seen[digest] = now
            return True


class _DeadlineReader:
    """The request stream, with every read bounded by what is left of the request's deadline."""

    def __init__(self, raw: Any, sock: socket.socket, deadline: float) -> None:
        self._raw, self._sock, self._deadline = raw, sock, deadline

    def _arm(self) -> None:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the client took too long to send its request")
        self._sock.settimeout(left)

    def readline(self, size: int = -1) -> bytes:
        self._arm()
        return self._raw.readline(size)

    def read(self, size: int = -1) -> bytes:
        self._arm()
        return self._raw.read(size)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


class _BoundedServer(ThreadingHTTPServer):
    request_queue_size = LISTEN_BACKLOG
    daemon_threads = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        super().__init__(*args, **kwargs)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(timeout=SLOT_WAIT):
            log.warning("too many connections: answered %s with 503", client_address[0])
            with contextlib.suppress(OSError):
                request.sendall(
                    b"HTTP/1.0 503 Service Unavailable\r\nContent-Length: 0\r\nRetry-After: 5\r\n\r\n"
                )
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


class SlackHTTPServer:
    def __init__(
        self,
        app: App,
        *,
        signing_secret: str,
        host: str = "127.0.0.1",
        port: int = 3000,
        path: str = EVENTS_PATH,
    ) -> None:
        self.app = app
        self.path = path
        handler = _handler(app, SignatureVerifier(signing_secret), path)
        self._server = _BoundedServer((host, port), handler)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{self.path}"

    def serve_forever(self) -> None:
        self._server.serve_forever(poll_interval=0.2)

    def start(self) -> SlackHTTPServer:
        """Serve from a background thread (tests, embedding)."""
        self._thread = threading.Thread(target=self.serve_forever, name="slack-http", daemon=True)
        self._thread.start()
        return self

    def shutdown(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)


def signed(verifier: SignatureVerifier, body: bytes, headers: Any) -> bool:
    """The signature and timestamp headers match these exact bytes (a malformed header is simply not valid)."""
    try:
        return verifier.is_valid(
            body=body,
            timestamp=headers.get("X-Slack-Request-Timestamp"),
            signature=headers.get("X-Slack-Signature"),
        )
    except (ValueError, TypeError):
        return False


class _Handler(BaseHTTPRequestHandler):
    """One connection; the app, verifier, events path and replay memory come from _handler()."""

    server_version = "postmortem-slack"
    app: App
    verifier: SignatureVerifier
    events_path: str
    replays: _Replays

    def setup(self) -> None:
        super().setup()
        deadline = time.monotonic() + REQUEST_DEADLINE
        self.rfile = _DeadlineReader(self.rfile, self.connection, deadline)  # type: ignore[assignment]

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except TimeoutError as exc:
            log.info("dropped a slow client %s: %s", self.address_string(), exc)
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:  # noqa: N802
        if self.path.partition("?")[0] == "/healthz":
            self._send(200, "ok", {"Content-Type": ["text/plain"]})
        else:
            self._send(404, "not found", {})

    def do_POST(self) -> None:  # noqa: N802
        request_path, _, query = self.path.partition("?")
        if request_path != self.events_path:
            self._send(404, "not found", {})
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self._send(413, "payload too large", {})
            return
        raw = self.rfile.read(length)
        if len(raw) < length:
            self._send(400, "incomplete body", {})
            return
        if not signed(self.verifier, raw, self.headers):
            self._send(401, "invalid request signature or timestamp", {})
            return
        if not self.replays.first_time(raw):
            retry = self.headers.get("X-Slack-Retry-Num")
            log.info("acknowledged a repeated request without running it (retry %s)", retry or "-")
            self._send(200, "", {"X-Slack-No-Retry": ["1"]})
            return
        self._dispatch(raw, query)

    def _dispatch(self, raw: bytes, query: str) -> None:
        headers = {key.lower(): self.headers.get_all(key) or [] for key in self.headers}
        try:
            request = BoltRequest(body=raw.decode("utf-8"), query=query, headers=headers)
        except Exception as exc:  # noqa: BLE001 - signed, yet not a Slack payload (bad JSON, bad form)
            log.info("refused a signed request whose body does not parse (%s)", type(exc).__name__)
            self._send(400, "malformed request body", {})
            return
        try:
            response = self.app.dispatch(request)
        except Exception:  # noqa: BLE001 - one bad request must not cost the connection its answer
            log.exception("dispatching a request failed")
            self._send(500, "internal error", {})
            return
        self._send(response.status, response.body, response.headers)

    def _send(self, status: int, body: str | dict, headers: dict[str, Any]) -> None:
        data = (body if isinstance(body, str) else json.dumps(body)).encode("utf-8")
        self.send_response(status)
        for key, values in headers.items():
            if key.lower() == "content-length":
                continue
            for value in values if isinstance(values, list | tuple) else [values]:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _handler(app: App, verifier: SignatureVerifier, path: str) -> type[BaseHTTPRequestHandler]:
    attrs = {"app": app, "verifier": verifier, "events_path": path, "replays": _Replays()}
    return type("Handler", (_Handler,), attrs)


def serve_socket(app: App, app_token: str) -> None:
    """Socket Mode: Slack pushes requests over a WebSocket the bot opens (no public URL needed)."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    handler = SocketModeHandler(app, app_token)
    try:
        handler.start()
    finally:
        handler.close()
