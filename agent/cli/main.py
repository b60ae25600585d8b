"""`postmortem`: the console entry point. One small module per area registers its commands here."""

from __future__ import annotations

import typer

from agent.cli.common import EXIT_FAILURE, Failure, UserError, err_console

app = typer.Typer(
    name="postmortem",
    help=(
        "Draft evidence-cited post-mortems for AI incidents from LLM traces.\n\n"
        "Ingest traces (OpenTelemetry GenAI, OpenInference, OpenLLMetry, Langfuse) and past post-mortems, "
        "search them, audit telemetry readiness, draft a post-mortem for an incident, evaluate the drafter, "
        "mine past incidents for patterns, and serve all of it in Slack. Offline by default."
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
    replay,
    search,
    slack,
    traces,
)

for _module in (ingest, search, traces, audit, draft, replay, evals, patterns, slack, doctor):
    _module.register(app)


def run() -> None:
    """Console-script entry: user errors and failures become one line and an exit code."""
    try:
        app()
    except UserError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise SystemExit(exc.exit_code) from None
    except Failure as exc:
        err_console.print(f"[bold red]failed:[/] {exc}", highlight=False, soft_wrap=True)
        raise SystemExit(EXIT_FAILURE) from None
