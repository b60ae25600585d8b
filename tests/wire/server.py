"""A local fake of the OpenAI and Anthropic wire protocols, for driving the real SDKs in tests.

A threaded HTTP server on 127.0.0.1:0 answering POST /v1/chat/completions (also /chat/completions),
POST /v1/messages and GET /v1/models. Each test scripts it with a queue of `Scripted` responses (status, body,
headers, delay, raw bytes for malformed JSON) and reads back every request it received. Requests are checked the
way the real APIs check them (required fields, roles), so a mapping bug shows up as a 400, as it would in
production. A `Behaviour` plays what real local servers do: refuse `json_schema` with a 500 (llama-cpp-python),
refuse `tools` with a 4xx, answer one request at a time, answer slowly, echo the requested model name.
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

LLAMA_CPP_500 = (
    "[{'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), 'msg': \"Input should be 'text' or "
    "'json_object'\", 'input': 'json_schema'}] /usr/lib/python3/site-packages/llama_cpp/server/app.py"
)


@dataclass
class Behaviour:
    """How the fake plays a real server (checked before the scripted queue)."""

    refuse_json_schema: bool = False  # HTTP 500 naming response_format, as llama-cpp-python answers
    refuse_tools: int | None = None  # the status a server without function calling answers `tools` with
    refuse_json_object: int | None = None
    refuse_output_config: int | None = None  # Anthropic-side: a proxy that does not know output_config
    serial: bool = False  # one request at a time; the others wait (a single-slot local server)
    delay: float = 0.0  # seconds before every answer (a slow CPU)
    echo_model: bool = False  # every answer names the model that was asked for
    models: list[str] | None = None  # GET /v1/models lists these; None answers 404


def request_mode(path: str, body: Any) -> str:
    """The structured-output mode a request asks for: json_schema, tools, json_object or text."""
    if not isinstance(body, dict):
        return "text"
    if path in ANTHROPIC_PATHS:
        if body.get("output_config"):
            return "json_schema"
        return "tools" if body.get("tools") else "text"
    if body.get("tools"):
        return "tools"
    kind = (body.get("response_format") or {}).get("type")
    return kind if kind in ("json_schema", "json_object") else "text"


def answer_as_asked(path: str, body: Any, answer: Any, *, prose: bool = True, **kw: Any) -> Scripted:
    """`answer` (a dict, or raw text) in the shape the request asked for: a forced tool call, a JSON body, or
    (plain text mode) prose around a fenced JSON block, the way small models answer."""
    text = answer if isinstance(answer, str) else json.dumps(answer)
    mode = request_mode(path, body)
    if path in ANTHROPIC_PATHS:
        if mode == "tools":
            name = body["tools"][0]["name"]
            scripted = anthropic_message("", **kw)
            scripted.body["content"] = [
                {"type": "tool_use", "id": "toolu_1", "name": name, "input": json.loads(text)}
            ]
            scripted.body["stop_reason"] = "tool_use"
            return scripted
        if mode == "text" and prose:
            text = f"Here is the answer:\n```json\n{text}\n```"
        return anthropic_message(text, **kw)
    if mode == "tools":
        name = body["tools"][0]["function"]["name"]
        scripted = openai_completion(None, **kw)
        scripted.body["choices"][0]["message"]["tool_calls"] = [
            {"id": "call_1", "type": "function", "function": {"name": name, "arguments": text}}
        ]
        scripted.body["choices"][0]["finish_reason"] = "tool_calls"
        return scripted
    if mode == "text" and prose:
        text = f"Sure. Here is the JSON you asked for:\n```json\n{text}\n```\nHope this helps."
    return openai_completion(text, **kw)


class FakeLLMServer:
    """Scriptable fake provider. Use as a context manager; `url` is http://127.0.0.1:<port>.

    Scripted responses are served first; when the queue is empty, `responder(path, body)` (if given) answers,
    which lets a test play a model that reads the prompt (e.g. cites an id it was sent).
    """

    def __init__(self, responder: Responder | None = None, behaviour: Behaviour | None = None) -> None:
        self.responder = responder
        self.behaviour = behaviour or Behaviour()
        self._queue: deque[Scripted] = deque()
        self._lock = threading.Lock()
        self._slot = threading.Lock()  # held while answering, when behaviour.serial
        self._active = 0
        self.max_concurrent = 0  # the most requests seen in flight at once
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

    def _refusal(self, path: str, body: Any) -> Scripted | None:
        b, mode = self.behaviour, request_mode(path, body)
        if path in ANTHROPIC_PATHS:
            if mode == "json_schema" and b.refuse_output_config:
                return anthropic_error(
                    b.refuse_output_config, "output_config: Extra inputs are not permitted"
                )
            if mode == "tools" and b.refuse_tools:
                return anthropic_error(b.refuse_tools, "tools: tool use is not supported by this model")
            return None
        if mode == "json_schema" and b.refuse_json_schema:
            return Scripted(
                status=500, body={"error": {"message": LLAMA_CPP_500, "type": "internal_server_error"}}
            )
        if mode == "tools" and b.refuse_tools:
            return openai_error(b.refuse_tools, "tools are not supported by this server")
        if mode == "json_object" and b.refuse_json_object:
            return openai_error(b.refuse_json_object, "response_format json_object is not supported")
        return None

    def _next(self, path: str, body: Any) -> Scripted:
        check = _check_openai if path in OPENAI_PATHS else _check_anthropic
        problem = check(body)
        if problem:
            return _bad_request(problem)
        refusal = self._refusal(path, body)
        if refusal is not None:
            return refusal
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

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                models = fake.behaviour.models
                if path not in ("/v1/models", "/models") or models is None:
                    self._send(Scripted(status=404, body={"error": {"message": f"no route {path}"}}))
                    return
                data = [{"id": m, "object": "model", "created": 0, "owned_by": "local"} for m in models]
                self._send(Scripted(body={"object": "list", "data": data}))

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
                if fake.behaviour.serial:
                    with fake._slot:
                        self._answer(path, body)
                else:
                    self._answer(path, body)

            def _answer(self, path: str, body: Any) -> None:
                with fake._lock:
                    fake._active += 1
                    fake.max_concurrent = max(fake.max_concurrent, fake._active)
                try:
                    if fake.behaviour.delay:
                        time.sleep(fake.behaviour.delay)
                    scripted = fake._next(path, body)
                    if (
                        fake.behaviour.echo_model
                        and isinstance(body, dict)
                        and isinstance(scripted.body, dict)
                    ) and "model" in scripted.body:
                        scripted.body["model"] = body.get("model")
                    self._send(scripted)
                finally:
                    with fake._lock:
                        fake._active -= 1

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
