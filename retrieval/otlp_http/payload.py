"""One OTLP/HTTP export request body: its encoding checked, decompressed within a bound, decoded to the
OTLP/JSON dict the file readers consume.

    request = decode_body(body, content_type="application/x-protobuf", content_encoding="gzip", signal=TRACES)

Every refusal is a PayloadError carrying the HTTP status the OTLP/HTTP specification gives it: 400 for a body
that cannot be decoded, 413 past a size bound (before or after decompression: a gzip bomb stops at the bound,
it is never inflated whole), 415 for a content type or encoding this receiver does not speak.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any, Literal

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from retrieval.ingest.stream import RecordTooLarge, parse_line
from retrieval.limits import MAX_OTLP_REQUEST_BYTES
from retrieval.otlp_http.proto_dict import RequestTooLarge, logs_dict, traces_dict

Signal = Literal["traces", "logs"]
TRACES: Signal = "traces"
LOGS: Signal = "logs"
PROTOBUF = "application/x-protobuf"
JSON = "application/json"
# zlib's wbits: gzip framing, zlib framing (HTTP's "deflate"); raw deflate is tried when zlib's header is absent
_WBITS = {"gzip": 31, "x-gzip": 31, "deflate": 15}
_CHUNK = 1 << 20


@dataclass(frozen=True)
class PayloadError(Exception):
    """A body refused as a whole: `status` is the HTTP answer, `message` one line for the sender."""

    status: int
    message: str

    def __str__(self) -> str:
        return self.message


def media_type(content_type: str | None) -> str:
    """`application/json; charset=utf-8` -> `application/json`; 415 for anything but protobuf and JSON."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media in (PROTOBUF, JSON):
        return media
    shown = media or "none"
    raise PayloadError(415, f"unsupported content type {shown!r}: send {PROTOBUF} or {JSON}")


def decompress(body: bytes, content_encoding: str | None) -> bytes:
    """The body as sent, inflated for gzip/deflate; 413 once the inflated bytes pass the bound (checked while
    inflating), 400 for a corrupt stream, 415 for an encoding not supported here."""
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in _WBITS:
        raise PayloadError(415, f"unsupported content encoding {encoding!r}: send gzip, deflate or none")
    wbits = _WBITS[encoding]
    if encoding == "deflate" and body[:1] and (body[0] & 0x0F) != 8:
        wbits = -15  # raw deflate, as some clients send
    inflater = zlib.decompressobj(wbits)
    out = bytearray()
    try:
        data = body
        while data:
            out += inflater.decompress(data, _CHUNK)
            if len(out) > MAX_OTLP_REQUEST_BYTES:
                raise _too_large("once decompressed")
            data = inflater.unconsumed_tail
        out += inflater.flush()
    except zlib.error as exc:
        raise PayloadError(400, f"body is not valid {encoding} ({exc})") from None
    if not inflater.eof:
        raise PayloadError(400, f"{encoding} body is truncated")
    if len(out) > MAX_OTLP_REQUEST_BYTES:
        raise _too_large("once decompressed")
    return bytes(out)


def _too_large(when: str) -> PayloadError:
    return PayloadError(
        413, f"request body is larger than {MAX_OTLP_REQUEST_BYTES >> 20} MB {when}: send smaller batches"
    )


def check_length(length: int) -> None:
    """413 for a body announced (or read) past the bound, before it is held."""
    if length > MAX_OTLP_REQUEST_BYTES:
        raise _too_large("as sent")


def decode_body(
    body: bytes, *, content_type: str | None, content_encoding: str | None, signal: Signal
) -> dict:
    """The export request as an OTLP/JSON dict (PayloadError: 400, 413 or 415)."""
    media = media_type(content_type)
    check_length(len(body))
    raw = decompress(body, content_encoding)
    try:
        return _protobuf(raw, signal) if media == PROTOBUF else _json(raw, signal)
    except RequestTooLarge as exc:
        if "nested" in str(exc):
            raise PayloadError(400, f"request refused: {exc}") from None
        raise PayloadError(413, f"{exc}: send smaller batches") from None


def _protobuf(raw: bytes, signal: Signal) -> dict[str, Any]:
    message = ExportTraceServiceRequest() if signal == TRACES else ExportLogsServiceRequest()
    try:
        message.ParseFromString(raw)
    except (
        DecodeError,
        RuntimeError,
        ValueError,
    ) as exc:  # upb raises DecodeError; recursion past its limit too
        raise PayloadError(400, f"body is not a protobuf {type(message).__name__} ({exc})") from None
    return traces_dict(message) if signal == TRACES else logs_dict(message)


def _json(raw: bytes, signal: Signal) -> dict[str, Any]:
    what = "ExportTraceServiceRequest" if signal == TRACES else "ExportLogsServiceRequest"
    try:
        value = parse_line(raw)
    except RecordTooLarge as exc:
        status = 400 if "nested" in str(exc) else 413
        raise PayloadError(status, f"request {exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise PayloadError(400, f"body is not valid JSON ({_first_line(exc)})") from None
    field = ("resourceSpans", "resource_spans") if signal == TRACES else ("resourceLogs", "resource_logs")
    if not isinstance(value, dict):
        raise PayloadError(400, f"body is not an OTLP {what} (not a JSON object)")
    items = value.get(field[0], value.get(field[1], []))
    if not isinstance(items, list):
        raise PayloadError(400, f"body is not an OTLP {what} ({field[0]} is not a list)")
    return {field[0]: items}


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
