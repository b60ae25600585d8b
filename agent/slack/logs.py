"""The bot's log: every line (message, arguments, traceback) goes through the same redaction as everything the
bot posts, so `slack serve -v` (which logs Slack's responses, thread text included) leaks no e-mail, phone,
card number, key or token into the log."""

from __future__ import annotations

import logging

from agent.slack.blocks import redact

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure(verbose: bool) -> None:
    """Root logging for `slack serve`: INFO (DEBUG with -v, which includes Slack's API traffic), redacted."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format=FORMAT)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(RedactingFormatter(FORMAT))
    if not verbose:
        logging.getLogger("slack_bolt").setLevel(logging.WARNING)
        logging.getLogger("postmortem.slack.bolt").setLevel(logging.ERROR)
