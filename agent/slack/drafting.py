"""A draft requested from Slack, run in the worker: read the thread (for a mention), draft, then reply in the
request's thread with the summary, the review buttons and the full Markdown as a file."""

from __future__ import annotations

import logging
import re
from typing import Any

from agent.api import draft_incident
from agent.models import Incident
from agent.slack.blocks import fallback_text, progress_text, result_blocks, safe, safe_file
from agent.slack.bot import Bot, Origin
from agent.slack.config import Access
from agent.slack.registry import DraftRecord
from agent.slack.requests import DraftRequest, RequestError, build_incident, thread_reports

log = logging.getLogger("postmortem.slack")
MAX_THREAD_MESSAGES = 1000
# Drafts queued or running. One worker drafts one at a time (seconds to minutes each): past these a request is
# refused with the reason, rather than answered an hour later. Per channel, so one channel cannot starve the rest.
MAX_QUEUED_DRAFTS = 12
MAX_QUEUED_PER_CHANNEL = 3


def reserve_draft(bot: Bot, channel: str) -> str | None:
    """Hold a place in the queue for a draft from `channel`: None when held (the job submitted with
    key=channel gives it back), else why not, in words for the requester."""
    full = bot.runner.reserve(channel, MAX_QUEUED_PER_CHANNEL, MAX_QUEUED_DRAFTS)
    if full is None:
        return None
    here, total = full
    if here >= MAX_QUEUED_PER_CHANNEL:
        return (
            f"this channel already has {here} post-mortem drafts queued or under way (at most "
            f"{MAX_QUEUED_PER_CHANNEL}): ask again when one has been posted"
        )
    return (
        f"{total} post-mortem drafts are queued or under way (at most {MAX_QUEUED_DRAFTS}): "
        "ask again in a few minutes"
    )


def queue_draft(bot: Bot, origin: Origin, access: Access, incident: Incident) -> None:
    """Draft an incident already known (slash command); its place was held with reserve_draft."""
    ahead = bot.runner.pending
    if ahead:
        _progress_or_release(bot, origin, progress_text(incident.title, f"queued, {ahead} ahead of it"))
    bot.runner.submit(
        f"draft {incident.title}",
        lambda: run_draft(bot, origin, access, incident),
        lambda exc: bot.report_failure(origin, exc),
        key=origin.channel,
    )


def queue_thread_draft(
    bot: Bot, origin: Origin, access: Access, request: DraftRequest, service: str | None
) -> None:
    """Draft from a thread: its messages become the reports and the timeline (place held with reserve_draft)."""

    def job() -> None:
        bot.progress(origin, progress_text(request.text or "this thread", "reading the thread"))
        messages = read_thread(bot, origin.channel, origin.thread_ts)
        reports = thread_reports(messages, bot_user=bot.bot_user)
        if not reports and not request.text:
            raise RequestError("the thread has no messages to draft from: describe the incident in it first")
        incident = build_incident(request, service=service, reports=reports)
        run_draft(bot, origin, access, incident)

    _progress_or_release(bot, origin, progress_text(request.text or "this thread", "queued"))
    bot.runner.submit("thread draft", job, lambda exc: bot.report_failure(origin, exc), key=origin.channel)


def _progress_or_release(bot: Bot, origin: Origin, text: str) -> None:
    """The progress message; if it cannot be posted, the place held in the queue is given back."""
    try:
        bot.progress(origin, text)
    except BaseException:
        bot.runner.release(origin.channel)
        raise


def read_thread(bot: Bot, channel: str, thread_ts: str) -> list[dict[str, Any]]:
    """Every message of a thread (conversations.replies, paginated)."""
    messages: list[dict[str, Any]] = []
    cursor: str | None = None
    while len(messages) < MAX_THREAD_MESSAGES:
        response = bot.client.conversations_replies(channel=channel, ts=thread_ts, limit=200, cursor=cursor)
        messages.extend(response.get("messages") or [])
        cursor = (response.get("response_metadata") or {}).get("next_cursor")
        if not response.get("has_more") or not cursor:
            break
    return messages[:MAX_THREAD_MESSAGES]


def filename_for(incident: Incident) -> str:
    stem = re.sub(r"[^a-z0-9]+", "-", (incident.id or incident.title).lower()).strip("-")[:60] or "incident"
    return f"postmortem-{stem}.md"


def run_draft(bot: Bot, origin: Origin, access: Access, incident: Incident) -> None:
    bot.progress(
        origin,
        progress_text(
            incident.title, "drafting: gathering traces, running the detectors, classifying the layers"
        ),
    )
    result = draft_incident(
        incident,
        settings=bot.settings,
        provider=bot.config.provider,
        store=bot.store(access.services),
        review=access.review,
    )
    draft = result.draft
    awaiting = result.status == "awaiting_review"
    filename = filename_for(draft.incident)
    blocks = result_blocks(draft, thread_id=result.thread_id, awaiting_review=awaiting, filename=filename)
    message_ts = bot.post(origin, fallback_text(draft), blocks)
    bot.client.files_upload_v2(
        channel=origin.channel,
        thread_ts=origin.thread_ts,
        content=safe_file(draft.markdown),
        filename=filename,
        title=safe_file(f"Post-mortem draft: {draft.incident.title}"),
    )
    bot.registry.save(
        DraftRecord(
            thread_id=result.thread_id,
            channel=origin.channel,
            thread_ts=origin.thread_ts,
            message_ts=message_ts,
            requested_by=origin.user,
            services=access.services,
            incident=draft.incident,
            status=result.status,
        )
    )
    log.info("draft %s posted in %s (%s)", result.thread_id, origin.channel, result.status)
    done = "ready for review in this thread" if awaiting else "done, see this thread"
    bot.progress(origin, f":memo: Post-mortem draft for *{safe(draft.incident.title, 200)}*: {done}.")
