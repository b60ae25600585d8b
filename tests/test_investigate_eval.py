"""`postmortem eval --provider ...` runs the investigation loop over the cases (a scripted model through the real
openai SDK against the fake wire server) and reports the same metrics plus tool calls, tokens and cost per case,
beside the offline agent's figures on the same cases, in the same report."""

from __future__ import annotations

import json

from agent.settings import Settings
from evals.harness.workflow import EvalRequest, run_eval_workflow
from tests.agentkit import CACHE
from tests.wire.investigator import Script, Seen, layers
from tests.wire.server import FakeLLMServer

CASES = "a[ci]*"  # two small dev cases: account-assistant-shows-other-customers-balances, air-canada-bereavement-fare


def cite_what_was_read(seen: Seen) -> dict:
    read = [i for i in seen.ids() if i.startswith("span:")]
    return {"answer": layers("data", read[:2] or ["report:1"], "likely")}


def test_eval_with_a_provider_reports_the_loop_beside_offline(tmp_path, embedder):
    script = Script(
        steps=[lambda seen: {"tool": "list_changes"},
               lambda seen: {"tool": "search_spans", "arguments": {"bad_only": True, "limit": 5}},
               cite_what_was_read],
    )  # fmt: skip
    with FakeLLMServer(responder=script) as server:
        settings = Settings(
            home=tmp_path / "home", cache_dir=CACHE, base_url=server.url + "/v1", model="test-model",
            max_retries=0, request_timeout=10,
        )  # fmt: skip
        request = EvalRequest(split="dev", provider="openai-compatible", cases=CASES, out=tmp_path / "report",
                              use_cache=False)  # fmt: skip
        outcome = run_eval_workflow(request, settings=settings, embedder=embedder)
    report = outcome.report
    assert report.provider == "openai-compatible" and list(report.metrics)[:2] == ["agent", "offline"]
    assert [c.id for c in report.cases] == ["account-assistant-shows-other-customers-balances",
                                            "air-canada-bereavement-fare"]  # fmt: skip
    for case in report.cases:
        assert case.tool_calls == 2 and case.tokens and case.tokens > 0
        assert case.cost_usd is None  # a local server is never priced
        assert case.offline is not None and case.offline.primary_gold == case.agent.primary_gold
        draft = json.loads((tmp_path / "report" / "drafts" / f"{case.id}.json").read_text())
        assert [c["tool"] for c in draft["investigation"]["calls"]] == ["list_changes", "search_spans"]
    agent = report.metrics["agent"]
    assert agent.tool_calls_mean == 2.0
    assert agent.tokens_mean == sum(c.tokens for c in report.cases) / 2
    assert report.metrics["offline"].tool_calls_mean is None
    markdown = outcome.written["markdown"].read_text()
    assert "| metric | agent | offline | majority | keyword |" in markdown
    assert "tool calls per draft" in markdown and "| offline | tool calls | tokens | cost (USD) |" in markdown
