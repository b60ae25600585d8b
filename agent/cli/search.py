"""`postmortem search "query"`: hybrid (vector + keyword) search over stored spans or past post-mortems."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.markup import escape

from agent.cli.common import console, print_json
from agent.errors import UserError
from agent.timeparse import parse_time
from retrieval.trace import SpanKind


def parse_kind(value: str | None) -> SpanKind | None:
    if value is None:
        return None
    try:
        return SpanKind(value.lower())
    except ValueError:
        raise UserError(f"--kind {value!r}: expected one of {', '.join(k.value for k in SpanKind)}") from None


def _span_rows(hits: list[Any], query: str) -> list[dict[str, Any]]:
    from retrieval.render import span_excerpt

    return [
        {
            "rank": i,
            "score": round(hit.score, 6),
            "vector_rank": hit.vector_rank,
            "keyword_rank": hit.keyword_rank,
            "exact": hit.exact,
            "trace_id": hit.span.trace_id,
            "span_id": hit.span.span_id,
            "kind": hit.span.kind.value,
            "name": hit.span.name,
            "service": hit.span.service,
            "model": hit.span.model,
            "status": hit.span.status.code,
            "start_time": hit.span.start_time.isoformat(),
            "excerpt": span_excerpt(hit.span, query),
        }
        for i, hit in enumerate(hits, start=1)
    ]


def _pm_rows(hits: list[Any], query: str) -> list[dict[str, Any]]:
    from retrieval.render import excerpt

    return [
        {
            "rank": i,
            "score": round(hit.score, 6),
            "postmortem_id": hit.doc.id,
            "chunk_index": hit.doc.chunk_index,
            "title": hit.doc.title,
            "section": hit.doc.section,
            "service": hit.doc.service,
            "date": hit.doc.date,
            "primary_layer": hit.doc.primary_layer,
            "excerpt": excerpt(hit.doc.text, query),
        }
        for i, hit in enumerate(hits, start=1)
    ]


def _print_spans(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        sides = ", ".join(
            f"{side} #{row[f'{side}_rank']}"
            for side in ("vector", "keyword")
            if row[f"{side}_rank"] is not None
        )
        status = " [red]error[/]" if row["status"] == "error" else ""
        started = datetime.fromisoformat(row["start_time"]).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        console.print(
            f"[bold]{row['rank']:>2}.[/] {row['score']:.4f}  trace [cyan]{row['trace_id']}[/]  "
            f"span [cyan]{row['span_id']}[/]  {row['kind']} {escape(row['name'])}  "
            f"{escape(row['service'] or '-')}  {started}{status}  [dim]({sides})[/]",
            highlight=False,
            soft_wrap=True,
        )
        console.print(f"     {escape(row['excerpt'])}", highlight=False, soft_wrap=True)


def _print_postmortems(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        where = f" — {row['section']}" if row["section"] else ""
        meta = ", ".join(str(v) for v in (row["service"], row["date"], row["primary_layer"]) if v)
        console.print(
            f"[bold]{row['rank']:>2}.[/] {row['score']:.4f}  [cyan]{escape(row['postmortem_id'])}[/]  "
            f"{escape(row['title'])}{escape(where)}  [dim]{escape(meta)}[/]",
            highlight=False,
            soft_wrap=True,
        )
        console.print(f"     {escape(row['excerpt'])}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add `search` to the top-level app."""

    @app.command("search")
    def search(
        query: Annotated[str, typer.Argument(help="What to look for: words, error codes, ids, model names.")],
        service: Annotated[str | None, typer.Option("--service", help="Only this service.")] = None,
        since: Annotated[
            str | None, typer.Option("--since", help="ISO-8601 time or duration (2h, 7d).")
        ] = None,
        until: Annotated[
            str | None, typer.Option("--until", help="ISO-8601 time or duration back from now.")
        ] = None,
        model: Annotated[str | None, typer.Option("--model", help="Requested or served model.")] = None,
        kind: Annotated[
            str | None, typer.Option("--kind", help="llm, retrieval, tool, agent, chain, other.")
        ] = None,
        trace: Annotated[str | None, typer.Option("--trace", help="Only spans of this trace id.")] = None,
        k: Annotated[int, typer.Option("-k", "--limit", min=1, max=500, help="How many results.")] = 10,
        postmortems: Annotated[
            bool, typer.Option("--postmortems", help="Search past post-mortems instead of spans.")
        ] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print results as JSON.")] = False,
    ) -> None:
        """Find spans (or past post-mortems) by meaning and by keywords, with filters."""
        from agent.settings import get_settings
        from agent.store_factory import open_store

        if not query.strip():
            raise UserError("the query is empty")
        start, end = parse_time(since, "--since"), parse_time(until, "--until")
        span_kind = parse_kind(kind)
        if start and end and start > end:
            raise UserError(f"--since {since!r} is after --until {until!r}")
        if postmortems and any(v is not None for v in (since, until, model, kind, trace)):
            raise UserError("--postmortems takes only --service and -k as filters")
        store = open_store(get_settings())
        try:
            if postmortems:
                rows = _pm_rows(store.search_postmortems(query, k=k, service=service), query)
            else:
                hits = store.search_spans(
                    query,
                    k=k,
                    service=service,
                    start=start,
                    end=end,
                    model=model,
                    kind=span_kind,
                    trace_id=trace,
                )
                rows = _span_rows(hits, query)
            stored = store.count_postmortems() if postmortems else store.count_spans()
        finally:
            store.close()
        if as_json:
            print_json(rows)
        elif not rows:
            what = "post-mortems" if postmortems else "spans"
            hint = "" if stored else f" (no {what} stored yet: run `postmortem ingest PATH`)"
            console.print(f"No matching {what}{hint}.", highlight=False)
        elif postmortems:
            _print_postmortems(rows)
        else:
            _print_spans(rows)
