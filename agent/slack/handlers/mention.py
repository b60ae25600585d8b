"""An @-mention asking for a draft ("@postmortem draft a post-mortem"): the thread it is in becomes the
incident's reports and timeline, and the draft is posted in that thread."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App

from agent.slack.blocks import safe
from agent.slack.bot import Bot, Origin
from agent.slack.config import pick_service
from agent.slack.drafting import queue_thread_draft, reserve_draft
from agent.slack.requests import USAGE, mention_request, parse_request

log = logging.getLogger("postmortem.slack")


def register(app: App, bot: Bot) -> None:
    @app.event("app_mention")
    def on_mention(event: dict[str, Any]) -> None:  # events are acknowledged by Bolt before this runs
        handle_mention(bot, event)


def handle_mention(bot: Bot, event: dict[str, Any]) -> None:
    channel, user, ts = event.get("channel"), event.get("user"), event.get("ts")
    if not channel or not ts or not bot.first_time(f"{channel}:{ts}"):
        return
    access = bot.access(channel, user)
    if not access.allowed:
        log.info("refused a mention from %s in %s: %s", user, channel, access.reason)
        bot.ephemeral(channel, user, safe(f"Sorry, {access.reason}."))
        return
    origin = Origin(channel=channel, thread_ts=event.get("thread_ts") or ts, user=user)
    text = mention_request(event.get("text") or "", bot.bot_user)
    if text is None:
        bot.post(origin, USAGE)
        return
    try:
        request = parse_request(text)
        service = pick_service(access, request.service)
    except ValueError as exc:
        bot.post(origin, f"{safe(str(exc), 500)}\n{USAGE}")
        return
    refusal = reserve_draft(bot, channel)
    if refusal is not None:
        bot.post(origin, safe(f"Sorry, {refusal}."))
        return
    log.info("thread draft requested by %s in %s (thread %s)", user, channel, origin.thread_ts)
    queue_thread_draft(bot, origin, access, request, service)
