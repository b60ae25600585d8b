"""Streaming one large JSON document record by record, in bounded memory whatever the file holds.

ijson's `parse` attaches the full path to every event; 10,000 nested levels make each path 100 KB long and a
64 KiB read produce thousands of them (memory grew with the square of the depth). Here the events come from
`basic_parse` and the path is tracked only as deep as the caller's record prefixes go. A record is built with
retrieval.limits' bounds: past one, the rest of the record is skipped (not built) and it comes out as a
`Rejected` naming the bound. Integers past 64 bits are kept as their text.

yajl (ijson's C backend) cannot read an integer past 64 bits at all: `records` then starts again with ijson's
pure-Python backend and skips the records already given out, so only that file pays the slower parse.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import ijson
import numpy as np

from retrieval.limits import MAX_INT, MAX_NESTING, MAX_RECORD_BYTES, MAX_RECORD_VALUES

_OPEN = ("start_map", "start_array")
_CLOSE = ("end_map", "end_array")


class RecordTooLarge(ValueError):
    """A record parsed whole passed a bound; the message names it."""


@dataclass(frozen=True)
class Rejected:
    """A record passed a bound and was not built; `reason` says which."""

    reason: str


def clamp_int(value: Any) -> Any:
    """An integer past 64 bits as its decimal text (no real measurement is that large); anything else as is."""
    if isinstance(value, int) and not isinstance(value, bool) and not -MAX_INT - 1 <= value <= MAX_INT:
        return str(value)
    return value


class RecordBuilder:
    """Builds one JSON value from parse events, within MAX_NESTING and MAX_RECORD_VALUES."""

    def __init__(self) -> None:
        self.depth = 0
        self.values = 0
        self.chars = 0
        self.problem: str | None = None
        self._stack: list[Any] = []
        self._key: str | None = None
        self._root: Any = None

    @property
    def value(self) -> Any:
        return Rejected(self.problem) if self.problem else self._root

    def event(self, event: str, value: Any) -> bool:
        """Feed one event; True when the value is complete."""
        if event in _OPEN:
            self.depth += 1
            if self.problem is None:
                if self.depth > MAX_NESTING:
                    self._reject(f"nested deeper than {MAX_NESTING} levels")
                else:
                    container: Any = {} if event == "start_map" else []
                    self._add(container)
                    self._stack.append(container)
            return False
        if event in _CLOSE:
            self.depth -= 1
            if self.problem is None:
                self._stack.pop()
            return self.depth == 0
        if event == "map_key":
            self._key = value
            return False
        if self.problem is None:
            self._add(clamp_int(value))
        return self.depth == 0

    def _reject(self, problem: str) -> None:
        self.problem = problem
        self._stack, self._root = [], None  # free what was built

    def _add(self, value: Any) -> None:
        self.values += 1
        if self.values > MAX_RECORD_VALUES:
            self._reject(f"holds more than {MAX_RECORD_VALUES:,} values")
            return
        if isinstance(value, str):
            self.chars += len(value)
            if self.chars > MAX_RECORD_BYTES:
                self._reject(f"holds more than {_size(MAX_RECORD_BYTES)} of text")
                return
        if not self._stack:
            self._root = value
        elif isinstance(self._stack[-1], list):
            self._stack[-1].append(value)
        else:
            self._stack[-1][self._key] = value


def _prefix(path: list[str], levels: int, max_path: int) -> str | None:
    return ".".join(path[:levels]) if levels <= max_path else None


# (prefix, event, value) of a container's start -> the name of the record it is, or None
Starts = Callable[[str | None, str, Any], str | None]
# what the caller sees: ("event", prefix, event, value) for events outside records, ("record", name, value)
Item = tuple[Any, ...]


def records(open_file: Callable[[], Any], starts: Starts, max_path: int = 8) -> Iterator[Item]:
    """Events outside records and the records themselves (values or Rejected), in file order.

    open_file: returns a context manager giving a binary stream (called again for the restart)."""
    given = 0
    try:
        with open_file() as fp:
            for item in _records(fp, starts, max_path, ijson):
                given += 1
                yield item
    except ijson.JSONError as exc:
        if "integer overflow" not in str(exc).lower():
            raise
        python = ijson.get_backend("python")
        with open_file() as fp:
            for index, item in enumerate(_records(fp, starts, max_path, python)):
                if index >= given:
                    yield item


def _records(fp: BinaryIO, starts: Starts, max_path: int, backend: Any) -> Iterator[Item]:
    """ijson.parse's prefixes, kept only down to `max_path` levels and never inside a record (no cost there)."""
    path: list[str] = []
    builder: RecordBuilder | None = None
    name = ""
    for event, value in backend.basic_parse(fp, use_float=True):
        if builder is not None:
            if builder.event(event, value):
                yield ("record", name, builder.value)
                builder = None
                path.pop()  # the record's own container
            continue
        if event == "map_key":
            prefix = _prefix(path, len(path) - 1, max_path)
            path[-1] = value
        elif event in _OPEN:
            prefix = _prefix(path, len(path), max_path)
            path.append("item" if event == "start_array" else "")
        elif event in _CLOSE:
            path.pop()
            prefix = _prefix(path, len(path), max_path)
        else:
            prefix = _prefix(path, len(path), max_path)
        target = starts(prefix, event, value) if event in _OPEN else None
        if target is None:
            yield ("event", prefix, event, value)
            continue
        name, builder = target, RecordBuilder()
        builder.event(event, value)


def bound_record(value: Any) -> str | None:
    """For a value parsed whole (a JSON line): the bound it passes, or None; big integers become text in place.

    Iterative, so any depth json.loads accepted is walked without recursion."""
    count = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_RECORD_VALUES:
            return f"holds more than {MAX_RECORD_VALUES:,} values"
        if isinstance(node, dict | list):
            if depth > MAX_NESTING:
                return f"nested deeper than {MAX_NESTING} levels"
            items = node.items() if isinstance(node, dict) else enumerate(node)
            for key, child in items:
                if isinstance(child, int) and clamp_int(child) is not child:
                    node[key] = str(child)
                elif isinstance(child, dict | list):
                    stack.append((child, depth + 1))
                else:
                    count += 1
    return None


def lines(fp: BinaryIO) -> Iterator[tuple[int, bytes | None]]:
    """(line number, line) of a JSON-lines stream; None for a line longer than MAX_RECORD_BYTES, which is
    read past in pieces rather than held."""
    number = 0
    while True:
        line = fp.readline(MAX_RECORD_BYTES + 1)
        if not line:
            return
        number += 1
        if len(line) <= MAX_RECORD_BYTES or line.endswith(b"\n"):
            yield number, line
            continue
        while line and not line.endswith(b"\n"):
            line = fp.readline(1 << 20)
        yield number, None


def _size(n: int) -> str:
    return f"{n >> 20} MB" if n >= 1 << 20 else f"{n:,} bytes"


def too_long_line() -> str:
    return f"line is longer than {_size(MAX_RECORD_BYTES)}; skipped"


_JSON_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"')
_DIGITS_AS_HASH = bytes.maketrans(b"0123456789#", b"##########!")
_LONG_DIGITS = b"#" * 19  # an integer this long may pass 64 bits
_NOT_BRACKETS = bytes(c for c in range(256) if c not in b"[]{}")
_OPENERS = np.zeros(256, dtype=np.int8)
_OPENERS[list(b"[{")] = 1
_OPENERS[list(b"]}")] = -1


def _needs_walk(line: bytes) -> bool:
    """Whether a line may pass a bound or hold a big integer; RecordTooLarge when it is nested too deep.

    All in C (regex, translate, numpy): the Python walk of bound_record runs only for the rare line that may
    need it, so ordinary lines cost a few per cent more than json.loads alone."""
    bare = _JSON_STRING.sub(b'""', line)  # brackets and digits inside strings do not count
    brackets = bare.translate(None, _NOT_BRACKETS)
    if len(brackets) > MAX_NESTING:
        steps = _OPENERS[np.frombuffer(brackets, dtype=np.uint8)].astype(np.int32)
        if int(np.cumsum(steps).max()) > MAX_NESTING:
            raise RecordTooLarge(f"nested deeper than {MAX_NESTING} levels")
    values_at_most = bare.count(b",") + bare.count(b":") + len(brackets) + 1
    return values_at_most > MAX_RECORD_VALUES or _LONG_DIGITS in bare.translate(_DIGITS_AS_HASH)


def parse_line(line: bytes) -> Any:
    """json.loads of one line, bounded: RecordTooLarge naming the bound a line passes (before parsing it, for
    nesting: json.loads itself would recurse)."""
    walk = _needs_walk(line)
    try:
        value = json.loads(line)
    except RecursionError:
        raise RecordTooLarge(f"nested deeper than {MAX_NESTING} levels") from None
    problem = bound_record(value) if walk else None
    if problem is not None:
        raise RecordTooLarge(problem)
    return value
