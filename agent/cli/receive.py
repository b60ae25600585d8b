"""`postmortem receive`: an OTLP/HTTP receiver for the SDK exporters and the Collector's `otlphttp` exporter.

Spans and GenAI events go through the ingest path (parse, checks, redaction, store) as they arrive; they are
keyword-searchable at once, their vectors follow. Ctrl-C or SIGTERM stops it after storing what was accepted.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from agent.cli.common import console, err_console, print_json


def register(app: typer.Typer) -> None:
    """Add `receive` to the top-level app."""

    @app.command("receive")
    def receive(
        port: Annotated[int, typer.Option(min=0, max=65535, help="Port (OTLP/HTTP's is 4318).")] = 4318,
        host: Annotated[
            str,
            typer.Option(help="Interface to listen on (0.0.0.0 to accept from other hosts: set a token)."),
        ] = "127.0.0.1",
        token: Annotated[
            str | None,
            typer.Option(
                "--token",
                help="Require `Authorization: Bearer <token>` (default: POSTMORTEM_RECEIVER_TOKEN; prefer the "
                "setting, a command line is visible to other users).",
            ),
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the final counts as JSON.")] = False,
    ) -> None:
        """Receive traces and GenAI events over OTLP/HTTP (POST /v1/traces, /v1/logs; protobuf or JSON)."""
        from agent.cli.slack import stop_on_signals
        from agent.otlp_receiver import exposure_warning, receiver_config, serve_otlp
        from agent.settings import get_settings

        settings = get_settings()
        config = receiver_config(settings, host, port, token)
        if warning := exposure_warning(config):
            err_console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True)

        def on_event(line: str) -> None:
            err_console.print(escape(line), highlight=False, soft_wrap=True)

        def on_ready(receiver) -> None:  # noqa: ANN001
            where = "{}:{}".format(*receiver.address)
            auth = " · bearer token required" if config.token else ""
            err_console.print(
                f"receiving OTLP/HTTP on http://{where} (POST /v1/traces, /v1/logs){auth} · Ctrl-C to stop",
                highlight=False,
                soft_wrap=True,
            )

        stop_on_signals()
        stats = serve_otlp(settings, config, on_event, on_ready)
        if as_json:
            print_json(stats)
            return
        table = Table(title="Receiver summary", show_header=False, title_justify="left")
        table.add_column(style="bold")
        table.add_column()
        answers = ", ".join(f"{code}: {n}" for code, n in sorted(stats.answers.items())) or "-"
        table.add_row("requests", f"{stats.requests} ({answers})")
        w = stats.writer
        table.add_row("spans", f"{stats.spans_accepted} accepted, {w.spans_stored} added, "
                      f"{w.spans_skipped} already stored, {stats.spans_rejected} rejected")  # fmt: skip
        table.add_row("GenAI events", f"{stats.events_accepted} accepted, {w.content_attached} spans completed, "
                      f"{stats.log_records_rejected} rejected")  # fmt: skip
        table.add_row(
            "vectors", f"{w.vectors_written} written (the rest: the next ingest or `postmortem store embed`)"
        )
        if w.store_failures:
            table.add_row(
                "not stored", f"{w.store_failures} records (the store failed; named above)", style="red"
            )
        console.print(table)
