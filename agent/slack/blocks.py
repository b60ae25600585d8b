"""What the bot posts: every text goes through `safe()` (redacted, Slack markup neutralised), and the
messages are built here as Block Kit blocks.

Draft content (trace text, thread messages, model output) is untrusted: `safe()` escapes `&`, `<` and `>` so
`<!channel>`, `<@U123>`, `<#C123>` and links become inert text, and breaks `@here`-style words. Where the bot
posts is never read from content: callers pass the channel and thread of the request.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from agent.models import Draft
from retrieval.redact import Redactor

APPROVE = "postmortem_approve"
REGENERATE = "postmortem_regenerate"
REJECT = "postmortem_reject"
REVIEW_ACTIONS = (APPROVE, REGENERATE, REJECT)
REVIEW_BLOCK = "postmortem_review"

SECTION_LIMIT = 2900  # Slack allows 3000 characters in a section's text
SUMMARY_CHARS = 2000
TEXT_LIMIT = 3500
_BROADCAST = re.compile(r"(?i)@(channel|here|everyone)\b")
_SUMMARY = re.compile(r"^## +Summary\s*$(.*?)(?=^## |\Z)", re.MULTILINE | re.DOTALL)
_CITE = re.compile(r"\\?\[((?:span|doc|report|pm):[^\]\s]+)\]")
_ID = re.compile(r"^[A-Za-z0-9]+$")
ZWSP = "\u200b"


@lru_cache(maxsize=1)
def _redactor() -> Redactor:
    return Redactor()


def redact(text: str) -> str:
    """PII and secrets replaced by typed placeholders (every kind, whatever the ingest settings)."""
    return _redactor().text(text or "")


def safe(text: str, limit: int = TEXT_LIMIT) -> str:
    """Text fit to post: redacted, Slack control sequences escaped, broadcasts broken, clipped."""
    out = redact(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    out = _BROADCAST.sub(lambda m: f"@{ZWSP}{m.group(1)}", out)
    return out if len(out) <= limit else out[: limit - 1].rstrip() + "…"


def safe_file(text: str) -> str:
    """Text for an attached file: redacted, Slack markup and broadcasts broken by a zero-width space (files
    are not parsed for mentions, but their previews are shown and their text gets copied into messages)."""
    out = re.sub(r"<([!@#])", lambda m: f"<{ZWSP}{m.group(1)}", redact(text))
    return _BROADCAST.sub(lambda m: f"@{ZWSP}{m.group(1)}", out)


def mention(user: str | None) -> str:
    """`<@U123>` for a user id taken from the request (never from content); plain text otherwise."""
    return f"<@{user}>" if user and _ID.match(user) else "someone"


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:SECTION_LIMIT]}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:SECTION_LIMIT]}]}


def summary_text(draft: Draft) -> str:
    """The draft's summary paragraph (from its Markdown, which a reviewer may have edited)."""
    found = _SUMMARY.search(draft.markdown or "")
    if found and found.group(1).strip():
        text = found.group(1).strip()
    else:
        summary = next((s for s in draft.sections if s.key == "summary"), None)
        text = " ".join(s.text for s in summary.sentences) if summary else ""
    return " ".join(text.split())


def _with_cites(text: str) -> str:
    """Safe text whose `[span:…]` citations show as code."""
    parts: list[str] = []
    last = 0
    for match in _CITE.finditer(text):
        parts.append(safe(text[last : match.start()], 10_000))
        parts.append(f"`{safe(match.group(1), 200)}`")
        last = match.end()
    parts.append(safe(text[last:], 10_000))
    return "".join(parts)


def layers_line(draft: Draft) -> str:
    c = draft.classification
    bits = [f"primary layer: *{c.primary or 'undetermined'}*"]
    for a in c.layers:
        if a.role in ("primary", "contributing"):
            bits.append(f"{a.layer}: {a.role.replace('_', ' ')} ({a.confidence})")
    return " · ".join(bits)


def progress_text(title: str, stage: str, by: str | None = None) -> str:
    """A progress line; `by` is the requester's user id, from the request."""
    who = f" (requested by {mention(by)})" if by else ""
    return f":hourglass_flowing_sand: Post-mortem draft for *{safe(title, 200)}*{who}: {safe(stage, 300)}"


def ack_text(title: str, queued: int) -> str:
    wait = f" ({queued} ahead of it in the queue)" if queued else ""
    return f"Drafting a post-mortem for “{safe(title, 200)}”{wait}. I'll reply in a thread."


def result_blocks(draft: Draft, *, thread_id: str, awaiting_review: bool, filename: str) -> list[dict]:
    """The reply under a finished draft: title, layers, summary, notes, file pointer and review buttons."""
    title = safe(draft.incident.title, 200)
    raw = summary_text(draft)
    if len(raw) > SUMMARY_CHARS:  # clip before escaping, so no entity or citation is cut in half
        raw = raw[: raw.rfind(" ", 0, SUMMARY_CHARS)] + " …"
    summary = _with_cites(raw) or "_The draft has no summary._"
    facts = [
        layers_line(draft),
        f"{len(draft.evidence)} evidence items",
        f"analysis: {safe(draft.provider, 50)}",
    ]
    blocks: list[dict[str, Any]] = [
        _section(f"*Post-mortem draft: {title}*"),
        _context(" · ".join(facts)),
        _section(summary),
    ]
    notes = [safe(note, 400) for note in draft.notes[:5]]
    if notes:
        blocks.append(_context("\n".join(f"Note: {n}" for n in notes)))
    blocks.append(_context(f"The full draft is attached as `{safe(filename, 120)}`. Draft id `{thread_id}`."))
    if awaiting_review:
        blocks.append(review_actions(thread_id))
    return blocks


def review_actions(thread_id: str) -> dict[str, Any]:
    def button(label: str, action: str, style: str | None = None, confirm: str | None = None) -> dict:
        out: dict[str, Any] = {
            "type": "button",
            "text": {"type": "plain_text", "text": label},
            "action_id": action,
            "value": thread_id,
        }
        if style:
            out["style"] = style
        if confirm:
            out["confirm"] = {
                "title": {"type": "plain_text", "text": "Are you sure?"},
                "text": {"type": "plain_text", "text": confirm},
                "confirm": {"type": "plain_text", "text": "Yes"},
                "deny": {"type": "plain_text", "text": "Cancel"},
            }
        return out

    return {
        "type": "actions",
        "block_id": REVIEW_BLOCK,
        "elements": [
            button("Approve", APPROVE, "primary"),
            button("Regenerate", REGENERATE),
            button("Reject", REJECT, "danger", "The draft will be discarded."),
        ],
    }


def decided_blocks(blocks: list[dict], line: str) -> list[dict]:
    """The review message after a decision: the same blocks without buttons, plus who decided what."""
    kept = [b for b in blocks if b.get("block_id") != REVIEW_BLOCK and b.get("type") != "actions"]
    return [*kept, _context(line)]


def fallback_text(draft: Draft) -> str:
    """The notification text of the result message."""
    return f"Post-mortem draft: {safe(draft.incident.title, 200)} ({layers_line(draft)})"


def failure_text(reason: str) -> str:
    return f":warning: I could not finish the post-mortem draft. {safe(reason, 1500)}"
