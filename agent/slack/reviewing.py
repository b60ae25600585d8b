"""The review buttons under a draft: Approve (publish to the store), Regenerate (reject, draft again in the
same thread) and Reject, each resuming the graph's review step from its checkpoint."""

from __future__ import annotations

import logging
from typing import Any, Literal

from agent.api import ReviewError, resume_review
from agent.slack.blocks import APPROVE, REGENERATE, REJECT, decided_blocks, mention, safe
from agent.slack.bot import Bot, Origin
from agent.slack.drafting import reserve_draft, run_draft
from agent.slack.registry import DraftRecord

log = logging.getLogger("postmortem.slack")
Choice = Literal["approve", "regenerate", "reject"]
CHOICES: dict[str, Choice] = {APPROVE: "approve", REGENERATE: "regenerate", REJECT: "reject"}


def check_decision(bot: Bot, thread_id: str, channel: str | None, user: str | None) -> DraftRecord | str:
    """The draft's record when `user` may decide on it from `channel`; else the reason, in words."""
    access = bot.access(channel, user)
    if not access.allowed:
        return access.reason
    record = bot.registry.get(thread_id)
    if record is None or record.channel != channel:
        return "I don't know this draft in this channel (it may come from another bot instance)."
    return record


def queue_decision(
    bot: Bot,
    choice: Choice,
    record: DraftRecord,
    user: str | None,
    message_ts: str | None,
    blocks: list[dict[str, Any]],
) -> None:
    origin = Origin(channel=record.channel, thread_ts=record.thread_ts, user=user)
    refusal = reserve_draft(bot, record.channel) if choice == "regenerate" else None
    if refusal is not None:
        bot.ephemeral(record.channel, user, safe(f"Sorry, {refusal}."))
        return
    bot.runner.submit(
        f"{choice} {record.thread_id}",
        lambda: decide(bot, choice, record, user, message_ts, blocks),
        lambda exc: bot.report_failure(origin, exc),
        key=record.channel if choice == "regenerate" else None,
    )


def _mark(bot: Bot, record: DraftRecord, message_ts: str | None, blocks: list[dict], line: str) -> None:
    ts = message_ts or record.message_ts
    if ts is None:
        return
    bot.client.chat_update(channel=record.channel, ts=ts, text=line, blocks=decided_blocks(blocks, line))


def decide(
    bot: Bot,
    choice: Choice,
    record: DraftRecord,
    user: str | None,
    message_ts: str | None,
    blocks: list[dict[str, Any]],
) -> None:
    store = bot.store(record.services)
    decision = "approve" if choice == "approve" else "reject"
    try:
        result = resume_review(record.thread_id, decision, settings=bot.settings, store=store, reviewer=user)
    except ReviewError as exc:
        bot.ephemeral(record.channel, user, safe(f"Nothing done: {exc}."))
        return
    bot.registry.set_status(record.thread_id, result.status)
    log.info("draft %s: %s by %s", record.thread_id, choice, user)
    who = mention(user)
    origin = Origin(channel=record.channel, thread_ts=record.thread_ts, user=user)
    if choice == "approve":
        published = safe(result.draft.incident.id or "", 200)
        line = f":white_check_mark: Approved by {who} and published as past post-mortem `pm:{published}`."
        _mark(bot, record, message_ts, blocks, line)
        bot.post(origin, line)
        return
    if choice == "reject":
        _mark(bot, record, message_ts, blocks, f":x: Rejected by {who}. Nothing was published.")
        return
    _mark(bot, record, message_ts, blocks, f":arrows_counterclockwise: {who} asked for a new draft.")
    access = bot.access(record.channel, user)  # the channel's rules as they are now
    if not access.allowed:
        bot.ephemeral(record.channel, user, safe(f"Sorry, {access.reason}."))
        return
    run_draft(bot, origin, access, record.incident)
