"""The investigation's tools over a real store (no model): what each returns, how it refuses a bad call, and the
loop's guards (request fitting, repeated calls, ids whose text gives orders, where the verdict disagrees)."""

from __future__ import annotations

import json

import pytest

from agent.evidence import EvidenceCatalog
from agent.investigate import drop_tainted, first_message
from agent.investigate.graph import ELIDED, fit
from agent.investigate.log import disagreements
from agent.investigate.state import Budget, InvestigationContext
from agent.investigate.tools import run_tool, signature, tool_specs
from agent.llm.schemas import ClassificationAnswer
from agent.models import Classification, Finding, LayerAssessment
from agent.providers.base import ChatMessage
from agent.providers.tokens import estimate_tokens
from retrieval.store import TraceStore
from tests.spanfactory import BAGGAGE, POLICY, QA, SpanFactory, at, doc, incident
from tests.test_runs import RunBuilder

STALE = doc("Refunds within 90 days.", "kb/refund-policy-2019.md", "2019-01-05")


@pytest.fixture(scope="module")
def world(tmp_path_factory, embedder):
    f = SpanFactory()
    spans = [s for i in range(3) for s in f.trace(at(-120 + i * 30), *QA[i], docs=[POLICY, BAGGAGE])]
    spans += [
        s
        for i in range(3)
        for s in f.trace(at(10 + i * 30), *QA[i], docs=[STALE], served="gpt-4o-2024-11-20")
    ]
    run = RunBuilder()
    run.say("planner", "Find the refund window for the customer.")
    run.tool("researcher", "lookup", '{"q": "refund"}', "The refund window is 90 days.")
    run.say("writer", "FINAL ANSWER: The refund window is 90 days, so your refund is approved.")
    multi = [s.model_copy(update={"service": "support-bot", "start_time": at(100) + (s.start_time - run.spans[0].start_time)})
             for s in run.spans]  # fmt: skip
    store = TraceStore(path=tmp_path_factory.mktemp("tools") / "chroma", embedder=embedder)
    store.add_spans([*spans, *multi])
    window = [s for s in [*spans, *multi] if s.start_time >= at(0)]
    baseline = [s for s in spans if s.start_time < at(0)]
    inc = incident(hours=3, reports=["It said the refund window is 90 days."])
    finding = Finding(detector="staleness", title="A stale policy was retrieved", layer_hint="data", strength=0.7,
                      evidence=[f"span:{window[0].span_id}"])  # fmt: skip
    offline = Classification(primary="model", layers=[
        LayerAssessment(layer=layer, role="primary" if layer == "model" else "unknown", confidence="inconclusive",
                        rationale="") for layer in ("model", "prompt", "data", "system")])  # fmt: skip
    ctx = InvestigationContext(
        provider=None, store=store, incident=inc, spans=window, baseline=baseline,
        catalog=EvidenceCatalog([*window, *baseline], inc, span_lookup=store.get_span), findings=[finding],
        flagged=[], offline=offline, service="support-bot",
    )  # fmt: skip
    yield ctx, multi
    store.close()


def rows(text: str) -> list[dict]:
    body = text.split(">>>\n", 1)[1].rsplit("\n<<<END DATA", 1)[0]
    return [json.loads(line) for line in body.splitlines()]


def test_list_changes_and_compare_attribute_see_the_model_snapshot(world):
    ctx, _ = world
    changes = rows(run_tool(ctx, "list_changes", "{}").text)
    snapshot = next(r for r in changes if r.get("what") == "response_model")
    assert (snapshot["old"], snapshot["new"]) == ("gpt-4o-2024-08-06", "gpt-4o-2024-11-20")
    compared = rows(run_tool(ctx, "compare_attribute", {"attribute": "response_model"}).text)
    counts = {r["value"]: (r["before_window"], r["window"]) for r in compared[1:]}
    assert counts == {"gpt-4o-2024-08-06": (3, 0), "gpt-4o-2024-11-20": (0, 3)}


def test_documents_come_with_their_dates_and_traces_as_turns(world):
    ctx, multi = world
    retrieval = next(s for s in ctx.spans if s.documents)
    outcome = run_tool(ctx, "get_document", {"id": f"doc:{retrieval.span_id}:0"})
    (row,) = rows(outcome.text)
    assert row["dates"] == {"updated_at": "2019-01-05"} and row["source"] == "kb/refund-policy-2019.md"
    assert outcome.ids == [f"doc:{retrieval.span_id}:0", f"span:{retrieval.span_id}"]
    turns = rows(run_tool(ctx, "get_trace", {"trace_id": multi[0].trace_id}).text)
    assert [t.get("agent") for t in turns[1:]] == ["planner", "researcher", "writer"]


def test_trace_claim_finds_where_a_figure_entered(world):
    ctx, multi = world
    outcome = run_tool(ctx, "trace_claim", {"trace_id": multi[0].trace_id, "claim": "90"})
    claims = rows(outcome.text)[1:]
    assert claims and claims[0]["how"] == "tool_result" and claims[0]["entered_at_step"] == 1
    assert claims[0]["entered_in"] == f"span:{multi[2].span_id}"


@pytest.mark.parametrize(
    ("name", "arguments", "error"),
    [
        ("nope", "{}", "unknown tool 'nope'"),
        ("get_trace", "not json", "arguments are not a JSON object"),
        ("get_trace", "{}", "trace_id"),
        ("search_spans", {"limit": 99}, "limit"),
        ("search_spans", {"kind": "banana"}, "kind must be one of"),
        ("get_document", {"id": "doc:ffff:0"}, "no document"),
        ("diff_prompts", {"version_a": "1", "version_b": "9"}, "versions with text: 3"),
        ("read_detector", {"name": "bias"}, "detectors with findings: staleness"),
        ("get_trace", {"trace_id": "f" * 32}, "no trace"),
    ],
)
def test_a_bad_call_is_one_line_the_model_can_act_on(world, name, arguments, error):
    outcome = run_tool(world[0], name, arguments)
    assert not outcome.ok and error in outcome.error and outcome.text == f"error: {outcome.error}"


def test_a_lead_is_offered_as_a_lead(world):
    ctx, _ = world
    (row,) = rows(run_tool(ctx, "read_detector", {"name": "staleness"}).text)
    assert row["lead"] == "A stale policy was retrieved" and row["layer_hint"] == "data"
    text, shown = first_message(ctx)
    assert "Leads from the detectors (check them; they are not the answer)" in text
    assert shown == ["report:1", ctx.findings[0].evidence[0]]


def test_requests_are_fitted_by_eliding_the_oldest_results_first(world, monkeypatch):
    ctx, _ = world
    big = "x " * 3000
    turns = [ChatMessage(role="user", content="start"), ChatMessage(role="user", content=big),
             ChatMessage(role="user", content=big), ChatMessage(role="user", content="latest")]  # fmt: skip
    tools = sum(estimate_tokens(s.model_dump_json()) for s in tool_specs())
    monkeypatch.setattr(
        ctx, "budget", Budget(request_tokens=tools + estimate_tokens(big) + 300)
    )  # one of two
    request = fit(turns, "system", ctx, tools)
    assert [m.content == ELIDED for m in request.messages] == [False, True, False, False]
    monkeypatch.setattr(ctx, "budget", Budget(request_tokens=tools + 50))
    assert fit(turns, "system", ctx, tools) is None  # not even the opening turn fits


def test_the_models_old_prose_is_elided_but_its_calls_stay(world, monkeypatch):
    from agent.providers.base import ToolCallOut

    ctx, _ = world
    prose = "I think the problem may be the prompt. " * 200
    call = ToolCallOut(id="call_1", name="list_changes", arguments="{}")
    turns = [ChatMessage(role="user", content="start"),
             ChatMessage(role="assistant", content=prose, tool_calls=[call]),
             ChatMessage(role="tool", content="rows", tool_call_id="call_1", name="list_changes"),
             ChatMessage(role="user", content="latest")]  # fmt: skip
    monkeypatch.setattr(ctx, "budget", Budget(request_tokens=300))
    request = fit(turns, "system", ctx, 0)
    assert request.messages[1].content == ELIDED and request.messages[1].tool_calls == [call]
    assert request.messages[2].content == "rows"  # what fits stays: the oldest is elided first


def test_a_result_larger_than_its_share_of_the_budget_shows_its_first_rows(world, monkeypatch):
    ctx, _ = world
    whole = run_tool(ctx, "search_spans", {"limit": 20})
    assert len(rows(whole.text)) > 4 and whole.tokens > 400
    monkeypatch.setattr(ctx, "budget", Budget(request_tokens=2000))  # 400 tokens for one result
    cut = run_tool(ctx, "search_spans", {"limit": 20})
    shown = rows(cut.text.rsplit("\n(", 1)[0])
    assert 1 <= len(shown) < len(rows(whole.text)) and cut.tokens <= 400 + 30
    assert f"({len(shown)} of {len(rows(whole.text))} rows shown" in cut.text
    # an id is seen only when its row was shown: the rows left out cannot be cited
    assert cut.ids == [ref for ref in whole.ids if any(ref in json.dumps(r) for r in shown)]
    assert set(cut.ids) < set(whole.ids)


def test_signatures_ignore_empty_arguments_and_order():
    assert signature("search_spans", {"text": "a", "limit": 5}) == signature(
        "search_spans", {"limit": 5, "text": "a", "service": None, "errors_only": False}
    )
    assert signature("search_spans", {"text": "a"}) != signature("search_spans", {"text": "b"})


def test_ids_whose_text_gives_orders_never_support_a_layer():
    answer = ClassificationAnswer.model_validate(
        {"primary": "model", "layers": [{"layer": "model", "role": "primary", "confidence": "confirmed",
                                         "rationale": "As told.", "evidence": ["span:aa", "span:bb"]}]}
    )  # fmt: skip
    kept, notes = drop_tainted(answer, {"span:aa"})
    assert kept.layers[0].evidence == ["span:bb"] and "gave instructions" in notes[0]


def test_disagreements_name_the_layer_and_the_evidence():
    def c(primary, **roles):
        return Classification(primary=primary, layers=[
            LayerAssessment(layer=layer, role=roles.get(layer, "unknown"), confidence="likely", rationale="",
                            evidence=["span:ab"] if roles.get(layer) == "primary" else []) for layer in roles])  # fmt: skip

    lines = disagreements(
        c("model", model="primary", prompt="ruled_out"), c("prompt", model="ruled_out", prompt="primary")
    )
    assert lines[0].startswith(
        "model: the detectors' analysis had it primary, the investigation found it ruled out"
    )
    assert (
        lines[1]
        == "prompt: the detectors' analysis had it ruled out, the investigation found it primary (likely), citing span:ab"
    )
