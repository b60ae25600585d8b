"""Small formatting helpers shared by the draft's sections."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from agent.models import SECTION_TITLES, Section, Sentence


def ts(value: datetime | None) -> str:
    """A timestamp as `2025-05-12 10:31 UTC`."""
    if value is None:
        return "unknown time"
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M UTC")


def duration(delta: timedelta) -> str:
    """A duration in words: `2 d 3 h`, `4 h 12 min`, `35 min`."""
    minutes = int(abs(delta.total_seconds()) // 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        text = f"{days} d {hours} h"
    elif hours:
        text = f"{hours} h {mins} min"
    else:
        text = f"{mins} min"
    return f"-{text}" if delta.total_seconds() < 0 else text


def clip(text: str, limit: int = 200) -> str:
    """A verbatim prefix of `text` cut at a word boundary (a prefix stays a valid quote)."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    head = flat[:limit]
    stop = max(head.rfind(". "), head.rfind("? "), head.rfind("! "))
    head = head[: stop + 1] if stop >= limit // 2 else head.rsplit(" ", 1)[0].rstrip(",;:")
    if head.count('"') % 2:  # do not leave a quotation open
        head = head[: head.rfind('"')].rstrip(" ,;:")
    return head


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def s(text: str, *cites: str | None, quote: str | None = None) -> Sentence:
    """A sentence citing the given ids (None and duplicates dropped, order kept)."""
    seen: list[str] = []
    for ref in cites:
        if ref and ref not in seen:
            seen.append(ref)
    return Sentence(text=text, cites=seen, quote=quote)


def utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def section(key: str, sentences: list[Sentence]) -> Section:
    """A draft section under its standard title."""
    return Section(key=key, title=SECTION_TITLES[key], sentences=sentences)
