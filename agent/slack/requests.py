"""What a Slack user asked for: the slash command text or the mention text parsed into a `DraftRequest`, and
a thread's messages turned into the incident's reports."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agent.api import incident_from_mapping
from agent.errors import UserError
from agent.models import Incident, Report
from agent.slack.blocks import redact
from agent.timeparse import parse_time

USAGE = (
    "Usage: `/postmortem draft <title or description> [--since TIME] [--until TIME] [--service NAME] "
    "[--severity SEV] [--trace TRACE_ID]`. TIME is ISO-8601 (2025-03-04T10:00Z) or a duration back from now "
    "(90m, 6h, 2d). Or mention me in an incident thread: “@postmortem draft a post-mortem”."
)
FLAGS = ("since", "until", "service", "severity", "trace")
_FLAG = re.compile(r"(?<!\S)--([A-Za-z-]+)(?:=|\s+)?(?!--)(\"[^\"]*\"|“[^”]*”|'[^']*'|[^\s\"“]+)?")
_DASH = re.compile(r"(?<!\S)[—–](?=[A-Za-z])")  # clients may turn "--" into a dash
# "draft a post-mortem[ for|about|on][:|-|–] <text>": the separator only when it stands alone, so "--service"
# after it keeps both its dashes
_DRAFT = re.compile(
    r"^\s*draft\b(?:\s+an?\s+post[- ]?mortem\b)?(?:\s+(?:for|about|on))?\s*(?:[:\-–—](?=\s|$))?\s*", re.I
)
_MARKUP = re.compile(r"<([@#!])([^>|]+)(?:\|([^>]*))?>|<([^>|]+)(?:\|([^>]*))?>")
TITLE_CHARS = 160
DESCRIPTION_CHARS = 4000
MAX_REPORTS = 200


class RequestError(ValueError):
    """The request cannot be run as given; the message says what to change."""


class DraftRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = ""  # the title or description the user typed
    since: datetime | None = None
    until: datetime | None = None
    service: str | None = None
    severity: str | None = None
    trace_ids: list[str] = Field(default_factory=list)


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] + value[-1] in ('""', "“”", "''"):
        return value[1:-1].strip()
    return value


def _time(flag: str, value: str, now: datetime | None) -> datetime:
    try:
        moment = parse_time(value, f"--{flag}", now=now)
    except UserError as exc:
        raise RequestError(str(exc)) from None
    assert moment is not None
    return moment


def parse_request(text: str, *, now: datetime | None = None) -> DraftRequest:
    """`<words> [--since T] [--until T] [--service S] [--severity S] [--trace ID]...`; RequestError if wrong."""
    values: dict[str, Any] = {"trace_ids": []}
    text = _DASH.sub("--", plain(text or ""))  # Slack markup as words: <#C1|ops> -> #ops
    for match in _FLAG.finditer(text):
        flag, raw = match.group(1).lower(), match.group(2)
        if flag not in FLAGS:
            raise RequestError(
                f"unknown option --{flag}; the options are " + ", ".join(f"--{f}" for f in FLAGS)
            )
        if raw is None or not _unquote(raw):
            raise RequestError(f"--{flag} needs a value")
        value = _unquote(raw)
        if flag in ("since", "until"):
            values[flag] = _time(flag, value, now)
        elif flag == "trace":
            values["trace_ids"].append(value.lower())
        else:
            values[flag] = value
    words = " ".join(_unquote(_FLAG.sub(" ", text)).split())
    request = DraftRequest(text=words, **values)
    if request.since and request.until and request.until <= request.since:
        raise RequestError("--until must be after --since")
    return request


def split_command(text: str) -> tuple[str, str]:
    """(`draft` | `help` | other word, the rest) of a slash command's text."""
    head, _, rest = (text or "").strip().partition(" ")
    return head.lower(), rest.strip()


def mention_request(text: str, bot_user: str | None) -> str | None:
    """The words after “draft a post-mortem” in a mention, or None when the mention asks for no draft."""
    body = re.sub(rf"<@{re.escape(bot_user)}(\|[^>]*)?>", " ", text) if bot_user else text
    body = re.sub(r"^\s*(<@[A-Z0-9]+(\|[^>]*)?>\s*)+", " ", body)
    if _DRAFT.match(body):
        return _DRAFT.sub("", body, count=1).strip()
    if re.search(r"\bpost[- ]?mortem\b", body, re.I):  # "could you write the post-mortem --service x"
        return " ".join(m.group(0) for m in _FLAG.finditer(_DASH.sub("--", body)))
    return None


def plain(text: str) -> str:
    """Slack markup as plain words: `<@U1>` -> @U1, `<#C1|ops>` -> #ops, links -> their label and URL."""

    def repl(m: re.Match[str]) -> str:
        if m.group(1):
            sigil, target, label = m.group(1), m.group(2), m.group(3)
            if sigil == "!":
                name = label or target.split("^")[0]
                return name if name.startswith("@") else f"@{name}"
            return f"{sigil}{label or target}"
        url, label = m.group(4), m.group(5)
        return f"{label} ({url})" if label and label != url else url

    return html.unescape(_MARKUP.sub(repl, text or ""))


def thread_reports(messages: list[dict[str, Any]], *, bot_user: str | None) -> list[Report]:
    """The thread's human messages as reports (author = Slack user id, timestamp = message time)."""
    reports: list[Report] = []
    for message in messages:
        if message.get("bot_id") or message.get("subtype") in (
            "bot_message",
            "channel_join",
            "channel_leave",
        ):
            continue
        if bot_user and message.get("user") == bot_user:
            continue
        raw = message.get("text") or ""
        if bot_user and f"<@{bot_user}" in raw and mention_request(raw, bot_user) is not None:
            continue  # the request itself
        text = plain(raw).strip()
        if not text:
            continue
        stamp = message.get("ts")
        when = datetime.fromtimestamp(float(stamp), UTC) if stamp else None
        reports.append(Report(text=text, timestamp=when, author=message.get("user"), source="slack"))
    return reports[:MAX_REPORTS]


def split_title(text: str) -> str:
    """The title part of "<title>: <details>" (or "<title>. <details>", "<title> - <details>")."""
    first = " ".join(text.strip().splitlines()[0].split()) if text.strip() else ""
    found = re.match(r"^(.{8,120}?)(?::|\.|\s[-–—])\s+\S", first)
    return found.group(1).strip() if found else first


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def build_incident(
    request: DraftRequest, *, service: str | None, reports: list[Report] | None = None
) -> Incident:
    """The incident for a request: the typed words (or the thread's first message) as title and
    description, the thread as reports, all redacted; RequestError when there is nothing to go on."""
    reports = [r.model_copy(update={"text": redact(r.text)}) for r in reports or []]
    request = request.model_copy(update={"text": redact(request.text)})
    first = reports[0].text if reports else ""
    basis = (request.text or first).strip()
    if not basis:
        raise RequestError("say what the incident is: `/postmortem draft <title or description>`")
    description = "\n\n".join(dict.fromkeys(p for p in (request.text, first) if p))
    raw = {
        "title": _clip(split_title(basis), TITLE_CHARS),
        "description": _clip(description, DESCRIPTION_CHARS),
        "service": service,
        "window_start": request.since,
        "window_end": request.until,
        "reports": [r.model_dump() for r in reports],
        "trace_ids": request.trace_ids,
        "severity": request.severity,
    }
    try:
        return incident_from_mapping(raw, source="request")
    except UserError as exc:
        raise RequestError(str(exc)) from None
