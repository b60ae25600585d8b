"""`postmortem audit [PATH...]`: telemetry readiness per service, and what to switch on for each gap.

With paths it reads the files directly (no store needed); without, it audits the spans in the store.
Bad files or records are reported one line each and the rest is still audited (exit code 2 at the end).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from agent.cli.common import EXIT_FAILURE, EXIT_USAGE, console, err_console, print_json
from agent.errors import UserError

if TYPE_CHECKING:  # imported where used: keeps `postmortem --help` quick
    from retrieval.audit import AuditReport, ServiceAudit

_STYLE = {"ok": "green", "partial": "yellow", "missing": "bold red"}


def _audit_files(paths: list[str], service: str | None, fmt: str | None, quiet: bool) -> AuditReport:
    from retrieval.audit import Auditor
    from retrieval.ingest import FORMATS, expand_paths, iter_file
    from retrieval.trace import IngestError, Span, SpanContent

    if fmt is not None and fmt not in FORMATS:
        raise UserError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    files, problems = expand_paths(paths)
    errors = [str(p) for p in problems]
    if not files:
        raise UserError("; ".join(errors) if errors else "no input files")
    for line in errors:
        _report_error(line, quiet)
    auditor = Auditor(service)
    for path in files:
        for record in iter_file(path, fmt):
            if isinstance(record, Span):
                auditor.add(record)
            elif isinstance(record, SpanContent):
                auditor.add_content(record)
            elif isinstance(record, IngestError):
                errors.append(str(record))
                _report_error(str(record), quiet)
    return auditor.report(errors)


def _audit_store(service: str | None) -> AuditReport:
    from agent.settings import get_settings
    from agent.store_factory import open_store
    from retrieval.audit import Auditor

    auditor = Auditor(service)
    with open_store(get_settings()) as store:
        for span in store.query_spans(service=service):
            auditor.add(span)
    return auditor.report()


def _report_error(line: str, quiet: bool) -> None:
    if not quiet:
        err_console.print(f"[bold red]error:[/] {line}", highlight=False, soft_wrap=True)


def _print_service(audit: ServiceAudit) -> None:
    dialects = ", ".join(f"{d} {n}" for d, n in sorted(audit.dialects.items()))
    console.print(
        f"\n[bold]{audit.service}[/]: {audit.llm_spans} LLM spans in {audit.traces} traces ({dialects}); "
        f"readiness [bold]{audit.score:.0%}[/]",
        highlight=False,
    )
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("field a post-mortem needs")
    table.add_column("share", justify="right")
    table.add_column("spans", justify="right")
    table.add_column("status")
    for f in audit.fields:
        table.add_row(
            f.label, f"{f.share:.0%}", f"{f.present}/{f.total}", f"[{_STYLE[f.status]}]{f.status}[/]"
        )
    console.print(table)
    for note in audit.notes:
        console.print(f"[dim]note:[/] {note}", highlight=False, soft_wrap=True)
    gaps = [f for f in audit.fields if f.status != "ok"]
    if gaps:
        console.print("[bold]to switch on:[/]")
        for f in gaps:
            for advice in f.advice:
                console.print(f"  - [italic]{f.label}[/]: {advice}", highlight=False, soft_wrap=True)


def audit(
    paths: Annotated[
        list[str] | None, typer.Argument(help="Trace files, folders or globs; none: audit the store.")
    ] = None,
    service: Annotated[str | None, typer.Option("--service", "-s", help="Only this service.")] = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="Skip detection: otlp-json, otlp-jsonl, otlp-logs-json, otlp-logs-jsonl, langfuse-json, ...",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable report on stdout.")] = False,
    fail_under: Annotated[
        float | None,
        typer.Option(
            "--fail-under", min=0.0, max=1.0, help="Exit 1 when a service's readiness is below this."
        ),
    ] = None,
) -> None:
    """Share of LLM spans carrying each field a post-mortem needs, per service, and how to close each gap."""
    report = _audit_files(paths, service, fmt, as_json) if paths else _audit_store(service)
    if as_json:
        print_json(report)
    elif not report.services:
        where = f" for service {service!r}" if service else ""
        console.print(f"no LLM spans found{where} ({report.spans_seen} spans read)", highlight=False)
    else:
        for item in report.services:
            _print_service(item)
    if report.errors:
        if not as_json:
            err_console.print(f"{len(report.errors)} input error(s); the rest was audited.", highlight=False)
        raise typer.Exit(EXIT_USAGE)
    if fail_under is not None and any(s.score < fail_under for s in report.services):
        raise typer.Exit(EXIT_FAILURE)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the top-level app."""
    app.command("audit")(audit)
