"""Shorthands for writing scenarios: times, documents, reports, other services."""

from __future__ import annotations

from datetime import timedelta

from evals.generator.ir import Doc
from evals.generator.spec import ReportSpec, SideService, ts

__all__ = ["D", "H", "M", "doc", "report", "side", "ts"]


def H(hours: float) -> timedelta:
    return timedelta(hours=hours)


def D(days: float) -> timedelta:
    return timedelta(days=days)


def M(minutes: float) -> timedelta:
    return timedelta(minutes=minutes)


def doc(id: str, content: str, source: str, updated_at: str, **extra: object) -> Doc:
    return Doc(id=id, content=content, source=source, updated_at=updated_at, extra=dict(extra))


def report(text: str, after: timedelta, author: str, source: str = "zendesk") -> ReportSpec:
    return ReportSpec(text=text, after=after, author=author, source=source)


def side(
    service: str,
    pool: str,
    before: str,
    after: str,
    offset: timedelta,
    traces: int = 10,
    provider: str = "openai",
) -> SideService:
    return SideService(service, pool, before, after, provider, offset, traces)
