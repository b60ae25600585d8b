"""The bot's shared state: settings, access config, Slack client, worker, draft registry and the store,
plus the few Slack calls every handler makes (progress, failure, ephemeral notes)."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from agent.api import ReviewError
from agent.errors import Failure, UserError
from agent.settings import Settings
from agent.slack.blocks import failure_text
from agent.slack.config import Access, ConfigError, SlackConfig
from agent.slack.jobs import CountingExecutor, JobRunner
from agent.slack.registry import Registry
from agent.slack.requests import RequestError
from agent.slack.scoped import ScopedStore

log = logging.getLogger("postmortem.slack")
SEEN_EVENTS = 1000


@dataclass
class Origin:
    """Where a request came from and where its answers go: taken from the request, never from content."""

    channel: str
    thread_ts: str
    user: str | None = None
    progress_ts: str | None = None  # the progress message, updated as the work goes


@dataclass
class Bot:
    settings: Settings
    config: SlackConfig
    client: WebClient
    runner: JobRunner
    registry: Registry
    listeners: CountingExecutor
    bot_user: str | None = None
    _store: Any | None = None
    _closed: bool = False
    _seen: OrderedDict[str, None] = field(default_factory=OrderedDict)
    _seen_lock: threading.Lock = field(default_factory=threading.Lock)

    # -- the store (opened in, and used only from, the worker thread) ------------------------------------------
    def store(self, services: list[str] | None) -> Any:
        if self._store is None:
            from agent.store_factory import open_store

            self._store = open_store(self.settings)
        return self._store if services is None else ScopedStore(self._store, services)

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Block until no listener runs and no job is queued or running; False on timeout."""
        deadline = time.monotonic() + timeout
        for wait in (self.listeners.wait_idle, self.runner.wait_idle, self.listeners.wait_idle):
            if not wait(max(0.0, deadline - time.monotonic())):
                return False
        return True

    def close(self, timeout: float | None = 30.0) -> None:
        """Finish the listeners and queued jobs, then close the store (in the worker) and the registry."""
        if self._closed:
            return
        self._closed = True
        self.listeners.shutdown(wait=True)

        def _close_store() -> None:
            if self._store is not None:
                self._store.close()
                self._store = None

        self.runner.submit("close store", _close_store)
        self.runner.stop(timeout)
        self.registry.close()

    def first_time(self, key: str) -> bool:
        """False for a request already handled (Slack retries events it thinks were lost)."""
        with self._seen_lock:
            if key in self._seen:
                return False
            self._seen[key] = None
            while len(self._seen) > SEEN_EVENTS:
                self._seen.popitem(last=False)
            return True

    def access(self, channel: str | None, user: str | None) -> Access:
        return self.config.access(channel, user)

    # -- posting ---------------------------------------------------------------------------------------------
    def post(self, origin: Origin, text: str, blocks: list[dict] | None = None) -> str | None:
        """A message in the origin's thread; returns its ts."""
        response = self.client.chat_postMessage(
            channel=origin.channel,
            thread_ts=origin.thread_ts,
            text=text,
            blocks=blocks,
            unfurl_links=False,
            unfurl_media=False,
        )
        return response.get("ts")

    def progress(self, origin: Origin, text: str) -> None:
        """Update the progress message (post it first if there is none yet)."""
        if origin.progress_ts is None:
            origin.progress_ts = self.post(origin, text)
            return
        self.client.chat_update(channel=origin.channel, ts=origin.progress_ts, text=text)

    def ephemeral(self, channel: str, user: str | None, text: str) -> None:
        """A note only `user` sees; failures to send it are logged, not raised."""
        if not user:
            return
        try:
            self.client.chat_postEphemeral(channel=channel, user=user, text=text)
        except SlackApiError as exc:
            log.warning("could not send an ephemeral note in %s: %s", channel, exc.response.get("error"))

    def report_failure(self, origin: Origin, exc: BaseException) -> None:
        """Tell the thread, in plain words, that the job failed."""
        text = failure_text(explain(exc))
        try:
            if origin.progress_ts is not None:
                self.client.chat_update(channel=origin.channel, ts=origin.progress_ts, text=text)
            else:
                self.post(origin, text)
        except SlackApiError as err:
            log.error("could not report a failure in %s: %s", origin.channel, err.response.get("error"))


def explain(exc: BaseException) -> str:
    """A failure in words a Slack user can act on (the details stay in the bot's log)."""
    if isinstance(exc, RequestError | UserError | ConfigError | ReviewError):
        return str(exc)
    if isinstance(exc, Failure):
        return f"{str(exc)[:300]}. Whoever runs the bot can check it with `postmortem doctor`."
    if isinstance(exc, SlackApiError):
        return f"Slack refused a request ({exc.response.get('error')})."
    return (
        f"Something unexpected went wrong ({type(exc).__name__}); nothing was published. The details are in "
        "the bot's log: try again, or ask whoever runs the bot to run `postmortem doctor`."
    )
