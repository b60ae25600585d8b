"""`postmortem ingest PATH...`: read trace files and post-mortems, redact, store, summarise.

Bad files and records are reported one line each (file and line/record) while the rest is stored; the exit
code is 2 at the end if there was any input error, 1 if storing failed (what was stored before stays).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import BaseModel, Field
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from agent.cli.common import EXIT_FAILURE, EXIT_USAGE, console, err_console, print_json
from agent.errors import Failure, UserError
from retrieval.trace import IngestError, PostmortemDoc, Skipped, Span, SpanContent


class IngestSummary(BaseModel):
    files: int = 0
    spans_read: int = 0
    spans_added: int = 0
    spans_skipped: int = 0  # already stored, or repeated in the input
    by_kind: dict[str, int] = Field(default_factory=dict)
    services: dict[str, int] = Field(default_factory=dict)
    models: dict[str, int] = Field(default_factory=dict)
    first_start: datetime | None = None
    last_start: datetime | None = None
    # GenAI content read from OTLP log records, attached to its span by id (now or when the span arrives)
    content_events: int = 0
    content_spans_attached: int = 0
    content_spans_waiting: int = 0  # store-wide: spans whose content arrived, the span not yet
    skipped_files: list[str] = Field(default_factory=list)  # files in folders not read, and why
    postmortem_chunks: int = 0
    postmortem_chunks_added: int = 0
    postmortem_chunks_skipped: int = 0
    # data that parses but is wrong, by kind ("duplicate span id", "ends before it starts", "negative timestamp")
    data_problems: dict[str, int] = Field(default_factory=dict)
    warnings: list[str] = Field(
        default_factory=list
    )  # kept or dropped records, named (the first MAX_WARNINGS)
    vectors_pending: int = 0  # stored and keyword-searchable, vector not written yet (see --no-wait)
    errors: list[str] = Field(default_factory=list)  # bad input: exit code 2
    failures: list[str] = Field(default_factory=list)  # files that could not be processed: exit code 1


MAX_WARNINGS = 50  # warning lines shown and kept in the summary; the counts stay exact


class _Run:
    """One ingest run: streams records out of the files, counting and redacting on the way."""

    def __init__(self, fmt: str | None, service: str | None, redactor: Any, progress: Progress) -> None:
        self.fmt = fmt
        self.service = service
        self.redactor = redactor
        self.progress = progress
        self.summary = IngestSummary()
        self.kinds: Counter[str] = Counter()
        self.services: Counter[str] = Counter()
        self.models: Counter[str] = Counter()
        self.postmortems: list[PostmortemDoc] = []
        self.contents: list[SpanContent] = []
        from retrieval.ingest.checks import InputChecks

        self.checks = InputChecks()

    def error(self, line: str) -> None:
        self.summary.errors.append(line)
        self.progress.console.print(f"[bold red]error:[/] {escape(line)}", highlight=False, soft_wrap=True)

    def warn(self, line: str) -> None:
        if len(self.summary.warnings) < MAX_WARNINGS:
            self.summary.warnings.append(line)
            self.progress.console.print(
                f"[yellow]warning:[/] {escape(line)}", highlight=False, soft_wrap=True
            )

    def skip(self, skipped: Skipped) -> None:
        self.summary.skipped_files.append(str(skipped))
        self.warn(str(skipped))

    def spans(self, files: list[Path]) -> Iterator[Span]:
        from retrieval.ingest import iter_file

        for path in files:
            self.summary.files += 1
            task = self.progress.add_task(path.name, total=max(path.stat().st_size, 1))
            try:
                records = iter_file(
                    path, self.fmt, default_service=self.service, progress=self._advance(task)
                )
                for record in records:
                    if isinstance(record, Span):
                        span, warning = self.checks.check(record)
                        if warning:
                            self.warn(warning)
                        if span is not None:
                            yield self._span(span)
                    elif isinstance(record, Skipped):
                        self.skip(record)
                    elif isinstance(record, SpanContent):
                        self.contents.append(self._content(record))
                    elif isinstance(record, PostmortemDoc):
                        self.postmortems.append(self.redactor.postmortem(record) if self.redactor else record)
                    elif isinstance(record, IngestError):
                        self.checks.counts.update([record.kind] if record.kind else [])
                        self.error(str(record))
            except OSError as exc:
                self.error(f"{path}: cannot read ({exc.strerror or exc})")
            except Exception as exc:  # noqa: BLE001 - a reader bug must not stop the other files
                line = f"{path}: reading failed ({type(exc).__name__}: {exc})"
                self.summary.failures.append(line)
                self.progress.console.print(
                    f"[bold red]failed:[/] {escape(line)}", highlight=False, soft_wrap=True
                )
            finally:
                self.progress.update(task, completed=max(path.stat().st_size, 1) if path.exists() else 1)

    def _content(self, content: SpanContent) -> SpanContent:
        return content if self.redactor is None else self.redactor.content(content)

    def _advance(self, task: Any) -> Any:
        return lambda done: self.progress.update(task, completed=done)

    def _span(self, span: Span) -> Span:
        if self.redactor is not None:
            span = self.redactor.span(span)
        self.summary.spans_read += 1
        self.kinds[span.kind.value] += 1
        self.services[span.service or "(none)"] += 1
        if span.model:
            self.models[span.model] += 1
        start = span.start_time if span.start_time.tzinfo else span.start_time.replace(tzinfo=UTC)
        first, last = self.summary.first_start, self.summary.last_start
        self.summary.first_start = start if first is None else min(first, start)
        self.summary.last_start = start if last is None else max(last, start)
        return span

    def finish(self) -> IngestSummary:
        self.summary.by_kind = dict(self.kinds.most_common())
        self.summary.services = dict(self.services.most_common())
        self.summary.models = dict(self.models.most_common())
        self.summary.postmortem_chunks = len(self.postmortems)
        self.summary.data_problems = dict(self.checks.counts.most_common())
        return self.summary


def _top(counts: dict[str, int], n: int = 8) -> str:
    items = [f"{k} ({v})" for k, v in list(counts.items())[:n]]
    if len(counts) > n:
        items.append(f"… {len(counts) - n} more")
    return ", ".join(items) or "-"


def summary_table(s: IngestSummary) -> Table:
    table = Table(title="Ingest summary", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    table.add_row("files", str(s.files))
    table.add_row(
        "spans", f"{s.spans_read} read, {s.spans_added} added, {s.spans_skipped} skipped (already stored)"
    )
    table.add_row("by kind", _top(s.by_kind))
    table.add_row("services", _top(s.services))
    table.add_row("models", _top(s.models))
    if s.first_start is not None and s.last_start is not None:
        first, last = (
            t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ") for t in (s.first_start, s.last_start)
        )
        table.add_row("time range", f"{first} .. {last} (span starts)")
    table.add_row(
        "post-mortems",
        f"{s.postmortem_chunks} chunks read, {s.postmortem_chunks_added} added, "
        f"{s.postmortem_chunks_skipped} skipped",
    )
    if s.content_events or s.content_spans_waiting:
        table.add_row(
            "span content (logs)",
            f"{s.content_events} GenAI events read, {s.content_spans_attached} spans completed, "
            f"{s.content_spans_waiting} spans not ingested yet (their content waits for them)",
        )
    if s.skipped_files:
        table.add_row("skipped files", f"{len(s.skipped_files)} (named above, with why)", style="yellow")
    if s.data_problems:
        table.add_row("data problems", _top(s.data_problems), style="yellow")
    if s.vectors_pending:
        table.add_row("vectors", f"{s.vectors_pending} waiting (`postmortem store embed` writes them)")
    table.add_row("errors", str(len(s.errors)), style="red" if s.errors else None)
    if s.failures:
        table.add_row("failed files", str(len(s.failures)), style="red")
    return table


def _store_all(store: Any, run: _Run, files: list[Path], batch_size: int, wait: bool) -> IngestSummary:
    """Spans as they are read, then post-mortems, then log content (joined to its spans by id)."""
    result = store.add_spans(run.spans(files), batch_size=batch_size, wait=wait)
    pm_result = store.add_postmortems(run.postmortems, wait=wait)
    content = store.add_span_content(run.contents, batch_size=batch_size, wait=wait)
    run.summary.vectors_pending = store.vectors_pending()
    summary = run.finish()
    summary.spans_added, summary.spans_skipped = result.added, result.skipped
    summary.content_events = content.events
    summary.content_spans_attached, summary.content_spans_waiting = content.attached, content.waiting
    summary.postmortem_chunks_added, summary.postmortem_chunks_skipped = pm_result.added, pm_result.skipped
    return summary


def register(app: typer.Typer) -> None:
    """Add `ingest` to the top-level app."""

    @app.command("ingest")
    def ingest(
        paths: Annotated[list[str], typer.Argument(help="Files, folders or globs (quote globs).")],
        fmt: Annotated[
            str | None,
            typer.Option(
                "--format",
                help="Override detection: otlp-json, otlp-jsonl, otlp-logs-json, otlp-logs-jsonl, langfuse-json, langfuse-jsonl, whowhen-json, markdown.",
            ),
        ] = None,
        service: Annotated[
            str | None, typer.Option("--service", help="Service name for records that do not carry one.")
        ] = None,
        batch_size: Annotated[
            int, typer.Option("--batch-size", min=1, help="Spans embedded per batch.")
        ] = 256,
        wait: Annotated[
            bool,
            typer.Option(
                "--wait/--no-wait",
                help="Wait for the vectors of what was ingested (default), or return once it is "
                "keyword-searchable and leave them to `postmortem store embed` or the next ingest.",
            ),
        ] = True,
        as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    ) -> None:
        """Ingest trace files (OTLP JSON/JSONL, Langfuse exports) and past post-mortems (Markdown)."""
        from agent.settings import get_settings
        from agent.store_factory import make_redactor, open_store
        from retrieval.ingest import FORMATS, expand_paths

        if fmt is not None and fmt not in FORMATS:
            raise UserError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
        skipped: list[Skipped] = []
        files, problems = expand_paths(paths, skipped)
        settings = get_settings()
        redactor = make_redactor(settings)
        store = open_store(settings)
        store.on_wait = lambda message: err_console.print(
            f"[yellow]{escape(message)}[/]", highlight=False, soft_wrap=True
        )
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            console=err_console,
            disable=as_json or not err_console.is_terminal,
        )
        run = _Run(fmt, service, redactor, progress)
        for problem in problems:
            run.error(str(problem))
        for item in skipped:
            run.skip(item)
        try:
            with progress:
                summary = _store_all(store, run, files, batch_size, wait)
        except Exception as exc:  # noqa: BLE001 - the store or server failed: one line, exit 1
            raise Failure(
                f"storing failed ({type(exc).__name__}: {exc}); what was stored before is kept"
            ) from None
        finally:
            store.close()
        if as_json:
            print_json(summary)
        else:
            console.print(summary_table(summary))
        if summary.failures:
            raise typer.Exit(EXIT_FAILURE)
        if summary.errors:
            raise typer.Exit(EXIT_USAGE)
