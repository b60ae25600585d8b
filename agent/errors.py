"""The two errors every front end reports the same way: a user's mistake (exit 2) and a job that could not be
done (exit 1). The core raises them; the CLI prints one line and exits with `exit_code`, Slack replies with the
message."""

from __future__ import annotations


class UserError(Exception):
    """A mistake in the user's input: printed as one line, exit code 2, never a traceback."""

    exit_code = 2


class Failure(Exception):
    """The job could not be done (store unreachable, provider down...): one line, exit code 1."""

    exit_code = 1
