"""Data-layer detectors: retrieval, stale documents, input shift, grounding of answers in their context."""

from __future__ import annotations

from agent.detectors.staleness import archived, family_of, mentioned_dates
from tests.detectkit import analyse, by
from tests.spanfactory import BAGGAGE, POLICY, QA, SpanFactory, Tool, at, doc, traffic

INVENTED = "Yes, you get a full refund within 90 days, no questions asked."


def healthy(f: SpanFactory, n=40, start=-2880, step=60, **kw):
    return traffic(n, start, step, lambda i, t: f.trace(t, *QA[i % 5], docs=[POLICY, BAGGAGE], **kw))


def test_empty_retrievals_after_an_index_outage():
    f = SpanFactory()
    dunno = "I don't know the answer to that, let me connect you with an agent."

    def window(i, t):
        q, a = QA[i % 5]
        return f.trace(t, q, dunno, docs=[]) if i >= 30 else f.trace(t, q, a, docs=[POLICY, BAGGAGE])

    _, findings = analyse(traffic(60, 0, 20, window), healthy(f))
    empty = by(findings, "retrieval", "empty_retrieval")
    assert empty and empty[0].layer_hint == "data" and empty[0].strength >= 0.4
    assert empty[0].data["rate_window"] == 0.5 and empty[0].data["rate_baseline"] == 0.0


def test_lower_scores_and_a_missing_source():
    f = SpanFactory()
    weak_doc = doc("General travel tips for busy airports.", "kb/tips.md", "2024-05-01", score=0.31)

    def window(i, t):
        q, a = QA[i % 5]
        if i >= 20:
            return f.trace(t, q, "Please check our website for details.", docs=[weak_doc])
        return f.trace(t, q, a, docs=[POLICY, BAGGAGE])

    _, findings = analyse(traffic(60, 0, 20, window), healthy(f))
    missing = by(findings, "retrieval", "source_missing")
    assert {m.data["source"] for m in missing} == {"kb/refund-policy.md", "kb/baggage.md"}
    assert missing[0].data["rate_baseline"] == 1.0 and missing[0].data["rate_window"] < 0.4
    low = by(findings, "retrieval", "low_scores")
    assert low and low[0].data["median_baseline"] > low[0].data["median_window"]


def test_repeated_baseline_scores_do_not_make_a_dip_a_drop():
    """Five healthy retrievals recorded three times each: the lowest score is also the 10th percentile, so none
    of the baseline falls under it, though one in ten healthy retrievals does by construction. A third of the
    window a hair under it is no drop; most of it far under still is."""
    f = SpanFactory()
    scores = [0.84, 0.86, 0.88, 0.89, 0.9]

    def one(score_of):
        return lambda i, t: f.trace(
            t, *QA[i % 5], docs=[doc("Refunds within 30 days.", "kb/r.md", score=score_of(i))]
        )

    baseline = traffic(15, -2880, 60, one(lambda i: scores[i % 5]))
    dip = traffic(30, 0, 20, one(lambda i: 0.83 if i % 3 == 0 else scores[i % 5]))
    drop = traffic(30, 0, 20, one(lambda i: 0.6 if i % 3 else scores[i % 5]))
    assert not by(analyse(dip, baseline)[1], "retrieval", "low_scores")
    assert by(analyse(drop, baseline)[1], "retrieval", "low_scores")


def test_retrieval_quiet_on_healthy_traffic():
    f = SpanFactory()
    _, findings = analyse(healthy(f, n=60, start=0, step=20), healthy(f))
    assert not by(findings, "retrieval") and not by(findings, "stale_documents")
    assert not by(findings, "grounding") and not by(findings, "input_shift")


def test_stale_document_predating_the_change_the_reports_mention():
    """The policy changed on March 1; the index still serves the 2023 page, and answers repeat it: right before
    the change, wrong after it. Only the reports' date and quote tell them apart."""
    f = SpanFactory()
    old = doc(
        "Refunds are available within 90 days of purchase, no questions asked.",
        "kb/refund-policy.md",
        "2023-01-05",
    )

    def make(i, t):
        q, a = QA[i % 5]
        if i % 5 in (0, 3):  # refund questions retrieve the outdated page
            return f.trace(t, q, INVENTED, docs=[old, BAGGAGE])
        return f.trace(
            t, q, a, docs=[doc("A change costs a fee of $75.", "kb/fees.md", "2024-12-01"), BAGGAGE]
        )

    reports = ["The refund policy changed on March 1st, yet the bot still says 'full refund within 90 days'."]
    ctx, findings = analyse(traffic(60, 0, 20, make), traffic(40, -2880, 60, make), reports=reports)
    assert mentioned_dates(ctx)[0].isoformat() == "2025-03-01"
    stale = by(findings, "stale_documents", "stale_in_context")
    assert [s.data["source"] for s in stale] == ["kb/refund-policy.md"]
    assert stale[0].layer_hint == "data" and stale[0].strength >= 0.5
    assert stale[0].evidence[0].startswith("doc:") and "2025-03-01" in stale[0].title
    assert not by(findings, "grounding")  # the answers are faithful to the (outdated) document


def test_a_date_after_the_incident_makes_no_document_stale():
    """The same outdated page, but the only date the reports give lies after the incident (when it was reported,
    or a change still to come): a document cannot have gone stale before the incident by a later date. (A case
    moved in time without its reports' text hits exactly this.)"""
    f = SpanFactory()
    old = doc("Refunds are available within 90 days of purchase.", "kb/refund-policy.md", "2023-01-05")

    def make(i, t):
        q, a = QA[i % 5]
        if i % 5 in (0, 3):
            return f.trace(t, q, INVENTED, docs=[old, BAGGAGE])
        return f.trace(t, q, a, docs=[BAGGAGE])

    reports = ["Reported on 2025-09-01: the bot still says 'full refund within 90 days'."]
    ctx, findings = analyse(traffic(60, 0, 20, make), traffic(40, -2880, 60, make), reports=reports)
    assert (
        mentioned_dates(ctx)[0].isoformat() == "2025-09-01"
        and ctx.window_end.date().isoformat() < "2025-09-01"
    )
    assert not by(findings, "stale_documents", "stale_in_context")
    assert by(findings, "stale_documents", "in_bad_context")  # still in the bad answers' context, as a lead


def test_archived_copy_beside_the_current_one_is_stale_and_the_incident_day_explains_nothing():
    """The index serves an archived 2023 copy of the refund page next to the current one. The reports only give
    the incident's own day ("since 4 March"): that date must not make every older document stale; the archived
    copy is stale because a newer copy of the same document exists."""
    f = SpanFactory()
    archived_copy = doc(
        "Refunds are available within 90 days of purchase, no questions asked.",
        "kb/archive/refund-policy-2023.md",
        "2023-01-05",
    )
    current = doc(
        "Refunds are available within 30 days of purchase.", "kb/policies/refund-policy.md", "2025-02-20"
    )

    def make(i, t):
        q, a = QA[i % 5]
        if i % 5 in (0, 3) and t >= at(0):  # from the window on, refund questions also get the archived copy
            return f.trace(t, q, INVENTED, docs=[archived_copy, current])
        return f.trace(t, q, a, docs=[current, BAGGAGE])

    reports = ["Since 4 March the bot tells customers 'full refund within 90 days'."]
    ctx, findings = analyse(traffic(60, 0, 20, make), traffic(40, -2880, 60, make), reports=reports)
    assert mentioned_dates(ctx)[0].isoformat() == "2025-03-04"  # inside the incident window
    stale = by(findings, "stale_documents", "stale_in_context")
    assert [s.data["source"] for s in stale] == ["kb/archive/refund-policy-2023.md"]
    reasons = stale[0].data["stale_reasons"]
    assert any("newer copy" in r and "kb/policies/refund-policy.md" in r for r in reasons)
    assert any("archive" in r for r in reasons) and not any("2025-03-04" in r for r in reasons)
    assert stale[0].strength >= 0.5


def test_document_families_and_archive_marks():
    assert family_of("kb/archive/refund-policy-2023.md") == family_of("kb/policies/refund-policy.md")
    assert family_of("docs/pricing_v2.md") == family_of("docs/pricing.md") == "pricing"
    assert family_of("faq/shipping-2024-01.html") == "shipping"
    assert family_of("kb/help/how-to-return.md") != family_of("kb/policies/refund-policy.md")
    assert family_of("2023.md") == "2023"  # nothing left after the marks: keep the name
    assert archived("kb/archive/refund-policy-2023.md") == "archive"
    assert archived("kb/Legacy/terms.md") == "Legacy"
    assert archived("kb/archived-not-a-segment.md") is None and archived("kb/policies/old-town.md") is None


SPANISH = (
    "¿Puedo obtener un reembolso de mi billete de la semana pasada?",
    "¿Cuánto cuesta cambiar mi vuelo a otra fecha?",
    "¿Cuántas maletas puedo facturar en mi vuelo?",
)


def test_language_shift_in_inputs(embedder):
    f = SpanFactory()

    def window(i, t):
        if i >= 30 and i % 2 == 0:
            return f.trace(
                t, SPANISH[i % 3], "Refunds are available within 30 days of purchase.", docs=[POLICY]
            )
        return f.trace(t, *QA[i % 5], docs=[POLICY, BAGGAGE])

    _, findings = analyse(traffic(60, 0, 20, window), healthy(f), embed=embedder.embed)
    lang = by(findings, "input_shift", "language")
    assert lang and lang[0].data["language"] == "es" and lang[0].data["share_baseline"] == 0.0
    assert lang[0].layer_hint == "data"
    # answering Spanish questions in English is the symptom, and it lines up with the shift
    assert lang[0].data["flagged_with_signal"] == 15 and lang[0].strength >= 0.4


def test_a_language_shift_needs_no_long_baseline_only_a_significant_rise():
    """Seven healthy requests are few for a spread, enough for a share: Spanish in two thirds of the window against
    none of seven is a significant rise. Against two, it is not."""
    f = SpanFactory()

    def window(i, t):
        if i % 3:
            return f.trace(
                t, SPANISH[i % 3], "Refunds are available within 30 days of purchase.", docs=[POLICY]
            )
        return f.trace(t, *QA[i % 5], docs=[POLICY, BAGGAGE])

    spans = traffic(36, 0, 20, window)
    _, findings = analyse(spans, healthy(f, n=7))
    lang = by(findings, "input_shift", "language")
    assert lang and lang[0].data["language"] == "es" and lang[0].layer_hint == "data"
    _, findings = analyse(spans, healthy(f, n=2))
    assert not by(findings, "input_shift", "language")


USUAL = [
    "Can I get a refund on my ticket from last week?",
    "How much does it cost to change my flight?",
    "How many bags can I check?",
    "What's the refund window for online purchases?",
    "Is there a fee for an extra suitcase?",
    "Can I bring a stroller on board?",
    "How heavy can my carry-on be?",
    "Can I cancel a booking made with points?",
    "When will my refund arrive on my card?",
    "Can I change the name on my ticket?",
    "Is seat selection free on basic fares?",
    "What happens if I miss my connecting flight?",
]
NEW_TOPIC = [
    "Do I need a visa to transit through Tokyo?",
    "Which vaccinations are required to enter Brazil?",
    "Is my passport valid for entry if it expires in four months?",
    "Do children need their own passport to travel to Mexico?",
    "Can I enter Canada with a criminal record?",
]


def test_new_kinds_of_requests_by_embedding(embedder):
    f = SpanFactory()
    base = traffic(
        48, -2880, 60, lambda i, t: f.trace(t, USUAL[i % 12], "Here is our policy.", docs=[POLICY])
    )

    def window(i, t):
        q = NEW_TOPIC[i % 5] if i >= 30 and i % 2 else USUAL[i % 12]
        return f.trace(t, q, "Here is our policy.", docs=[POLICY])

    _, findings = analyse(traffic(60, 0, 20, window), base, embed=embedder.embed)
    topic = by(findings, "input_shift", "topic")
    assert topic and topic[0].data["method"] == "embeddings" and topic[0].data["share_window"] == 0.25
    assert topic[0].layer_hint == "data" and topic[0].onset > base[-1].start_time
    assert not by(findings, "input_shift", "language")


def test_unsupported_figures_and_citations_are_found_and_noise_is_not():
    f = SpanFactory()
    noisy = "You may check one bag up to 23 kg; extra bags cost $60, or $45 online."  # baseline noise

    def base(i, t):
        q, a = QA[i % 5]
        return f.trace(t, q, noisy if i % 5 == 2 else a, docs=[POLICY, BAGGAGE])

    def window(i, t):
        q, a = QA[i % 5]
        if i % 5 == 2:
            a = noisy
        if i >= 30 and i % 5 == 0:
            a = "Refunds are available within 90 days [source: refund-terms-2019.pdf]."
        return f.trace(t, q, a, docs=[POLICY, BAGGAGE])

    ctx, findings = analyse(traffic(60, 0, 20, window), traffic(40, -2880, 60, base))
    g = by(findings, "grounding", "unsupported")
    assert (
        len(g) == 1 and g[0].data["rate_window"] == 0.1
    )  # 6 invented answers; the usual $45 miss is not counted
    bad = set(g[0].data["bad_span_ids"])
    assert len(bad) == 6 and all("90 days" in ctx.by_id[s].output_text for s in bad)
    assert g[0].layer_hint == "model"  # the instructions demand grounded answers
    assert set(g[0].data["reasons"]) >= {"figure", "cites"}
    for q in g[0].data["quotes"]:
        assert q["text"] in ctx.by_id[q["evidence"].split(":", 1)[1]].output_text


def test_negation_flip_contradicts_the_document():
    f = SpanFactory()
    rule = doc("Bereavement fares cannot be claimed after travel has been completed.", "kb/bereavement.md")
    good = "Bereavement fares cannot be claimed after travel has been completed."
    bad = "Bereavement fares can be claimed after travel has been completed."
    q = "Can I claim a bereavement fare after my trip?"
    base = traffic(20, -1200, 60, lambda i, t: f.trace(t, q, good, docs=[rule]))
    win = traffic(30, 0, 20, lambda i, t: f.trace(t, q, bad if i >= 15 else good, docs=[rule]))
    _, findings = analyse(win, base)
    g = by(findings, "grounding", "unsupported")
    assert g and g[0].data["reasons"] == ["contradicts"] and len(g[0].data["bad_span_ids"]) == 15
    assert any(e.startswith("doc:") for e in g[0].evidence)


def test_answers_without_any_retrieved_document():
    f = SpanFactory()

    def window(i, t):
        q, a = QA[i % 5]
        if i >= 30:
            return f.trace(t, q, "Refunds take 14 days and cost $25.", docs=None)
        return f.trace(t, q, a, docs=[POLICY, BAGGAGE])

    _, findings = analyse(traffic(60, 0, 20, window), healthy(f))
    bare = by(findings, "grounding", "no_context")
    assert bare and bare[0].layer_hint == "data" and len(bare[0].data["bad_span_ids"]) == 30


# ---- a new population of requests (segments) and answers stating figures no input gave (figures) ----------------
CALLS = [  # (transcript, intent | account): account numbers spoken in groups, written joined
    ("moving house next month, account 4410 2291", "move_home | 44102291"),
    ("my bill is too high, account 5521 0098", "bill_dispute | 55210098"),
    ("no power on our street", "outage | none"),
    ("can I spread the payments, account 3009 1147", "payment_plan | 30091147"),
]
GARBLED = ("flitting out with the city, count for for one oh nine nine two", "outage | 4410992")


def _call(f: SpanFactory, t, transcript: str, intent: str, queue: str):
    stt = Tool("speech_to_text", f'{{"text": "{transcript}"}}', arguments='{"call": "c-1"}')
    spans = f.trace(t, "call c-1", intent, docs=None, tools=[stt])
    root = spans[0].model_copy(update={"attributes": {"call": {"queue": queue}}})
    return [root, *spans[1:]]


def test_a_new_request_population_that_marks_the_bad_outputs_is_data():
    # the new queue's calls are transcribed badly: their answers carry account numbers no transcript gave
    f = SpanFactory()
    base = traffic(20, -1440, 60, lambda i, t: _call(f, t, *CALLS[i % 4], queue="man-02"))

    def window(i, t):
        if i >= 10 and i % 3 == 0:
            return _call(f, t, *GARBLED, queue="gla-01")
        return _call(f, t, *CALLS[i % 4], queue="man-02")

    ctx, findings = analyse(traffic(45, 0, 20, window), base)
    assert len(ctx.flags & {a.span_id for a in ctx.answers}) == 11  # the garbled calls, and only them
    segment = by(findings, "segments", "new_request_segment")
    assert len(segment) == 1 and segment[0].layer_hint == "data"
    assert (segment[0].data["key"], segment[0].data["value"]) == ("call.queue", "gla-01")
    assert segment[0].strength == max(f.strength for f in findings if f.layer_hint)


def test_a_value_every_later_request_carries_is_a_step_not_a_population():
    # a release tag on every request from some point on: no requests without it to compare with
    f = SpanFactory()
    base = traffic(20, -1440, 60, lambda i, t: _call(f, t, *CALLS[i % 4], queue="v1"))

    def window(i, t):
        if i >= 10:
            return _call(f, t, *(GARBLED if i % 3 == 0 else CALLS[i % 4]), queue="v2")
        return _call(f, t, *CALLS[i % 4], queue="v1")

    _, findings = analyse(traffic(45, 0, 20, window), base)
    assert not by(findings, "segments")


def test_digits_spoken_in_groups_are_given_joined():
    from agent.detectors.figures import given_numbers

    assert {"4410", "2291", "44102291"} <= given_numbers("account 4410 2291, call 555-0142")
    assert "5550142" in given_numbers("call 555-0142") and "1.5" in given_numbers("v 1.5")


def test_a_new_request_population_without_a_baseline_is_still_weighed():
    # the same garbled queue with no baseline kept: the bad answers are known from a report quoting one, and the
    # new queue marks them; with nothing to show the value new, its weight is capped, never zero
    f = SpanFactory()

    def window(i, t):
        if i >= 10 and i % 3 == 0:
            return _call(f, t, *GARBLED, queue="gla-01")
        return _call(f, t, *CALLS[i % 4], queue="man-02")

    report = 'The bot filed my outage under "outage | 4410992", an account that is not mine.'
    _, findings = analyse(traffic(45, 0, 20, window), [], reports=[report])
    segment = by(findings, "segments", "new_request_segment")
    assert len(segment) == 1 and segment[0].layer_hint == "data"
    assert (segment[0].data["key"], segment[0].data["value"]) == ("call.queue", "gla-01")
    assert segment[0].strength > 0.1
