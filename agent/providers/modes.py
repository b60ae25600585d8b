"""Structured-output modes, tried in order until the server accepts one, and remembered per base URL and model.

1. `json_schema`: native structured output (OpenAI `response_format` json_schema through the SDK's parse helper;
   Anthropic `output_config.format`);
2. `tools`: one forced tool / function call whose parameters are the schema;
3. `json_object`: OpenAI's JSON mode, with the schema in the prompt (and in `response_format.schema`, which
   llama.cpp-style servers turn into a grammar);
4. `text`: no constraint, the schema in the prompt, and the JSON object taken out of the answer.

A server tells us a mode is not supported by refusing the request's shape (a 4xx, or a 5xx whose message names
`response_format`, `tools`, an unknown field...): that is a capability answer, never retried, and the next mode
is tried. What worked is kept in a small SQLite table (`$POSTMORTEM_HOME/providers.sqlite`), so the next run starts
there.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

Mode = Literal["json_schema", "tools", "json_object", "text"]
OPENAI_MODES: tuple[Mode, ...] = ("json_schema", "tools", "json_object", "text")
ANTHROPIC_MODES: tuple[Mode, ...] = ("json_schema", "tools", "text")
TOOL_NAME = "answer"

# A 5xx whose message names the request's shape is a server that does not understand it (llama-cpp-python answers
# a json_schema response_format with HTTP 500 "Input should be 'text' or 'json_object'").
_SHAPE_WORDS = re.compile(
    r"response_format|json_schema|json_object|tool_choice|\btools?\b|function|output_config|"
    r"unknown (field|parameter|argument)|unrecognized|extra (fields|inputs)|not permitted|not supported|"
    r"unsupported|input should be",
    re.IGNORECASE,
)
NOT_CAPABILITY = frozenset({401, 402, 403, 404, 408, 409, 413, 429})  # key, billing, model, busy, size
_TOO_LONG = re.compile(
    r"context (length|window|size)|too many tokens|maximum context|exceeds? the", re.IGNORECASE
)


def is_capability_error(status: int, message: str) -> bool:
    """True when the server refused the request's shape: switch mode, do not retry."""
    if status in NOT_CAPABILITY or _TOO_LONG.search(message or ""):
        return False
    if 400 <= status < 500:
        return True
    return status >= 500 and bool(_SHAPE_WORDS.search(message or ""))


def schema_instruction(schema: type[BaseModel]) -> str:
    """The schema as a prompt instruction, for the modes where the server does not enforce it."""
    compact = json.dumps(schema.model_json_schema(), separators=(",", ":"))
    return (
        "Answer with one JSON object only, no prose and no code fence, that validates against this JSON "
        f"schema:\n{compact}"
    )


def extract_json(text: str) -> str:
    """The JSON object inside a model's answer: the text itself, a fenced block, or the outermost braces."""
    stripped = text.strip()
    if stripped.startswith("{"):
        return stripped
    fenced = re.search(r"```(?:json)?\s*(\{.*?\})\s*```", text, re.DOTALL)
    if fenced:
        return fenced.group(1)
    start, end = text.find("{"), text.rfind("}")
    if start >= 0 and end > start:
        return text[start : end + 1]
    return stripped


class ModeMemory:
    """What worked last, per (base URL, model). A missing or unwritable file only means nothing is remembered."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection | None:
        if self.path is None:
            return None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(self.path), timeout=5)
            conn.execute(
                "CREATE TABLE IF NOT EXISTS structured_modes (base_url TEXT NOT NULL, model TEXT NOT NULL, "
                "mode TEXT NOT NULL, seconds REAL, updated TEXT NOT NULL, PRIMARY KEY (base_url, model))"
            )
            return conn
        except (OSError, sqlite3.Error):
            return None

    def get(self, base_url: str, model: str) -> Mode | None:
        with self._lock:
            conn = self._connect()
            if conn is None:
                return None
            try:
                row = conn.execute(
                    "SELECT mode FROM structured_modes WHERE base_url = ? AND model = ?", (base_url, model)
                ).fetchone()
            except sqlite3.Error:
                return None
            finally:
                conn.close()
        return row[0] if row and row[0] in OPENAI_MODES else None

    def put(self, base_url: str, model: str, mode: Mode, seconds: float | None = None) -> None:
        with self._lock:
            conn = self._connect()
            if conn is None:
                return
            try:
                with conn:
                    conn.execute(
                        "INSERT OR REPLACE INTO structured_modes VALUES (?, ?, ?, ?, ?)",
                        (base_url, model, mode, seconds, datetime.now(UTC).isoformat(timespec="seconds")),
                    )
            except sqlite3.Error:
                pass
            finally:
                conn.close()

    def all(self) -> list[dict[str, Any]]:
        with self._lock:
            conn = self._connect()
            if conn is None:
                return []
            try:
                rows = conn.execute("SELECT base_url, model, mode, seconds, updated FROM structured_modes")
                keys = ("base_url", "model", "mode", "seconds", "updated")
                return [dict(zip(keys, row, strict=True)) for row in rows]
            except sqlite3.Error:
                return []
            finally:
                conn.close()


def modes_from(order: tuple[Mode, ...], remembered: Mode | None) -> tuple[Mode, ...]:
    """The modes to try: from the remembered one on (an earlier mode failed before), else all of them."""
    if remembered in order:
        return order[order.index(remembered) :]
    return order
