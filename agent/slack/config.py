"""Who may ask the bot for what: the channel -> services map and the user allowlist.

Read from a YAML file, by default `$POSTMORTEM_HOME/slack.yaml` (`postmortem slack serve --config` to use
another). Fail closed: a channel that is not listed gets nothing, and without the file the bot does not start.

    channels:
      C0123ABCD:                      # channel id (channel details > About, at the bottom)
        services: [support-assistant] # the services this channel may draft about; ["*"] = every service
        users: [U0AAA, U0BBB]         # optional: only these users, in this channel
    allowed_users: []                 # optional: only these users, anywhere (empty: anyone in a listed channel)
    review: true                      # post Approve / Regenerate / Reject buttons under each draft
    provider: null                    # LLM provider for Slack drafts (default: POSTMORTEM_PROVIDER)
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from retrieval.safe_yaml import load_yaml

CONFIG_NAME = "slack.yaml"
ALL_SERVICES = "*"
_CHANNEL = re.compile(r"^[CGD][A-Z0-9]{2,}$")
_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")

UserId = Annotated[str, StringConstraints(pattern=_USER.pattern)]


class ConfigError(ValueError):
    """The Slack config file is missing or wrong; the message names the file and the place."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChannelRule(_Model):
    services: list[str] = Field(min_length=1)
    users: list[UserId] | None = None
    review: bool | None = None

    @field_validator("services")
    @classmethod
    def _services(cls, value: list[str]) -> list[str]:
        cleaned = [s.strip() for s in value if s and s.strip()]
        if not cleaned:
            raise ValueError('list at least one service, or ["*"] for every service')
        return cleaned


class Access(_Model):
    """The answer for one (channel, user): allowed or not, why, and the services it may reach."""

    allowed: bool
    reason: str = ""
    services: list[str] | None = None  # None: every service
    review: bool = True


class SlackConfig(_Model):
    channels: dict[str, ChannelRule] = Field(default_factory=dict)
    allowed_users: list[UserId] = Field(default_factory=list)
    review: bool = True
    provider: str | None = None

    @field_validator("channels")
    @classmethod
    def _channel_ids(cls, value: dict[str, ChannelRule]) -> dict[str, ChannelRule]:
        for key in value:
            if not _CHANNEL.match(key):
                raise ValueError(
                    f"{key!r} is not a channel id (like C0123ABCD; names such as #incidents do not work)"
                )
        return value

    @field_validator("provider")
    @classmethod
    def _provider(cls, value: str | None) -> str | None:
        from agent.providers.registry import PROVIDER_NAMES

        if value is not None and value not in PROVIDER_NAMES:
            raise ValueError(f"unknown provider {value!r}; choose one of: {', '.join(PROVIDER_NAMES)}")
        return value

    def access(self, channel: str | None, user: str | None) -> Access:
        """May `user` ask for drafts in `channel`, and about which services?"""
        rule = self.channels.get(channel or "")
        if rule is None:
            return Access(
                allowed=False,
                reason=f"this channel ({channel}) is not set up for post-mortems: "
                "ask whoever runs the bot to add it to slack.yaml",
            )
        users = rule.users if rule.users is not None else self.allowed_users
        if users and user not in users:
            return Access(allowed=False, reason="you are not on the list of people who may use this bot here")
        services = None if ALL_SERVICES in rule.services else list(rule.services)
        review = self.review if rule.review is None else rule.review
        return Access(allowed=True, services=services, review=review)


def pick_service(access: Access, requested: str | None) -> str | None:
    """The service a request may draft about; ValueError in plain words when it may not."""
    if access.services is None:
        return requested
    allowed = ", ".join(access.services)
    if requested is None:
        if len(access.services) == 1:
            return access.services[0]
        raise ValueError(f"this channel covers several services ({allowed}): add --service NAME")
    if requested not in access.services:
        raise ValueError(f"service {requested!r} is not covered by this channel (it covers: {allowed})")
    return requested


def config_path(home: Path) -> Path:
    return home / CONFIG_NAME


def load_config(path: Path) -> SlackConfig:
    """The config in `path`; ConfigError naming the file and the field or line on any problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such file; create it with at least one channel, e.g. "
            "'channels: {C0123ABCD: {services: [my-service]}}' (`postmortem slack config --example` prints a template)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read ({exc})") from None
    try:
        raw = load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise ConfigError(f"{path}: {where}invalid YAML ({getattr(exc, 'problem', None) or exc})") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping with a `channels:` key, got {type(raw).__name__}")
    try:
        config = SlackConfig.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(p) for p in error["loc"]) or "(root)"
        message = error["msg"].removeprefix("Value error, ")
        raise ConfigError(f"{path}: `{field}`: {message}") from None
    if not config.channels:
        raise ConfigError(f"{path}: `channels`: list at least one channel id and its services")
    return config
