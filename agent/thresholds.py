"""The judgement's thresholds and weights in one table, each with the reason for its value.

Detectors and the classifier read `T.<name>` at call time (never a copy taken at import), so a sensitivity sweep
(`python -m benchmarks sensitivity`) can move one value at a time and show whether any verdict sits on a knife
edge. Values were set on the dev cases only; a value is only ever changed together with its reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pydantic import ConfigDict, Field

from agent.detector_thresholds import DetectorThresholds


def _t(value: float, why: str) -> float:
    return Field(default=value, description=why)  # type: ignore[return-value]


class Thresholds(DetectorThresholds):
    """Every number the offline judgement decides with. `description` is the reason for the value. The
    detectors' sections are in agent/detector_thresholds.py; the classifier's and the changes' are here."""

    model_config = ConfigDict(validate_assignment=True)

    # ---- classifier: how a finding counts -----------------------------------------------------------------
    off_symptom: float = _t(
        0.55,
        "a finding none of whose spans lies in a trace with a bad output is about other traffic: it keeps about "
        "half its weight, so it can still rank a layer when nothing is tied to the symptom, never outweigh one "
        "finding that is",
    )
    other_service: float = _t(
        0.35,
        "a finding only in other services is a red herring unless the incident's own service shows nothing: a "
        "third of its weight keeps it visible, never decisive",
    )
    past_primary: float = _t(
        0.2,
        "a similar past incident's primary layer (times its similarity) is a prior, weaker than any trace finding "
        "of moderate strength",
    )
    past_contributing: float = _t(
        0.08, "a past incident's contributing layers: a hint, below the past primary"
    )
    text_weight_with_traces: float = _t(
        0.1,
        "with traces, the incident's own words are a tie-breaker only: people describe symptoms, not causes",
    )
    text_weight_no_traces: float = _t(
        0.35,
        "without traces the description and past incidents are all there is: a real but inconclusive prior",
    )
    # ---- classifier: roles and confidence -----------------------------------------------------------------
    primary_likely: float = _t(
        0.15,
        "below this cause score the primary layer is still named (never abstain) but its confidence is "
        "'inconclusive': a single weak finding is not an explanation",
    )
    likely_score: float = _t(
        0.45, "a primary layer scoring this (about one strong finding tied to the symptom) is 'likely'"
    )
    confirmed_score: float = _t(0.8, "'confirmed' needs a high score ...")
    confirmed_groups: float = _t(2, "... from at least two independent groups of evidence ...")
    confirmed_margin: float = _t(0.15, "... and a clear lead over the next layer")
    contributing_min: float = _t(0.33, "a non-primary layer needs about one moderate finding to contribute")
    contributing_share: float = _t(
        0.35, "... and a third of the primary's score, so a minor side finding is not called a contributor"
    )
    ruled_out_max: float = _t(0.12, "a layer examined with less than this is ruled out (noise level)")
    latent_min: float = _t(
        0.15,
        "a latent condition (what let the trigger do harm) tied to the symptom names a contributing layer",
    )
    group_extra: float = _t(
        0.0,
        "what each further finding of one group (same detector, same kind of cause) adds: nothing, so a "
        "detector's near-duplicates never add up to a verdict",
    )
    # ---- classifier: upstream first -----------------------------------------------------------------------
    model_change_effect: float = _t(
        0.15,
        "a model or snapshot change counts as 'the model changed at the onset' when the bad-output rate "
        "stepped up this much with it (effect score, 0..1)",
    )
    model_change_proximity: float = _t(
        0.5,
        "... and happened at the onset: proximity (agent/detectors/onset.py) 1 up to a few answers' spacing "
        "before it, 0.5 one window-tenth before; a change hours earlier that bad outputs only followed later "
        "is not the model changing at the onset",
    )
    change_linked_effect: float = _t(
        0.05,
        "a change (model, prompt, setting) counts as tied to the bad outputs only when their rate stepped with "
        "it at least this much (effect 0..1); below it the change keeps its (small) weight but, like an "
        "off-symptom finding, cannot make its layer the primary over one whose evidence is in the bad traces",
    )
    nondeterminism_requests: float = _t(
        3,
        "identical requests answered both well and badly show the inputs were right only when several requests "
        "did so; one such pair is as likely a fluke of sampling",
    )
    upstream_floor: float = _t(
        0.05,
        "an upstream layer (data, system, prompt) with at least this much evidence tied to the symptom is "
        "preferred to a model verdict whose inputs were never shown right",
    )
    # ---- changes: a step in a persistent setting ----------------------------------------------------------
    persistent_before: float = _t(
        0.6,
        "a setting is persistent when its most common value held this share of the calls before a new value "
        "appeared; a setting that varies per request (sampling jitter, A/B arms) has no single old value, so "
        "a new value of it is not a change",
    )
    persistent_after: float = _t(
        0.2,
        "a new value must then hold this share of the calls that follow (a staged rollout reaches 20% soon; a "
        "stray value does not)",
    )
    change_no_symptom: float = _t(
        0.1,
        "the effect assumed for a change when no bad output was recognised at all: a candidate, not evidence",
    )
    model_change_gain: float = _t(
        0.9,
        "a change's strength is gain * sqrt(effect): nothing without a step in bad outputs, about half with a "
        "clear partial step (effect 0.3), near the gain with a full one",
    )
    sampling_change_gain: float = _t(
        0.75,
        "strength per unit of effect of a sampling change: lower, as sampling moves quality a little and "
        "rarely causes a step in bad outputs by itself",
    )
    prompt_change_unrelated: float = _t(
        0.25,
        "a prompt edit none of whose changed words the description or reports use (a rephrase, a tone or "
        "spelling line) keeps this share of its weight: timing alone makes it a candidate, not the cause. A "
        "quarter, so that an unrelated edit landing right at the onset (fully associated by timing) does not "
        "outweigh a moderate finding inside the bad traces; 0.4 let the robustness suite's harmless edits take two "
        "dev verdicts, and no dev verdict moved between the two",
    )
    prompt_related_margin: float = _t(
        0.05,
        "an edit is about what the reports describe, in other words, when its closest sentence-embedding cosine to "
        "a report beats every unchanged instruction's by 0.05: paraphrases of one idea differ by less; dev's true "
        "edits beat them by 0.1-0.3, its harmless edits fall 0.1-0.5 below",
    )
    prompt_route_overlap: float = _t(
        0.5,
        "a call that lost its template id joins the template of same-named calls when at least half of its "
        "instruction units are theirs: the instructions, not the request data around them, name the route; a "
        "version edit changes a line or two, so the old and new calls of one route still share most units",
    )
    # ---- symptoms: which outputs were bad --------------------------------------------------------------
    symptom_rise_p: float = _t(
        0.01,
        "an output pattern (refusal, cut off, wrong language, error, very short) whose window rate exceeds the "
        "baseline's with a one-sided Fisher p below this is a symptom: 1 in 100 by chance across the ~5 "
        "patterns checked per incident",
    )
    symptom_rise_ratio: float = _t(
        2.0, "... and at least doubled: a significant but small drift of a common pattern is not a symptom"
    )
    symptom_similarity_short_baseline: int = Field(
        default=3,
        description="with this many baseline answers (and fewer than 10, where the 95th percentile is read), the "
        "highest baseline similarity to the reports is the null a bad output must pass: a healthy output "
        "passes the highest of n only 1 time in n+1, and the window's own spread, which holds the bad "
        "outputs, is not used",
    )
    # ---- detectors: presence is not evidence -------------------------------------------------------------
    tool_error_base: float = _t(
        0.0,
        "as a cause, a tool error as such weighs nothing: only errors new against the baseline, or ignored by "
        "the answers, count (the novelty terms of the tool_errors detector)",
    )
    tool_error_symptom_base: float = _t(
        0.05,
        "as a judgement of outputs, an answer that ignored a tool failure is suspect by itself: this floor lets "
        "the symptom step (strength >= 0.1 half, >= 0.25 fully) count such answers once the error is at all new",
    )
    usual_temperature: float = _t(
        0.0, "a high temperature the baseline ran with too is not a change and marks no bad output: nothing"
    )
    new_temperature: float = _t(
        0.1,
        "a high temperature new in the window, not found as a step (per-request settings): a weak hint only",
    )
    # ---- the draft's stated probabilities (agent/layer_probability.py) ----------------------------------------
    probability_score_gain: float = _t(
        6.25,
        "p(layer) is a softmax of gain * score: fitted on the dev cases to minimise the Brier score (`postmortem "
        "eval --split dev` prints the fit and its cross-validated score); a score 0.2 higher makes a layer about "
        "twice as probable",
    )
    probability_primary_bonus: float = _t(
        2.0,
        "... plus this for the named primary (fitted with the gain): it was chosen upstream first and tied to the "
        "bad outputs, which its score alone does not show",
    )

    # ---- stages: chunkers, hand-offs, filters, indexes (agent/detectors/stages.py) ---------------------------
    stage_setting_gain: float = _t(
        0.9,
        "a step in a persistent setting of a stage (a version, a limit, an index snapshot) weighs like a model or "
        "prompt change: gain * sqrt(effect of the step on the bad-output rate), nothing without a step",
    )
    stage_signal_gain: float = _t(
        0.8,
        "a stage cutting or rewriting what passes through it weighs gain * association score (coverage of the "
        "bad outputs and lift of their rate, squashed by the z of the difference): a signal that marks the bad "
        "traces and few others reaches about 0.6",
    )
    stage_min_spans: int = _t(
        8,
        "a stage seen fewer times than this (a side call now and then) has no series to find a step in: its "
        "attribute values are those of a few calls",
    )
    stage_setting_chars: int = _t(
        80, "a stage attribute longer than this is content (a text, a payload), not a setting"
    )
    stage_min_pairs: int = _t(
        4,
        "a stage needs this many spans with both an input and an output (or both counts) before its usual "
        "behaviour, passing through or keeping all, can be told from a change of it",
    )
    stage_old_habit: float = _t(
        0.4,
        "a per-request stage signal as common before the window as in it keeps this share of its weight: the "
        "stage always did this, so it is a condition more than what changed",
    )
    post_stage_min_chars: int = _t(
        8,
        "a model answer shorter than this (a label, a yes) is found verbatim in too many inputs to identify the "
        "stage after the model that received it",
    )
    stage_min_new: int = _t(
        3, "a new value of a stage setting must show in at least this many spans to be a step, not a one-off"
    )
    stage_setting_constant: float = _t(
        0.9,
        "a stage attribute is a setting when one value held this share of all its spans before the step; a "
        "count or size that varies per request is not, however its values happen to fall",
    )
    stage_equal_share: float = _t(
        0.5,
        "two counts of a stage form a kept/total pair when the one equals the other in at least half the spans "
        "and never exceeds it: items were dropped where it fell below",
    )
    stage_new_change: float = _t(
        0.4,
        "a per-request stage signal clearly new against the baseline (novelty) is dated like a change, so its "
        "distance to the onset counts; an old habit of the stage is not",
    )

    tool_field_max_values: int = _t(
        6,
        "a tool-result field with more distinct values than this is free text or an identifier, not a category "
        "(a unit, a source, a format tag) whose new value could mark bad data",
    )
    tool_field_gain: float = _t(
        0.8,
        "a new categorical value in tool results weighs gain * association score * novelty: it must both mark "
        "the bad outputs and be new against the baseline (a value as common before is how the data always was)",
    )

    # ---- symptoms: structured answers (agent/detectors/output_fields.py) ----------------------------------
    output_field_min_seen: int = _t(
        5,
        "a field of JSON answers needs this many healthy (baseline) values before a window value can be called "
        "out of its range",
    )
    output_field_range: float = _t(
        20.0,
        "a number more than this factor above every healthy value of its field (or below by it) is a unit or "
        "column slip, not the spread of real values (prices, days, amounts vary within about one order)",
    )

    # ---- index_age: an index not rebuilt after an update (agent/detectors/index_age.py) --------------------
    index_age_gain: float = _t(
        0.45,
        "an index built before an update the incident mentions, that every bad answer drew on, is a moderate data "
        "cause on its own (the date alone does not show which documents changed): about one moderate finding",
    )
    index_age_coverage: float = _t(
        0.5,
        "at least this share of the bad answers must have drawn on the old index for it to explain them",
    )

    # ---- figures: answers stating figures none of their inputs gave (agent/detectors/figures.py) -------------
    figures_min_baseline: int = _t(
        5,
        "baseline answers needed to say the service's healthy answers do not state figures of their own; with "
        "fewer, such answers count only through a rise in their rate",
    )
    figures_baseline_share: float = _t(
        0.1,
        "a service whose healthy answers state figures no input gave in at most this share (one in ten: a date, "
        "a rounding) does not do it by design, so an answer that does is wrong on its own",
    )
    # ---- segments: a new population of requests (agent/detectors/segments.py) ---------------------------------
    segment_gain: float = _t(
        0.8,
        "a request attribute value new in the window weighs gain * association score * novelty, like a new "
        "tool-result value: it must both mark the bad outputs and be new against the baseline",
    )
    segment_min_others: int = _t(
        5,
        "requests without the value, from its first appearance on, needed to compare against: fewer and the value "
        "is a step every request took (a release), not a population beside the usual one",
    )


T = Thresholds()


@contextmanager
def scaled(name: str, factor: float) -> Iterator[None]:
    """Temporarily multiply one threshold (for the sensitivity sweep); restored on exit."""
    old = getattr(T, name)
    new = old * factor
    if Thresholds.model_fields[name].annotation is int:
        new = round(new)  # a count moves to the nearest count
    setattr(T, name, new)
    try:
        yield
    finally:
        setattr(T, name, old)


def table() -> list[tuple[str, float, str]]:
    """(name, value, why) for every threshold, in declaration order."""
    return [(n, getattr(T, n), f.description or "") for n, f in Thresholds.model_fields.items()]


def is_budget(name: str) -> bool:
    """A value that bounds the work (how many answers are sampled or embedded), not what is concluded."""
    extra = Thresholds.model_fields[name].json_schema_extra
    return isinstance(extra, dict) and bool(extra.get("budget"))
