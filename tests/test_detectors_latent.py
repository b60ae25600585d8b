"""Latent conditions (phase 3): the weakness in another layer that let a cause do harm, and its red herrings."""

from __future__ import annotations

import json

from agent.detectors import DetectorContext
from agent.detectors.common import make
from agent.detectors.latent import detect as latent_detect
from agent.detectors.staleness import config_change_dates
from tests.detectkit import analyse
from tests.spanfactory import (
    BAGGAGE,
    POLICY,
    QA,
    SYSTEM,
    SpanFactory,
    Tool,
    at,
    cut_off_traffic,
    incident,
    traffic,
)

STATUS_Q = "Where is my order 4471?"
STATUS_OK = Tool("get_order_status", '{"order": "4471", "status": "in_transit", "eta": "Thursday"}')
STATUS_DOWN = Tool("get_order_status", "Error: 503 Service Unavailable (carrier gateway)", error=True)
SHIPPED = "Good news! Your order 4471 shipped yesterday and arrives on Friday."
FALLBACK_SYSTEM = (
    SYSTEM + "\nIf a tool call fails or returns an error, say the lookup failed and offer a human."
)


def latent(findings, kind=None):
    return [
        f
        for f in findings
        if f.detector == "latent_conditions" and (kind is None or f.data.get("kind") == kind)
    ]


def _outage(answer: str, system: str = SYSTEM):
    f = SpanFactory()
    ok = "Your order 4471 is in transit and arrives on Thursday."
    base = traffic(
        30, -2880, 60, lambda i, t: f.trace(t, STATUS_Q, ok, docs=None, tools=[STATUS_OK], system=system)
    )

    def window(i, t):
        if i >= 30:
            return f.trace(t, STATUS_Q, answer, docs=None, tools=[STATUS_DOWN], system=system)
        return f.trace(t, STATUS_Q, ok, docs=None, tools=[STATUS_OK], system=system)

    return analyse(traffic(50, 0, 20, window), base)


def test_failures_covered_under_instructions_without_a_fallback_name_the_prompt():
    ctx, findings = _outage(SHIPPED)
    found = latent(findings, "no_failure_instructions")
    assert len(found) == 1 and found[0].layer_hint == "prompt" and found[0].data["latent"] is True
    assert found[0].strength >= 0.15 and found[0].data["covering"] == 20
    quoted = found[0].data["quotes"][0]
    assert quoted["field"] == "system" and quoted["text"] in SYSTEM  # cites the instructions, verbatim
    assert all(ctx.is_flagged(ctx.by_id[ref.split(":", 1)[1]]) for ref in found[0].evidence[2:])


def test_instructions_with_a_fallback_or_answers_asking_back_name_nothing():
    _, findings = _outage(SHIPPED, system=FALLBACK_SYSTEM)
    assert not latent(findings, "no_failure_instructions")
    # re-asking is not covering a failure up (the tool error itself stays a system finding)
    _, findings = _outage("Could you confirm the order number for me?")
    assert not latent(findings, "no_failure_instructions")
    assert any(f.detector == "tool_errors" and f.layer_hint == "system" for f in findings)


def _refunds(*tools: Tool):
    f = SpanFactory()
    q_old = "I bought this 90 days ago, can I get a refund?"
    refused = "Sorry, refunds are only available within 30 days of purchase."
    approved = "Done! Your refund has been issued."
    base = traffic(20, -2000, 90, lambda i, t: f.trace(t, q_old, refused, docs=[POLICY]))
    bad_ids = [f"{i:032x}" for i in range(1, 11)]

    def window(i, t):
        if i % 3 == 0 and i // 3 < len(bad_ids):
            return f.trace(t, q_old, approved, docs=[POLICY], tools=list(tools), trace_id=bad_ids[i // 3])
        return f.trace(t, *QA[i % 5], docs=[POLICY, BAGGAGE])

    return analyse(traffic(40, 0, 30, window), base, trace_ids=bad_ids)


def test_side_effecting_tool_carrying_out_bad_answers_names_the_system():
    ctx, findings = _refunds(Tool("payments.issue_refund", '{"refund_id": "rf_1", "status": "issued"}'))
    found = latent(findings, "unchecked_action")
    assert len(found) == 1 and found[0].layer_hint == "system"
    assert found[0].data["acted_requests"] == 10 and found[0].strength >= 0.3
    spans = [ctx.by_id[ref.split(":", 1)[1]] for ref in found[0].evidence]
    assert all(s.tool and s.tool.name == "payments.issue_refund" and ctx.is_flagged(s) for s in spans)


def test_read_only_or_failed_tools_in_bad_requests_are_not_unchecked_actions():
    _, findings = _refunds(Tool("payments.get_refund_policy", '{"window_days": 30}'))
    assert not latent(findings, "unchecked_action")
    _, findings = _refunds(Tool("payments.issue_refund", "Error: 500 internal server error", error=True))
    assert not latent(findings, "unchecked_action")


def test_a_failed_call_run_again_with_the_same_arguments_cites_the_retry():
    """A refund call timed out and the orchestrator ran it again: the retry is the second refund, so the tool
    failure's evidence shows both calls, and says the call was repeated."""
    args = '{"charge_id": "ch_1", "amount": 84.2}'
    ctx, findings = _refunds(
        Tool("payments.issue_refund", "TimeoutError: read timeout after 5000 ms", error=True, arguments=args),
        Tool("payments.issue_refund", '{"refund_id": "rf_2", "status": "issued"}', arguments=args),
    )
    (failure,) = [f for f in findings if f.detector == "tool_errors"]
    first, retry = (ctx.by_id[ref.split(":", 1)[1]] for ref in failure.evidence[:2])
    assert first.is_error and not retry.is_error and retry.trace_id == first.trace_id
    assert first.tool and retry.tool and retry.tool.arguments == first.tool.arguments
    assert "run again with the same arguments" in failure.detail
    # a retry with other arguments is another call, not a repeat
    _, findings = _refunds(
        Tool("payments.issue_refund", "TimeoutError: read timeout after 5000 ms", error=True, arguments=args),
        Tool("payments.issue_refund", '{"refund_id": "rf_2"}', arguments='{"charge_id": "ch_2"}'),
    )
    (failure,) = [f for f in findings if f.detector == "tool_errors"]
    assert "run again" not in failure.detail


def _model_switch(served_after: str, finish_after: str = "stop", answer_after: str | None = None):
    f = SpanFactory()
    base = traffic(
        40, -2880, 60, lambda i, t: f.trace(t, *QA[i % 5], docs=[POLICY, BAGGAGE], served="gpt-4o-2024-05-13")
    )

    def window(i, t):
        q, a = QA[i % 5]
        if i >= 25:
            return f.trace(
                t, q, answer_after or a, docs=[POLICY, BAGGAGE], served=served_after, finish=finish_after
            )
        return f.trace(t, q, a, docs=[POLICY, BAGGAGE], served="gpt-4o-2024-05-13")

    return analyse(traffic(50, 0, 20, window), base)


def test_outputs_cut_at_the_limit_after_a_model_change_name_the_limit():
    _, findings = _model_switch(
        "gpt-4o-2024-08-06", finish_after="length", answer_after="Refunds are available"
    )
    found = latent(findings, "output_limit")
    assert len(found) == 1 and found[0].layer_hint == "system"
    assert "gpt-4o-2024-08-06" in found[0].data["trigger"]
    assert any(f.detector == "model_drift" for f in findings)


def test_cut_outputs_without_an_upstream_change_are_not_a_latent_limit():
    _, findings = analyse(*cut_off_traffic(SpanFactory()))
    assert any(f.data.get("kind") == "output_truncated" for f in findings)
    assert not latent(findings, "output_limit")


def _ctx_with(prior):
    f = SpanFactory()
    spans = f.trace(at(10), *QA[0], docs=[POLICY])
    ctx = DetectorContext(incident(), spans, [])
    ctx.flags, ctx.prior = {spans[-1].span_id}, prior
    return ctx, spans


def _model_change(new: str, strength: float = 0.5, effect: float = 0.6, evidence=()):
    return make(
        "model_drift",
        f"Model changed from base-model to {new}",
        strength=strength,
        layer_hint="model",
        evidence=list(evidence),
        change=True,
        kind="model_changed",
        new=new,
        effect=effect,
    )


def test_a_switch_to_a_fine_tuned_model_names_its_training_data():
    fine_tune = "ft:gpt-4o-mini-2024-07-18:acme:screener-v2:x1"
    ctx, spans = _ctx_with([_model_change(fine_tune, strength=0.5, evidence=["span:ab"])])
    found = latent(latent_detect(ctx), "fine_tune_data")
    assert len(found) == 1 and found[0].layer_hint == "data" and found[0].evidence == ["span:ab"]
    # a condition that let the switch do harm: weaker than the switch itself, and it follows the switch's weight
    assert 0 < found[0].strength < 0.5
    louder, _ = _ctx_with([_model_change(fine_tune, strength=0.9, evidence=["span:ab"])])
    assert latent(latent_detect(louder), "fine_tune_data")[0].strength > found[0].strength


def test_a_plain_model_upgrade_or_a_change_that_changed_nothing_names_no_data():
    ctx, _ = _ctx_with([_model_change("gpt-4o-2024-11-20")])
    assert not latent(latent_detect(ctx), "fine_tune_data")
    ctx, _ = _ctx_with([_model_change("ft:gpt-4o-mini:acme:v2", effect=0.05)])  # bad-output rate did not move
    assert not latent(latent_detect(ctx), "fine_tune_data")


def test_a_date_the_incident_mentions_is_explained_by_a_prompt_change_that_day():
    f = SpanFactory()
    new_system = SYSTEM + "\nAlways cite at least three sources."
    base = traffic(30, -2880, 60, lambda i, t: f.trace(t, *QA[i % 5], docs=[POLICY]))
    win = traffic(
        30,
        0,
        30,
        lambda i, t: f.trace(
            t,
            *QA[i % 5],
            docs=[POLICY],
            system=new_system if i >= 10 else SYSTEM,
            template=("support-answer", "4" if i >= 10 else "3"),
        ),
    )
    ctx = DetectorContext(incident(), win, base)
    days = config_change_dates(ctx)
    assert at(300).date() in days  # the v4 prompt went live at minute 300 of the window
    assert at(-2880).date() not in days  # no change on the baseline's first day


def test_a_guard_removed_before_a_data_trigger_is_a_latent_prompt_condition_not_the_trigger():
    """The grounding rule is dropped at request 10; an outdated policy document arrives at request 30 and the
    answers quote it. The edit ran cleanly for 20 requests, so it is no trigger, but it let the trigger through."""
    f = SpanFactory()
    loose = SYSTEM.replace("Answer only from the policy documents provided in the context.\n", "")
    stale = POLICY.model_copy(
        update={
            "content": "Refunds are available within 90 days of purchase, no questions asked.",
            "metadata": {"source": "kb/refund-policy.md", "updated_at": "2023-01-05"},
        }
    )
    base = traffic(40, -2880, 60, lambda i, t: f.trace(t, *QA[i % 5], docs=[POLICY, BAGGAGE]))

    def window(i, t):
        q, a = QA[i % 5]
        prompt = {"system": loose, "template": ("support-answer", "4")} if i >= 10 else {}
        if i >= 30 and i % 5 in (0, 3):
            return f.trace(
                t,
                q,
                "Yes, a full refund within 90 days, no questions asked.",
                docs=[stale, BAGGAGE],
                **prompt,
            )
        return f.trace(t, q, a, docs=[POLICY, BAGGAGE], **prompt)

    report = (
        "The bot no longer answers from the policy documents, it said: "
        '"Yes, a full refund within 90 days, no questions asked."'
    )
    _, findings = analyse(traffic(60, 0, 20, window), base, reports=[report])
    (edit,) = [x for x in findings if x.detector == "prompt_change"]
    (guard,) = [x for x in findings if x.data.get("kind") == "removed_guard"]
    assert edit.data["effect"] < 0.05  # as a trigger it is refuted by the 20 clean requests
    assert guard.layer_hint == "prompt" and guard.data["latent"] and guard.strength >= 0.4
    assert guard.data["removed"] == ["Answer only from the policy documents provided in the context."]
    # the same edit with nothing related in the reports is no guard of what went wrong
    _, findings = analyse(
        traffic(60, 0, 20, window),
        base,
        reports=['It said "Yes, a full refund within 90 days, no questions asked."'],
    )
    assert not [x for x in findings if x.data.get("kind") == "removed_guard"]


def test_a_tool_whose_results_only_acknowledge_acts_whatever_its_name():
    """`mail.forward` matches no action verb, but every result is the same acknowledgement: it acts, and it carried
    out the bad answers' decisions unchecked. A lookup whose results carry a value that recurs in some calls and not
    others returns data, so it does not."""
    from agent.detectors.latent import _acknowledging_tools

    ctx, findings = _refunds(Tool("mail.forward", '{"status": "sent"}'))
    (found,) = latent(findings, "unchecked_action")
    assert found.data["tool"] == "mail.forward" and found.layer_hint == "system"

    f = SpanFactory()

    def lookup(i, t):
        plan = ("basic", "plus", "basic", "pro")[i % 4]
        result = json.dumps({"status": "ok", "plan": plan, "customer": f"C-{i}"})
        return f.trace(t, *QA[i % 5], tools=[Tool("crm.plan_of", result)])

    ctx, _ = analyse(traffic(20, 0, 20, lookup), [])
    assert _acknowledging_tools(ctx) == set()
