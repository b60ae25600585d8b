"""CLI area: evals. `postmortem eval` runs the labelled cases; `eval compare` diffs two reports; `eval aiid` scores
the description-only path on the hand-labelled AI Incident Database sample."""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from agent.cli.common import console, err_console, print_json
from agent.errors import Failure, UserError

eval_app = typer.Typer(
    name="eval",
    help=(
        "Evaluate the drafter on the labelled incidents (evals/cases): per-case table, metrics for the agent beside "
        "a majority and a keyword baseline, and a JSON + Markdown report with a per-layer chart.\n\n"
        "Examples: `postmortem eval --split dev`, `postmortem eval compare A B`, `postmortem eval aiid`."
    ),
    no_args_is_help=False,
)


class SplitChoice(StrEnum):
    dev = "dev"
    test = "test"
    all = "all"


def register(app: typer.Typer) -> None:
    """Add this area's commands to the top-level app."""
    app.add_typer(eval_app, name="eval")


def _embedder(settings):  # noqa: ANN001, ANN202 - a seam: tests hand in the session's embedder
    from agent.store_factory import make_embedder

    return make_embedder(settings)


def vector_cache_path(settings) -> Path:  # noqa: ANN001
    """Where eval runs keep the vectors of span texts they embedded (a cache: deleting it only costs time)."""
    return settings.cache_dir / "eval" / "vectors.sqlite3"


def _judge(provider_name: str, settings, samples, runs, notes: list[str]) -> dict[str, tuple[float, str]]:  # noqa: ANN001
    """LLM-judge verdicts per case id; on a provider failure the judge is skipped and a note says why."""
    from agent.providers.base import ProviderError
    from agent.providers.registry import get_provider
    from evals.harness.judge import judge_draft

    try:
        provider = get_provider(settings, provider_name)
    except (ValueError, ProviderError) as exc:
        notes.append(f"LLM judge skipped: {exc}")
        return {}
    if provider is None:
        return {}
    verdicts: dict[str, tuple[float, str]] = {}
    by_id = {s.id: s for s in samples}
    for run in runs:
        if run.draft is None:
            continue
        try:
            result = judge_draft(provider, run.draft, by_id[run.case_id].gold)
        except ProviderError as exc:
            notes.append(f"LLM judge failed on {run.case_id}: {exc.reason}")
            continue
        verdicts[run.case_id] = (result.score, result.reason)
    notes.append(f"LLM judge: {provider.describe()}, prompt prompts/judge.md, {len(verdicts)} drafts graded")
    return verdicts


@eval_app.callback(invoke_without_command=True)
def eval_main(
    ctx: typer.Context,
    split: Annotated[
        SplitChoice, typer.Option("--split", help="Which cases: dev, test or all.")
    ] = SplitChoice.dev,
    provider: Annotated[
        str | None,
        typer.Option("--provider", help="LLM provider for the agent (and the LLM judge); default offline."),
    ] = None,
    cases: Annotated[
        str | None, typer.Option("--cases", help="Only cases whose id matches this glob.")
    ] = None,
    cases_dir: Annotated[
        Path | None, typer.Option("--cases-dir", help="Folder of case folders (default: evals/cases).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Report folder (default: evals/reports/<timestamp>/).")
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the JSON report instead of tables.")
    ] = False,
    gate: Annotated[
        bool, typer.Option("--gate", help="Exit 1 if the agent falls below the figures in evals/gate.json.")
    ] = False,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Embed every span again instead of reusing cached vectors.")
    ] = False,
    record_gate: Annotated[
        str | None,
        typer.Option("--record-gate", metavar="REASON", help="Write this run's figures to evals/gate.json."),
    ] = None,
) -> None:
    """Run the eval (the default when no sub-command is given)."""
    if ctx.invoked_subcommand is not None:
        return
    if record_gate is not None and (provider not in (None, "offline") or split.value != "test" or cases):
        raise UserError("--record-gate records the offline agent on the whole test split only (--split test)")
    recorded = None
    if gate:
        from evals.harness.gate import GateError, load_gate

        try:
            recorded = load_gate()
        except GateError as exc:
            raise UserError(str(exc)) from None
        if recorded.split != split.value or cases or provider not in (None, "offline"):
            raise UserError(
                f"--gate holds the offline agent on the whole {recorded.split} split: use --split {recorded.split}"
            )
    from agent.settings import get_settings
    from evals.harness.baselines import MajorityBaseline
    from evals.harness.dataset import CaseError, load_samples
    from evals.harness.embedcache import CachedEmbedder
    from evals.harness.gate import check_gate, gate_from_metrics, write_gate
    from evals.harness.report import build_report, git_commit, write_report
    from evals.harness.runner import AgentSolver, run_eval

    try:
        samples = load_samples(cases_dir, split=split.value, pattern=cases)
        dev = load_samples(cases_dir, split="dev")
    except CaseError as exc:
        raise UserError(str(exc)) from None
    if not samples:
        where = cases_dir or "evals/cases"
        raise UserError(
            f"{where}: no cases match split {split.value!r}" + (f" and --cases {cases!r}" if cases else "")
        )
    notes: list[str] = []
    if not dev:
        dev = samples
        notes.append("no dev cases: the majority baseline was fitted on the evaluated cases themselves")
    majority = MajorityBaseline.fit([s.gold.primary for s in dev], [s.gold.contributing for s in dev])

    settings = get_settings()
    provider_name = None if provider in (None, "offline") else provider
    if provider_name:
        from agent.providers.registry import PROVIDER_NAMES

        if provider_name not in PROVIDER_NAMES:
            raise UserError(f"--provider {provider_name!r}: choose one of {', '.join(PROVIDER_NAMES)}")
    started = time.perf_counter()
    embedder = _embedder(settings)
    if not no_cache:
        embedder = CachedEmbedder(embedder, vector_cache_path(settings))
    solver = AgentSolver(embedder=embedder, settings=settings, provider=provider_name)

    done = iter(range(1, len(samples) + 1))

    def progress(sample, run) -> None:  # noqa: ANN001
        primary = None if run.error else run.draft.classification.primary
        mark = "!" if run.error else ("✓" if primary == sample.gold.primary else "✗")
        verdict = f"error: {run.error}" if run.error else f"{primary or 'none'} (gold {sample.gold.primary})"
        # the id first and whole; the figures after it are cut at the terminal's edge rather than wrapped
        err_console.print(
            f"  [{next(done)}/{len(samples)}] {mark} {sample.id}  {verdict}, {run.spans} spans, {run.draft_s:.2f} s",
            highlight=False,
            markup=False,
            no_wrap=True,
            overflow="ellipsis",
        )

    err_console.print(
        f"eval: {len(samples)} cases, split {split.value}, provider {provider_name or 'offline'}"
    )
    try:
        runs = run_eval(samples, solver, progress=progress)
    finally:
        if isinstance(embedder, CachedEmbedder):
            embedder.close()
            notes.append(
                f"span vectors: {embedder.hits} reused from the eval cache, {embedder.misses} embedded"
            )
    verdicts = _judge(provider_name, settings, samples, runs, notes) if provider_name else {}
    report = build_report(
        samples,
        runs,
        majority=majority,
        split=split.value,
        provider=provider_name or "offline",
        cases_glob=cases,
        wall_s=time.perf_counter() - started,
        judge=verdicts,
        notes=notes,
    )
    out = out or Path("evals") / "reports" / datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    try:
        written = write_report(report, out, runs)
    except OSError as exc:
        raise Failure(f"cannot write the report under {out}: {exc}") from None

    if json_out:
        print_json(report)
    else:
        from agent.cli.eval_tables import metrics_table, print_cases

        print_cases(report, console)
        console.print(metrics_table(report))
        console.print(f"wrote {', '.join(str(p) for p in written.values())}", highlight=False)

    if record_gate is not None:
        path = write_gate(
            gate_from_metrics(report.metrics["agent"], split="test", commit=git_commit(), reason=record_gate)
        )
        err_console.print(f"recorded the gate figures in {path}")
    if recorded is not None:
        problems = check_gate(report.metrics["agent"], recorded)
        if problems:
            raise Failure("regression gate: " + "; ".join(problems))
        err_console.print("regression gate: holds")


@eval_app.command("compare")
def compare_cmd(
    a: Annotated[Path, typer.Argument(help="The earlier report (report.json or its folder).")],
    b: Annotated[Path, typer.Argument(help="The later report.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON.")] = False,
) -> None:
    """Show what changed between two eval reports: metric deltas and per-case flips."""
    from evals.harness.compare import compare_reports
    from evals.harness.metrics import fmt
    from evals.harness.report import ReportError, load_report

    try:
        ra, rb = load_report(a), load_report(b)
    except ReportError as exc:
        raise UserError(str(exc)) from None
    comparison = compare_reports(ra, rb, a_name=str(a), b_name=str(b))
    if json_out:
        print_json(comparison)
        return
    if ra.split != rb.split:
        err_console.print(f"[yellow]note:[/] the reports cover different splits ({ra.split} vs {rb.split})")
    table = Table(title=f"metrics: {a} -> {b}")
    for header in ("system", "metric", "A", "B", "delta"):
        table.add_column(header, justify="right" if header in ("A", "B", "delta") else "left")
    for d in comparison.deltas:
        colour = "green" if d.better else "red" if d.better is False else "white"
        shown = (
            f"{d.delta:+d}" if isinstance(d.delta, int) else f"{d.delta:+.3f}" if d.delta is not None else ""
        )
        delta = f"[{colour}]{shown}[/]" if shown else "-"
        table.add_row(d.system, d.label, fmt(d.a), fmt(d.b), delta)
    console.print(table)
    if comparison.flips:
        flips = Table(title="per-case changes (agent)")
        for header in ("case", "what", "A", "B", ""):
            flips.add_column(header)
        for f in comparison.flips:
            flips.add_row(
                f.case,
                f.what,
                f.a,
                f.b,
                "" if f.better is None else ("better" if f.better else "[red]worse[/]"),
            )
        console.print(flips)
    else:
        console.print("no per-case changes")
    for label, ids in (("only in A", comparison.only_in_a), ("only in B", comparison.only_in_b)):
        if ids:
            console.print(f"{label}: {', '.join(ids)}", highlight=False)


@eval_app.command("aiid")
def aiid_cmd(
    csv_path: Annotated[Path, typer.Option("--csv", help="The AIID incidents.csv.")] = Path(
        "/work/shared/data/aiid/incidents.csv"
    ),
    labels: Annotated[
        Path | None, typer.Option("--labels", help="Hand labels (default evals/aiid/labels.csv).")
    ] = None,
    drafts: Annotated[
        bool,
        typer.Option(
            "--drafts/--no-drafts", help="Also run the whole offline agent on each labelled incident."
        ),
    ] = True,
    show_sample: Annotated[
        bool,
        typer.Option("--show-sample", help="Print the stratified sample to label (fixed seed) and stop."),
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Accuracy of description-only classification on the hand-labelled AI Incident Database sample."""
    from evals.harness.aiid import (
        DEFAULT_CSV,
        LABELS_FILE,
        MIT_CSV_NAME,
        AiidError,
        agent_draft_classifier,
        draw_sample,
        evaluate_aiid,
        load_incidents,
        load_intents,
        load_labels,
        stratum_of,
    )

    csv_path = csv_path or DEFAULT_CSV
    try:
        incidents = load_incidents(csv_path)
        intents = load_intents(csv_path.parent / MIT_CSV_NAME)
        if show_sample:
            for incident in draw_sample(incidents, intents):
                console.print(
                    f"{incident.incident_id}\t{stratum_of(incident, intents)}\t{incident.title}",
                    highlight=False,
                )
            return
        chosen = load_labels(labels or LABELS_FILE)
        with tempfile.TemporaryDirectory(prefix="eval-aiid-") as tmp:
            classifier = None
            if drafts:
                from agent.settings import get_settings

                settings = get_settings()
                classifier = agent_draft_classifier(_embedder(settings), settings, Path(tmp))
            report = evaluate_aiid(incidents, chosen, intents, draft_classifier=classifier)
    except AiidError as exc:
        raise UserError(str(exc)) from None
    if json_out:
        print_json(report)
        return
    from agent.cli.aiid_tables import print_aiid_report

    print_aiid_report(report, console)
