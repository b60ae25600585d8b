"""CLI area: replay. `postmortem replay TRACE_ID --n 20` re-sends a captured request and reports recurrence."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from agent.cli.common import console, print_json

if TYPE_CHECKING:
    from agent.llm.replay import ReplayReport


def register(app: typer.Typer) -> None:
    """Add this area's commands to the top-level app."""
    app.command("replay")(replay_command)


def replay_command(
    trace_id: Annotated[str, typer.Argument(help="The trace whose LLM request to re-send (as ingested).")],
    n: Annotated[int, typer.Option("--n", "-n", min=1, max=1000, help="How many times to re-send it.")] = 20,
    span: Annotated[
        str | None, typer.Option(help="The LLM span to replay (default: the trace's last).")
    ] = None,
    pattern: Annotated[
        str | None, typer.Option(help="The failure recurs when the output contains this (case-insensitive).")
    ] = None,
    regex: Annotated[bool, typer.Option(help="Treat --pattern as a regular expression.")] = False,
    threshold: Annotated[
        float,
        typer.Option(
            min=0.0, max=1.0, help="Without --pattern: recurrence = cosine to the recorded output >= this."
        ),
    ] = 0.8,
    provider: Annotated[str | None, typer.Option(help="Provider (default: POSTMORTEM_PROVIDER).")] = None,
    model: Annotated[str | None, typer.Option(help="Override the recorded model.")] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=16, help="Requests in flight at once.")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Re-send a captured request with its recorded settings and report how often the failure recurs."""
    from agent.api import ReplayRequest, replay_trace

    request = ReplayRequest(
        trace_id=trace_id,
        n=n,
        span=span,
        pattern=pattern,
        regex=regex,
        threshold=threshold,
        provider=provider,
        model=model,
        concurrency=concurrency,
    )
    from agent.settings import get_settings

    report = replay_trace(request, get_settings())
    if as_json:
        print_json(report)
    else:
        _print(report)


def _print(report: ReplayReport) -> None:
    from rich.table import Table

    rate = f"{report.rate:.0%}" if report.rate is not None else "n/a"
    ci = f"{report.ci_low:.0%}-{report.ci_high:.0%}" if report.ci_low is not None else "n/a"
    judge = f"contains {report.pattern!r}" if report.judge == "pattern" else f"cosine >= {report.threshold}"
    console.print(
        f"[bold]Replay[/] of span {report.span_id} (trace {report.trace_id}) on {report.provider}, "
        f"model {report.model}"
    )
    console.print(f"Recorded settings: {report.recorded}", highlight=False)
    console.print(
        f"[bold]Recurred {report.recurred} of {report.completed}[/] ({rate}, {report.method} CI {ci}); judged by: {judge}"
    )
    table = Table("#", "recurred", "similarity", "output", show_lines=False)
    for run in report.runs:
        mark = "error" if run.recurred is None else ("yes" if run.recurred else "no")
        sim = f"{run.similarity:.3f}" if run.similarity is not None else ""
        text = run.error or " ".join(run.output.split())[:100]
        table.add_row(str(run.index + 1), mark, sim, text)
    console.print(table)
    usage = report.usage
    cost = usage.get("cost_usd")
    cost_text = (
        f"${cost:.4f}"
        if isinstance(cost, float)
        else "not priced (a local server, or a model not in the price table)"
    )
    console.print(
        f"Tokens: {usage.get('input_tokens', 0)} in, {usage.get('output_tokens', 0)} out; cost {cost_text}",
        highlight=False,
    )
    for note in report.notes:
        console.print(f"note: {note}", highlight=False)
