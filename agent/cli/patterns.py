"""CLI area: patterns. `postmortem import aiid PATH` loads the AI Incident Database as past post-mortems;
`postmortem patterns` mines every post-mortem in the store for recurring incidents; `postmortem patterns eval`
measures the clusters against the MIT risk-subdomain labels beside a TF-IDF k-means baseline.
"""

from __future__ import annotations

import json
import time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from agent.cli.common import EXIT_USAGE, console, err_console, print_json
from agent.errors import Failure, UserError
from retrieval.masking import mask_url, mask_urls

if TYPE_CHECKING:
    import numpy as np

    from agent.patterns.schema import CorpusItem, Filters
    from agent.settings import Settings


class Fmt(StrEnum):
    table = "table"
    markdown = "markdown"
    html = "html"
    json = "json"


class ByOpt(StrEnum):
    cluster = "cluster"
    layer = "layer"
    month = "month"


_SUFFIX = {
    ".md": Fmt.markdown,
    ".markdown": Fmt.markdown,
    ".html": Fmt.html,
    ".htm": Fmt.html,
    ".json": Fmt.json,
}

Since = Annotated[
    str | None, typer.Option("--since", help="Only incidents on or after (YYYY, YYYY-MM, YYYY-MM-DD).")
]
Until = Annotated[
    str | None, typer.Option("--until", help="Only incidents on or before (YYYY, YYYY-MM, YYYY-MM-DD).")
]
Service = Annotated[str | None, typer.Option("--service", help="Only incidents of this service or deployer.")]
K = Annotated[
    int | None, typer.Option("--k", min=1, help="Number of clusters (default: chosen by silhouette).")
]


def default_labels() -> Path | None:
    """The MIT classifications CSV of the AIID snapshot (POSTMORTEM_AIID_DIR, default shared/data/aiid beside the
    checkout), when present."""
    from agent.settings import get_settings

    path = get_settings().aiid_data_dir / "classifications_MIT.csv"
    return path if path.is_file() else None


def _filters(since: str | None, until: str | None, service: str | None) -> Filters:
    from agent.patterns.corpus import valid_date_arg
    from agent.patterns.schema import Filters

    for flag, value in (("--since", since), ("--until", until)):
        if value is not None and not valid_date_arg(value):
            raise UserError(f"{flag} {value!r}: use YYYY, YYYY-MM or YYYY-MM-DD")
    if since and until and since > until:
        raise UserError(f"--since {since} is after --until {until}")
    return Filters(since=since, until=until, service=service)


def _embed_fn(settings: Settings) -> Any:
    """Embed with the configured embedder, built on first use (a cached corpus may need none)."""
    from agent.store_factory import make_embedder
    from retrieval.embeddings import embed_texts

    holder: list[Any] = []

    def embed(texts: list[str]) -> np.ndarray:
        if not holder:
            holder.append(make_embedder(settings))
        return embed_texts(holder[0], texts)

    return embed


def load_corpus(
    settings: Settings, filters: Filters, aiid: Path | None = None
) -> tuple[list[CorpusItem], np.ndarray, Any, float]:
    """(items, vectors, embed, seconds): from the store (its stored vectors), or straight from an AIID CSV."""
    from agent.patterns.analyze import vectors_for
    from agent.patterns.corpus import build_corpus

    started = time.perf_counter()
    embed = _embed_fn(settings)
    if aiid is not None:
        docs, _ = _read_csv(aiid)
        stored: dict[str, Any] = {}
    else:
        from agent.store_factory import open_store

        store = open_store(settings)
        try:
            docs = store.list_postmortems()
            stored = store.postmortem_vectors() if docs else {}
        except Exception as exc:  # noqa: BLE001 - the store or server failed: one line, exit 1
            raise Failure(f"reading the store failed ({type(exc).__name__}: {exc})") from None
        finally:
            store.close()
        if not docs:
            raise UserError(
                "the store has no post-mortems: run `postmortem import aiid PATH` or `postmortem ingest FILES`"
            )
    items = build_corpus(docs, filters)
    vectors = vectors_for(items, stored, embed)
    return items, vectors, embed, time.perf_counter() - started


def _read_csv(path: Path) -> tuple[list[Any], int]:
    """The good rows of an AIID CSV (bad ones printed one line each) and how many were bad."""
    from retrieval.aiid import read_aiid

    if not path.is_file():
        raise UserError(f"{path}: no such file (the AIID incidents.csv)")
    docs, errors = read_aiid(path)
    if errors and not docs:
        raise UserError(str(errors[0]))
    for error in errors:
        err_console.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
    return docs, len(errors)


def _labels(path: Path | None) -> dict[str, str]:
    from agent.patterns.quality import LabelsError, load_mit_labels

    path = path or default_labels()
    if path is None:
        raise UserError("no MIT labels file found: pass --labels PATH (classifications_MIT.csv)")
    try:
        return load_mit_labels(path)
    except LabelsError as exc:
        raise UserError(str(exc)) from None


def _post(settings: Settings, channel: str, report: Any) -> str:
    from slack_sdk.errors import SlackApiError

    from agent.patterns.slack_digest import post_digest
    from agent.slack.app import web_client

    if settings.slack_bot_token is None or not settings.slack_bot_token.get_secret_value().strip():
        raise UserError("--post-to-slack needs SLACK_BOT_TOKEN (the bot token, xoxb-...)")
    try:
        return post_digest(web_client(settings), channel, report)
    except SlackApiError as exc:
        raise Failure(f"Slack refused the digest for {channel}: {exc.response.get('error', exc)}") from None
    except OSError as exc:
        where = mask_url(settings.slack_api_url) or "slack.com"
        raise Failure(mask_urls(f"cannot reach Slack at {where}: {exc}")) from None


def _render(fmt: Fmt, report: Any, groups: list[Any], by: ByOpt) -> str:
    from agent.patterns.report_html import render_html
    from agent.patterns.report_md import render_markdown

    if fmt is Fmt.html:
        return render_html(report, groups=groups, by=by.value)
    if fmt is Fmt.markdown:
        return render_markdown(report, groups=groups, by=by.value)
    payload = report.model_dump(mode="json")
    if by is not ByOpt.cluster:
        payload["by"] = by.value
        payload["groups"] = [g.model_dump(mode="json") for g in groups]
    return json.dumps(payload, indent=2, ensure_ascii=False) + "\n"


def import_aiid(
    path: Annotated[Path, typer.Argument(help="The AI Incident Database incidents.csv.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Import AI Incident Database incidents as past post-mortems (id aiid-<n>). Data: CC BY-SA 4.0."""
    from agent.settings import get_settings
    from agent.store_factory import make_redactor, open_store
    from retrieval.aiid import CREDIT

    docs, errors = _read_csv(path)
    settings = get_settings()
    redactor = make_redactor(settings)
    if redactor is not None:
        docs = [redactor.postmortem(d) for d in docs]
    store = open_store(settings)
    added = skipped = 0
    progress = Progress(
        TextColumn("embedding"), BarColumn(), MofNCompleteColumn(), console=err_console,
        disable=as_json or not err_console.is_terminal,
    )  # fmt: skip
    try:
        with progress:
            task = progress.add_task("aiid", total=len(docs))
            for start in range(0, len(docs), 256):
                result = store.add_postmortems(docs[start : start + 256])
                added, skipped = added + result.added, skipped + result.skipped
                progress.advance(task, len(docs[start : start + 256]))
    except Exception as exc:  # noqa: BLE001 - the store or server failed: one line, exit 1
        raise Failure(
            f"storing failed ({type(exc).__name__}: {exc}); what was stored before is kept"
        ) from None
    finally:
        store.close()
    summary = {"file": str(path), "read": len(docs), "added": added, "skipped": skipped, "errors": errors,
               "credit": CREDIT}  # fmt: skip
    if as_json:
        print_json(summary)
    else:
        console.print(
            f"imported {len(docs)} AIID incidents from {path}: {added} added, {skipped} already stored"
            + (f", {errors} bad rows" if errors else ""),
            highlight=False,
        )
        console.print(f"[dim]Data: {CREDIT}.[/]", highlight=False)
    if errors:
        raise typer.Exit(EXIT_USAGE)


def patterns_main(
    ctx: typer.Context,
    since: Since = None,
    until: Until = None,
    service: Service = None,
    by: Annotated[
        ByOpt, typer.Option("--by", help="Group the table by cluster, layer or month.")
    ] = ByOpt.cluster,
    fmt: Annotated[
        Fmt | None,
        typer.Option("--format", help="table, markdown, html or json (default: from --out, else table)."),
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the report to this file.")] = None,
    post_to_slack: Annotated[
        str | None,
        typer.Option("--post-to-slack", metavar="CHANNEL", help="Post a digest to this Slack channel."),
    ] = None,
    k: K = None,
    labels: Annotated[
        Path | None, typer.Option("--labels", help="MIT classifications CSV: add NMI/purity vs the baseline.")
    ] = None,
) -> None:
    """Recurring incidents across every past post-mortem: clusters with labels, layer mix, trend, factors,
    action items that keep coming back, top services; every pattern cites its incidents."""
    if ctx.invoked_subcommand is not None:
        return
    from agent.patterns.analyze import analyze
    from agent.patterns.quality import LabelsError, evaluate
    from agent.patterns.report_term import print_report
    from agent.patterns.views import regroup
    from agent.settings import get_settings

    fmt = fmt or (_SUFFIX.get(out.suffix.lower(), Fmt.table) if out else Fmt.table)
    if fmt is Fmt.table and out is not None:
        raise UserError(f"--out {out}: tables go to the terminal; use --format markdown, html or json")
    filters = _filters(since, until, service)
    settings = get_settings()
    truth = _labels(labels) if labels is not None else None
    items, vectors, embed, load_s = load_corpus(settings, filters)
    report, result = analyze(items, vectors, embed, k=k, filters=filters)
    report.timing.corpus_s = round(load_s, 3)
    if truth is not None and items:
        try:
            report.quality = evaluate(items, result, truth)
        except LabelsError as exc:
            raise UserError(str(exc)) from None
    if not items:
        err_console.print("no incident matches the filters", highlight=False)
    groups = regroup(report, items, by.value)  # type: ignore[arg-type]
    if fmt is Fmt.table:
        print_report(console, report, by.value, groups)  # type: ignore[arg-type]
    else:
        text = _render(fmt, report, groups, by)
        if out is None:
            typer.echo(text, nl=False)
        else:
            try:
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(text, encoding="utf-8")
            except OSError as exc:
                raise UserError(f"--out {out}: cannot write ({exc.strerror or exc})") from None
            err_console.print(
                f"wrote {fmt.value} report to {out} ({len(report.clusters)} clusters)", highlight=False
            )
    if post_to_slack:
        ts = _post(settings, post_to_slack, report)
        err_console.print(f"posted the digest to {post_to_slack} (ts {ts})", highlight=False)


def patterns_eval(
    since: Since = None,
    until: Until = None,
    service: Service = None,
    k: K = None,
    labels: Annotated[
        Path | None, typer.Option("--labels", help="MIT classifications CSV (default: shared data).")
    ] = None,
    aiid: Annotated[
        Path | None,
        typer.Option(
            "--aiid", help="Cluster this AIID incidents.csv directly (embedding it) instead of the store."
        ),
    ] = None,
    seeds: Annotated[
        int, typer.Option("--seeds", min=1, max=20, help="Also rerun both methods with more seeds.")
    ] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """NMI and purity of the clusters against the MIT risk-subdomain labels, beside TF-IDF k-means (same k)."""
    from agent.patterns.analyze import analyze
    from agent.patterns.quality import LabelsError, evaluate
    from agent.patterns.report_term import quality_table
    from agent.settings import get_settings

    filters = _filters(since, until, service)
    truth = _labels(labels)
    started = time.perf_counter()
    items, vectors, embed, load_s = load_corpus(get_settings(), filters, aiid)
    if not items:
        raise UserError("no incident matches the filters")
    report, result = analyze(items, vectors, embed, k=k, filters=filters)
    try:
        quality = evaluate(items, result, truth, seeds=seeds)
    except LabelsError as exc:
        raise UserError(str(exc)) from None
    total = time.perf_counter() - started
    if as_json:
        print_json({"quality": quality, "k": result.k, "silhouette": result.silhouette, "incidents": len(items),
                    "seconds": {"load_and_embed": round(load_s, 2), "total": round(total, 2)}})  # fmt: skip
        return
    console.print(quality_table(quality))
    better = quality.ours.nmi > quality.baseline.nmi and quality.ours.purity > quality.baseline.purity
    console.print(
        f"{len(items)} incidents, k = {result.k} (silhouette over {sorted(result.silhouette) or [result.k]}); "
        f"{'beats' if better else 'does NOT beat'} the baseline on both; {total:.1f} s "
        f"(corpus and vectors {load_s:.1f} s)",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    """Add `import` (aiid) and `patterns` (with `eval`) to the top-level app."""
    import_app = typer.Typer(
        help="Import past incidents from public incident databases.", no_args_is_help=True
    )
    import_app.command("aiid")(import_aiid)
    app.add_typer(import_app, name="import")
    patterns_app = typer.Typer()
    patterns_app.callback(invoke_without_command=True)(patterns_main)
    patterns_app.command("eval")(patterns_eval)
    app.add_typer(patterns_app, name="patterns")
