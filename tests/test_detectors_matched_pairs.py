"""The matched-pairs detector (agent/detectors/matched_pairs.py): the same question about cases whose tool results
agree on every fact but one label, answered consistently per case and differently across them, is the model's
own behaviour (its inputs were the same); sampling noise and figures echoed from the inputs are not."""

from __future__ import annotations

import json

from tests.detectkit import analyse, by
from tests.spanfactory import QA, SpanFactory, Tool, traffic

# couples filing jointly: the same income, debt ratio and score, another first name
COUPLES = [("Michael Brandt", "Maria Brandt", 98000, 742), ("Tom Yilmaz", "Aylin Yilmaz", 61000, 701),
           ("David Osei", "Jennifer Osei", 142000, 781)]  # fmt: skip
LIMIT = {98000: (12000, 5000), 61000: (6000, 2500), 142000: (20000, 8000)}


def _reviews(answer_for):
    """(window, baseline, flagged trace ids): limit reviews of each applicant, three times each; answer_for(
    couple, second, k) says what the k-th review of the couple's first or second applicant recommends."""
    f = SpanFactory()
    bad_ids: list[str] = []

    def review(i, t):
        c, second, k = i % 3, (i // 3) % 2 == 1, i // 6
        name = COUPLES[c][1 if second else 0]
        income, fico = COUPLES[c][2], COUPLES[c][3]
        profile = {
            "applicant": name,
            "annual_income_usd": income,
            "dti": 0.24,
            "fico": fico,
            "household": "joint",
        }
        tool = Tool(
            "get_applicant_profile", json.dumps(profile), arguments=json.dumps({"application_id": f"A-{i}"})
        )
        trace_id = f"{i + 1:032x}"
        answer = answer_for(c, second, k)
        if second:
            bad_ids.append(trace_id)
        return f.trace(
            t, f"Review limit for application A-55{c}{int(second)}", answer, tools=[tool], trace_id=trace_id
        )

    window = traffic(18, 0, 20, review)
    baseline = traffic(20, -2880, 60, lambda i, t: f.trace(t, *QA[i % 5]))
    return window, baseline, bad_ids


def _limit(c: int, second: bool, k: int) -> str:
    return f"Recommend USD {LIMIT[COUPLES[c][2]][1 if second else 0]:,}."


def test_same_facts_another_name_a_consistently_lower_limit_is_the_models_own_behaviour():
    window, baseline, bad = _reviews(_limit)
    _, findings = analyse(window, baseline, trace_ids=bad)
    (found,) = by(findings, "matched_pairs")
    assert found.layer_hint == "model" and found.data["inputs_checked"] is True
    assert found.data["field"] == "get_applicant_profile.applicant" and found.data["discordant_groups"] == 3
    assert found.strength >= 0.4


def test_answers_that_vary_for_the_same_case_are_sampling_not_a_matched_difference():
    def noisy(c: int, second: bool, k: int) -> str:
        return f"Recommend USD {(5000, 12000, 8000)[(k + second) % 3]:,}."

    window, baseline, bad = _reviews(noisy)
    _, findings = analyse(window, baseline, trace_ids=bad)
    assert by(findings, "matched_pairs") == []


def test_figures_copied_from_the_inputs_are_echoes_not_decisions():
    def echo(c: int, second: bool, k: int) -> str:
        return (
            f"Application A-55{c}{int(second)} reviewed: income USD {COUPLES[c][2]:,}, score {COUPLES[c][3]}."
        )

    window, baseline, bad = _reviews(echo)
    _, findings = analyse(window, baseline, trace_ids=bad)
    assert by(findings, "matched_pairs") == []


def test_a_category_that_recurs_across_cases_may_rightly_decide_the_answer():
    """The look-alike: the label is a region shared by applicants with other facts, and the limit depends on it
    by design. A value seen in several groups of facts is a category, not who the case is about."""
    f = SpanFactory()
    bad_ids: list[str] = []

    def review(i, t):
        c, eu = i % 3, (i // 3) % 2 == 1
        income, fico = COUPLES[c][2], COUPLES[c][3]
        profile = {"region": "EU" if eu else "US", "annual_income_usd": income, "dti": 0.24, "fico": fico}
        tool = Tool(
            "get_applicant_profile", json.dumps(profile), arguments=json.dumps({"application_id": f"A-{i}"})
        )
        trace_id = f"{i + 1:032x}"
        if eu:
            bad_ids.append(trace_id)
        answer = f"Recommend USD {LIMIT[income][1 if eu else 0]:,}."
        return f.trace(
            t, f"Review limit for application A-55{c}{int(eu)}", answer, tools=[tool], trace_id=trace_id
        )

    window = traffic(18, 0, 20, review)
    baseline = traffic(20, -2880, 60, lambda i, t: f.trace(t, *QA[i % 5]))
    _, findings = analyse(window, baseline, trace_ids=bad_ids)
    assert by(findings, "matched_pairs") == []
