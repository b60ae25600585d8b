"""`postmortem`: the console entry point. One small module per area registers its commands here."""

from __future__ import annotations

import typer
from pydantic import ValidationError
from rich.markup import escape

from agent.cli.common import EXIT_FAILURE, EXIT_USAGE, err_console
from agent.errors import Failure, UserError
from retrieval.masking import mask_urls

app = typer.Typer(
    name="postmortem",
    help=(
        "Draft evidence-cited post-mortems for AI incidents from LLM traces.\n\n"
        "Ingest traces (OpenTelemetry GenAI, OpenInference, OpenLLMetry, Langfuse) and past post-mortems, "
        "search them, audit telemetry readiness, draft a post-mortem for an incident, evaluate the drafter, "
        "mine past incidents for patterns, and serve all of it in Slack. Offline by default.\n\n"
        "New here? `postmortem demo` drafts the bundled incident in seconds; `postmortem doctor` checks "
        "this machine's setup and says what to fix."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
)

# Each area module exposes `register(app)`; keep this list in the order `--help` should read.
from agent.cli import (  # noqa: E402
    audit,
    doctor,
    draft,
    evals,
    ingest,
    patterns,
    receive,
    replay,
    search,
    slack,
    store,
    traces,
)

for _module in (ingest, receive, search, traces, audit, draft, replay, evals, patterns, slack, store, doctor):
    _module.register(app)


def run() -> None:
    """Console-script entry: user errors and failures become one line and an exit code."""
    try:
        app(prog_name="postmortem")
    except UserError as exc:
        err_console.print(f"[bold red]error:[/] {mask_urls(str(exc))}", highlight=False, soft_wrap=True)
        raise SystemExit(exc.exit_code) from None
    except Failure as exc:
        err_console.print(f"[bold red]failed:[/] {mask_urls(str(exc))}", highlight=False, soft_wrap=True)
        raise SystemExit(EXIT_FAILURE) from None
    except ValidationError as exc:  # a bad POSTMORTEM_* / SLACK_* / *_API_KEY setting
        if exc.title != "Settings":
            raise
        from agent.cli.doctor import settings_error

        message = f"{settings_error(exc)[1]} (`postmortem doctor` checks every setting)"
        err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
        raise SystemExit(EXIT_USAGE) from None
