"""The stages detector (agent/detectors/stages.py): a stage setting that stepped, a stage that started cutting or
rewriting what passes through it, items a stage dropped -- each counted only by its association with the bad
outputs -- and the output stage that rewrites the model's answer before the user sees it."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from agent.detectors.base import DetectorContext
from retrieval.trace import Span, SpanKind
from tests.detectkit import analyse, by
from tests.spanfactory import BAGGAGE, POLICY, QA, SpanFactory, Tool, at, incident, traffic

BAD = "Sorry, nothing was agreed on this call and no next step is planned."
REPORT = [f'The recap says "{BAD}" but the customer asked for a callback.']


def _stage(f: SpanFactory, trace: list[Span], name: str, **kw) -> list[Span]:
    """`trace` with one more stage span under its root, just after it started."""
    root = trace[0]
    span = Span(
        trace_id=root.trace_id,
        span_id=f._hex(16),
        parent_span_id=root.span_id,
        service=root.service,
        name=name,
        kind=kw.pop("kind", SpanKind.chain),
        start_time=root.start_time + timedelta(milliseconds=10),
        end_time=root.start_time + timedelta(milliseconds=40),
        **kw,
    )
    return [*trace, span]


def _traffic(f: SpanFactory, stage_kw, bad_if, n: int = 60, base: int = 40):
    """(window, baseline): support traffic with a `chunker` stage whose attributes come from
    stage_kw(i, window?); the answer is BAD when bad_if(i, window?)."""

    def make(window: bool):
        def one(i, t):
            q, a = QA[i % 5]
            trace = f.trace(t, q, BAD if bad_if(i, window) else a, docs=[POLICY, BAGGAGE])
            return _stage(f, trace, "chunker", **stage_kw(i, window))

        return one

    return traffic(n, 0, 20, make(True)), traffic(base, -2880, 60, make(False))


def test_a_stage_limit_that_stepped_with_the_bad_outputs_is_a_system_cause():
    f = SpanFactory()
    long = lambda i: i % 3 == 0  # noqa: E731 -- a third of the requests are long
    window, baseline = _traffic(
        f,
        lambda i, w: {
            "attributes": {
                "limit": 6 if w and i >= 30 else 12,
                "chunks_total": 10 if long(i) else 3,
                "chunks_kept": (6 if w and i >= 30 else 10) if long(i) else 3,
            }
        },
        lambda i, w: w and i >= 30 and long(i),
    )
    _, findings = analyse(window, baseline, reports=REPORT)
    steps = by(findings, "stages", "stage_setting_changed")
    assert steps and steps[0].layer_hint == "system" and steps[0].data["key"] == "limit"
    assert steps[0].data["old"] == "12" and steps[0].data["new"] == "6"
    assert steps[0].strength >= 0.3
    dropped = by(findings, "stages", "stage_dropped")
    assert (
        dropped
        and dropped[0].layer_hint == "system"
        and dropped[0].data["association"]["flagged_with_signal"]
    )
    system = [f for f in findings if f.layer_hint == "system"]
    assert max(system, key=lambda f: f.strength).detector == "stages"


def test_a_stage_step_the_bad_outputs_did_not_follow_weighs_nothing():
    """The look-alike: the same limit change, but the bad answers came before it as often as after it."""
    f = SpanFactory()
    window, baseline = _traffic(
        f,
        lambda i, w: {"attributes": {"limit": 6 if w and i >= 30 else 12}},
        lambda i, w: i % 10 == 0,  # a steady trickle of bad answers, in the baseline too
    )
    _, findings = analyse(window, baseline, reports=REPORT)
    steps = by(findings, "stages", "stage_setting_changed")
    assert steps  # the step is seen ...
    assert all(s.strength < 0.15 for s in steps)  # ... and weighs little (>= 0.3 when it marks them)


def test_dropped_items_in_healthy_traces_only_are_not_reported():
    f = SpanFactory()
    window, baseline = _traffic(
        f,
        lambda i, w: {"attributes": {"chunks_total": 10, "chunks_kept": 6 if i % 4 == 1 else 10}},
        lambda i, w: w and i % 4 == 3,  # the bad answers are in other traces than the cut ones
    )
    _, findings = analyse(window, baseline, reports=REPORT)
    assert not by(findings, "stages", "stage_dropped")


def test_a_handoff_that_started_cutting_what_it_passes_on():
    f = SpanFactory()
    full = "Findings: revenue up 12%. Risks: a breach in May and an open class action."
    cut = "Findings: revenue up 12%."

    def kw(i, w):
        cuts = w and i >= 30 and i % 2 == 0
        return {"input_value": full, "output_value": cut if cuts else full}

    window, baseline = _traffic(f, kw, lambda i, w: w and i >= 30 and i % 2 == 0)
    _, findings = analyse(window, baseline, reports=REPORT)
    altered = by(findings, "stages", "stage_altered")
    assert altered and altered[0].layer_hint == "system" and altered[0].strength >= 0.3
    assert altered[0].data["association"]["flagged_without_signal"] == 0


def test_a_handoff_that_always_rewrote_its_input_is_not_a_cause():
    """A stage that transforms every request, before and during the incident, marks nothing."""
    f = SpanFactory()
    window, baseline = _traffic(
        f,
        lambda i, w: {"input_value": f"raw notes {i}", "output_value": f"formatted notes {i}"},
        lambda i, w: w and i >= 30 and i % 2 == 0,
    )
    _, findings = analyse(window, baseline, reports=REPORT)
    assert not by(findings, "stages", "stage_altered")


def test_an_output_filter_after_the_model_is_what_the_user_received():
    """The model named the medicine; a filter after it masked the name. The delivered text is the filter's."""
    f = SpanFactory()
    trace = f.trace(at(5), "Is my amlodipine ready?", "Your Amlodipine 10mg tablets are ready.")
    llm = trace[-1]
    masked = Span(
        trace_id=llm.trace_id,
        span_id=f._hex(16),
        parent_span_id=trace[0].span_id,
        service=llm.service,
        name="output_filter",
        kind=SpanKind.chain,
        start_time=llm.start_time + timedelta(seconds=3),
        input_value='{"args": ["Your Amlodipine 10mg tablets are ready."], "kwargs": {}}',
        output_value='"Your [NAME] 10mg tablets are ready."',
    )
    ctx = DetectorContext(incident(), [*trace, masked], [])
    assert ctx.post_stage(llm) is masked
    assert ctx.delivered_text(llm) == "Your [NAME] 10mg tablets are ready."
    plain = f.trace(at(9), "Is my amlodipine ready?", "Your Amlodipine 10mg tablets are ready.")
    assert DetectorContext(incident(), plain, []).post_stage(plain[-1]) is None


# ------------------------------------------------------------------ tool_fields: a new category in tool results
def _fleet(f: SpanFactory, unit_of, bad_if):
    """(window, baseline): traces that call a telemetry tool whose result carries unit_of(i, window?)."""
    from tests.spanfactory import Tool

    def make(window: bool):
        def one(i, t):
            q, a = QA[i % 5]
            result = json.dumps({"odometer": 30000 + i, "unit": unit_of(i, window)})
            tool = Tool("vehicle_telemetry", result, arguments=json.dumps({"vehicle": f"V-{i % 7}"}))
            return f.trace(t, q, BAD if bad_if(i, window) else a, tools=[tool])

        return one

    return traffic(60, 0, 20, make(True)), traffic(40, -2880, 60, make(False))


def test_a_new_unit_in_tool_results_that_marks_the_bad_answers_is_data():
    f = SpanFactory()
    new_unit = lambda i, w: w and i % 3 == 0  # noqa: E731
    window, baseline = _fleet(f, lambda i, w: "mi" if new_unit(i, w) else "km", new_unit)
    _, findings = analyse(window, baseline, reports=REPORT)
    fields = by(findings, "tool_fields")
    assert fields and fields[0].layer_hint == "data" and fields[0].data["value"] == "mi"
    assert fields[0].strength >= 0.3


def test_a_new_tool_value_without_a_baseline_is_a_weaker_data_finding_not_none():
    """A short baseline (here none at all) widens the doubt about what is new; it does not hide the value that
    marks the bad answers. Its weight stays below the one the same value gets against a healthy baseline."""
    f = SpanFactory()
    new_unit = lambda i, w: w and i % 3 == 0  # noqa: E731
    window, baseline = _fleet(f, lambda i, w: "mi" if new_unit(i, w) else "km", new_unit)
    _, with_baseline = analyse(window, baseline, reports=REPORT)
    _, without = analyse(window, [], reports=REPORT)
    fields = by(without, "tool_fields")
    assert fields and fields[0].layer_hint == "data" and fields[0].data["value"] == "mi"
    assert 0.1 < fields[0].strength < by(with_baseline, "tool_fields")[0].strength


def test_a_tool_value_as_common_before_the_incident_is_not_a_cause():
    """The look-alike: the bad answers go with 'mi', but 'mi' was as common in the healthy baseline."""
    f = SpanFactory()
    window, baseline = _fleet(f, lambda i, w: "mi" if i % 3 == 0 else "km", lambda i, w: w and i % 3 == 0)
    _, findings = analyse(window, baseline, reports=REPORT)
    assert all(x.strength < 0.1 for x in by(findings, "tool_fields"))


def test_a_value_the_tool_always_returns_says_only_that_it_ran():
    """An action tool that ran only in the bad requests (the model decided to act) and always answers
    status=sent: the value co-occurs with every bad answer, yet tells no bad call of the tool from a good one.
    That the tool ran is the decision, a consequence; the value is not upstream data."""

    def make(window: bool):
        def one(i, t):
            q, a = QA[i % 5]
            acted = window and i % 3 == 0
            tools = [Tool("forward_email", json.dumps({"status": "sent"}), arguments=json.dumps({"n": i}))]
            return f.trace(t, q, BAD if acted else a, tools=tools if acted else [])

        return one

    f = SpanFactory()
    window, baseline = traffic(60, 0, 20, make(True)), traffic(40, -2880, 60, make(False))
    _, findings = analyse(window, baseline, reports=REPORT)
    assert by(findings, "tool_fields") == []


def test_a_new_tool_value_the_bad_answers_do_not_follow_is_not_a_cause():
    f = SpanFactory()
    window, baseline = _fleet(
        f, lambda i, w: "mi" if w and i % 3 == 0 else "km", lambda i, w: w and i % 3 == 1
    )
    _, findings = analyse(window, baseline, reports=REPORT)
    assert not by(findings, "tool_fields")


def test_a_tool_that_ran_another_call_than_the_model_asked_for_is_a_system_stage():
    """From request 30 an adapter swaps the user of every other unlock call for another caller's: the model asked
    for the right account, the tool unlocked another, and the answer says so."""
    f = SpanFactory()
    question = "Please unlock my account, I am p.okafor."
    wrong = "Done: the account of j.smith is unlocked for you."

    def request(swap: bool):  # noqa: ANN202
        def make(i, t):
            swapped = swap and i >= 30 and i % 2 == 0
            trace = f.trace(
                t,
                question,
                wrong if swapped else "Your account is unlocked.",
                docs=None,
                tools=[Tool("unlock_account", '{"unlocked": true}', arguments='{"user": "p.okafor"}')],
            )
            if swapped:  # the executed call differs from the model's request, which the next LLM call replays
                tool = next(s for s in trace if s.tool is not None)
                tool.tool = tool.tool.model_copy(update={"arguments": '{"user": "j.smith"}'})
            return trace

        return make

    report = f'I asked to unlock my account and the bot said "{wrong}"'
    _, findings = analyse(
        traffic(60, 0, 20, request(True)), traffic(40, -2880, 60, request(False)), reports=[report]
    )
    (rewritten,) = by(findings, "stages", "stage_rewritten")
    assert rewritten.layer_hint == "system" and rewritten.data["association"]["with_signal"] == 15
    assert rewritten.data["association"]["flagged_without_signal"] == 0 and rewritten.strength > 0.3


@pytest.mark.parametrize(
    ("key", "old", "new", "layer"),
    [("retriever.top_k", 5, 1, "system"), ("index.snapshot", "prod-0412", "stg-0413", "data")],
)
def test_a_retrieval_setting_names_the_data_layer_only_when_it_names_what_the_index_holds(
    key: str, old: object, new: object, layer: str
) -> None:
    """By the layer definitions: a retrieval stage's index snapshot is data (what the index holds); its top_k
    or reranker is context assembly, the system layer."""
    f = SpanFactory()

    def stepped(i: int, window: bool) -> bool:
        return window and i >= 30

    window, baseline = _traffic(
        f,
        lambda i, w: {
            "kind": SpanKind.retrieval,
            "documents": [POLICY],
            "attributes": {key: new if stepped(i, w) else old},
        },
        lambda i, w: stepped(i, w) and i % 2 == 0,
    )
    _, findings = analyse(window, baseline, reports=REPORT)
    steps = by(findings, "stages", "stage_setting_changed")
    assert [(s.data["key"], s.layer_hint) for s in steps] == [(key, layer)]
