"""A local fake of the OpenAI and Anthropic wire protocols, for driving the real SDKs in tests.

A threaded HTTP server on 127.0.0.1:0 answering POST /v1/chat/completions (also /chat/completions) and
POST /v1/messages. Each test scripts it with a queue of `Scripted` responses (status, body, headers, delay,
raw bytes for malformed JSON) and reads back every request it received. Requests are checked the way the
real APIs check them (required fields, roles), so a mapping bug shows up as a 400, as it would in production.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

OPENAI_PATHS = ("/v1/chat/completions", "/chat/completions")
ANTHROPIC_PATHS = ("/v1/messages",)


@dataclass
class Scripted:
    """One scripted answer. `raw` wins over `body` (use it for malformed JSON)."""

    status: int = 200
    body: Any = None
    raw: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: Any  # parsed JSON, or the raw text if it was not JSON

    @property
    def text(self) -> str:
        """Everything the client sent, as one string (for 'was this redacted' checks)."""
        return json.dumps(self.body, ensure_ascii=False)


def openai_completion(
    content: str | None,
    *,
    model: str = "gpt-4.1-mini-2025-04-14",
    prompt_tokens: int = 120,
    completion_tokens: int = 30,
    finish_reason: str = "stop",
    refusal: str | None = None,
) -> Scripted:
    body = {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": refusal},
                "finish_reason": finish_reason,
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }
    return Scripted(body=body)


def anthropic_message(
    text: str,
    *,
    model: str = "claude-sonnet-4-5-20250929",
    input_tokens: int = 150,
    output_tokens: int = 40,
    stop_reason: str = "end_turn",
) -> Scripted:
    body = {
        "id": "msg_test",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
    }
    return Scripted(body=body)


def openai_error(status: int, message: str, *, headers: dict[str, str] | None = None) -> Scripted:
    kind = {429: "rate_limit_exceeded", 401: "invalid_api_key"}.get(status, "server_error")
    body = {"error": {"message": message, "type": kind, "param": None, "code": kind}}
    return Scripted(status=status, body=body, headers=headers or {})


def anthropic_error(status: int, message: str, *, headers: dict[str, str] | None = None) -> Scripted:
    kind = {429: "rate_limit_error", 529: "overloaded_error", 401: "authentication_error"}.get(
        status, "api_error"
    )
    body = {"type": "error", "error": {"type": kind, "message": message}}
    return Scripted(status=status, body=body, headers=headers or {})


def _bad_request(message: str) -> Scripted:
    return Scripted(status=400, body={"error": {"message": message, "type": "invalid_request_error"}})


def _check_openai(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "body must be a JSON object"
    if not body.get("model"):
        return "model is required"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages must be a non-empty array"
    for i, m in enumerate(messages):
        if m.get("role") not in {"system", "developer", "user", "assistant", "tool"}:
            return f"messages[{i}].role is invalid"
        if m.get("role") == "tool" and not m.get("tool_call_id"):
            return f"messages[{i}].tool_call_id is required"
    return None


def _check_anthropic(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "body must be a JSON object"
    for key in ("model", "max_tokens", "messages"):
        if key not in body:
            return f"{key}: Field required"
    messages = body["messages"]
    if not messages or messages[0].get("role") != "user":
        return "messages: first message must use the user role"
    for i, m in enumerate(messages):
        if m.get("role") not in {"user", "assistant"}:
            return f"messages.{i}.role: Input should be 'user' or 'assistant'"
        if i and m.get("role") == messages[i - 1].get("role"):
            return f"messages.{i}: roles must alternate between user and assistant"
    return None


Responder = Callable[[str, Any], Scripted]


class FakeLLMServer:
    """Scriptable fake provider. Use as a context manager; `url` is http://127.0.0.1:<port>.

    Scripted responses are served first; when the queue is empty, `responder(path, body)` (if given) answers,
    which lets a test play a model that reads the prompt (e.g. cites an id it was sent).
    """

    def __init__(self, responder: Responder | None = None) -> None:
        self.responder = responder
        self._queue: deque[Scripted] = deque()
        self._lock = threading.Lock()
        self.requests: list[Recorded] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def enqueue(self, *responses: Scripted) -> None:
        with self._lock:
            self._queue.extend(responses)

    @property
    def pending(self) -> int:
        return len(self._queue)

    def __enter__(self) -> FakeLLMServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _next(self, path: str, body: Any) -> Scripted:
        check = _check_openai if path in OPENAI_PATHS else _check_anthropic
        problem = check(body)
        if problem:
            return _bad_request(problem)
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        if self.responder is not None:
            return self.responder(path, body)
        return Scripted(status=500, body={"error": {"message": "fake server: no scripted response"}})

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                try:
                    body: Any = json.loads(raw)
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                path = self.path.split("?", 1)[0]
                with fake._lock:
                    fake.requests.append(
                        Recorded(path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                if path not in OPENAI_PATHS + ANTHROPIC_PATHS:
                    self._send(Scripted(status=404, body={"error": {"message": f"no route {path}"}}))
                    return
                self._send(fake._next(path, body))

            def _send(self, scripted: Scripted) -> None:
                if scripted.delay:
                    time.sleep(scripted.delay)
                payload = scripted.raw if scripted.raw is not None else json.dumps(scripted.body).encode()
                try:
                    self.send_response(scripted.status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(payload)))
                    for key, value in scripted.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

        return Handler
