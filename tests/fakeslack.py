"""A local fake of the Slack platform for the bot's tests, on 127.0.0.1:

* `FakeSlack`: the Web API methods the bot calls (auth.test, chat.postMessage, chat.update,
  chat.postEphemeral, conversations.replies, files.getUploadURLExternal + the upload URL +
  files.completeUploadExternal, response_url posts), recording everything it is sent.
* `SlackSender`: Slack's side of the Events/Interactivity API: signed slash commands, app_mention events
  and block actions POSTed to the bot's request URL (X-Slack-Signature v0 HMAC-SHA256).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import itertools
import json
import socket
import struct
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Call:
    method: str
    params: dict[str, Any]


@dataclass
class UploadedFile:
    id: str
    filename: str
    title: str | None
    channel: str | None
    thread_ts: str | None
    content: bytes


@dataclass
class FakeSlack:
    token: str = "xoxb-fake-bot-token"
    app_token: str = "xapp-1-A0FAKE-fake-app-token"
    bot_user: str = "UBOTPM"
    bot_id: str = "BBOTPM"
    team: str = "T0FAKE"
    channels: set[str] = field(default_factory=set)  # where the bot is a member (may post)
    calls: list[Call] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)  # every message, seeded and posted
    ephemeral: list[dict[str, Any]] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)  # posts to response_url
    files: list[UploadedFile] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Condition()
        self._clock = itertools.count(1)
        self._uploads: dict[str, dict[str, Any]] = {}
        self._gates: dict[str, threading.Event] = {}
        self._server: ThreadingHTTPServer | None = None
        self.socket = FakeSocketMode()

    # -- lifecycle ---------------------------------------------------------------------------------------------
    def start(self) -> FakeSlack:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.socket.stop()
        for gate in self._gates.values():
            gate.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def root(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def api_url(self) -> str:
        return self.root + "/api/"

    # -- test controls -----------------------------------------------------------------------------------------
    def new_ts(self, at: float | None = None) -> str:
        base = at if at is not None else 1_700_000_000.0
        return f"{base + next(self._clock) / 1000:.6f}"

    def seed_message(
        self, channel: str, text: str, user: str, at: float, thread_ts: str | None = None
    ) -> str:
        """A human message already in the channel (thread_ts: the thread it is a reply in)."""
        ts = self.new_ts(at)
        message = {"type": "message", "channel": channel, "user": user, "text": text, "ts": ts}
        if thread_ts:
            message["thread_ts"] = thread_ts
        with self._lock:
            self.messages.append(message)
        return ts

    def hold(self, method: str) -> threading.Event:
        """Calls to `method` block until the returned event is set."""
        gate = threading.Event()
        self._gates[method] = gate
        return gate

    def wait_for(self, predicate, timeout: float = 60.0, what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                value = predicate()
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"timed out waiting for {what}; calls: {[c.method for c in self.calls]}"
                    )
                self._lock.wait(min(left, 0.2))

    def called(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def posted(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Messages the bot posted (current state, after updates)."""
        return [m for m in self.messages if m.get("bot_id") and (channel is None or m["channel"] == channel)]

    def thread(self, channel: str, ts: str) -> list[dict[str, Any]]:
        return sorted(
            (
                m
                for m in self.messages
                if m["channel"] == channel and (m["ts"] == ts or m.get("thread_ts") == ts)
            ),
            key=lambda m: float(m["ts"]),
        )

    def outbound_text(self) -> str:
        """Everything the bot sent that Slack would render: texts, blocks, file titles and contents."""
        parts = [json.dumps(c.params, ensure_ascii=False) for c in self.calls]
        parts += [json.dumps(r, ensure_ascii=False) for r in self.responses]
        parts += [f.content.decode("utf-8", "replace") for f in self.files]
        return "\n".join(parts)

    # -- the API -----------------------------------------------------------------------------------------------
    def handle(self, method: str, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        gate = self._gates.get(method)
        if gate is not None:
            gate.wait(30)
        with self._lock:
            self.calls.append(Call(method, params))
            try:
                expected = self.app_token if method == "apps.connections.open" else self.token
                if token != expected:
                    return {"ok": False, "error": "invalid_auth"}
                handler = getattr(self, "_" + method.replace(".", "_"), None)
                if handler is None:
                    return {"ok": False, "error": "unknown_method"}
                return handler(params)
            finally:
                self._lock.notify_all()

    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://fake.slack.test/",
            "team": "Fake",
            "user": "postmortem",
            "team_id": self.team,
            "user_id": self.bot_user,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _apps_connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": self.socket.start().url}

    def _chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = params.get("channel")
        if channel not in self.channels:
            return {"ok": False, "error": "not_in_channel"}
        if not params.get("text") and not params.get("blocks"):
            return {"ok": False, "error": "no_text"}
        ts = self.new_ts(time.time())
        message = {
            "type": "message",
            "channel": channel,
            "user": self.bot_user,
            "bot_id": self.bot_id,
            "ts": ts,
            "text": params.get("text"),
            "blocks": params.get("blocks") or [],
        }
        if params.get("thread_ts"):
            message["thread_ts"] = params["thread_ts"]
        self.messages.append(message)
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        for message in self.messages:
            if message["channel"] == params.get("channel") and message["ts"] == params.get("ts"):
                if message.get("bot_id") != self.bot_id:
                    return {"ok": False, "error": "cant_update_message"}
                message["text"] = params.get("text")
                if "blocks" in params:
                    message["blocks"] = params.get("blocks") or []
                return {"ok": True, "channel": message["channel"], "ts": message["ts"]}
        return {"ok": False, "error": "message_not_found"}

    def _chat_postEphemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("channel") not in self.channels:
            return {"ok": False, "error": "not_in_channel"}
        self.ephemeral.append(params)
        return {"ok": True, "message_ts": self.new_ts(time.time())}

    def _conversations_replies(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, ts = params.get("channel"), params.get("ts")
        if channel not in self.channels:
            return {"ok": False, "error": "not_in_channel"}
        thread = self.thread(channel, ts)
        if not thread:
            return {"ok": False, "error": "thread_not_found"}
        start = int(params.get("cursor") or 0)
        limit = int(params.get("limit") or 1000)
        page = thread[start : start + limit]
        more = start + limit < len(thread)
        return {
            "ok": True,
            "messages": page,
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def _files_getUploadURLExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("filename") or not str(params.get("length", "")).isdigit():
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{len(self._uploads) + 1:06d}"
        self._uploads[file_id] = {
            "filename": params["filename"],
            "length": int(params["length"]),
            "data": None,
        }
        return {"ok": True, "file_id": file_id, "upload_url": f"{self.root}/upload/{file_id}"}

    def upload(self, file_id: str, data: bytes) -> int:
        with self._lock:
            pending = self._uploads.get(file_id)
            if pending is None:
                return 404
            pending["data"] = data
            self._lock.notify_all()
            return 200

    def _files_completeUploadExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        listed = params.get("files")
        listed = json.loads(listed) if isinstance(listed, str) else listed
        done = []
        for item in listed or []:
            pending = self._uploads.get(item.get("id"))
            if pending is None or pending["data"] is None:
                return {"ok": False, "error": "file_not_found"}
            if len(pending["data"]) != pending["length"]:
                return {"ok": False, "error": "file_size_mismatch"}
            channel = params.get("channel_id")
            if channel and channel not in self.channels:
                return {"ok": False, "error": "not_in_channel"}
            self.files.append(
                UploadedFile(
                    id=item["id"],
                    filename=pending["filename"],
                    title=item.get("title"),
                    channel=channel,
                    thread_ts=params.get("thread_ts"),
                    content=pending["data"],
                )
            )
            done.append({"id": item["id"], "title": item.get("title"), "name": pending["filename"]})
        return {"ok": True, "files": done}


def _handler(fake: FakeSlack) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

        def _reply(self, status: int, body: bytes, content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _params(self, raw: bytes) -> dict[str, Any]:
            params: dict[str, Any] = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
            kind = self.headers.get("Content-Type") or ""
            if raw and "json" in kind:
                params.update(json.loads(raw))
            elif raw:
                params.update(urllib.parse.parse_qsl(raw.decode()))
            for key in ("blocks", "files"):
                value = params.get(key)
                if isinstance(value, str) and value[:1] in "[{":
                    params[key] = json.loads(value)
            return params

        def do_GET(self) -> None:  # noqa: N802
            self.do_POST()

        def do_POST(self) -> None:  # noqa: N802
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            path = urllib.parse.urlsplit(self.path).path
            if path.startswith("/upload/"):
                status = fake.upload(path.rsplit("/", 1)[1], raw)
                self._reply(status, f"OK - {len(raw)}".encode(), "text/plain")
                return
            if path.startswith("/response/"):
                with fake._lock:
                    fake.responses.append(json.loads(raw or b"{}"))
                    fake._lock.notify_all()
                self._reply(200, b"ok", "text/plain")
                return
            if not path.startswith("/api/"):
                self._reply(404, b"{}")
                return
            auth = self.headers.get("Authorization") or ""
            params = self._params(raw)
            token = auth.removeprefix("Bearer ").strip() or params.pop("token", None)
            result = fake.handle(path.removeprefix("/api/"), params, token)
            self._reply(200, json.dumps(result).encode())

    return Handler


# -- Slack's side: signed requests to the bot -----------------------------------------------------------------
def signature(secret: str, timestamp: str, body: str) -> str:
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


@dataclass
class Response:
    status: int
    body: str

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class SlackSender:
    url: str  # the bot's request URL
    secret: str
    team: str = "T0FAKE"
    fake: FakeSlack | None = None  # for response_url

    def send(
        self,
        body: str,
        content_type: str,
        *,
        timestamp: float | None = None,
        secret: str | None = None,
        sign: bool = True,
        headers: dict[str, str] | None = None,
    ) -> Response:
        ts = str(int(timestamp if timestamp is not None else time.time()))
        request_headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": ts}
        if sign:
            request_headers["X-Slack-Signature"] = signature(secret or self.secret, ts, body)
        request_headers.update(headers or {})
        request = urllib.request.Request(self.url, data=body.encode(), headers=request_headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return Response(response.status, response.read().decode())
        except urllib.error.HTTPError as exc:
            return Response(exc.code, exc.read().decode())

    def command(self, text: str, *, channel: str, user: str, **kwargs: Any) -> Response:
        form = self.command_payload(text, channel=channel, user=user)
        return self.send(urllib.parse.urlencode(form), "application/x-www-form-urlencoded", **kwargs)

    def command_payload(self, text: str, *, channel: str, user: str) -> dict[str, Any]:
        return {
            "token": "deprecated",
            "team_id": self.team,
            "team_domain": "fake",
            "channel_id": channel,
            "channel_name": "incidents",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/postmortem",
            "text": text,
            "api_app_id": "A0FAKE",
            "response_url": f"{self.fake.root}/response/{time.monotonic_ns()}" if self.fake else "",
            "trigger_id": "1.2.3",
        }

    def mention(
        self, text: str, *, channel: str, user: str, ts: str, thread_ts: str | None = None, **kwargs: Any
    ) -> Response:
        payload = self.mention_payload(text, channel=channel, user=user, ts=ts, thread_ts=thread_ts)
        return self.send(json.dumps(payload), "application/json", **kwargs)

    def mention_payload(
        self, text: str, *, channel: str, user: str, ts: str, thread_ts: str | None = None
    ) -> dict[str, Any]:
        event = {
            "type": "app_mention",
            "user": user,
            "text": text,
            "ts": ts,
            "channel": channel,
            "event_ts": ts,
        }
        if thread_ts:
            event["thread_ts"] = thread_ts
        return {
            "token": "deprecated",
            "team_id": self.team,
            "api_app_id": "A0FAKE",
            "event": event,
            "type": "event_callback",
            "event_id": f"Ev{time.monotonic_ns()}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": self.team, "user_id": "UBOTPM", "is_bot": True}],
        }

    def action(
        self, action_id: str, value: str, *, channel: str, user: str, message: dict[str, Any], **kwargs: Any
    ) -> Response:
        payload = {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower(), "team_id": self.team},
            "api_app_id": "A0FAKE",
            "token": "deprecated",
            "team": {"id": self.team, "domain": "fake"},
            "channel": {"id": channel, "name": "incidents"},
            "container": {
                "type": "message",
                "message_ts": message["ts"],
                "channel_id": channel,
                "is_ephemeral": False,
                "thread_ts": message.get("thread_ts"),
            },
            "message": message,
            "trigger_id": "1.2.3",
            "response_url": f"{self.fake.root}/response/{time.monotonic_ns()}" if self.fake else "",
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": "postmortem_review",
                    "value": value,
                    "type": "button",
                    "action_ts": str(time.time()),
                }
            ],
        }
        body = urllib.parse.urlencode({"payload": json.dumps(payload)})
        return self.send(body, "application/x-www-form-urlencoded", **kwargs)


# -- Socket Mode: the WebSocket Slack pushes requests over ----------------------------------------------------
_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class FakeSocketMode:
    """A minimal WebSocket server (RFC 6455 text, ping/pong and close frames) playing Slack's Socket Mode:
    `push()` sends an envelope to the connected app; the app's acknowledgements land in `acks`."""

    def __init__(self) -> None:
        self.acks: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._listener: socket.socket | None = None
        self._client: socket.socket | None = None
        self._send_lock = threading.Lock()

    @property
    def url(self) -> str:
        assert self._listener is not None
        return f"ws://127.0.0.1:{self._listener.getsockname()[1]}/link/?ticket=fake"

    def start(self) -> FakeSocketMode:
        if self._listener is None:
            self._listener = socket.create_server(("127.0.0.1", 0))
            threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self) -> None:
        for sock in (self._client, self._listener):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.close()

    def wait_connected(self, timeout: float = 30) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: self._client is not None, timeout), "the app never connected"

    def push(self, kind: str, payload: dict[str, Any], accepts_response_payload: bool = True) -> str:
        envelope_id = f"env-{time.monotonic_ns()}"
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
            "retry_attempt": 0,
            "retry_reason": "",
        }
        self._send(0x1, json.dumps(envelope).encode())
        return envelope_id

    def ack_for(self, envelope_id: str, timeout: float = 30) -> dict[str, Any]:
        def found():
            return next((a for a in self.acks if a.get("envelope_id") == envelope_id), None)

        with self._cond:
            assert self._cond.wait_for(found, timeout), f"no acknowledgement of {envelope_id}"
            return found()

    # -- the wire --------------------------------------------------------------------------------------------
    def _accept(self) -> None:
        assert self._listener is not None
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                request += chunk
            headers = dict(line.split(": ", 1) for line in request.decode().split("\r\n")[1:] if ": " in line)
            key = {k.lower(): v for k, v in headers.items()}.get("sec-websocket-key", "").strip()
            accept = base64.b64encode(hashlib.sha1((key + _WS_GUID).encode()).digest()).decode()
            conn.sendall(
                (
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    f"Sec-WebSocket-Accept: {accept}\r\n\r\n"
                ).encode()
            )
            with self._cond:
                self._client = conn
                self._cond.notify_all()
            self._send(0x1, json.dumps({"type": "hello", "num_connections": 1}).encode())
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _send(self, opcode: int, data: bytes) -> None:
        assert self._client is not None, "no app connected"
        header = bytes([0x80 | opcode])
        if len(data) < 126:
            header += bytes([len(data)])
        elif len(data) < 65536:
            header += bytes([126]) + struct.pack("!H", len(data))
        else:
            header += bytes([127]) + struct.pack("!Q", len(data))
        with self._send_lock:
            self._client.sendall(header + data)

    @staticmethod
    def _recv_exact(conn: socket.socket, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data

    def _read(self, conn: socket.socket) -> None:
        try:
            while True:
                first, second = self._recv_exact(conn, 2)
                opcode, length = first & 0x0F, second & 0x7F
                if length == 126:
                    length = struct.unpack("!H", self._recv_exact(conn, 2))[0]
                elif length == 127:
                    length = struct.unpack("!Q", self._recv_exact(conn, 8))[0]
                mask = self._recv_exact(conn, 4) if second & 0x80 else b"\0\0\0\0"
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(self._recv_exact(conn, length)))
                if opcode == 0x9:  # ping
                    self._send(0xA, payload)
                elif opcode == 0x8:  # close
                    return
                elif opcode == 0x1:
                    with self._cond:
                        self.acks.append(json.loads(payload))
                        self._cond.notify_all()
        except (ConnectionError, OSError):
            return
