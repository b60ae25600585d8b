"""The regression gate: the offline agent on the test split of evals/cases, against evals/gate.json.

Raising a figure in evals/gate.json is a commit (`postmortem eval --split test --record-gate "why"`); lowering one
needs a reason in the commit message. One run of the test split, real ingest, store, embedder and agent.
"""

from __future__ import annotations

import pytest

from agent.settings import get_settings
from evals.harness.dataset import CASES_DIR, load_samples
from evals.harness.gate import GATE_FILE, load_gate
from evals.harness.workflow import EvalRequest, run_eval_workflow


def test_offline_agent_holds_the_recorded_figures_on_the_test_split(tmp_home, tmp_path, embedder):
    gate = load_gate(GATE_FILE)
    if not load_samples(CASES_DIR, split=gate.split):
        pytest.skip(f"no {gate.split} cases in {CASES_DIR} yet")

    # the same workflow as `postmortem eval --split test --gate`; span vectors are reused across runs (user cache
    # dir): same results, a cold first run pays the embedding
    request = EvalRequest(split=gate.split, gate=True, out=tmp_path / "report", workdir=tmp_path)
    outcome = run_eval_workflow(request, settings=get_settings(), embedder=embedder)
    report, runs = outcome.report, outcome.runs
    agent = report.metrics["agent"]

    errors = [f"{r.case_id}: {r.error}" for r in runs if r.error]
    invalid = {c.id: c.agent.invalid_citations for c in report.cases if c.agent.invalid_citations}
    assert not errors, errors
    assert not invalid, f"citations that do not resolve: {invalid}"
    assert agent.citation_validity == 1.0
    assert outcome.gate_problems == [], "regression gate: " + "; ".join(outcome.gate_problems or [])
