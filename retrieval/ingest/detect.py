"""Which format a file is, from its name and its first 64 KiB (never the whole file)."""

from __future__ import annotations

import re
import zlib
from pathlib import Path
from typing import Any

import ijson

from retrieval.ingest.source import head_text, opened
from retrieval.limits import MAX_RECORD_BYTES

FORMATS = (
    "otlp-json", "otlp-jsonl", "otlp-logs-json", "otlp-logs-jsonl", "langfuse-json", "langfuse-jsonl",
    "whowhen-json", "markdown",
)  # fmt: skip
MARKDOWN_SUFFIXES = {".md", ".markdown", ".mdx"}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}
TRACE_SUFFIXES = {".json", ".jsonl", ".ndjson"}
_OTLP_KEY = re.compile(r'"(resourceSpans|resource_spans)"\s*:')
_OTLP_LOGS_KEY = re.compile(r'"(resourceLogs|resource_logs)"\s*:')
# the Python SDK's ConsoleSpanExporter: span.to_json(), ids as "0x..." under "context"
_CONSOLE_SPAN = re.compile(r'"context"\s*:\s*\{\s*"trace_id"\s*:\s*"0x')
CONSOLE_ADVICE = (
    "this is the OpenTelemetry SDK's ConsoleSpanExporter output (a debugging print, not an export format): "
    "export OTLP instead, e.g. OTLPSpanExporter to an OpenTelemetry Collector whose `file` exporter writes "
    "JSON lines (read as otlp-jsonl), or OTLP/JSON from your backend"
)
_LANGFUSE_TYPE = re.compile(
    r'"type"\s*:\s*"(GENERATION|SPAN|EVENT|TOOL|RETRIEVER|AGENT|CHAIN|EMBEDDING|EVALUATOR|GUARDRAIL)"'
)
_LANGFUSE_KEYS = re.compile(
    r'"(parentObservationId|parent_observation_id|observations|promptName|startTime)"\s*:'
)
# a Who&When log (one JSON object): a group chat as "history": [{"content": ..., "role": ...}, ...]
_WHOWHEN_KEY = re.compile(r'"history"\s*:\s*\[')
_TRACE_ID = re.compile(r'"(traceId|trace_id)"\s*:')


class UnknownFormatError(ValueError):
    """The file is in no format the ingesters read; the message names the file."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def _suffixes(path: Path) -> list[str]:
    return [s.lower() for s in path.suffixes if s.lower() not in (".gz", ".gzip")]


def detect_format(path: Path) -> str:
    """One of FORMATS; raises UnknownFormatError (naming the file) for anything else."""
    path = Path(path)
    if not path.is_file():
        raise UnknownFormatError(path, "no such file" if not path.exists() else "not a regular file")
    suffixes = _suffixes(path)
    suffix = suffixes[-1] if suffixes else ""
    if suffix in MARKDOWN_SUFFIXES:
        return "markdown"
    head = head_text(path)
    stripped = head.lstrip()
    if not stripped:
        raise UnknownFormatError(path, "file is empty")
    if stripped[0] not in "[{":
        if stripped.startswith("---") or stripped.startswith("#"):
            return "markdown"
        raise UnknownFormatError(path, "not JSON, JSON lines or Markdown")
    family = _family(head)
    if family is None and stripped[0] == "{" and _has_history(path):
        family = "whowhen"  # its history comes after a long field (a system prompt) past the head
    if family is None and _CONSOLE_SPAN.search(head):
        raise UnknownFormatError(path, CONSOLE_ADVICE)
    if family is None:
        raise UnknownFormatError(
            path,
            "unknown dialect (no OTLP resourceSpans or resourceLogs, no Langfuse observation fields, no Who&When history)",
        )
    if family == "whowhen":
        return "whowhen-json"  # one object per file
    return f"{family}-{'jsonl' if _is_json_lines(path, stripped, suffix) else 'json'}"


def _family(head: str) -> str | None:
    if _OTLP_KEY.search(head):
        return "otlp"
    if _OTLP_LOGS_KEY.search(head):
        return "otlp-logs"
    if _TRACE_ID.search(head) and (_LANGFUSE_TYPE.search(head) or _LANGFUSE_KEYS.search(head)):
        return "langfuse"
    if _LANGFUSE_KEYS.search(head) and '"observations"' in head:
        return "langfuse"
    if head.lstrip().startswith("{") and _WHOWHEN_KEY.search(head):
        return "whowhen"
    return None


def _has_history(path: Path) -> bool:
    """Whether the file is one JSON object with a top-level "history" list, read in a stream without building
    any value; only for a file no dialect was seen in, and never past the bound of a record read whole."""
    depth = 0
    try:
        with opened(path) as fp:
            counted = _Bounded(fp, MAX_RECORD_BYTES)
            events = ijson.basic_parse(counted, use_float=True)
            for event, value in events:
                if event == "map_key" and depth == 1 and value == "history":
                    return next(events, (None, None))[0] == "start_array"
                if event in ("start_map", "start_array"):
                    depth += 1
                elif event in ("end_map", "end_array"):
                    depth -= 1
                    if depth == 0:
                        return False
    except (ijson.JSONError, _TooLong, ValueError, OSError, EOFError, zlib.error):
        return False
    return False


class _TooLong(Exception):
    pass


class _Bounded:
    """A binary stream that raises _TooLong past `limit` bytes."""

    def __init__(self, fp: Any, limit: int) -> None:
        self._fp, self._left = fp, limit

    def read(self, n: int = -1) -> bytes:
        data = self._fp.read(n if n >= 0 else 1 << 16)
        self._left -= len(data)
        if self._left < 0:
            raise _TooLong
        return data


def _is_json_lines(path: Path, stripped: str, suffix: str) -> bool:
    """JSON lines when the file is named so (.jsonl, .ndjson), or when the line after the first line break
    starts another top-level object.

    A pretty-printed document's second line is indented or a key, never a bare `{`; a one-line file is
    JSON lines only by its suffix. The scan reads in chunks until the first line break (constant memory).
    """
    if suffix in JSONL_SUFFIXES:
        return True  # named so: each line is read alone, whatever the first one holds
    if stripped[0] == "[":
        return False
    after = _after_first_line(path)
    if after is None:
        return suffix in JSONL_SUFFIXES
    return after == "{"


def _after_first_line(path: Path) -> str | None:
    """The first non-blank character after the first line of content, or None at end of file."""
    started = seen_break = False
    with opened(path) as fp:
        while chunk := fp.read(1 << 16):
            text = chunk.decode("utf-8", errors="replace")
            if not started:
                text = text.lstrip()
                started = bool(text)
            if not seen_break:
                if "\n" not in text:
                    continue
                text = text[text.index("\n") :]
                seen_break = True
            rest = text.lstrip()
            if rest:
                return rest[0]
    return None
