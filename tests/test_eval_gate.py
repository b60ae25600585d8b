"""The regression gate: the offline agent on the test split of evals/cases, against evals/gate.json.

Raising a figure in evals/gate.json is a commit (`postmortem eval --split test --record-gate "why"`); lowering one
needs a reason in the commit message. One run of the test split, real ingest, store, embedder and agent.
"""

from __future__ import annotations

import pytest

from agent.settings import get_settings
from evals.harness.baselines import MajorityBaseline
from evals.harness.dataset import CASES_DIR, load_samples
from evals.harness.embedcache import CachedEmbedder
from evals.harness.gate import GATE_FILE, check_gate, load_gate
from evals.harness.report import build_report
from evals.harness.runner import AgentSolver, run_eval


def test_offline_agent_holds_the_recorded_figures_on_the_test_split(tmp_home, tmp_path, embedder):
    gate = load_gate(GATE_FILE)
    samples = load_samples(CASES_DIR, split=gate.split)
    if not samples:
        pytest.skip(f"no {gate.split} cases in {CASES_DIR} yet")
    dev = load_samples(CASES_DIR, split="dev") or samples
    majority = MajorityBaseline.fit([s.gold.primary for s in dev], [s.gold.contributing for s in dev])

    # span vectors are reused across runs (user cache dir): same results, a cold first run pays the embedding
    cached = CachedEmbedder(embedder, get_settings().cache_dir / "eval" / "vectors.sqlite3")
    solver = AgentSolver(embedder=cached, settings=get_settings(), provider=None, workdir=tmp_path)
    try:
        runs = run_eval(samples, solver)
    finally:
        cached.close()
    report = build_report(samples, runs, majority=majority, split=gate.split)
    agent = report.metrics["agent"]

    errors = [f"{r.case_id}: {r.error}" for r in runs if r.error]
    invalid = {c.id: c.agent.invalid_citations for c in report.cases if c.agent.invalid_citations}
    assert not errors, errors
    assert not invalid, f"citations that do not resolve: {invalid}"
    assert agent.citation_validity == 1.0
    problems = check_gate(agent, gate)
    assert not problems, "regression gate: " + "; ".join(problems)
