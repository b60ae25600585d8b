"""The Approve / Regenerate / Reject buttons: acknowledged at once, decided in the worker."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from slack_bolt import App

from agent.slack.blocks import safe
from agent.slack.bot import Bot
from agent.slack.reviewing import CHOICES, check_decision, queue_decision

ACTION = re.compile(r"^postmortem_(approve|regenerate|reject)$")


def register(app: App, bot: Bot) -> None:
    @app.action(ACTION)
    def on_action(ack: Callable[..., Any], body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        handle_action(bot, body, action)


def handle_action(bot: Bot, body: dict[str, Any], action: dict[str, Any]) -> None:
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
    user = (body.get("user") or {}).get("id")
    choice = CHOICES.get(action.get("action_id") or "")
    thread_id = action.get("value") or ""
    if choice is None or not channel or not re.fullmatch(r"[0-9a-f]{8,64}", thread_id):
        return
    found = check_decision(bot, thread_id, channel, user)
    if isinstance(found, str):
        bot.ephemeral(channel, user, safe(f"Sorry, {found}"))
        return
    message = body.get("message") or {}
    queue_decision(bot, choice, found, user, message.get("ts"), message.get("blocks") or [])
