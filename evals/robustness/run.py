"""The robustness suite as a command runs it: pick the dev cases, run, write report.json and report.md."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from agent.errors import Failure, UserError
from agent.settings import Settings, get_settings
from evals.harness.dataset import CaseError, Sample, load_split
from evals.robustness.suite import CI_CASES, ProgressFn, RobustnessReport, run_suite
from evals.robustness.tables import render_markdown, render_robustness


def robustness_samples(
    *, cases_dir: Path | None = None, pattern: str | None = None, ci_subset: bool = False
) -> list[Sample]:
    """The dev cases the suite runs on: all of them, those matching a glob, or the fixed CI subset."""
    samples = load_split("dev", cases_dir=cases_dir)
    if ci_subset:
        samples = [s for s in samples if s.id in CI_CASES]
    if pattern:
        samples = [s for s in samples if fnmatch.fnmatch(s.id, pattern)]
    return samples


def write_robustness(report: RobustnessReport, out: Path) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = {"json": out / "robustness.json", "markdown": out / "robustness.md"}
    written["json"].write_text(report.model_dump_json(indent=2), encoding="utf-8")
    moved = [o for o in report.outcomes if not o.stays]
    lines = [
        "# Robustness report",
        "",
        "```",
        render_robustness(report),
        "```",
        "",
        render_markdown(report),
        "",
        render_markdown(report, by="layer"),
        "",
        "## Runs whose verdict moved",
        "",
        "| case | perturbation | before | after | decisive span |",
        "|---|---|---|---|---|",
    ]
    for o in moved:
        base = report.base.get(o.case_id)
        before = (base.primary or "none") if base and not base.error else "error"
        after = (o.verdict.primary or "none") if not o.verdict.error else f"error: {o.verdict.error[:60]}"
        lines.append(
            f"| {o.case_id} | {o.perturbation} | {before} | {after} | {'same' if o.decisive_same else 'moved'} |"
        )
    written["markdown"].write_text("\n".join(lines) + "\n", encoding="utf-8")
    return written


class RobustnessRequest(BaseModel):
    """The options of `postmortem eval --robustness`."""

    cases: str | None = None  # glob on the dev case ids
    cases_dir: Path | None = None  # a folder of one's own (its dev cases)
    ci_subset: bool = False  # only the fixed cases CI runs (what the gate holds)
    out: Path | None = None  # default evals/reports/robustness-<timestamp>/
    use_cache: bool = True
    gate: bool = False
    record_gate: str | None = None
    lower: bool = False
    lower_reason: str | None = None
    workdir: Path | None = None


class RobustnessOutcome(BaseModel):
    report: RobustnessReport
    written: dict[str, Path]
    gate_problems: list[str] | None = None
    gate_recorded: Path | None = None


def _check(request: RobustnessRequest) -> None:
    if (request.lower or request.lower_reason) and request.record_gate is None:
        raise UserError("--lower and --reason go with --record-gate")
    if (request.gate or request.record_gate is not None) and (
        not request.ci_subset or request.cases or request.cases_dir
    ):
        raise UserError(
            "--gate and --record-gate with --robustness hold the fixed CI subset: use --ci-subset"
        )


def _gate(
    report: RobustnessReport, request: RobustnessRequest, samples: list[Sample]
) -> tuple[list[str] | None, Path | None]:
    from evals.harness.gate import (
        GateError,
        LoweringRefused,
        check_robustness,
        load_gate,
        record,
        robustness_gate,
        write_gate,
    )
    from evals.harness.report import git_commit

    problems, recorded = None, None
    try:
        current = load_gate()
        if request.record_gate is not None:
            floors = robustness_gate(
                report.gate_figures(),
                sorted(s.id for s in samples),
                commit=git_commit(),
                reason=request.record_gate,
            )
            current = record(current, robustness=floors, lower=request.lower, reason=request.lower_reason)
            recorded = write_gate(current)
    except (GateError, LoweringRefused) as exc:
        raise UserError(str(exc)) from None
    if request.gate:
        held = current.robustness
        problems = (
            check_robustness(report.gate_figures(), held) if held else ["no robustness floors recorded"]
        )
    return problems, recorded


def run_robustness_workflow(
    request: RobustnessRequest,
    *,
    settings: Settings | None = None,
    embedder: Any = None,
    progress: ProgressFn | None = None,
    announce: Callable[[int], None] | None = None,
) -> RobustnessOutcome:
    """Run the suite on the chosen dev cases, write its report, and hold or record its gate."""
    from evals.harness.embedcache import CachedEmbedder
    from evals.harness.runner import AgentSolver
    from evals.harness.workflow import eval_embedder, vector_cache_path

    _check(request)
    try:
        samples = robustness_samples(
            cases_dir=request.cases_dir, pattern=request.cases, ci_subset=request.ci_subset
        )
    except CaseError as exc:
        raise UserError(str(exc)) from None
    if not samples:
        raise UserError(
            "no dev cases to perturb" + (f" match --cases {request.cases!r}" if request.cases else "")
        )
    settings = settings or get_settings()
    embedder = embedder if embedder is not None else eval_embedder(settings)
    if request.use_cache:
        embedder = CachedEmbedder(embedder, vector_cache_path(settings))
    if announce is not None:
        announce(len(samples))
    try:
        solver = AgentSolver(embedder=embedder, settings=settings, workdir=request.workdir)
        report = run_suite(samples, solver, workdir=request.workdir, progress=progress)
    finally:
        if isinstance(embedder, CachedEmbedder):
            embedder.close()
    out = request.out or Path("evals") / "reports" / (
        "robustness-" + datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    )
    try:
        written = write_robustness(report, out)
    except OSError as exc:
        raise Failure(f"cannot write the report under {out}: {exc}") from None
    problems, recorded = _gate(report, request, samples)
    return RobustnessOutcome(report=report, written=written, gate_problems=problems, gate_recorded=recorded)
