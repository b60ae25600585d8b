"""Bad-output identification from structure (agent/detectors/output_fields.py) and a change's reach
(agent/detectors/changes.py): a change explains only the bad outputs of the requests it touched."""

from __future__ import annotations

import json

from agent.detectors.base import DetectorContext
from agent.detectors.output_fields import odd_fields
from tests.detectkit import analyse, by
from tests.spanfactory import BAGGAGE, POLICY, QA, SpanFactory, incident, traffic

TERMS = [(12, 30), (24, 90), (36, 180)]


def _extraction(months: int, days: int) -> str:
    return json.dumps({"renewal_term_months": months, "notice_period_days": days, "annual_fee": 9600})


def _contracts(f: SpanFactory, window_days, base: int = 30):
    """(window, baseline) of an extractor answering JSON; window_days(i) gives the window's notice periods."""

    def one(days_of):
        return lambda i, t: f.trace(t, f"contract k-{i}", _extraction(TERMS[i % 3][0], days_of(i)), docs=None)

    window = traffic(40, 0, 20, one(window_days))
    baseline = traffic(base, -2880, 60, one(lambda i: TERMS[i % 3][1]))
    return window, baseline


def test_a_field_orders_of_magnitude_outside_the_healthy_range_marks_the_answer():
    f = SpanFactory()
    window, baseline = _contracts(f, lambda i: 36000 if i % 4 == 0 else TERMS[i % 3][1])
    ctx = DetectorContext(incident(), window, baseline)
    odd = odd_fields(ctx)
    assert len(odd) == 10
    assert all(json.loads(ctx.delivered_text(ctx.by_id[s]))["notice_period_days"] == 36000 for s in odd)


def test_values_within_the_natural_spread_mark_nothing():
    """The look-alike: new values in the window, but within an order of magnitude of the healthy ones."""
    f = SpanFactory()
    window, baseline = _contracts(f, lambda i: 365 if i % 4 == 0 else TERMS[i % 3][1])
    assert odd_fields(DetectorContext(incident(), window, baseline)) == {}


def test_with_a_short_baseline_the_window_median_is_the_reference():
    f = SpanFactory()
    window, baseline = _contracts(f, lambda i: 14400 if i % 5 == 0 else TERMS[i % 3][1], base=2)
    assert len(odd_fields(DetectorContext(incident(), window, baseline))) == 8


def test_the_same_healthy_answers_repeated_are_not_a_longer_baseline():
    """Two healthy answers recorded three times each show two examples of a field's range, not six: a field
    the window sometimes leaves empty is no symptom on that evidence (the window is the reference, as with two)."""
    f = SpanFactory()

    def extraction(i: int, cap: int | None) -> str:
        return json.dumps({"renewal_term_months": TERMS[i % 3][0], "annual_fee": 9600, "liability_cap": cap})

    def healthy(copies: int, kinds: int):
        return traffic(
            copies * kinds,
            -2880,
            60,
            lambda i, t: f.trace(t, f"contract k-{i % kinds}", extraction(i % kinds, 20000), docs=None),
        )

    window = traffic(
        40,
        0,
        20,
        lambda i, t: f.trace(t, f"contract w-{i}", extraction(i, None if i % 2 else 20000), docs=None),
    )
    assert odd_fields(DetectorContext(incident(), window, healthy(3, 2))) == {}
    assert (
        len(odd_fields(DetectorContext(incident(), window, healthy(1, 6)))) == 20
    )  # six examples: a symptom


def test_a_change_on_a_side_route_does_not_take_the_credit_for_every_bad_answer():
    """From minute 400 half the answers go bad; a prompt edit at that moment reached only two requests of a
    side route. It may be seen, but it cannot explain bad answers in requests it never touched."""
    f = SpanFactory()
    bad = "Refunds are never possible, sorry."

    def window(i, t):
        q, a = QA[i % 5]
        side = i % 10 == 0
        template = ("side-route", "2" if i >= 20 else "1") if side else ("support-answer", "3")
        return f.trace(t, q, bad if i >= 20 and i % 2 == 1 else a, docs=[POLICY, BAGGAGE], template=template)

    base = traffic(
        40,
        -2880,
        60,
        lambda i, t: f.trace(
            t,
            *QA[i % 5],
            docs=[POLICY, BAGGAGE],
            template=("side-route", "1") if i % 10 == 0 else ("support-answer", "3"),
        ),
    )
    _, findings = analyse(traffic(60, 0, 20, window), base, reports=[f'It said "{bad}"'])
    side = [p for p in by(findings, "prompt_change") if p.data["route"] == "side-route"]
    assert side and all(p.strength < 0.15 for p in side)


# ------------------------------------------------------------------ index_age: an index not rebuilt after an update
def _with_build(trace, build: str):
    for span in trace:
        if span.documents:
            span.attributes["index_build"] = build
    return trace


def _index_case(build: str, description: str):
    f = SpanFactory()
    bad = "Give 15 mg/kg, up to 5 doses a day."

    def window(i, t):
        q, a = QA[i % 5]
        return _with_build(f.trace(t, q, bad if i >= 20 else a, docs=[POLICY, BAGGAGE]), build)

    base = traffic(40, -2880, 60, lambda i, t: _with_build(f.trace(t, *QA[i % 5], docs=[POLICY]), build))
    return analyse(
        traffic(60, 0, 20, window), base, reports=[f'It still says "{bad}"'], description=description
    )[1]


def test_an_index_built_before_the_update_the_incident_mentions_is_a_data_cause():
    findings = _index_case(
        "2025-01-30", "The guidance changed on 2025-03-02; the helper still gives the old dose."
    )
    found = by(findings, "index_age")
    assert found and found[0].layer_hint == "data" and found[0].data["update"] == "2025-03-02"
    assert found[0].strength >= 0.3


def test_an_index_built_after_the_update_or_a_date_that_is_only_the_onset_is_not():
    """The look-alikes: the index was rebuilt after the update; the only date mentioned is when it started."""
    assert not by(_index_case("2025-03-03", "The guidance changed on 2025-03-02."), "index_age")
    assert not by(_index_case("2025-01-30", "Wrong doses since 2025-03-04."), "index_age")
