"""`python -m evals.harness.multiagent --who-when DIR`: a folder of Who&When logs scored like the generated runs
(agent and step accuracy beside a random turn and the last turn), each subset apart, bad logs named one line each.

The fixtures are the hand-written logs of tests/fixtures/whowhen/ (see test_ingest_whowhen.py): their mistakes are
unambiguous by construction, so the analysis is expected to name both.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from evals.harness.multiagent import main
from evals.harness.whowhen import incident_of, load_cases
from retrieval.ingest.whowhen import read_log
from tests.conftest import FIXTURES

WHOWHEN = FIXTURES / "whowhen"


def test_quick_scores_both_subsets_against_the_labels(tmp_path: Path, capsys) -> None:
    out = tmp_path / "scores.json"
    assert main(["--who-when", str(WHOWHEN), "--quick", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("multi-agent runs: 2 cases")
    assert "| postmortem | 1.000 | 1.000 |" in printed
    assert "Algorithm-Generated: 1 cases" in printed and "Hand-Crafted: 1 cases" in printed
    summary = json.loads(out.read_text())
    scores = {s["case_id"]: s for s in summary["scores"]}
    assert set(scores) == {"Algorithm-Generated/rainfall_days", "Hand-Crafted/tower_deck"}
    rain, tower = scores["Algorithm-Generated/rainfall_days"], scores["Hand-Crafted/tower_deck"]
    assert (rain["gold_agent"], rain["gold_step"], rain["step"]) == ("DataAnalysis_Expert", 3, 3)
    assert (tower["gold_agent"], tower["gold_step"], tower["step"]) == ("Orchestrator", 4, 4)
    assert rain["turns"] == tower["turns"] == 6 and rain["random_step"] == pytest.approx(1 / 6)
    assert tower["random_agent"] == pytest.approx(4 / 6)  # the Orchestrator has 4 of the 6 turns
    assert not rain["last_step_ok"] and tower["last_agent_ok"]  # the baselines are measured, not assumed
    assert summary["step_vs_random"] == pytest.approx(6.0)


def test_bad_logs_are_named_and_the_rest_scored(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "logs"
    shutil.copytree(WHOWHEN, folder)
    unlabelled = json.loads((WHOWHEN / "Hand-Crafted" / "tower_deck.json").read_text())
    del unlabelled["mistake_agent"]
    (folder / "unlabelled.json").write_text(json.dumps(unlabelled))
    (folder / "cut.json").write_text('{"history": [')
    assert main(["--who-when", str(folder), "--quick"]) == 2
    captured = capsys.readouterr()
    errors = captured.err.splitlines()
    assert f"error: {folder / 'unlabelled.json'}:mistake_agent: missing" in errors[1]
    assert errors[0].startswith(f"error: {folder / 'cut.json'}: invalid JSON")
    assert captured.out.startswith("multi-agent runs: 2 cases")


def test_an_empty_or_missing_folder_is_an_error(tmp_path: Path, capsys) -> None:
    assert main(["--who-when", str(tmp_path), "--quick"]) == 2
    assert f"{tmp_path}: no cases" in capsys.readouterr().err
    assert main(["--who-when", str(tmp_path / "nope"), "--quick"]) == 2
    assert f"{tmp_path / 'nope'}: no such folder" in capsys.readouterr().err


def test_the_incident_names_the_task_and_the_expected_answer_only_when_asked() -> None:
    log = read_log(WHOWHEN / "Hand-Crafted" / "tower_deck.json")
    with_truth = incident_of(log, "tower", "t" * 32)
    assert log.question in with_truth.description and with_truth.trace_ids == ["t" * 32]
    assert [r.text for r in with_truth.reports] == [
        "Expected answer: 342. The run's final answer was different."
    ]
    assert incident_of(log, "tower", "t" * 32, ground_truth=False).reports == []
    for case in load_cases(WHOWHEN)[0]:
        labels = {case.mistake_agent, str(case.mistake_step)}
        seen = case.incident.model_dump_json()
        assert "mistake" not in seen and not labels & set(seen.split())  # the labels are never given


def test_the_offline_draft_names_them_too(tmp_path: Path, capsys) -> None:
    """What a user gets: each log ingested into a fresh store and drafted offline."""
    from tests.test_cli_ingest import settings_env

    with settings_env(tmp_path / "home"):
        assert main(["--who-when", str(WHOWHEN)]) == 0
    assert "| postmortem | 1.000 | 1.000 |" in capsys.readouterr().out
