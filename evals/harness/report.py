"""The eval log: a JSON report (read back by `compare`), a Markdown report and a per-layer chart."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from evals.harness.baselines import LayerPrediction, MajorityBaseline, incident_text, keyword_baseline
from evals.harness.chart import write_chart
from evals.harness.dataset import Gold, Sample, family_of
from evals.harness.markdown import render_markdown
from evals.harness.metrics import Metrics, compute_metrics
from evals.harness.runner import CaseRun, usage_figures
from evals.harness.scorers import CaseScore, score_draft, score_failed, score_layers

REPORT_VERSION = 1
SYSTEMS = ("agent", "offline", "majority", "keyword")  # "offline": beside a provider's run, same cases


class CaseRecord(BaseModel):
    id: str
    split: str
    difficulty: str | None = None
    tags: list[str] = Field(default_factory=list)
    dialect: str | None = None
    based_on: str | None = None
    gold: Gold
    agent: CaseScore
    majority: CaseScore
    keyword: CaseScore
    offline: CaseScore | None = None  # with a provider: the offline agent on the same case
    keyword_detail: LayerPrediction | None = None
    spans: int = 0
    ingest_s: float = 0.0
    draft_s: float = 0.0
    tokens: int | None = None
    cost_usd: float | None = None
    tool_calls: int | None = None
    status: str | None = None
    error: str | None = None
    ingest_errors: list[str] = Field(default_factory=list)
    judge: float | None = None
    judge_reason: str | None = None
    draft_file: str | None = None


class EvalReport(BaseModel):
    """One eval run: what ran, per-case scores for every system, and the aggregate metrics."""

    version: int = REPORT_VERSION
    created: datetime
    split: str
    cases_glob: str | None = None
    provider: str = "offline"
    git_commit: str | None = None
    wall_s: float = 0.0
    majority: MajorityBaseline
    metrics: dict[str, Metrics]
    cases: list[CaseRecord]
    notes: list[str] = Field(default_factory=list)


class ReportError(ValueError):
    """A report file that cannot be read back: the message names the file."""


def git_commit(cwd: Path | None = None) -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _agent_score(run: CaseRun, sample: Sample) -> CaseScore:
    """A run with an error (no draft, or a detector that raised) is scored as failed, whatever it drafted."""
    if run.draft is None or run.error is not None:
        return score_failed(sample.gold)
    return score_draft(run.draft, sample.gold, run.facts)


def build_report(
    samples: Sequence[Sample],
    runs: Sequence[CaseRun],
    *,
    majority: MajorityBaseline,
    split: str,
    provider: str = "offline",
    cases_glob: str | None = None,
    wall_s: float = 0.0,
    judge: dict[str, tuple[float, str]] | None = None,
    notes: Sequence[str] = (),
) -> EvalReport:
    """Score every case for the agent and both baselines and aggregate the metrics."""
    by_id = {run.case_id: run for run in runs}
    judge = judge or {}
    records: list[CaseRecord] = []
    for sample in samples:
        run = by_id.get(sample.id) or CaseRun(case_id=sample.id, error="not run")
        agent = _agent_score(run, sample)
        keyword = keyword_baseline(
            incident_text(sample.incident.title, sample.incident.description), default=majority.primary
        )
        verdict = judge.get(sample.id)
        if run.draft is not None and run.tokens is None:
            run.tokens_in, run.tokens_out, run.cost_usd = usage_figures(run.draft.usage)
        records.append(
            CaseRecord(
                id=sample.id,
                split=sample.split,
                difficulty=sample.difficulty,
                tags=sample.tags,
                dialect=sample.dialect,
                based_on=sample.based_on,
                gold=sample.gold,
                agent=agent,
                majority=score_layers(majority.predict(), sample.gold),
                keyword=score_layers(keyword, sample.gold),
                offline=score_draft(run.offline, sample.gold, run.facts) if run.offline is not None else None,
                keyword_detail=keyword,
                spans=run.spans,
                ingest_s=run.ingest_s,
                draft_s=run.draft_s,
                tokens=run.tokens,
                cost_usd=run.cost_usd,
                tool_calls=run.tool_calls,
                status=run.status,
                error=run.error,
                ingest_errors=run.ingest_errors[:20],
                judge=verdict[0] if verdict else None,
                judge_reason=verdict[1] if verdict else None,
            )
        )
    metrics = system_metrics(records)
    return EvalReport(
        created=datetime.now(UTC),
        split=split,
        cases_glob=cases_glob,
        provider=provider,
        git_commit=git_commit(),
        wall_s=round(wall_s, 3),
        majority=majority,
        metrics=metrics,
        cases=records,
        notes=list(notes),
    )


def system_metrics(records: Sequence[CaseRecord]) -> dict[str, Metrics]:
    """The metrics of every system: the agent, the offline agent beside a provider's run, the baselines."""
    ok = [r for r in records if r.error is None]
    return {
        "agent": compute_metrics(
            [r.agent for r in records],
            latencies=[r.draft_s for r in ok],
            tokens=[r.tokens for r in ok],
            costs=[r.cost_usd for r in ok],
            judge=[r.judge for r in records],
            errors=len(records) - len(ok),
            states_confidence=True,
            families=[family_of(r.tags) for r in records],
            tool_calls=[r.tool_calls for r in ok],
        ),
        **_offline_metrics(records),
        "majority": compute_metrics([r.majority for r in records]),
        "keyword": compute_metrics([r.keyword for r in records]),
    }


def _offline_metrics(records: Sequence[CaseRecord]) -> dict[str, Metrics]:
    """The offline agent's metrics on the same cases, when a provider run drafted them offline too."""
    drafted = [r for r in records if r.offline is not None]
    if not drafted:
        return {}
    scores = [r.offline for r in drafted if r.offline is not None]
    families = [family_of(r.tags) for r in drafted]
    return {"offline": compute_metrics(scores, states_confidence=True, families=families)}


def load_report(path: Path) -> EvalReport:
    """Read a report back: a report.json, or the folder holding one."""
    file = path / "report.json" if path.is_dir() else path
    try:
        return EvalReport.model_validate_json(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportError(f"{file}: no such report") from None
    except (ValidationError, json.JSONDecodeError, ValueError) as exc:
        first = exc.errors()[0] if isinstance(exc, ValidationError) else None
        where = (
            ".".join(str(p) for p in first["loc"]) + ": " + first["msg"]
            if first
            else str(exc).splitlines()[0]
        )
        raise ReportError(f"{file}: not an eval report ({where})") from None


def write_report(report: EvalReport, out: Path, runs: Sequence[CaseRun] = ()) -> dict[str, Path]:
    """Write report.json, report.md, the chart, and each draft under drafts/; returns what was written."""
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    drafts = out / "drafts"
    for run in runs:
        if run.draft is not None:
            drafts.mkdir(exist_ok=True)
            path = drafts / f"{run.case_id}.json"
            path.write_text(run.draft.model_dump_json(indent=2), encoding="utf-8")
            for record in report.cases:
                if record.id == run.case_id:
                    record.draft_file = f"drafts/{run.case_id}.json"
    written["chart"] = write_chart(report.metrics, out / "per_layer")
    written["json"] = out / "report.json"
    written["json"].write_text(report.model_dump_json(indent=2), encoding="utf-8")
    written["markdown"] = out / "report.md"
    written["markdown"].write_text(render_markdown(report, chart=written["chart"].name), encoding="utf-8")
    return written
