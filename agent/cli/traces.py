"""`postmortem trace show TRACE_ID`: one stored trace as a span tree with what a post-mortem needs."""

from __future__ import annotations

from datetime import UTC
from typing import Annotated

import typer
from rich.markup import escape
from rich.tree import Tree

from agent.cli.common import console, print_json
from agent.errors import UserError
from retrieval.trace import PromptTemplate, Span


def _clip(text: str | None, limit: int | None) -> str:
    text = (text or "").strip()
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return escape(text)


def _label(span: Span) -> str:
    duration = f" · {span.duration_ms:.0f} ms" if span.duration_ms is not None else ""
    status = {"error": " · [bold red]error[/]", "ok": " · [green]ok[/]"}.get(span.status.code, "")
    service = f" · {escape(span.service)}" if span.service else ""
    return (
        f"[bold]{escape(span.name)}[/] [magenta]{span.kind.value}[/]{service}{duration}{status}  "
        f"[dim]span {span.span_id} · {span.start_time.astimezone(UTC).strftime('%Y-%m-%d %H:%M:%S.%f')[:-3]}Z[/]"
    )


def _template_lines(template: PromptTemplate, limit: int | None) -> list[str]:
    """The template's id and version when recorded, its text and variables when recorded; never '?'."""
    named = " ".join(
        f"{label} {escape(value)}"
        for label, value in (("id", template.id), ("version", template.version))
        if value
    )
    lines = [f"prompt template {named}"] if named else []
    if template.template:
        lines.append(f"prompt template{' text' if named else ''}: {_clip(template.template, limit)}")
    if template.variables:
        shown = ", ".join(f"{k}={v}" for k, v in template.variables.items())
        lines.append(f"template variables: {_clip(shown, limit)}")
    return lines


def span_fields(span: Span, limit: int | None = 300) -> list[str]:
    """One line per recorded field (rich markup); fields not recorded are left out."""
    lines: list[str] = []
    if span.provider or span.request_model or span.response_model:
        model = escape(span.request_model or "?")
        if span.response_model and span.response_model != span.request_model:
            model += f" → served {escape(span.response_model)}"
        lines.append(f"provider {escape(span.provider or '?')} · model requested {model}")
    sampling = span.sampling.model_dump(exclude_defaults=True)
    if sampling:
        lines.append("sampling " + escape(" ".join(f"{k}={v}" for k, v in sampling.items())))
    if span.system_instructions:
        lines.append(f"system instructions: {_clip(span.system_instructions, limit)}")
    if span.prompt_template is not None:
        lines += _template_lines(span.prompt_template, limit)
    for side, messages in (("in", span.input_messages), ("out", span.output_messages)):
        for message in messages:
            text = f"{side} [bold]{escape(message.role)}[/]: {_clip(message.content, limit)}"
            for call in message.tool_calls:
                text += f" → tool call {escape(call.name or '?')}({_clip(call.arguments, limit)})"
            if message.finish_reason:
                text += f" [dim](finish {escape(message.finish_reason)})[/]"
            lines.append(text)
    tool = span.tool
    if span.input_value and not span.input_messages and not (tool and tool.arguments == span.input_value):
        lines.append(f"input: {_clip(span.input_value, limit)}")
    if span.output_value and not span.output_messages and not (tool and tool.result == span.output_value):
        lines.append(f"output: {_clip(span.output_value, limit)}")
    if span.finish_reasons:
        lines.append("finish reasons: " + escape(", ".join(span.finish_reasons)))
    usage = span.usage.model_dump(exclude_none=True)
    if usage:
        lines.append("usage " + " ".join(f"{k}={v}" for k, v in usage.items()))
    if span.retrieval_query:
        lines.append(f"retrieval query: {_clip(span.retrieval_query, limit)}")
    for i, doc in enumerate(span.documents):
        facts = [f"score {doc.score:g}" if doc.score is not None else "score ?"]
        facts.append(f"source {escape(doc.source or '?')}")
        facts.append(f"updated_at {escape(doc.updated_at or '?')}")
        if doc.id:
            facts.append(f"id {escape(doc.id)}")
        lines.append(f"document [{i}] {' · '.join(facts)}: {_clip(doc.content, limit)}")
    if tool is not None:
        lines.append(
            f"tool {escape(tool.name or '?')} args {_clip(tool.arguments, limit)} → result {_clip(tool.result, limit)}"
        )
    if span.session or span.user_id:
        lines.append(f"session {escape(span.session or '-')} · user {escape(span.user_id or '-')}")
    if span.is_error or span.status.message:  # "ok" is already in the span's label
        error_type = f" ({escape(span.status.error_type)})" if span.status.error_type else ""
        colour = "red" if span.is_error else "green"
        lines.append(
            f"status [{colour}]{span.status.code}[/]{error_type}: {_clip(span.status.message, limit)}"
        )
    return lines


def trace_tree(trace_id: str, spans: list[Span], limit: int | None = 300) -> Tree:
    """Spans nested under their parents (orphans at the top), children by start time."""
    ids = {s.span_id for s in spans}
    children: dict[str | None, list[Span]] = {}
    for span in spans:
        parent = span.parent_span_id if span.parent_span_id in ids else None
        children.setdefault(parent, []).append(span)
    root = Tree(f"trace [cyan]{escape(trace_id)}[/] · {len(spans)} spans")

    def grow(node: Tree, parent: str | None, seen: set[str]) -> None:
        for span in children.get(parent, []):
            if span.span_id in seen:  # a cycle in bad data: show once
                continue
            seen.add(span.span_id)
            branch = node.add(_label(span))
            for line in span_fields(span, limit):
                branch.add(line)
            grow(branch, span.span_id, seen)

    grow(root, None, set())
    return root


def register(app: typer.Typer) -> None:
    """Add the `trace` command group to the top-level app."""
    trace_app = typer.Typer(help="Look at stored traces.", no_args_is_help=True)

    @trace_app.command("show")
    def show(
        trace_id: Annotated[str, typer.Argument(help="The trace id, as ingested.")],
        full: Annotated[bool, typer.Option("--full", help="Do not shorten long texts.")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print the spans as JSON.")] = False,
        tree: Annotated[
            bool, typer.Option("--tree", help="A multi-agent run: the span tree, not the turns.")
        ] = False,
        turns: Annotated[
            bool, typer.Option("--turns", help="Numbered turns also for a single agent's run.")
        ] = False,
    ) -> None:
        """Show a trace's span tree: models, sampling, prompts, messages, documents, tools, usage, errors.
        A multi-agent run is shown as its numbered turns (agent, role, what it said or called, what came back)."""
        from agent.runs.render import run_lines
        from agent.runs.turns import agent_count, build_run, is_agent_run
        from agent.settings import get_settings
        from agent.store_factory import open_store

        store = open_store(get_settings())
        try:
            spans = store.get_trace(trace_id.strip())
        finally:
            store.close()
        if not spans:
            raise UserError(f"trace {trace_id!r}: not in the store (find trace ids with `postmortem search`)")
        several = is_agent_run(spans) and agent_count(spans) >= 2
        run = build_run(spans) if several or (turns and len(spans) > 1) else None
        if as_json:
            body = {"trace_id": trace_id, "spans": [s.model_dump(mode="json") for s in spans]}
            if run is not None:
                body["turns"] = [t.model_dump(mode="json") for t in run.turns]
            print_json(body)
            return
        if run is not None and not tree:
            for line in run_lines(run, None if full else 300):
                console.print(line, highlight=False)
            return
        console.print(trace_tree(trace_id, spans, None if full else 300), highlight=False)

    app.add_typer(trace_app, name="trace")
