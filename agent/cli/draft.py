"""CLI area: draft. `postmortem draft`, `postmortem review`, `postmortem demo`."""

from __future__ import annotations

import sys
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from agent.cli.common import err_console, print_json
from agent.errors import UserError

FORMAT_HELP = "markdown (default) or json (the draft's JSON contract)."


class OutputFormat(StrEnum):
    markdown = "markdown"
    json = "json"


def register(app: typer.Typer) -> None:
    """Add this area's commands to the top-level app."""
    app.command("draft")(draft_command)
    app.command("review")(review_command)
    app.command("demo")(demo_command)


# -- helpers --------------------------------------------------------------------------------------------------
def _time(flag: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise UserError(f"{flag}: not an ISO-8601 time: {value!r}") from None


def _report(value: str) -> dict[str, Any]:
    """`--report "text"` or `--report "2025-05-12T15:12:00Z|text"`."""
    stamp, sep, text = value.partition("|")
    if sep and stamp.strip():
        return {"text": text.strip(), "timestamp": _time("--report", stamp)}
    return {"text": value.strip()}


def build_incident(file: Path | None, overrides: dict[str, Any]):
    """The incident from a file and/or flags (flags win); UserError naming what is missing or wrong."""
    from agent.api import incident_from_mapping, load_incident

    base: dict[str, Any] = load_incident(file).model_dump() if file is not None else {}
    for key, value in overrides.items():
        if value not in (None, [], ""):
            base[key] = value
    if not base.get("title"):
        raise UserError("give an INCIDENT_FILE or at least --title (and --service, --since, --until)")
    return incident_from_mapping(base, source=str(file) if file else "command line")


def _emit(result, fmt: OutputFormat, out: Path | None) -> None:
    from agent.drafter import draft_json

    if fmt == OutputFormat.json:
        payload = {**draft_json(result.draft), "thread_id": result.thread_id, "status": result.status}
        if out is None:
            print_json(payload)
            return
        import json

        text = json.dumps(payload, indent=2, ensure_ascii=False) + "\n"
    else:
        text = result.draft.markdown
        if out is None:
            sys.stdout.write(text)
            sys.stdout.flush()
            return
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"--out {out}: cannot write ({exc.strerror or exc})") from None
    err_console.print(f"wrote {out}", highlight=False)


def _status_line(result) -> None:
    draft = result.draft
    primary = draft.classification.primary or "undetermined"
    err_console.print(
        f"[bold]{result.status}[/] · primary layer: {primary} · {len(draft.evidence)} evidence items · "
        f"thread {result.thread_id}",
        highlight=False,
        soft_wrap=True,
    )
    for note in draft.notes:
        err_console.print(f"note: {note}", highlight=False, soft_wrap=True)
    if result.status == "awaiting_review":
        err_console.print(
            f"review it with: postmortem review {result.thread_id} --approve | --reject | --edit FILE",
            highlight=False,
            soft_wrap=True,
        )


def _run_draft(incident, *, provider: str | None, review: bool, publish: bool, store=None):
    from agent.api import draft_incident

    try:
        return draft_incident(incident, provider=provider, review=review, publish=publish, store=store)
    except ValueError as exc:
        raise UserError(f"--provider: {exc}") from None


# -- commands -------------------------------------------------------------------------------------------------
def draft_command(
    incident_file: Annotated[
        Path | None,
        typer.Argument(help="Incident YAML or JSON (title, description, service, window, reports)."),
    ] = None,
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f", help=FORMAT_HELP)] = OutputFormat.markdown,
    provider: Annotated[str | None, typer.Option(help="LLM provider (default: offline analysis).")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the draft to this file.")] = None,
    review: Annotated[
        bool, typer.Option(help="Pause for a human review (resume with `postmortem review`).")
    ] = False,
    publish: Annotated[bool, typer.Option(help="Store the draft as a past post-mortem right away.")] = False,
    title: Annotated[
        str | None, typer.Option(help="Incident title (instead of, or over, the file's).")
    ] = None,
    description: Annotated[str | None, typer.Option(help="What is known about the incident.")] = None,
    service: Annotated[str | None, typer.Option(help="The affected service (as in the traces).")] = None,
    since: Annotated[str | None, typer.Option(help="Window start, ISO-8601.")] = None,
    until: Annotated[str | None, typer.Option(help="Window end, ISO-8601.")] = None,
    trace_id: Annotated[
        list[str] | None, typer.Option("--trace-id", help="A trace known to be affected.")
    ] = None,
    report: Annotated[
        list[str] | None, typer.Option("--report", help='A user report: "text" or "ISO-TIME|text".')
    ] = None,
    severity: Annotated[str | None, typer.Option(help="e.g. sev2.")] = None,
) -> None:
    """Draft an evidence-cited post-mortem for an incident (offline unless --provider)."""
    if review and publish:
        raise UserError("--review and --publish: choose one (a reviewed draft is published when approved)")
    overrides = {
        "title": title,
        "description": description,
        "service": service,
        "window_start": _time("--since", since),
        "window_end": _time("--until", until),
        "trace_ids": list(trace_id or []),
        "reports": [_report(r) for r in report or []],
        "severity": severity,
    }
    incident = build_incident(incident_file, overrides)
    result = _run_draft(incident, provider=provider, review=review, publish=publish)
    _emit(result, fmt, out)
    _status_line(result)


def review_command(
    thread_id: Annotated[
        str | None, typer.Argument(help="The thread id printed by `draft --review`.")
    ] = None,
    approve: Annotated[bool, typer.Option("--approve", help="Publish the draft as it is.")] = False,
    reject: Annotated[bool, typer.Option("--reject", help="Discard the draft.")] = False,
    edit: Annotated[Path | None, typer.Option("--edit", help="Publish this edited Markdown instead.")] = None,
    reviewer: Annotated[str | None, typer.Option(help="Who reviewed it (kept with the decision).")] = None,
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f", help=FORMAT_HELP)] = OutputFormat.markdown,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the final draft to this file.")
    ] = None,
) -> None:
    """Approve, edit or reject a draft awaiting review; without a THREAD_ID, list the drafts awaiting one."""
    from agent.api import ReviewError, pending_reviews, resume_review

    if thread_id is None:
        pending = pending_reviews()
        if not pending:
            err_console.print("no draft is awaiting review", highlight=False)
        for thread in pending:
            sys.stdout.write(thread + "\n")
        return
    chosen = [name for name, on in (("--approve", approve), ("--reject", reject), ("--edit", edit)) if on]
    if len(chosen) != 1:
        raise UserError("give exactly one of --approve, --reject or --edit FILE")
    edited = None
    if edit is not None:
        try:
            edited = edit.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"--edit {edit}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None
        if not edited.strip():
            raise UserError(f"--edit {edit}: the file is empty")
    decision = "approve" if approve else "reject" if reject else "edit"
    try:
        result = resume_review(thread_id, decision, edited_markdown=edited, reviewer=reviewer)
    except ReviewError as exc:
        raise UserError(str(exc)) from None
    if result.status != "rejected":
        _emit(result, fmt, out)
    _status_line(result)


def demo_command(
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f", help=FORMAT_HELP)] = OutputFormat.markdown,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the draft to this file.")] = None,
) -> None:
    """Ingest the bundled sample traces and past post-mortems, then draft the demo incident, offline."""
    from agent.api import load_incident
    from agent.settings import get_settings
    from agent.store_factory import make_redactor, open_store
    from retrieval.samples import DEMO_INCIDENT, load_demo

    settings = get_settings()
    store = open_store(settings)
    try:
        redactor = make_redactor(settings)
        loaded = load_demo(
            store,
            redact_span=redactor.span if redactor else None,
            redact_postmortem=redactor.postmortem if redactor else None,
        )
        for error in loaded.errors:
            err_console.print(f"error: {error}", highlight=False, soft_wrap=True)
        err_console.print(
            f"demo store {store.location}: {loaded.spans_added} spans added ({loaded.spans_skipped} already there), "
            f"{loaded.postmortems_added} post-mortem chunks added ({loaded.postmortems_skipped} already there)",
            highlight=False,
            soft_wrap=True,
        )
        result = _run_draft(
            load_incident(DEMO_INCIDENT), provider="offline", review=False, publish=False, store=store
        )
    finally:
        store.close()
    _emit(result, fmt, out)
    _status_line(result)
