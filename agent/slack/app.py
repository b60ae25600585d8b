"""Build the Bolt app: credentials checked, the Web API client (SLACK_API_URL when set), the access config,
the worker and the listeners. `serve_http` / `serve_socket` run it."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from agent.settings import Settings
from agent.slack.bot import Bot
from agent.slack.config import SlackConfig
from agent.slack.handlers import actions, command, mention
from agent.slack.jobs import CountingExecutor, JobRunner
from agent.slack.registry import Registry
from retrieval.masking import mask_url, mask_urls

log = logging.getLogger("postmortem.slack")
DEFAULT_API_URL = "https://slack.com/api/"
REGISTRY_NAME = "slack.sqlite"


class _QuietTokenWarning(logging.Filter):
    """Bolt warns that the client's token wins over SLACK_BOT_TOKEN: they are the same token here."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


BOLT_LOG = logging.getLogger("postmortem.slack.bolt")
BOLT_LOG.addFilter(_QuietTokenWarning())


class SlackSetupError(ValueError):
    """Missing or refused credentials: the message says which setting to fix."""


class SlackUnreachable(SlackSetupError):
    """The Slack API could not be reached (network, SLACK_API_URL): a failure, not a usage error."""


@dataclass
class SlackBot:
    app: App
    bot: Bot

    def close(self, timeout: float | None = 30.0) -> None:
        self.bot.close(timeout)


def missing_settings(settings: Settings, *, socket: bool) -> list[str]:
    """The settings a mode needs that are not set, each with what it is for."""
    missing = []
    if settings.slack_bot_token is None or not settings.slack_bot_token.get_secret_value().strip():
        missing.append("SLACK_BOT_TOKEN (the bot token, xoxb-..., from OAuth & Permissions)")
    if socket:
        if settings.slack_app_token is None or not settings.slack_app_token.get_secret_value().strip():
            missing.append("SLACK_APP_TOKEN (an app-level token, xapp-..., with connections:write)")
    elif (
        settings.slack_signing_secret is None or not settings.slack_signing_secret.get_secret_value().strip()
    ):
        missing.append("SLACK_SIGNING_SECRET (Basic Information > App Credentials > Signing Secret)")
    return missing


def api_url(settings: Settings) -> str:
    url = (settings.slack_api_url or DEFAULT_API_URL).strip()
    return url if url.endswith("/") else url + "/"


def web_client(settings: Settings) -> WebClient:
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    return WebClient(token=token, base_url=api_url(settings), timeout=30)


def build(settings: Settings, config: SlackConfig, *, socket: bool = False) -> SlackBot:
    """The Bolt app and its bot state. SlackSetupError when credentials are missing or refused."""
    missing = missing_settings(settings, socket=socket)
    if missing:
        mode = "Socket Mode" if socket else "HTTP mode"
        raise SlackSetupError(f"{mode} needs " + "; ".join(missing))
    client = web_client(settings)
    try:
        identity = client.auth_test()
    except SlackApiError as exc:
        raise SlackSetupError(
            f"Slack refused SLACK_BOT_TOKEN ({exc.response.get('error')}): copy the Bot User OAuth Token again"
        ) from None
    except OSError as exc:
        raise SlackUnreachable(
            mask_urls(f"cannot reach the Slack API at {mask_url(api_url(settings))} ({exc})")
        ) from None
    listeners = CountingExecutor()
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    app = App(
        client=client,
        signing_secret=secret,
        token_verification_enabled=True,
        process_before_response=False,
        listener_executor=listeners,
        logger=BOLT_LOG,
    )
    bot = Bot(
        settings=settings,
        config=config,
        client=client,
        runner=JobRunner(),
        registry=Registry(settings.home / REGISTRY_NAME),
        listeners=listeners,
        bot_user=identity.get("user_id"),
    )
    command.register(app, bot)
    mention.register(app, bot)
    actions.register(app, bot)

    @app.error
    def on_error(error: Exception) -> None:
        log.error("listener failed: %s", error, exc_info=error)

    return SlackBot(app=app, bot=bot)
