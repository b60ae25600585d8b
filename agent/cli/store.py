"""CLI area: the store's upkeep. `postmortem store check [--repair]` verifies the vector index against the
keyword index and the ids (and repairs it); `postmortem store embed` writes the vectors still waiting."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from agent.cli.common import EXIT_FAILURE, Failure, console, err_console, print_json

if TYPE_CHECKING:  # numpy and the store's modules load only when a command runs
    from retrieval.store_check import CollectionCheck

store_app = typer.Typer(
    help="Check and repair the store, write the vectors still waiting.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    """Add the `store` group to the top-level app."""
    app.add_typer(store_app, name="store")


def _open():  # noqa: ANN202 - a TraceStore, imported lazily (chromadb is slow to import)
    from agent.settings import get_settings
    from agent.store_factory import open_store

    store = open_store(get_settings())
    store.on_wait = lambda message: err_console.print(
        f"[yellow]{escape(message)}[/]", highlight=False, soft_wrap=True
    )
    return store


def _line(c: CollectionCheck) -> str:
    parts = [f"{c.records} with vectors, {c.indexed} in the keyword index, {c.waiting} waiting for vectors"]
    if c.bare:
        parts.append(f"{c.bare} without text of their own (no vector)")
    named = {
        "not in the keyword index": c.not_indexed,
        "keyword rows without a record": c.orphans,
        "waiting although written": c.stale_waiting,
        "vectors lost": c.lost_vectors,
        "vectors unreachable by search": c.unreachable,
    }
    parts += [f"{len(ids)} {what}" for what, ids in named.items() if ids]
    return f"{c.name}: " + "; ".join(parts)


@store_app.command("check")
def check_command(
    repair: Annotated[
        bool, typer.Option("--repair", help="Fix what differs (waits for other writers).")
    ] = False,
    quick: Annotated[
        bool, typer.Option("--quick", help="Compare ids only; skip reading and querying every vector.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Verify that every record has a readable vector the index finds, and that Chroma and the keyword
    index hold the same ids. Exit 1 if a problem remains."""
    from retrieval.store_check import CheckReport

    store = _open()
    try:
        collections = store.check(repair=repair, deep=not quick)
    except Exception as exc:  # noqa: BLE001 - the store failed midway: one line, exit 1
        raise Failure(f"checking the store failed ({type(exc).__name__}: {exc})") from None
    finally:
        store.close()
    report = CheckReport(
        ok=not any(c.problems for c in collections),
        repaired=repair,
        collections=[c.shown() for c in collections],
    )
    if as_json:
        print_json(report)
    else:
        for c in collections:
            mark = "[green]ok[/]  " if not c.problems else "[red]FAIL[/]"
            console.print(f"{mark} {escape(_line(c))}", highlight=False, soft_wrap=True)
        if not report.ok:
            console.print("fix: `postmortem store check --repair`", highlight=False)
    if not report.ok:
        raise typer.Exit(EXIT_FAILURE)


@store_app.command("embed")
def embed_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
) -> None:
    """Write the vectors of records stored without one yet (`ingest --no-wait`, an interrupted ingest)."""
    store = _open()
    try:
        written = store.embed_pending()
        waiting = store.vectors_pending()
    except Exception as exc:  # noqa: BLE001
        raise Failure(
            f"writing vectors failed ({type(exc).__name__}: {exc}); what was written is kept"
        ) from None
    finally:
        store.close()
    if as_json:
        print_json({"vectors_written": written, "vectors_pending": waiting})
    else:
        console.print(f"{written} vectors written, {waiting} waiting", highlight=False)
