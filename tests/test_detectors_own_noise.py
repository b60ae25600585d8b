"""Nuisance in the incident's own service (a harmless prompt edit, an unrelated tool-timeout burst, both before the
onset): each weighs by its association with the bad outputs, not by being there and being recent."""

from __future__ import annotations

from agent.detectors.prompt_change import _related_terms
from agent.detectors.text import content_tokens
from tests.detectkit import analyse, by
from tests.spanfactory import BAGGAGE, POLICY, QA, SYSTEM, SpanFactory, Tool, at, traffic

INVENTED = "Yes, you get a full refund within 90 days, no questions asked."
REPORT = (
    "Customers say the bot promised them a full refund within 90 days, no questions asked, for their flights."
)
HARMLESS = SYSTEM + "\nIf the user mentions waiting, thank them for their patience."
STALE = POLICY.model_copy(
    update={
        "content": "Refunds are available within 90 days of purchase, no questions asked.",
        "metadata": {"source": "kb/refund-policy.md", "updated_at": "2023-01-05"},
    }
)


def _stale_policy_traffic(edit_at: int | None, burst: range = range(0)):  # noqa: ANN202
    """60 window requests; from request 30 an outdated policy document makes two in five answers wrong. A harmless
    prompt edit (v3 -> v4) lands at request `edit_at`; the requests in `burst` call a preferences tool that times
    out, and answer well."""
    f = SpanFactory()
    base = traffic(40, -2880, 60, lambda i, t: f.trace(t, *QA[i % 5], docs=[POLICY, BAGGAGE]))
    timeout = Tool("profile.get_display_preferences", "TimeoutError: timed out after 5s", error=True)

    def window(i, t):
        q, a = QA[i % 5]
        edited = edit_at is not None and i >= edit_at
        prompt = {"system": HARMLESS, "template": ("support-answer", "4")} if edited else {}
        tools = [timeout] if i in burst else None
        if i >= 30 and i % 5 in (0, 3):
            return f.trace(t, q, INVENTED, docs=[STALE, BAGGAGE], tools=tools, **prompt)
        return f.trace(t, q, a, docs=[POLICY, BAGGAGE], tools=tools, **prompt)

    return analyse(traffic(60, 0, 20, window), base, reports=[REPORT])


def test_function_words_shared_with_a_report_do_not_make_an_edit_related():
    assert not {"their", "them", "than", "if"} & content_tokens(
        "thank them for their patience if more than once"
    )
    assert {"patience", "thank"} <= content_tokens("thank them for their patience")
    ctx, _ = _stale_policy_traffic(edit_at=30)
    assert _related_terms(ctx, [], ["If the user mentions waiting, thank them for their patience."]) == []


def test_an_edit_that_ran_cleanly_long_before_the_onset_weighs_little_against_one_at_the_onset():
    _, early = _stale_policy_traffic(edit_at=20)
    _, at_onset = _stale_policy_traffic(edit_at=30)
    (early_edit,) = by(early, "prompt_change")
    (onset_edit,) = by(at_onset, "prompt_change")
    # both edits are followed by the same bad answers within reach; only the timing tells them apart: 10 clean
    # requests ran under the early one, at a later bad-answer rate of 0.4 (chance 0.6^10, about 1 in 165)
    assert onset_edit.data["effect"] > 0.3
    assert early_edit.data["effect"] < 0.05 * onset_edit.data["effect"]
    stale = by(early, "stale_documents")
    assert stale and stale[0].strength > early_edit.strength


def test_a_tool_burst_whose_requests_all_answered_well_explains_none_of_the_bad_answers():
    _, findings = _stale_policy_traffic(edit_at=None, burst=range(20, 28))
    (burst,) = by(findings, "tool_errors")
    assert burst.data["clean_requests"] == 8
    # (1 - 12/52)^8 = 0.12: eight clean requests while a quarter of the rest went bad
    assert burst.data["clean_factor"] < 0.15
    _, overlapping = _stale_policy_traffic(edit_at=None, burst=range(30, 38))
    (tied,) = by(overlapping, "tool_errors")
    assert "clean_factor" not in tied.data and tied.strength > burst.strength


def test_an_edit_rolled_out_to_half_the_calls_still_shows_its_added_line():
    f = SpanFactory()
    base = traffic(40, -2880, 60, lambda i, t: f.trace(t, *QA[i % 5], docs=[POLICY, BAGGAGE]))

    def window(i, t):
        q, a = QA[i % 5]
        if i >= 20 and i % 2:  # an A/B arm: every other call runs v4
            return f.trace(t, q, a, docs=[POLICY, BAGGAGE], system=HARMLESS, template=("support-answer", "4"))
        return f.trace(t, q, a, docs=[POLICY, BAGGAGE])

    _, findings = analyse(traffic(60, 0, 20, window), base, reports=[REPORT])
    (edit,) = by(findings, "prompt_change")
    assert edit.data["added"] == ["If the user mentions waiting, thank them for their patience."]


def test_a_step_soon_after_another_step_is_still_a_change():
    """v4 for 22 calls, a harmless v4.1 for 5, then v5: v5 is judged against v4.1, the value it replaced."""
    from agent.detectors.changes import find_changes

    f = SpanFactory()
    spans = [s for i in range(37) for s in f.trace(at(i * 20), *QA[i % 5]) if s.kind.value == "llm"]
    keys = ["4"] * 22 + ["4.1"] * 5 + ["5"] * 10
    changes = find_changes(list(zip(spans, keys, strict=True)))
    assert [(c.old, c.new) for c in changes] == [("4", "4.1"), ("4.1", "5")]
    jitter = ["a", "b"] * 11 + ["c"] * 5 + ["d"] * 10  # two arms alternating, then two steps
    assert [(c.old, c.new) for c in find_changes(list(zip(spans, jitter, strict=True)))] == [("c", "d")]


def test_with_no_bad_output_recognised_the_change_made_closest_to_the_reports_leads():
    """Content not recorded, so no answer can be judged: a prompt bump at hour 5 and a model snapshot change at
    hour 15 are both only candidates; the one the trouble was reported soonest after (hour 24) weighs more."""
    f = SpanFactory()
    base = traffic(40, -2880, 60, lambda i, t: f.trace(t, "", "", docs=None))

    def window(i, t):
        return f.trace(
            t,
            "",
            "",
            docs=None,
            template=("support-answer", "4" if i >= 15 else "3"),
            served="gpt-4o-2024-11-20" if i >= 45 else "gpt-4o-2024-08-06",
        )

    ctx, findings = analyse(traffic(72, 0, 20, window), base, reports=["Answers got worse this week."])
    assert not ctx.flags
    (bump,) = by(findings, "prompt_change")
    (snapshot,) = [x for x in by(findings, "model_drift") if x.data.get("change")]
    assert 0 < bump.data["effect"] < snapshot.data["effect"] <= 0.1


def test_words_of_an_instructions_force_do_not_make_an_edit_related():
    ctx, _ = _stale_policy_traffic(edit_at=30)
    ctx.incident.reports[0].text += " It should only quote the current policy."
    assert _related_terms(ctx, [], ["Greet the user only once per conversation."]) == []
    assert _related_terms(ctx, [], ["Only quote the current policy."]) == ["current", "policy", "quote"]


def test_per_request_values_repeated_by_the_calls_of_one_request_are_not_steps():
    """An agent makes three LLM calls per request, all with the request's jittered temperature: runs of three equal
    values are one request each, not a setting that held and then stepped."""
    from agent.detectors.changes import find_changes

    f = SpanFactory()
    items = []
    for i in range(20):
        trace = f.trace(at(i * 20), *QA[i % 5])
        llm = next(s for s in trace if s.kind.value == "llm")
        value = f"temperature={0.2 + (i * 37 % 70) / 100:.2f}"  # a different value per request
        items += [(llm.model_copy(update={"span_id": f"{llm.span_id[:14]}{k:02d}"}), value) for k in range(3)]
    assert find_changes(items) == []


def test_calls_that_lost_their_version_attribute_take_the_version_of_the_same_instructions():
    """Half the calls dropped the prompt version attribute; their instructions say which version they ran."""
    from agent.detectors.prompt_change import _keyed

    f = SpanFactory()
    spans = []
    for i in range(40):
        prompt = {"system": HARMLESS, "template": ("support-answer", "4")} if i >= 20 else {}
        llm = next(s for s in f.trace(at(i * 20), *QA[i % 5], **prompt) if s.kind.value == "llm")
        if i % 2 and llm.prompt_template is not None:
            llm = llm.model_copy(
                update={"prompt_template": llm.prompt_template.model_copy(update={"version": None})}
            )
        spans.append(llm)
    versions = [key.split("|")[0] for _, key in _keyed(spans)]
    assert versions == ["3"] * 20 + ["4"] * 20


def test_calls_that_lost_their_template_id_join_the_route_whose_instructions_they_share():
    """Telemetry dropped the template attributes of some calls. Those of one span name take the template of
    same-named calls with their instructions (two agents share the span name: each call goes to its own), so a
    prompt change is dated by its first call, not by the first one that kept the attribute."""
    from agent.detectors.prompt_change import routes

    f = SpanFactory()
    other = "You are the billing agent. Answer invoice questions from the ledger only."
    spans = []
    for i in range(24):
        writer = i % 3 == 2
        prompt = {"system": other, "template": ("billing", "1")} if writer else {}
        llm = next(s for s in f.trace(at(i * 20), *QA[i % 5], **prompt) if s.kind.value == "llm")
        spans.append(llm.model_copy(update={"prompt_template": None}) if i % 2 else llm)
    route = routes(spans)
    assert [route[s.span_id] for s in spans] == [
        "billing" if i % 3 == 2 else "support-answer" for i in range(24)
    ]
    # a call with instructions of its own (no template shares half its units) keeps its span name
    alone = next(
        s for s in f.trace(at(600), *QA[0], system="Translate the text to French.") if s.kind.value == "llm"
    )
    alone = alone.model_copy(update={"prompt_template": None})
    assert routes([*spans, alone])[alone.span_id] == alone.name


def test_a_prompt_change_is_dated_by_its_first_call_even_when_that_call_lost_its_template_id():
    f = SpanFactory()
    traces = []
    for i in range(40):
        prompt = {"system": HARMLESS, "template": ("support-answer", "4")} if i >= 20 else {}
        trace = f.trace(at(i * 20), *QA[i % 5], **prompt)
        if i in (20, 21):  # the first calls under the new version dropped their template attributes
            trace = [
                s.model_copy(update={"prompt_template": None}) if s.kind.value == "llm" else s for s in trace
            ]
        traces.append(trace)
    baseline = [s for t in traces[:16] for s in t]
    window = [s for t in traces[16:] for s in t]
    _, findings = analyse(window, baseline)
    first_new = next(s for s in traces[20] if s.kind.value == "llm")
    assert [x.onset for x in by(findings, "prompt_change")] == [first_new.start_time]


LANGUAGE_RULE = "Always reply in the language the customer writes in."
REPORTS_IN_OTHER_WORDS = ["Riders in France complain that the support chat answers them in English."]


def _edit_traffic(old: str, new: str):
    """(window, baseline): a prompt edit at request 20 of the window; the answers after it go bad."""
    f = SpanFactory()

    def make(window: bool):
        def one(i, t):
            after = window and i >= 20
            q, a = QA[i % 5]
            return f.trace(
                t, q, "Sorry, I can only help in English." if after and i % 2 else a,
                system=new if after else old, template=("support-answer", "4" if after else "3"),
            )  # fmt: skip

        return one

    return traffic(40, 0, 20, make(True)), traffic(30, -2880, 60, make(False))


def test_an_edit_about_the_reported_failure_in_other_words_is_related(embedder):
    """The reports never use the removed rule's words, yet it is what they describe: the edit is closer in meaning
    to them than every instruction that stayed, so it keeps its full weight."""
    old = f"{SYSTEM}\n{LANGUAGE_RULE}"
    new = f"{SYSTEM}\nUse our brand voice: confident, friendly, clear."
    window, baseline = _edit_traffic(old, new)
    _, lexical = analyse(window, baseline, reports=REPORTS_IN_OTHER_WORDS)
    _, semantic = analyse(window, baseline, reports=REPORTS_IN_OTHER_WORDS, embed=embedder.embed)
    (plain,) = by(lexical, "prompt_change")
    (meant,) = by(semantic, "prompt_change")
    assert plain.data["related_terms"] == [] and plain.data["related_by_meaning"] is None
    assert meant.data["related_by_meaning"] is not None
    assert meant.strength > 2 * plain.strength


def test_a_harmless_edit_is_not_closer_to_the_reports_than_what_stayed(embedder):
    old = f"{SYSTEM}\n{LANGUAGE_RULE}"
    new = f"{old}\n{HARMLESS.splitlines()[-1]}"
    window, baseline = _edit_traffic(old, new)
    _, findings = analyse(window, baseline, reports=REPORTS_IN_OTHER_WORDS, embed=embedder.embed)
    (edit,) = by(findings, "prompt_change")
    assert edit.data["related_by_meaning"] is None


def test_an_answer_the_same_request_got_without_the_tool_does_not_cover_up_its_failure():
    """The burst's requests asked what others asked and got the same answers, which other traces gave without ever
    calling the preferences tool: the answers did not need it, so not mentioning its timeout hides nothing. A
    failed tool every request calls (no trace answers without it) still counts as covered up."""
    _, findings = _stale_policy_traffic(edit_at=None, burst=range(20, 28))
    (burst,) = by(findings, "tool_errors")
    assert burst.data["ignored"] == 0 and "ignored the failure" not in burst.title

    f = SpanFactory()
    status = Tool("orders.get_status", '{"status": "shipped", "eta": "2025-05-20"}')
    down = Tool("orders.get_status", "Error: 503 Service Unavailable", error=True)

    def window(i, t):
        q, a = QA[i % 5]
        return f.trace(t, q, a, tools=[down if 20 <= i < 28 else status])

    base = traffic(40, -2880, 60, lambda i, t: f.trace(t, *QA[i % 5], tools=[status]))
    _, findings = analyse(traffic(60, 0, 20, window), base, reports=[REPORT])
    (outage,) = by(findings, "tool_errors")
    assert outage.data["ignored"] == 8
