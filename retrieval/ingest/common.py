"""Small coercions shared by the dialect mappers: numbers recorded as strings, JSON recorded as text."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from retrieval.ingest.stream import RecordTooLarge
from retrieval.trace import Message, Sampling, ToolCall

_INDEXED = re.compile(r"^(\d+)\.(.+)$")


def as_str(value: Any) -> str | None:
    """Text as recorded; structured values become compact JSON."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=False, default=str)


def as_float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def as_int(value: Any) -> int | None:
    number = as_float(value)
    if number is None or number != int(number):
        return None
    return int(number)


def as_str_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        parsed = maybe_json(value)
        if isinstance(parsed, list):
            return [str(v) for v in parsed if v is not None]
        return [value]
    if isinstance(value, Iterable):
        return [str(v) for v in value if v is not None]
    return [str(value)]


def maybe_json(value: Any) -> Any:
    """Parse a JSON string if it looks like JSON; otherwise return the value unchanged."""
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in ("{", "[") or text in ("null", "true", "false"):
            try:
                return json.loads(text)
            except ValueError:
                return value
    return value


def first(mapping: Mapping[str, Any], *keys: str) -> Any:
    """The first present, non-empty value among keys."""
    for key in keys:
        value = mapping.get(key)
        if value is not None and value != "":
            return value
    return None


def indexed(attrs: Mapping[str, Any], prefix: str) -> list[dict[str, Any]]:
    """Group flattened `prefix.N.rest` attributes into a list of {rest: value} dicts ordered by N."""
    groups: dict[int, dict[str, Any]] = {}
    start = prefix + "."
    for key, value in attrs.items():
        if not key.startswith(start):
            continue
        match = _INDEXED.match(key[len(start) :])
        if match:
            groups.setdefault(int(match.group(1)), {})[match.group(2)] = value
    return [groups[i] for i in sorted(groups)]


def parse_time(value: Any) -> datetime | None:
    """ISO-8601 (with Z, offsets, or Langfuse's 'YYYY-MM-DD HH:MM:SS.ffffff' UTC form) to an aware UTC datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value < 0:
            raise BadTime(f"is negative ({value})", kind="negative timestamp")
        seconds = float(value) / 1000.0 if value > 1e11 else float(value)  # epoch millis or seconds
        return datetime.fromtimestamp(seconds, tz=UTC)
    text = str(value).strip()
    if text.endswith("Z") or text.endswith("z"):
        text = text[:-1] + "+00:00"
    text = _trim_fraction(text)
    parsed = datetime.fromisoformat(text)  # raises ValueError on garbage
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _trim_fraction(text: str) -> str:
    """Python accepts at most 6 fractional digits; nanosecond ISO strings carry 9."""
    match = re.search(r"\.(\d{7,})", text)
    if match:
        text = text[: match.start(1)] + match.group(1)[:6] + text[match.end(1) :]
    return text


class BadTime(ValueError):
    """A recorded time that cannot be a span's time; `kind` names the problem for the ingest summary."""

    def __init__(self, message: str, kind: str = "bad timestamp") -> None:
        super().__init__(message)
        self.kind = kind


_MAX_NANOS = 253_402_300_799 * 10**9  # 9999-12-31T23:59:59Z, the last second datetime can hold
_NANOS_TEXT = re.compile(r"^\s*[-+]?\d{1,20}\s*$")


def nanos_to_datetime(value: Any, field: str = "time") -> datetime | None:
    """OTLP unix nanos (string or int) to an aware UTC datetime; 0 or missing means unknown.

    BadTime naming `field` for a negative value (a 1969 date is never a real span time), text that is not
    an integer, or a time past the year 9999."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        if not _NANOS_TEXT.match(value):
            raise BadTime(f"{field} {value[:40]!r} is not an integer of unix nanoseconds")
        nanos: int | None = int(value)
    else:
        nanos = as_int(value)
        if nanos is None:
            raise BadTime(f"{field} {str(value)[:40]!r} is not an integer of unix nanoseconds")
    if not nanos:
        return None
    if nanos < 0:
        raise BadTime(f"{field} is negative ({nanos})", kind="negative timestamp")
    if nanos > _MAX_NANOS:
        raise BadTime(f"{field} {nanos} is past the year 9999")
    seconds, rest = divmod(nanos, 1_000_000_000)
    return datetime.fromtimestamp(seconds, tz=UTC).replace(microsecond=rest // 1000)


def sampling_from(params: Mapping[str, Any]) -> Sampling:
    """Sampling settings from an invocation-parameters style mapping (OpenAI/Anthropic/Langfuse names)."""
    stop = first(params, "stop", "stop_sequences", "stopSequences")
    return Sampling(
        temperature=as_float(params.get("temperature")),
        top_p=as_float(first(params, "top_p", "topP")),
        top_k=as_float(first(params, "top_k", "topK")),
        max_tokens=as_int(
            first(
                params,
                "max_tokens",
                "max_completion_tokens",
                "max_output_tokens",
                "maxTokens",
                "max_new_tokens",
            )
        ),
        seed=as_int(first(params, "seed", "random_seed")),
        frequency_penalty=as_float(first(params, "frequency_penalty", "frequencyPenalty")),
        presence_penalty=as_float(first(params, "presence_penalty", "presencePenalty")),
        stop_sequences=as_str_list(stop),
    )


def content_text(content: Any) -> str | None:
    """Message content as text: strings as is, OpenAI/Anthropic content-part lists joined."""
    if content is None:
        return None
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, Mapping):
                text = first(part, "text", "content")
                if isinstance(text, str) and part.get("type") not in (
                    "reasoning",
                    "thinking",
                    "image_url",
                    "image",
                ):
                    parts.append(text)
        return "\n".join(parts) if parts else None
    return as_str(content)


def chat_message(raw: Mapping[str, Any]) -> Message:
    """An OpenAI-style chat message dict ({role, content, tool_calls, ...}) as a Message."""
    calls = []
    for call in raw.get("tool_calls") or []:
        if not isinstance(call, Mapping):
            continue
        function = call.get("function") if isinstance(call.get("function"), Mapping) else call
        calls.append(
            ToolCall(
                id=as_str(call.get("id")),
                name=as_str(function.get("name")),
                arguments=as_str(first(function, "arguments", "input", "args")),
            )
        )
    return Message(
        role=str(raw.get("role") or "unknown"),
        content=content_text(raw.get("content")),
        name=as_str(raw.get("name")),
        tool_calls=calls,
        tool_call_id=as_str(raw.get("tool_call_id")),
        finish_reason=as_str(first(raw, "finish_reason", "finishReason", "stop_reason")),
    )


def tool_message(value: Any) -> tuple[str | None, str | None]:
    """(result text, tool call id) of a tool's output. LangChain tools return a ToolMessage, which the
    instrumentations record serialized (`{"type": "tool", "content": ..., "tool_call_id": ...}`, that wrapped
    in `{"type": "tool", "data": {...}}`, or LangChain's `{"lc": 1, "kwargs": {...}}`): the result is its
    content, not the envelope."""
    parsed = maybe_json(value)
    if (
        isinstance(parsed, Mapping)
        and parsed.get("type") == "tool"
        and isinstance(parsed.get("data"), Mapping)
    ):
        parsed = parsed["data"]
    elif isinstance(parsed, Mapping) and parsed.get("lc") and isinstance(parsed.get("kwargs"), Mapping):
        parsed = parsed["kwargs"]  # LangChain's own serialization: {"lc": 1, "id": [..., "ToolMessage"], ...}
    if isinstance(parsed, Mapping) and parsed.get("type") == "tool" and "content" in parsed:
        return content_text(parsed.get("content")), as_str(parsed.get("tool_call_id"))
    return as_str(value), None


def split_system(messages: list[Message], system: str | None) -> tuple[list[Message], str | None]:
    """Move system-role messages into the system instructions unless those were recorded separately."""
    if system is not None:
        return messages, system
    texts = [m.content for m in messages if m.role in ("system", "developer") and m.content]
    if not texts:
        return messages, None
    rest = [m for m in messages if m.role not in ("system", "developer")]
    return rest, "\n\n".join(texts)


def finish_reasons_of(messages: list[Message]) -> list[str]:
    return [m.finish_reason for m in messages if m.finish_reason]


def json_line_problem(exc: Exception, line: bytes) -> str:
    """One short phrase for a JSON line that does not parse; a line cut short says 'truncated'."""
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    if isinstance(exc, RecordTooLarge):
        return f"record is {exc}; skipped"
    if not isinstance(exc, json.JSONDecodeError):
        return f"invalid JSON ({exc})"
    cut = not line.endswith(b"\n") or exc.msg.startswith("Unterminated") or exc.pos >= len(line.rstrip()) - 1
    if cut:
        return f"truncated JSON (the line ends at column {len(line.rstrip())} in the middle of a record)"
    return f"invalid JSON ({exc.msg} at column {exc.colno})"
