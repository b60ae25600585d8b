"""`/postmortem draft <title> [--since --until --service --severity --trace]`: acknowledged at once (only the
requester sees the answer), then a message in the channel starts the thread the draft is posted in."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App
from slack_sdk.errors import SlackApiError

from agent.slack.blocks import ack_text, progress_text, safe
from agent.slack.bot import Bot, Origin
from agent.slack.config import pick_service
from agent.slack.drafting import queue_draft, reserve_draft
from agent.slack.requests import USAGE, build_incident, parse_request, split_command

log = logging.getLogger("postmortem.slack")
COMMAND = "/postmortem"


def register(app: App, bot: Bot) -> None:
    @app.command(COMMAND)
    def on_command(ack: Callable[..., Any], command: dict[str, Any], respond: Callable[..., Any]) -> None:
        handle_command(bot, ack, command, respond)


def handle_command(
    bot: Bot, ack: Callable[..., Any], command: dict[str, Any], respond: Callable[..., Any]
) -> None:
    channel, user = command.get("channel_id"), command.get("user_id")
    access = bot.access(channel, user)
    if not access.allowed or not channel:
        log.info("refused /postmortem from %s in %s: %s", user, channel, access.reason)
        ack(text=safe(f"Sorry, {access.reason}."))
        return
    head, rest = split_command(command.get("text") or "")
    if head in ("", "help"):
        ack(text=USAGE)
        return
    if head != "draft":
        ack(text=f"I don't know `{safe(head, 40)}`. {USAGE}")
        return
    try:
        request = parse_request(rest)
        incident = build_incident(request, service=pick_service(access, request.service))
    except ValueError as exc:
        ack(text=f"{safe(str(exc), 500)}\n{USAGE}")
        return
    refusal = reserve_draft(bot, channel)
    if refusal is not None:
        ack(text=safe(f"Sorry, {refusal}."))
        return
    ack(text=ack_text(incident.title, bot.runner.pending))
    log.info("draft requested by %s in %s: %s", user, channel, incident.title)
    # After the acknowledgement: the thread root, which also shows the progress.
    try:
        root = bot.client.chat_postMessage(
            channel=channel,
            text=progress_text(incident.title, "starting", by=user),
            unfurl_links=False,
            unfurl_media=False,
        )
    except SlackApiError as exc:
        error = exc.response.get("error")
        log.warning("cannot post in %s: %s", channel, error)
        hint = (
            " Invite me first: `/invite @postmortem`."
            if error in ("not_in_channel", "channel_not_found")
            else ""
        )
        respond(text=f"I could not post in this channel ({safe(str(error), 80)}).{hint}")
        bot.runner.release(channel)
        return
    ts = root.get("ts")
    origin = Origin(channel=channel, thread_ts=ts, user=user, progress_ts=ts)
    queue_draft(bot, origin, access, incident)
