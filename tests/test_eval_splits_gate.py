"""The sealed test split's loader, the gate's lowering rule, calibration and layer-share figures, and a detector
that raises failing its case. Sealed cases here are fixtures made for the test (tests/fixtures/evalcases)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from evals.harness.calibration import CONFIDENCE_PROB, brier, calibrate, distribution
from evals.harness.dataset import CaseError, load_split
from evals.harness.gate import (
    Gate,
    GateFile,
    LoweringRefused,
    RobustnessGate,
    check_robustness,
    load_gate,
    record,
    write_gate,
)

FIXTURES = Path(__file__).parent / "fixtures" / "evalcases"


# -- splits --------------------------------------------------------------------------------------------------------
@pytest.fixture
def layout(tmp_path):
    dev, sealed = tmp_path / "cases", tmp_path / "sealed"
    dev.mkdir()
    shutil.copytree(FIXTURES / "fx-stale-refund-policy", dev / "fx-stale-refund-policy")
    return dev, sealed


def test_sealed_split_missing_or_empty_is_no_cases(layout):
    dev, sealed = layout
    assert load_split("test", cases_dir=dev, sealed_dir=sealed) == []  # missing folder
    sealed.mkdir()
    assert load_split("test", cases_dir=dev, sealed_dir=sealed) == []  # empty folder
    assert [s.id for s in load_split("all", cases_dir=dev, sealed_dir=sealed)] == ["fx-stale-refund-policy"]


def test_sealed_split_loads_from_its_own_folder_and_checks_the_split_field(layout):
    dev, sealed = layout
    shutil.copytree(FIXTURES / "fx-prompt-drop-instruction", sealed / "fx-prompt-drop-instruction")
    assert [s.id for s in load_split("test", cases_dir=dev, sealed_dir=sealed)] == [
        "fx-prompt-drop-instruction"
    ]
    assert [s.id for s in load_split("dev", cases_dir=dev, sealed_dir=sealed)] == ["fx-stale-refund-policy"]
    assert len(load_split("all", cases_dir=dev, sealed_dir=sealed)) == 2
    # a dev case dropped into the sealed folder is named, not scored as test
    shutil.copytree(FIXTURES / "fx-stale-refund-policy", sealed / "fx-stale-refund-policy")
    with pytest.raises(CaseError, match=r"fx-stale-refund-policy/case.yaml: split: dev, but the cases under"):
        load_split("test", cases_dir=dev, sealed_dir=sealed)


def test_a_folder_of_ones_own_is_filtered_by_the_split_field():
    assert [s.id for s in load_split("test", cases_dir=FIXTURES)] == ["fx-prompt-drop-instruction"]


# -- gate ----------------------------------------------------------------------------------------------------------
def _dev(acc: float, onset: float = 1.0) -> Gate:
    return Gate(
        min={"primary_accuracy": acc, "citation_validity": 1.0}, max={"onset_median_abs_min": onset}, cases=48
    )


def test_recording_higher_floors_needs_no_reason():
    current = GateFile(dev=_dev(0.70))
    new = record(current, dev=_dev(0.72))
    assert new.dev.min["primary_accuracy"] == 0.72 and new.lowered == []


def test_recording_lower_floors_is_refused_unless_asked_with_a_reason(tmp_path):
    current = GateFile(dev=_dev(0.70), robustness=RobustnessGate(cases=["a"], min={"stays": 0.5}))
    with pytest.raises(LoweringRefused, match=r"dev primary_accuracy 0.7 -> 0.6"):
        record(current, dev=_dev(0.60))
    with pytest.raises(LoweringRefused, match=r"onset_median_abs_min \(ceiling\) 1.0 -> 3.0"):
        record(current, dev=_dev(0.70, onset=3.0))
    with pytest.raises(LoweringRefused, match=r"robustness stays 0.5 -> 0.4"):
        record(current, robustness=RobustnessGate(cases=["a"], min={"stays": 0.4}))
    with pytest.raises(LoweringRefused, match="needs --reason"):
        record(current, dev=_dev(0.60), lower=True, reason=" ")
    lowered = record(
        current, dev=_dev(0.60), lower=True, reason="cue removed: it only matched former test cases"
    )
    assert lowered.dev.min["primary_accuracy"] == 0.60
    (entry,) = lowered.lowered
    assert entry.section == "dev" and entry.changes == {"primary_accuracy": [0.70, 0.60]}
    assert entry.reason.startswith("cue removed")
    path = write_gate(lowered, tmp_path / "gate.json")
    assert load_gate(path) == lowered and json.loads(path.read_text())["lowered"][0]["reason"]


def test_the_repository_gate_holds_dev_and_robustness_floors():
    gate = load_gate()
    assert gate.dev.split == "dev" and gate.dev.min and gate.dev.cases
    assert gate.robustness is not None and gate.robustness.cases and "stays" in gate.robustness.min


def test_robustness_floors():
    gate = RobustnessGate(cases=["a"], min={"stays": 0.5, "stays:time_shift": 1.0})
    assert check_robustness({"stays": 0.5, "stays:time_shift": 1.0}, gate) == []
    assert check_robustness({"stays": 0.49, "stays:time_shift": None}, gate) == [
        "robustness stays = 0.49 is below the recorded 0.5",
        "robustness stays:time_shift = None is below the recorded 1.0",
    ]


# -- calibration ---------------------------------------------------------------------------------------------------
def test_brier_and_reliability_by_hand():
    p = CONFIDENCE_PROB["likely"][0]
    right = brier(distribution("data", "likely"), "data")
    assert right == pytest.approx((1 - p) ** 2 + 3 * ((1 - p) / 3) ** 2)
    assert brier(distribution(None, None), "data") == pytest.approx(0.75)  # no layer named: uniform
    gold = ["data", "data", "model", "prompt"]
    cal = calibrate(gold, ["data", "model", "model", None], ["likely", "confirmed", "likely", None])
    assert cal.gold_share == {"data": 0.5, "model": 0.25, "prompt": 0.25, "system": 0.0}
    assert cal.verdict_share["model"] == 0.5 and cal.verdict_share["none"] == 0.25
    assert cal.over_named == ["model"]  # 0.5 > 1.3 x 0.25; data (0.25 vs 0.5) is under-named, not flagged
    rows = {r.confidence: (r.cases, r.correct) for r in cal.reliability}
    assert rows == {"confirmed": (1, 0), "likely": (2, 2), "none": (1, 0)}
    assert cal.brier_prior == pytest.approx((0.375 * 2 + 0.875 + 0.875) / 4, abs=1e-4)
    # two right at "likely" (0.12 each), one wrong at "confirmed" (1.7467), one unnamed (0.75): the confident miss
    # costs more than the constant prior saves
    assert (
        cal.brier == pytest.approx((0.12 * 2 + 1.7467 + 0.75) / 4, abs=1e-4) and cal.brier > cal.brier_prior
    )


def test_baselines_get_shares_but_no_brier():
    cal = calibrate(["data", "model"], ["data", "data"], None)
    assert cal.brier is None and cal.reliability == [] and cal.over_named == ["data"]


# -- a detector that raises fails its case ---------------------------------------------------------------------------
def test_a_detector_that_raises_fails_the_case(tmp_home, tmp_path, embedder, monkeypatch):
    import dataclasses

    from agent.detectors import registry
    from agent.settings import get_settings
    from evals.harness.baselines import MajorityBaseline
    from evals.harness.report import build_report
    from evals.harness.runner import AgentSolver, run_eval

    (sample,) = load_split("dev", cases_dir=FIXTURES)
    solver = AgentSolver(embedder=embedder, settings=get_settings(), workdir=tmp_path)
    (fine,) = run_eval([sample], solver)
    assert fine.error is None and fine.draft is not None

    name = registry.detector_names()[0]

    def boom(ctx):
        raise RuntimeError("odd data")

    monkeypatch.setitem(registry._BY_NAME, name, dataclasses.replace(registry._BY_NAME[name], func=boom))
    (broken,) = run_eval([sample], solver)
    assert broken.error == f"detector raised: {name}: RuntimeError: odd data"
    report = build_report([sample], [broken], majority=MajorityBaseline.fit(["data"], [[]]), split="dev")
    assert report.metrics["agent"].errors == 1 and report.metrics["agent"].primary_accuracy == 0.0


# -- the command ------------------------------------------------------------------------------------------------------
def test_cli_sealed_split_robustness_and_gate_rules(tmp_home, tmp_path, monkeypatch, embedder):
    from typer.testing import CliRunner

    from agent.cli.common import UserError
    from agent.cli.main import app
    from agent.settings import get_settings

    monkeypatch.setattr("evals.harness.workflow.eval_embedder", lambda settings: embedder)
    monkeypatch.setenv("POSTMORTEM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr("evals.harness.dataset.SEALED_DIR", tmp_path / "no-sealed-yet")
    get_settings.cache_clear()
    cli = CliRunner()

    result = cli.invoke(app, ["eval", "--split", "test"])
    assert result.exit_code == 0 and "no sealed test cases yet" in result.output

    result = cli.invoke(app, ["eval", "--split", "test", "--gate"])
    assert isinstance(result.exception, UserError) and "never gated on" in str(result.exception)
    result = cli.invoke(app, ["eval", "--lower", "--reason", "x"])
    assert isinstance(result.exception, UserError) and "go with --record-gate" in str(result.exception)
    result = cli.invoke(app, ["eval", "--robustness", "--cases-dir", str(FIXTURES), "--gate"])
    assert isinstance(result.exception, UserError) and "--ci-subset" in str(result.exception)

    out = tmp_path / "robust"
    args = ["eval", "--robustness", "--cases-dir", str(FIXTURES), "--out", str(out)]
    result = cli.invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "overall: primary layer stays" in result.stdout and "generated (1)" in result.stdout
    report = json.loads((out / "robustness.json").read_text())
    assert report["cases"] == 1 and len(report["outcomes"]) == 8
    assert report["base"]["fx-stale-refund-policy"]["error"] is None
    assert all(o["verdict"]["error"] is None for o in report["outcomes"]), report["outcomes"]
    assert (out / "robustness.md").read_text().startswith("# Robustness report")
