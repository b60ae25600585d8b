"""Who&When logs as multi-agent cases to score: each JSON file of a folder (the benchmark's two subsets,
Algorithm-Generated and Hand-Crafted, are reported apart by subfolder) becomes an incident about its run, its
spans (read as `postmortem ingest` reads them, `retrieval/ingest/whowhen.py`) and its labels (`mistake_agent`,
`mistake_step`).

The incident is what a person who saw the failure would file, the way the generated cases word it: the task the
agents were given and that the final answer was wrong, plus, with the ground truth (the benchmark's default
setting), a report naming the expected answer. The labels themselves are never given to the analysis.
"""

from __future__ import annotations

from pathlib import Path

from agent.models import Incident, Report
from evals.harness.multiagent import RunCase
from retrieval.ingest.whowhen import LogError, WhoWhenLog, log_spans, read_log, trace_id_of

SERVICE = "who-and-when"


def incident_of(log: WhoWhenLog, name: str, trace_id: str, *, ground_truth: bool = True) -> Incident:
    reports = []
    if ground_truth and log.ground_truth and log.ground_truth.strip():
        reports.append(
            Report(text=f"Expected answer: {log.ground_truth.strip()}. The run's final answer was different.")
        )
    task = f"Task given to the agents: {log.question.strip()} " if log.question.strip() else ""
    return Incident(
        title=f"Multi-agent run gave a wrong answer ({name})",
        description=f"{task}The final answer was wrong.",
        service=SERVICE,
        trace_ids=[trace_id],
        reports=reports,
    )


def load_case(path: Path, root: Path, *, ground_truth: bool = True) -> RunCase:
    """One log as a case; LogError naming the place on bad input or a log without its labels."""
    log = read_log(path)
    if not log.mistake_agent:
        raise LogError("mistake_agent", "missing (a scored log needs its labelled agent)")
    if log.mistake_step is None:
        raise LogError("mistake_step", "missing (a scored log needs its labelled step)")
    trace_id = trace_id_of(path)
    spans = log_spans(log, trace_id=trace_id, source=str(path), service=SERVICE)
    relative = path.relative_to(root) if path.is_relative_to(root) else Path(path.name)
    name = str(relative.with_suffix(""))
    return RunCase(
        id=name,
        incident=incident_of(log, log.question_id or name, trace_id, ground_truth=ground_truth),
        spans=spans,
        mistake_agent=log.mistake_agent.strip(),
        mistake_step=log.mistake_step,
        decisive_span=spans[1 + log.mistake_step].span_id,  # spans[0] is the run's root
        group=str(relative.parent) if relative.parent != Path(".") else "",
    )


def load_cases(folder: Path, *, ground_truth: bool = True) -> tuple[list[RunCase], list[str]]:
    """The cases of every .json file under the folder (sorted), and one line per file that could not be read."""
    cases: list[RunCase] = []
    errors: list[str] = []
    for path in sorted(p for p in folder.rglob("*.json") if p.is_file()):
        try:
            cases.append(load_case(path, folder, ground_truth=ground_truth))
        except LogError as exc:
            errors.append(f"{path}:{exc.where}: {exc.message}" if exc.where else f"{path}: {exc.message}")
        except OSError as exc:
            errors.append(f"{path}: cannot read ({exc.strerror or exc})")
    return cases, errors
