"""CLI area: evals. `postmortem eval` runs the labelled cases; `eval compare` diffs two reports; `eval aiid` scores
the description-only path on the hand-labelled AI Incident Database sample."""

from __future__ import annotations

import tempfile
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from agent.cli.common import console, err_console, print_json
from agent.errors import Failure, UserError

if TYPE_CHECKING:
    from evals.harness.dataset import Sample
    from evals.harness.runner import CaseRun
    from evals.harness.workflow import EvalRequest

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


class _Progress:
    """The eval's console lines on stderr: one to start, then one per finished case (the id first and whole, the
    figures cut at the terminal's edge rather than wrapped)."""

    def __init__(self, request: EvalRequest) -> None:
        self.request, self.total, self.done = request, 0, 0

    def start(self, total: int) -> None:
        self.total = total
        provider = self.request.provider_name or "offline"
        err_console.print(f"eval: {total} cases, split {self.request.split}, provider {provider}")

    def __call__(self, sample: Sample, run: CaseRun) -> None:
        self.done += 1
        primary = None if run.error else run.draft.classification.primary
        mark = "!" if run.error else ("✓" if primary == sample.gold.primary else "✗")
        verdict = f"error: {run.error}" if run.error else f"{primary or 'none'} (gold {sample.gold.primary})"
        err_console.print(
            f"  [{self.done}/{self.total}] {mark} {sample.id}  {verdict}, {run.spans} spans, {run.draft_s:.2f} s",
            highlight=False,
            markup=False,
            no_wrap=True,
            overflow="ellipsis",
        )


# The options of `postmortem eval`, one alias each so the command's signature stays readable.
SplitOpt = Annotated[
    SplitChoice,
    typer.Option(
        "--split", help="Which cases: dev (evals/cases), test (the sealed split, evals/sealed) or all."
    ),
]
ProviderOpt = Annotated[
    str | None,
    typer.Option("--provider", help="LLM provider for the agent (and the LLM judge); default offline."),
]
InvestigateOpt = Annotated[
    bool,
    typer.Option(
        "--investigate/--no-investigate",
        help="With --provider: the model investigates with tools (default), or classifies in one call.",
    ),
]
CasesOpt = Annotated[str | None, typer.Option("--cases", help="Only cases whose id matches this glob.")]
CasesDirOpt = Annotated[
    Path | None,
    typer.Option("--cases-dir", help="A folder of case folders of your own, filtered by each case's split."),
]
OutOpt = Annotated[
    Path | None, typer.Option("--out", help="Report folder (default: evals/reports/<timestamp>/).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the JSON report instead of tables.")]
GateOpt = Annotated[
    bool,
    typer.Option(
        "--gate", help="Exit 1 below the floors in evals/gate.json (dev, or --robustness --ci-subset)."
    ),
]
NoCacheOpt = Annotated[
    bool, typer.Option("--no-cache", help="Embed every span again instead of reusing cached vectors.")
]
RobustnessOpt = Annotated[
    bool,
    typer.Option(
        "--robustness", help="Run the robustness suite: every dev case under every nuisance perturbation."
    ),
]
CiSubsetOpt = Annotated[
    bool, typer.Option("--ci-subset", help="With --robustness: only the fixed cases CI runs.")
]
RecordOpt = Annotated[
    str | None,
    typer.Option("--record-gate", metavar="REASON", help="Write this run's figures to evals/gate.json."),
]
LowerOpt = Annotated[
    bool, typer.Option("--lower", help="With --record-gate: allow floors to go down (needs --reason).")
]
ReasonOpt = Annotated[
    str | None, typer.Option("--reason", help="Why floors go down; kept in evals/gate.json.")
]


@eval_app.callback(invoke_without_command=True)
def eval_main(
    ctx: typer.Context,
    split: SplitOpt = SplitChoice.dev,
    provider: ProviderOpt = None,
    investigate: InvestigateOpt = True,
    cases: CasesOpt = None,
    cases_dir: CasesDirOpt = None,
    out: OutOpt = None,
    json_out: JsonOpt = False,
    gate: GateOpt = False,
    no_cache: NoCacheOpt = False,
    robustness: RobustnessOpt = False,
    ci_subset: CiSubsetOpt = False,
    record_gate: RecordOpt = None,
    lower: LowerOpt = False,
    reason: ReasonOpt = None,
) -> None:
    """Run the eval (the default when no sub-command is given)."""
    if ctx.invoked_subcommand is not None:
        return
    if robustness:
        if provider not in (None, "offline") or split != SplitChoice.dev:
            raise UserError("--robustness runs the offline agent on dev cases (drop --provider and --split)")
        from evals.robustness.run import RobustnessRequest

        request = RobustnessRequest(
            cases=cases, cases_dir=cases_dir, ci_subset=ci_subset, out=out, use_cache=not no_cache, gate=gate,
            record_gate=record_gate, lower=lower, lower_reason=reason,
        )  # fmt: skip
        _robustness(request, json_out)
        return
    if ci_subset:
        raise UserError("--ci-subset goes with --robustness")
    from evals.harness.workflow import EvalRequest, NothingToScore, run_eval_workflow

    request = EvalRequest(
        split=split.value, provider=provider, investigate=investigate, cases=cases, cases_dir=cases_dir, out=out,
        use_cache=not no_cache, gate=gate, record_gate=record_gate, lower=lower, lower_reason=reason,
    )  # fmt: skip
    progress = _Progress(request)
    try:
        outcome = run_eval_workflow(request, progress=progress, announce=progress.start)
    except NothingToScore as exc:
        err_console.print(str(exc), highlight=False)
        return
    if json_out:
        print_json(outcome.report)
    else:
        _print_report(outcome.report, outcome.written)
    _gate_result(outcome.gate_recorded, outcome.gate_problems)


def _print_report(report, written) -> None:  # noqa: ANN001
    from agent.cli.eval_tables import (
        confusion_table,
        metrics_table,
        print_cases,
        reliability_table,
        share_table,
    )

    print_cases(report, console)
    console.print(metrics_table(report))
    console.print(confusion_table(report))
    console.print(share_table(report))
    reliability = reliability_table(report)
    if reliability is not None:
        console.print(reliability)
    console.print(f"wrote {', '.join(str(p) for p in written.values())}", highlight=False)


def _gate_result(recorded: Path | None, problems: list[str] | None, what: str = "") -> None:
    if recorded is not None:
        err_console.print(f"recorded the gate figures in {recorded}")
    if problems is not None:
        if problems:
            raise Failure(f"regression gate{what}: " + "; ".join(problems))
        err_console.print(f"regression gate{what}: holds")


def _robustness(request, json_out: bool) -> None:  # noqa: ANN001
    """`postmortem eval --robustness`: the suite, its tables, and its gate."""
    from evals.robustness.run import run_robustness_workflow
    from evals.robustness.tables import render_robustness

    def announce(total: int) -> None:
        err_console.print(
            f"robustness: {total} dev cases, each unperturbed and under 8 perturbations, offline"
        )

    def progress(o) -> None:  # noqa: ANN001
        mark = "!" if o.verdict.error else ("=" if o.stays else "≠")
        err_console.print(
            f"  {mark} {o.case_id}  {o.perturbation}", highlight=False, markup=False, no_wrap=True
        )

    outcome = run_robustness_workflow(request, progress=progress, announce=announce)
    if json_out:
        print_json(outcome.report)
    else:
        console.print(render_robustness(outcome.report), highlight=False, markup=False, soft_wrap=True)
        console.print(f"wrote {', '.join(str(p) for p in outcome.written.values())}", highlight=False)
    _gate_result(outcome.gate_recorded, outcome.gate_problems, " (robustness)")


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
    csv_path: Annotated[
        Path | None,
        typer.Option("--csv", help="The AIID incidents.csv (default: $POSTMORTEM_AIID_DIR/incidents.csv)."),
    ] = None,
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
        LABELS_FILE,
        MIT_CSV_NAME,
        AiidError,
        agent_draft_classifier,
        default_csv,
        draw_sample,
        evaluate_aiid,
        load_incidents,
        load_intents,
        load_labels,
        stratum_of,
    )
    from evals.harness.workflow import eval_embedder

    csv_path = csv_path or default_csv()
    try:
        # the labels file is the user's argument: check it before the data set it is scored against
        chosen = None if show_sample else load_labels(labels or LABELS_FILE)
        incidents = load_incidents(csv_path)
        intents = load_intents(csv_path.parent / MIT_CSV_NAME)
        if show_sample:
            for incident in draw_sample(incidents, intents):
                console.print(
                    f"{incident.incident_id}\t{stratum_of(incident, intents)}\t{incident.title}",
                    highlight=False,
                )
            return
        assert chosen is not None
        with tempfile.TemporaryDirectory(prefix="eval-aiid-") as tmp:
            classifier = None
            if drafts:
                from agent.settings import get_settings

                settings = get_settings()
                classifier = agent_draft_classifier(eval_embedder(settings), settings, Path(tmp))
            report = evaluate_aiid(incidents, chosen, intents, draft_classifier=classifier)
    except AiidError as exc:
        raise UserError(str(exc)) from None
    if json_out:
        print_json(report)
        return
    from agent.cli.aiid_tables import print_aiid_report

    print_aiid_report(report, console)
