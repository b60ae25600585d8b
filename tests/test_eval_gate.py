"""The regression gate (evals/gate.json): the offline agent on the whole dev split and the robustness suite on its
fixed CI subset, against the recorded floors. The sealed test split is scored here and its figures printed; it is
never gated on (only a crash or a citation that does not resolve fails, as on any input).

Raising a floor is a commit (`postmortem eval --split dev --record-gate "why"`, `postmortem eval --robustness
--ci-subset --record-gate "why"`); lowering one is refused unless `--lower --reason TEXT`, kept in the file.
One run of each, real ingest, store, embedder and agent, through the same workflows as `postmortem eval`.
"""

from __future__ import annotations

from agent.settings import get_settings
from evals.harness.dataset import load_split
from evals.harness.workflow import EvalRequest, run_eval_workflow
from evals.robustness.run import RobustnessRequest, run_robustness_workflow
from evals.robustness.tables import render_robustness


def test_offline_agent_holds_the_recorded_figures_on_dev(tmp_home, tmp_path, embedder):
    # span vectors are reused across runs (user cache dir): same results, a cold first run pays the embedding
    request = EvalRequest(split="dev", gate=True, out=tmp_path / "report", workdir=tmp_path)
    outcome = run_eval_workflow(request, settings=get_settings(), embedder=embedder)
    report, runs = outcome.report, outcome.runs
    errors = [f"{r.case_id}: {r.error}" for r in runs if r.error]
    invalid = {c.id: c.agent.invalid_citations for c in report.cases if c.agent.invalid_citations}
    assert not errors, errors
    assert not invalid, f"citations that do not resolve: {invalid}"
    assert report.metrics["agent"].citation_validity == 1.0
    assert outcome.gate_problems == [], "regression gate (dev): " + "; ".join(outcome.gate_problems or [])


def test_robustness_holds_the_recorded_floors(tmp_home, tmp_path, embedder, capsys):
    request = RobustnessRequest(ci_subset=True, gate=True, out=tmp_path / "robust", workdir=tmp_path)
    outcome = run_robustness_workflow(request, settings=get_settings(), embedder=embedder)
    with capsys.disabled():
        print("\n" + render_robustness(outcome.report))
    report = outcome.report
    errors = [f"{o.case_id}/{o.perturbation}: {o.verdict.error}" for o in report.outcomes if o.verdict.error]
    assert report.cases == 8 and not errors, errors
    assert outcome.gate_problems == [], "regression gate (robustness): " + "; ".join(
        outcome.gate_problems or []
    )


def test_sealed_test_split_is_scored_and_reported_never_gated(tmp_home, tmp_path, embedder, capsys):
    if not load_split("test"):
        with capsys.disabled():
            print("\nsealed test split: no cases in evals/sealed/ (nothing to score)")
        return
    request = EvalRequest(split="test", out=tmp_path / "report", workdir=tmp_path)
    outcome = run_eval_workflow(request, settings=get_settings(), embedder=embedder)
    agent = outcome.report.metrics["agent"]
    with capsys.disabled():
        print(
            f"\nsealed test split ({agent.n} cases, reported, not gated): primary accuracy "
            f"{agent.primary_accuracy:.3f}, decisive exact {agent.decisive_exact}, in trace "
            f"{agent.decisive_in_trace}, key-evidence recall {agent.key_evidence_recall}, Brier {agent.brier} "
            f"(constant prior {agent.brier_prior}), over-named layers {agent.calibration.over_named}"
        )
    assert outcome.gate_problems is None  # never gated on
    # not a figure: a crash or an unresolvable citation is a defect on any input
    assert not [r.case_id for r in outcome.runs if r.error]
    assert agent.citation_validity in (None, 1.0)
