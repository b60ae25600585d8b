"""Past post-mortems: Markdown with optional YAML front matter, chunked by `##` section.

Front matter keys: id, title, date, service, layers, primary_layer, tags; any other key goes to metadata.
The id defaults to the file stem, the title to the first `# ` heading. Text before the first `##` becomes an
"Overview" chunk; a long section is split at paragraph boundaries into several chunks of the same section.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from retrieval.ingest.source import opened
from retrieval.limits import MAX_RECORD_BYTES
from retrieval.safe_yaml import load_yaml
from retrieval.trace import IngestError, PostmortemDoc, Skipped

MAX_CHUNK_CHARS = 2000
_FENCE = re.compile(r"^(```|~~~)")
_H1 = re.compile(r"^#\s+(.+?)\s*#*\s*$")
_H2 = re.compile(r"^##\s+(.+?)\s*#*\s*$")
_KNOWN = {"id", "title", "date", "service", "layers", "primary_layer", "tags"}
# Section headings of the usual post-mortem templates (Google SRE, Atlassian, PagerDuty, this project's own).
# Without front matter, a Markdown file is a post-mortem only with MIN_SECTIONS of them: a README or notes
# in an ingested folder are not stored as past incidents.
_PM_SECTION = re.compile(
    r"^(summary|(customer |user )?impact|root causes?|causes?|timeline|detection|resolution|mitigation|"
    r"action items|follow[- ]?ups?|lessons( learned)?|contributing factors|triggers?|remediation|"
    r"what (went wrong|went well|happened|we saw)|failure layers?|incident)\b",
    re.IGNORECASE,
)
MIN_SECTIONS = 2


def iter_markdown(path: Path) -> Iterator[PostmortemDoc | IngestError | Skipped]:
    """The chunks of one post-mortem, or one IngestError naming the line of what is wrong."""
    try:
        with opened(path) as fp:
            data = _read_at_most(fp, MAX_RECORD_BYTES + 1)
        if len(data) > MAX_RECORD_BYTES:
            message = f"post-mortem is larger than {MAX_RECORD_BYTES >> 20} MB; skipped"
            yield IngestError(path=str(path), location=None, message=message)
            return
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        yield IngestError(path=str(path), location=None, message="not UTF-8 text")
        return
    text = text.lstrip("\ufeff").replace("\r\n", "\n")
    try:
        front, body, body_line = _split_front_matter(text)
    except ValueError as exc:
        location, _, message = str(exc).partition(": ")
        yield IngestError(path=str(path), location=location, message=message)
        return
    if not body.strip():
        yield IngestError(path=str(path), location=None, message="post-mortem has no text")
        return
    if not front and _pm_sections(body) < MIN_SECTIONS:
        reason = (
            "Markdown without front matter and without post-mortem sections (## Summary, ## Impact, "
            "## Root cause, ## Timeline, ## Action items...): not stored as a past post-mortem"
        )
        yield Skipped(path=str(path), reason=reason)
        return
    yield from _chunks(path, front, body, body_line)


def _pm_sections(body: str) -> int:
    """How many distinct `##` headings outside code fences name a post-mortem section."""
    found: set[str] = set()
    fenced = False
    for line in body.split("\n"):
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced and (h2 := _H2.match(line)) and (section := _PM_SECTION.match(h2.group(1))):
            found.add(section.group(1).lower())
    return len(found)


def _read_at_most(fp: Any, limit: int) -> bytes:
    """Up to `limit` bytes, read in pieces (one read(limit) would allocate all of it up front)."""
    pieces, size = [], 0
    while size < limit and (piece := fp.read(min(1 << 20, limit - size))):
        pieces.append(piece)
        size += len(piece)
    return b"".join(pieces)


def _split_front_matter(text: str) -> tuple[dict[str, Any], str, int]:
    """(front matter, body, line number of the body's first line); ValueError 'line N: problem'."""
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        return {}, text, 1
    for end in range(1, len(lines)):
        if lines[end].strip() in ("---", "..."):
            break
    else:
        raise ValueError("line 1: front matter opened with '---' is never closed")
    try:
        front = load_yaml("\n".join(lines[1:end])) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ValueError(f"line {line}: invalid YAML front matter ({problem})") from None
    if not isinstance(front, dict):
        raise ValueError("line 2: front matter is not a mapping of keys to values")
    return front, "\n".join(lines[end + 1 :]), end + 2


def _listed(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, list | tuple):
        return [str(v).strip() for v in value if v is not None and str(v).strip()]
    return [str(value)]


def _plain(value: Any) -> Any:
    """YAML dates and nested values as JSON-friendly values."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _sections(body: str, first_line: int) -> tuple[str | None, list[tuple[str | None, int, str]]]:
    """(H1 title, [(section heading, line, text)]) splitting at `##` headings outside code fences."""
    title: str | None = None
    sections: list[tuple[str | None, int, list[str]]] = [(None, first_line, [])]
    in_fence = False
    for offset, line in enumerate(body.split("\n")):
        if _FENCE.match(line.strip()):
            in_fence = not in_fence
        if not in_fence:
            h2 = _H2.match(line)
            h1 = _H1.match(line)
            if h2:
                sections.append((h2.group(1), first_line + offset, []))
                continue
            if h1 and title is None:
                title = h1.group(1)
                continue
        sections[-1][2].append(line)
    return title, [(name, line, "\n".join(text).strip()) for name, line, text in sections]


def _split_long(text: str) -> list[str]:
    """Paragraph-packed pieces of at most MAX_CHUNK_CHARS (a single longer paragraph stays whole)."""
    if len(text) <= MAX_CHUNK_CHARS:
        return [text]
    pieces: list[str] = []
    current = ""
    for paragraph in re.split(r"\n\s*\n", text):
        candidate = f"{current}\n\n{paragraph}" if current else paragraph
        if len(candidate) > MAX_CHUNK_CHARS and current:
            pieces.append(current)
            current = paragraph
        else:
            current = candidate
    if current:
        pieces.append(current)
    return pieces


def _chunks(path: Path, front: dict[str, Any], body: str, body_line: int) -> Iterator[PostmortemDoc]:
    h1, sections = _sections(body, body_line)
    layers = [layer.lower() for layer in _listed(front.get("layers"))]
    primary = (
        str(front["primary_layer"]).lower() if front.get("primary_layer") else (layers[0] if layers else None)
    )
    if primary and primary not in layers:
        layers.insert(0, primary)
    elif primary:
        layers.remove(primary)
        layers.insert(0, primary)
    base = {
        "id": str(front.get("id") or path.stem),
        "title": str(front.get("title") or h1 or path.stem),
        "date": _plain(front["date"]) if front.get("date") is not None else None,
        "service": str(front["service"]) if front.get("service") else None,
        "layers": layers,
        "primary_layer": primary,
        "tags": _listed(front.get("tags")),
        "metadata": {k: _plain(v) for k, v in front.items() if k not in _KNOWN},
    }
    has_sections = any(name is not None for name, _, _ in sections)
    index = 0
    for name, line, text in sections:
        if not text:
            continue
        section = name if name is not None else ("Overview" if has_sections else None)
        for piece in _split_long(text):
            body_text = f"{section}\n\n{piece}" if section else piece
            yield PostmortemDoc(
                **base, section=section, chunk_index=index, text=body_text, source=f"{path}:{line}"
            )
            index += 1
