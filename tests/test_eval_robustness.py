"""The robustness perturbations, one property each, on real dev cases (no agent run; the suite's figures are held by
tests/test_eval_gate.py)."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, timedelta

import pytest

from evals.harness.dataset import CASES_DIR, load_samples
from evals.robustness.model import CaseTraces, root_of, trace_start, traces_of
from evals.robustness.perturb import HARMLESS_EDITS, KNOBS, PERTURBATIONS, UNRELATED_TOOL, apply
from evals.robustness.suite import CI_CASES, Outcome, RobustnessReport, Verdict, case_traces
from evals.robustness.tables import render_robustness

CASES = ("notification-summaries-conflate-headlines", "image-rewriter-distorts-historical-requests")


@pytest.fixture(scope="module", params=CASES)
def case(request) -> CaseTraces:
    (sample,) = load_samples(CASES_DIR, pattern=request.param)
    return case_traces(sample)


def _ids(case: CaseTraces) -> set[str]:
    return {s.span_id for s in case.spans}


def _window_traffic(case: CaseTraces) -> dict[str, str]:
    """The incident service's own window spans (where the bad outputs are): span id -> its JSON."""
    return {
        s.span_id: s.model_dump_json(exclude={"attributes"})
        for s in case.spans
        if s.service == case.service and s.start_time >= case.window_start
    }


@pytest.mark.parametrize("name", list(PERTURBATIONS))
def test_every_perturbation_is_seeded_and_keeps_every_span_id(case, name):
    once, twice = apply(name, case), apply(name, case)
    assert [s.model_dump_json() for s in once.spans] == [s.model_dump_json() for s in twice.spans]
    kept = _ids(once)
    window = {s.span_id for s in case.spans if s.start_time >= case.window_start}
    assert window <= kept, f"{name} lost window spans"
    if name != "baseline_quarter":
        assert _ids(case) <= kept, f"{name} lost spans"


def test_sampling_jitter_varies_per_request_within_the_ranges(case):
    moved = apply("sampling_jitter", case)
    (t_lo, t_hi), (p_lo, p_hi) = KNOBS["temperature"][0], KNOBS["top_p"][0]
    per_trace: dict[str, set] = defaultdict(set)
    for span in moved.spans:
        if span.kind.value == "llm":
            assert t_lo <= span.sampling.temperature <= t_hi and p_lo <= span.sampling.top_p <= p_hi
            per_trace[span.trace_id].add((span.sampling.temperature, span.sampling.top_p))
    assert all(len(v) == 1 for v in per_trace.values())  # one setting per request
    assert len({next(iter(v)) for v in per_trace.values()}) > len(per_trace) // 2  # and it varies
    before = {s.span_id: s.output_text for s in case.spans}
    assert all(before[s.span_id] == s.output_text for s in moved.spans)  # answers (so the bad rate) unchanged


def test_side_services_each_change_model_and_prompt_and_fail_tools_in_the_window(case):
    moved = apply("side_services", case)
    new = [s for s in moved.spans if s.service not in {x.service for x in case.spans}]
    services = {s.service for s in new}
    assert KNOBS["side_services"][0][0] <= len(services) <= KNOBS["side_services"][0][1]
    for service in services:
        mine = [s for s in new if s.service == service]
        llm = [s for s in mine if s.kind.value == "llm"]
        assert len({s.response_model for s in llm}) == 2 and len({s.system_instructions for s in llm}) == 2
        first_new_model = min(s.start_time for s in llm if s.response_model != llm[0].response_model)
        assert first_new_model >= case.window_start
        assert any(s.is_error and s.start_time >= case.window_start for s in mine if s.kind.value == "tool")
    assert _window_traffic(moved) == _window_traffic(case)


def test_own_service_noise_lands_before_the_onset(case):
    moved = apply("own_service_noise", case)
    edited = [
        s for s in moved.spans
        if s.service == case.service and any(e in (s.system_instructions or "") for e in HARMLESS_EDITS)
    ]  # fmt: skip
    assert edited and min(s.start_time for s in edited) < case.anchor
    timeouts = [s for s in moved.spans if s.tool is not None and s.tool.name == UNRELATED_TOOL]
    lo, hi = KNOBS["burst_size"][0]
    assert lo <= len(timeouts) <= hi
    assert all(s.is_error and s.service == case.service and s.start_time < case.anchor for s in timeouts)


def test_background_triples_only_the_background(case):
    moved = apply("background_3x", case)
    before = Counter(trace_start(t) < case.window_start for t in traces_of(case.spans).values())
    after = Counter(trace_start(t) < case.window_start for t in traces_of(moved.spans).values())
    assert after[True] >= 2.5 * before[True]
    own_window = [
        t for t in traces_of(moved.spans).values()
        if root_of(t).service == case.service and trace_start(t) >= case.window_start
    ]  # fmt: skip
    assert len(own_window) == sum(
        1 for t in traces_of(case.spans).values()
        if root_of(t).service == case.service and trace_start(t) >= case.window_start
    )  # fmt: skip


def test_baseline_is_cut_to_its_last_quarter(case):
    moved = apply("baseline_quarter", case)
    cut = case.window_start - (case.window_start - case.earliest) * 0.25
    assert min(trace_start(t) for t in traces_of(moved.spans).values()) >= cut
    assert len(moved.spans) < len(case.spans)


def test_optional_attributes_drop_on_about_half_the_spans(case):
    moved = apply("drop_optional", case)
    llm = [s for s in moved.spans if s.kind.value == "llm"]
    bare = [s for s in llm if s.usage.input_tokens is None and s.sampling.temperature is None]
    assert 0.3 * len(llm) <= len(bare) <= 0.7 * len(llm)
    assert all(not any("token" in k.lower() or "temperature" in k for k in s.attributes) for s in bare)


def test_the_case_is_rewritten_in_another_dialect_and_reads_back(case):
    moved = apply("other_dialect_rewrite", case)
    own = {s.dialect for s in case.spans if s.service == case.service and s.kind.value == "llm"}
    new = {s.dialect for s in moved.spans if s.service == case.service and s.kind.value == "llm"}
    assert new and new != own and len(moved.spans) == len(case.spans)
    by_id = {s.span_id: s for s in moved.spans}
    for span in case.spans:
        other = by_id[span.span_id]
        assert (other.trace_id, other.start_time, other.status.code) == (
            span.trace_id, span.start_time, span.status.code
        )  # fmt: skip
        if span.kind.value in (
            "llm",
            "retrieval",
            "tool",
        ):  # roots are chain or other depending on the dialect
            assert other.kind == span.kind
        if span.kind.value == "llm" and span.output_messages:
            assert other.model == span.model and other.output_text == span.output_text


def test_time_shift_moves_everything_by_whole_weeks(case):
    moved = apply("time_shift", case)
    delta = moved.window_start - case.window_start
    lo, hi = KNOBS["shift_weeks"][0]
    assert delta.days % 7 == 0 and lo * 7 <= abs(delta.days) <= hi * 7
    assert moved.window_end - case.window_end == delta and moved.onset - case.onset == delta
    assert all(
        (a.timestamp and b.timestamp and b.timestamp - a.timestamp == delta) or a.timestamp is None
        for a, b in zip(case.incident.reports, moved.incident.reports, strict=True)
    )
    by_id = {s.span_id: s for s in moved.spans}
    assert all(by_id[s.span_id].start_time - s.start_time == delta for s in case.spans)
    dated = [(s, by_id[s.span_id]) for s in case.spans if s.documents]
    for a, b in dated[:5]:
        for da, db in zip(a.documents, b.documents, strict=True):
            if da.updated_at and da.updated_at[:4].isdigit():
                assert da.updated_at != db.updated_at
    assert delta != timedelta(0)


def test_time_shift_moves_the_dates_the_words_give(case):
    """A case moved in time tells the same story: a date its description or reports write moves with it, in the
    style it was written (no year added where it had none)."""
    desc = (
        "The policy changed on May 19 and again on 2025-03-01 (announced 19 May 2024); the 2023 rules differ."
    )
    report = case.incident.reports[0].model_copy(
        update={"text": "Since March 3rd, 2025 it quotes the old fee."}
    )
    incident = case.incident.model_copy(update={"description": desc, "reports": [report]})
    edited = case.with_spans(case.spans, incident=incident)
    moved = apply("time_shift", edited)
    delta = moved.window_start - edited.window_start
    year = edited.window_start.year

    def month_day(d: date) -> str:
        return f"{d.strftime('%B')} {d.day}"

    may, iso, dmy = date(year, 5, 19) + delta, date(2025, 3, 1) + delta, date(2024, 5, 19) + delta
    assert moved.incident.description == (
        f"The policy changed on {month_day(may)} and again on {iso.isoformat()} (announced {dmy.day} "
        f"{dmy.strftime('%B')} {dmy.year}); the 2023 rules differ."
    )
    march = date(2025, 3, 3) + delta
    assert moved.incident.reports[0].text == f"Since {month_day(march)}, {march.year} it quotes the old fee."


def test_report_shares_and_table():
    def out(case, layer, name, same_p, same_d):
        return Outcome(case_id=case, family="generated", layer=layer, perturbation=name,
                       verdict=Verdict(primary="data"), primary_same=same_p, decisive_same=same_d)  # fmt: skip

    report = RobustnessReport(
        cases=2,
        perturbations=["a", "b"],
        outcomes=[
            out("c1", "data", "a", True, True),
            out("c1", "data", "b", True, False),
            out("c2", "model", "a", False, False),
            out("c2", "model", "b", True, True),
        ],  # fmt: skip
    )
    assert report.overall() == {"primary_same": 0.75, "decisive_same": 0.5, "stays": 0.5}
    assert report.table(by="layer") == {"data": {"a": 1.0, "b": 0.0}, "model": {"a": 0.0, "b": 1.0}}
    assert report.table() == {"generated": {"a": 0.5, "b": 0.5}}
    text = render_robustness(report)
    assert "generated (2)" in text and "data (1)" in text and "overall: primary layer stays 0.75" in text
    assert report.gate_figures()["stays:b"] == 0.5


def test_the_ci_subset_holds_one_dev_case_of_each_family_and_layer():
    from evals.robustness.suite import family_of

    samples = {s.id: s for s in load_samples(CASES_DIR, split="dev")}
    assert set(CI_CASES) <= set(samples)
    pairs = Counter((family_of(samples[c]), samples[c].gold.primary) for c in CI_CASES)
    every = {(family_of(s), s.gold.primary) for s in samples.values()}
    assert set(pairs) == every and set(pairs.values()) == {1}
