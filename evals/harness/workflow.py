"""The eval as one function a front end calls: load the cases, fit the majority baseline, run the agent on each
case, judge (with a provider), build and write the report, and hold or record the regression gate.

`postmortem eval` (agent/cli/evals.py) is a thin adapter over `run_eval_workflow`; the gate test calls it too.
Errors are the core's: `UserError` for a bad request (unknown split glob, bad provider, bad gate use), `Failure`
when the report cannot be written.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agent.errors import Failure, UserError
from agent.settings import Settings, get_settings
from evals.harness.baselines import MajorityBaseline
from evals.harness.dataset import CaseError, Sample, load_split
from evals.harness.embedcache import CachedEmbedder
from evals.harness.gate import (
    Gate,
    GateError,
    LoweringRefused,
    check_gate,
    gate_from_metrics,
    load_gate,
    record,
    write_gate,
)
from evals.harness.report import EvalReport, build_report, git_commit, write_report
from evals.harness.runner import AgentSolver, CaseRun, ProgressFn, run_eval

Split = Literal["dev", "test", "all"]


class EvalRequest(BaseModel):
    """What to evaluate and where to write it (the options of `postmortem eval`)."""

    split: Split = "dev"  # dev: evals/cases; test: the sealed split, evals/sealed; all: both
    provider: str | None = None  # None or "offline": the offline agent
    investigate: bool = True  # with a provider: the investigation loop (False: the one-call classification)
    cases: str | None = None  # glob on the case id
    cases_dir: Path | None = None  # a folder of one's own, filtered by each case's split
    out: Path | None = None  # default evals/reports/<timestamp>/
    use_cache: bool = True  # reuse cached span vectors
    gate: bool = False  # hold the agent to the figures in evals/gate.json
    record_gate: str | None = None  # the reason, when this run's figures become the gate
    lower: bool = False  # allow the recording to lower floors (needs lower_reason)
    lower_reason: str | None = None  # why floors go down; kept in evals/gate.json
    workdir: Path | None = None  # where the per-case stores go (default: the system tmp)

    @property
    def provider_name(self) -> str | None:
        return None if self.provider in (None, "offline") else self.provider


class EvalOutcome(BaseModel):
    """The report, the files written, and what the gate said (None: no gate asked)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    report: EvalReport
    runs: list[CaseRun]
    written: dict[str, Path]
    gate_problems: list[str] | None = None
    gate_recorded: Path | None = None
    notes: list[str] = Field(default_factory=list)


class NothingToScore(Exception):
    """The sealed test split has no cases yet: nothing to score (not an error)."""


def eval_embedder(settings: Settings) -> Any:
    """The embedder the eval uses (a seam: tests hand in the session's embedder)."""
    from agent.store_factory import make_embedder

    return make_embedder(settings)


def vector_cache_path(settings: Settings) -> Path:
    """Where eval runs keep the vectors of span texts they embedded (a cache: deleting it only costs time)."""
    return settings.cache_dir / "eval" / "vectors.sqlite3"


def check_request(request: EvalRequest) -> Gate | None:
    """Refuse a request that cannot mean anything; the recorded dev gate when `request.gate`."""
    if (request.lower or request.lower_reason) and request.record_gate is None:
        raise UserError("--lower and --reason go with --record-gate")
    if (request.record_gate is not None or request.gate) and (
        request.provider_name or request.split != "dev" or request.cases or request.cases_dir
    ):
        raise UserError(
            "--gate and --record-gate hold the offline agent on the whole dev split (--split dev); the sealed "
            "test split is reported, never gated on"
        )
    if request.provider_name:
        from agent.providers.registry import PROVIDER_NAMES

        if request.provider_name not in PROVIDER_NAMES:
            raise UserError(
                f"--provider {request.provider_name!r}: choose one of {', '.join(PROVIDER_NAMES)}"
            )
    if not request.gate:
        return None
    try:
        return load_gate().dev
    except GateError as exc:
        raise UserError(str(exc)) from None


def load_cases(request: EvalRequest, notes: list[str]) -> tuple[list[Sample], MajorityBaseline]:
    """The cases to evaluate and the majority baseline fitted on the dev split. The sealed test split may be
    empty (nothing to score yet): that is an empty list, not an error."""
    try:
        samples = load_split(request.split, cases_dir=request.cases_dir, pattern=request.cases)
        dev = load_split("dev", cases_dir=request.cases_dir)
    except CaseError as exc:
        raise UserError(str(exc)) from None
    sealed_empty = request.split == "test" and not request.cases_dir and not request.cases
    if not samples and not sealed_empty:
        where = request.cases_dir or ("evals/sealed" if request.split == "test" else "evals/cases")
        raise UserError(
            f"{where}: no cases match split {request.split!r}"
            + (f" and --cases {request.cases!r}" if request.cases else "")
        )
    if not dev:
        dev = samples
        notes.append("no dev cases: the majority baseline was fitted on the evaluated cases themselves")
    majority = MajorityBaseline.fit([s.gold.primary for s in dev], [s.gold.contributing for s in dev])
    return samples, majority


def solve_cases(
    request: EvalRequest,
    samples: list[Sample],
    settings: Settings,
    embedder: Any,
    notes: list[str],
    progress: ProgressFn | None = None,
) -> list[CaseRun]:
    """Ingest and draft every case with the real agent (span vectors cached unless told otherwise)."""
    with contextlib.ExitStack() as stack:
        if request.use_cache:
            path = vector_cache_path(settings)
        else:  # nothing reused from earlier runs; the run's cases still share what it embeds
            path = (
                Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="eval-vectors-"))) / "v.sqlite3"
            )
        cached = CachedEmbedder(embedder, path)
        stack.callback(cached.close)
        # with a provider: the loop (or not) as asked; the offline agent drafts each case too, beside it
        if request.provider_name:
            settings = settings.model_copy(update={"investigate": request.investigate})
        solver = AgentSolver(
            embedder=cached,
            settings=settings,
            provider=request.provider_name,
            workdir=request.workdir,
            compare_offline=True,
        )
        runs = run_eval(samples, solver, progress=progress)  # primes the vector cache a few cases ahead
        where = "from the eval cache" if request.use_cache else "within this run"
        notes.append(f"span vectors: {cached.hits} reused {where}, {cached.misses} embedded")
        return runs


def judge_runs(
    provider_name: str, settings: Settings, samples: list[Sample], runs: list[CaseRun], notes: list[str]
) -> dict[str, tuple[float, str]]:
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


def run_eval_workflow(
    request: EvalRequest,
    *,
    settings: Settings | None = None,
    embedder: Any = None,
    progress: ProgressFn | None = None,
    announce: Callable[[int], None] | None = None,
) -> EvalOutcome:
    """Run the eval end to end; `announce(n)` is called with the number of cases before the first one runs."""
    recorded = check_request(request)
    notes: list[str] = []
    samples, majority = load_cases(request, notes)
    if not samples:
        raise NothingToScore("evals/sealed: no sealed test cases yet; nothing to score")
    settings = settings or get_settings()
    started = time.perf_counter()
    embedder = embedder if embedder is not None else eval_embedder(settings)
    if announce is not None:
        announce(len(samples))
    runs = solve_cases(request, samples, settings, embedder, notes, progress)
    name = request.provider_name
    verdicts = judge_runs(name, settings, samples, runs, notes) if name else {}
    report = build_report(
        samples,
        runs,
        majority=majority,
        split=request.split,
        provider=name or "offline",
        cases_glob=request.cases,
        wall_s=time.perf_counter() - started,
        judge=verdicts,
        notes=notes,
    )
    out = request.out or Path("evals") / "reports" / datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    try:
        written = write_report(report, out, runs)
    except OSError as exc:
        raise Failure(f"cannot write the report under {out}: {exc}") from None
    outcome = EvalOutcome(report=report, runs=runs, written=written, notes=notes)
    if request.record_gate is not None:
        outcome.gate_recorded = record_dev_gate(report, request)
    if recorded is not None:
        outcome.gate_problems = check_gate(report.metrics["agent"], recorded)
    return outcome


def record_dev_gate(report: EvalReport, request: EvalRequest) -> Path:
    """Write this run's dev figures to evals/gate.json; lowering a floor needs `lower` with a reason."""
    figures = gate_from_metrics(
        report.metrics["agent"], split="dev", commit=git_commit(), reason=request.record_gate or ""
    )
    try:
        current = load_gate()
        return write_gate(record(current, dev=figures, lower=request.lower, reason=request.lower_reason))
    except (GateError, LoweringRefused) as exc:
        raise UserError(str(exc)) from None
