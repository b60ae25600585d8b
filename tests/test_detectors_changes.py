"""Change detectors (served model, prompt, sampling): each fires on its cause and stays weak on its red herring."""

from __future__ import annotations

from agent.detectors.model_drift import model_family
from agent.thresholds import T
from tests.detectkit import analyse, by
from tests.spanfactory import BAGGAGE, POLICY, QA, SYSTEM, SpanFactory, at, traffic

REFUSAL = "I'm sorry, I can't help with that request."
INVENTED = "Yes, you get a full refund within 90 days, no questions asked."


def test_model_family_strips_versions_not_sizes():
    assert model_family("gpt-4o-2024-08-06") == "gpt-4o"
    assert model_family("gpt-4o-mini-2024-07-18") == "gpt-4o-mini"
    assert model_family("us.anthropic.claude-3-5-sonnet-20240620-v1:0") == "claude-3-5-sonnet"
    assert model_family("claude-3-5-sonnet-latest") == "claude-3-5-sonnet"
    assert model_family("openai/gpt-4.1") == "gpt-4.1"


def test_silent_model_update_is_found_at_the_onset():
    f = SpanFactory()
    base = traffic(
        40, -2880, 60, lambda i, t: f.trace(t, *QA[i % 5], docs=[POLICY, BAGGAGE], served="gpt-4o-2024-05-13")
    )

    def window(i, t):
        q, a = QA[i % 5]
        if i >= 30:  # from minute 600 the provider serves a new snapshot that refuses policy questions
            return f.trace(
                t, q, REFUSAL if i % 5 < 3 else a, docs=[POLICY, BAGGAGE], served="gpt-4o-2024-08-06"
            )
        return f.trace(t, q, a, docs=[POLICY, BAGGAGE], served="gpt-4o-2024-05-13")

    ctx, findings = analyse(traffic(60, 0, 20, window), base)
    drift = by(findings, "model_drift", "served_model_changed")
    assert len(drift) == 1 and drift[0] is findings[0]
    d = drift[0]
    assert d.layer_hint == "model" and d.strength >= 0.6 and d.onset == at(600) + (d.onset - at(600))
    assert abs((d.onset - at(600)).total_seconds()) < 5
    assert d.data["old"] == "gpt-4o-2024-05-13" and d.data["new"] == "gpt-4o-2024-08-06"
    assert d.data["flag_rate_before"] == 0 and d.data["flag_rate_after"] > 0.4
    assert not by(findings, "model_drift", "served_differs_from_requested")  # alias resolution is normal


def test_model_change_in_another_service_stays_weak():
    """Red herring: billing-bot got a new model 5 h before the onset; the incident is a prompt regression."""
    f = SpanFactory()
    base = traffic(40, -2880, 60, lambda i, t: f.trace(t, *QA[i % 5], docs=[POLICY, BAGGAGE]))
    loose = SYSTEM.replace("Answer only from the policy documents provided in the context.\n", "")

    def window(i, t):
        q, a = QA[i % 5]
        other = f.trace(
            t,
            "Summarize invoice 4411",
            "Invoice 4411 totals $120.",
            service="billing-bot",
            model="gpt-4o-mini",
            served="gpt-4o-mini-2024-07-18" if i >= 15 else "gpt-4o-mini-2024-05-01",
        )
        if i >= 30:
            answer = INVENTED if i % 5 in (0, 3) else a
            return other + f.trace(
                t, q, answer, docs=[POLICY, BAGGAGE], system=loose, template=("support-answer", "4")
            )
        return other + f.trace(t, q, a, docs=[POLICY, BAGGAGE])

    ctx, findings = analyse(traffic(60, 0, 20, window), base)
    drift = by(findings, "model_drift", "served_model_changed")
    prompt = by(findings, "prompt_change")
    assert len(drift) == 1 and drift[0].data["service"] == "billing-bot"
    assert drift[0].strength < 0.2
    assert prompt and prompt[0].strength > 3 * drift[0].strength
    assert any("Answer only from the policy documents" in line for line in prompt[0].data["removed"])
    assert "-Answer only from the policy documents provided in the context." in prompt[0].data["diff"]
    # the removal is quoted verbatim from the last span of the old version, which the finding cites
    removed = next(q for q in prompt[0].data["quotes"] if q["field"] == "system")
    assert removed["evidence"] in prompt[0].evidence
    span = ctx.by_id[removed["evidence"].split(":", 1)[1]]
    assert removed["text"] in span.system_instructions


def test_requested_and_served_model_differ():
    f = SpanFactory()
    base = traffic(20, -1200, 60, lambda i, t: f.trace(t, *QA[i % 5], docs=[POLICY, BAGGAGE]))
    win = traffic(
        30,
        0,
        20,
        lambda i, t: f.trace(t, *QA[i % 5], docs=[POLICY, BAGGAGE], served="gpt-4o-mini-2024-07-18"),
    )
    _, findings = analyse(win, base)
    mismatch = by(findings, "model_drift", "served_differs_from_requested")
    assert mismatch and mismatch[0].data["pairs"] == [["gpt-4o", "gpt-4o-mini-2024-07-18"]]
    assert mismatch[0].strength > 0.1


def test_harmless_prompt_bump_long_before_the_onset_stays_weak():
    """v2 -> v3 two days before; the bad answers start with a knowledge-base change at minute 600."""
    f = SpanFactory()
    old_policy = POLICY.model_copy(
        update={
            "content": "Refunds are available within 90 days of purchase, no questions asked.",
            "metadata": {"source": "kb/refund-policy.md", "updated_at": "2023-01-05"},
        }
    )

    def baseline(i, t):
        if i < 8:
            system = SYSTEM.replace("Be concise and friendly.", "Be concise.")
            return f.trace(
                t, *QA[i % 5], docs=[POLICY, BAGGAGE], system=system, template=("support-answer", "2")
            )
        return f.trace(t, *QA[i % 5], docs=[POLICY, BAGGAGE])

    def window(i, t):
        q, a = QA[i % 5]
        if i >= 30 and i % 5 in (0, 3):
            return f.trace(t, q, INVENTED, docs=[old_policy, BAGGAGE])
        return f.trace(t, q, a, docs=[POLICY, BAGGAGE])

    report = "Customers say the bot promised a full refund within 90 days, no questions asked."
    _, findings = analyse(traffic(60, 0, 20, window), traffic(40, -2880, 60, baseline), reports=[report])
    bump = by(findings, "prompt_change")
    assert len(bump) == 1 and bump[0].data["old"] == "version 2"
    assert bump[0].strength < 0.1 and bump[0].data["proximity"] < 0.2
    stale = by(findings, "stale_documents", "stale_version")
    assert stale and stale[0].strength > 5 * bump[0].strength


def test_sampling_change_near_the_onset():
    f = SpanFactory()
    base = traffic(
        40, -2880, 60, lambda i, t: f.trace(t, *QA[i % 5], docs=[POLICY, BAGGAGE], temperature=0.2)
    )

    def window(i, t):
        q, a = QA[i % 5]
        if i >= 30:
            return f.trace(t, q, INVENTED if i % 5 in (0, 3) else a, docs=[POLICY, BAGGAGE], temperature=1.4)
        return f.trace(t, q, a, docs=[POLICY, BAGGAGE], temperature=0.2)

    _, findings = analyse(traffic(60, 0, 20, window), base)
    change = by(findings, "sampling", "sampling_changed")
    assert change and change[0].data["new"] == "temperature=1.4" and change[0].strength >= 0.4
    assert change[0].layer_hint == "model"
    assert not by(findings, "sampling", "high_temperature")


def test_high_temperature_everywhere_is_not_a_cause():
    f = SpanFactory()
    base = traffic(
        40, -2880, 60, lambda i, t: f.trace(t, *QA[i % 5], docs=[POLICY, BAGGAGE], temperature=1.0)
    )

    def window(i, t):
        q, a = QA[i % 5]
        bad = i >= 30 and i % 5 in (0, 3)
        return f.trace(t, q, INVENTED if bad else a, docs=[POLICY, BAGGAGE], temperature=1.0)

    _, findings = analyse(traffic(60, 0, 20, window), base)
    hot = by(findings, "sampling", "high_temperature")
    assert len(hot) == 1 and hot[0].strength == 0.0 and hot[0].data["new"] is False
    assert "not new" in hot[0].detail
    assert not by(findings, "sampling", "sampling_changed")


def test_identical_requests_with_diverging_answers_show_nondeterminism():
    f = SpanFactory()
    base = traffic(
        20, -1200, 60, lambda i, t: f.trace(t, *QA[i % 5], docs=[POLICY, BAGGAGE], temperature=0.9)
    )

    def window(i, t):
        q, a = QA[0]
        return f.trace(t, q, INVENTED if i % 3 == 0 else a, docs=[POLICY, BAGGAGE], temperature=0.9)

    _, findings = analyse(traffic(30, 0, 20, window), base)
    nd = by(findings, "sampling", "nondeterministic")
    assert nd and nd[0].data["flagged"] == 10 and nd[0].data["answers"] == 30
    assert 0.1 <= nd[0].strength <= 0.35


def test_a_new_deployed_model_and_an_alias_that_is_not_a_change():
    f = SpanFactory()
    base = traffic(
        40,
        -2880,
        60,
        lambda i, t: f.trace(t, *QA[i % 5], docs=[POLICY, BAGGAGE], model="ft:screener-v1", served=None),
    )

    def window(i, t):
        q, a = QA[i % 5]
        if i >= 30:
            return f.trace(
                t, q, REFUSAL if i % 5 < 3 else a, docs=[POLICY, BAGGAGE], model="ft:screener-v2", served=None
            )
        return f.trace(t, q, a, docs=[POLICY, BAGGAGE], model="ft:screener-v1", served=None)

    _, findings = analyse(traffic(60, 0, 20, window), base)
    changed = by(findings, "model_drift", "model_changed")
    assert [c.data["new"] for c in changed] == ["ft:screener-v2"] and changed[0].strength >= 0.6

    # "gpt-4o-mini" recorded, later the dated version it resolves to: the same model
    alias = traffic(
        30,
        0,
        20,
        lambda i, t: f.trace(
            t,
            *QA[i % 5],
            docs=[POLICY],
            model="gpt-4o-mini",
            served="gpt-4o-mini-2024-07-18" if i >= 10 else None,
        ),
    )
    _, findings = analyse(alias, [])
    assert not by(findings, "model_drift")


def test_per_request_sampling_jitter_is_not_a_change_and_a_change_without_a_step_weighs_nothing():
    """Temperature drawn per request (features, A/B arms, user settings) has no old value to step from; the bad
    outputs come from a prompt regression in the window."""
    f = SpanFactory()
    temps = [0.2, 0.3, 0.5, 0.7, 0.9]
    base = traffic(
        40,
        -2880,
        60,
        lambda i, t: f.trace(t, *QA[i % 5], docs=[POLICY, BAGGAGE], temperature=temps[(i * 3) % 5]),
    )

    def window(i, t):
        q, a = QA[i % 5]
        bad = i >= 30 and i % 5 in (0, 3)
        return f.trace(t, q, INVENTED if bad else a, docs=[POLICY, BAGGAGE], temperature=temps[(i * 7) % 5])

    _, findings = analyse(traffic(60, 0, 20, window), base)
    assert not by(findings, "sampling", "sampling_changed")
    # a real step in a persistent setting, followed by no rise in bad outputs (they start hours later), is
    # found and weighs nothing
    f = SpanFactory()
    base = traffic(
        40, -2880, 60, lambda i, t: f.trace(t, *QA[i % 5], docs=[POLICY, BAGGAGE], temperature=0.2)
    )

    def quiet(i, t):
        q, a = QA[i % 5]
        bad = i >= 30 and i % 5 in (0, 3)
        return f.trace(
            t, q, INVENTED if bad else a, docs=[POLICY, BAGGAGE], temperature=0.2 if i < 5 else 0.4
        )

    _, findings = analyse(traffic(60, 0, 20, quiet), base)
    step = by(findings, "sampling", "sampling_changed")
    assert len(step) == 1 and step[0].data["new"] == "temperature=0.4"
    assert step[0].data["effect"] == 0.0 and step[0].strength == 0.0


def test_a_prompt_edit_counts_fully_only_when_it_changed_what_the_reports_are_about():
    """The same regression (the grounding rule dropped at minute 600), reported in words of the edit or not."""
    loose = SYSTEM.replace("Answer only from the policy documents provided in the context.\n", "")

    def run(report: str):  # noqa: ANN202
        f = SpanFactory()
        base = traffic(40, -2880, 60, lambda i, t: f.trace(t, *QA[i % 5], docs=[POLICY, BAGGAGE]))

        def window(i, t):
            q, a = QA[i % 5]
            if i >= 30:
                bad = INVENTED if i % 5 in (0, 3) else a
                return f.trace(
                    t, q, bad, docs=[POLICY, BAGGAGE], system=loose, template=("support-answer", "4")
                )
            return f.trace(t, q, a, docs=[POLICY, BAGGAGE])

        _, findings = analyse(traffic(60, 0, 20, window), base, reports=[report])
        return by(findings, "prompt_change")[0]

    related = run(
        "The bot no longer answers from the policy documents: it promised a full refund within 90 days."
    )
    unrelated = run("Customers were promised a full refund within 90 days, no questions asked.")
    assert {"documents", "policy"} <= set(related.data["related_terms"]) and unrelated.data[
        "related_terms"
    ] == []
    before = "strength_before_onset_correlation"  # the detector's own strength (the onset step clamps at 1)
    assert abs(unrelated.data[before] - T.prompt_change_unrelated * related.data[before]) < 0.01
    assert unrelated.strength < related.strength
