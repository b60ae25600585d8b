"""The detectors' part of the one table of thresholds and weights (`agent/thresholds.py` `T`), each with its reason.

`Thresholds` in `agent/thresholds.py` inherits these sections, so every value is read as `T.<name>` at call time
and listed by `agent.thresholds.table()`; the sensitivity sweep (`python -m benchmarks sensitivity`) moves them one
at a time. Names start with the detector they belong to; the shared ones (novelty, shift strength) with what they
measure. Counts are `int`; values marked `budget` bound the work done (how many answers are sampled, embedded),
not what is concluded, and the sweep leaves them alone.

A strength is usually `base + gain * novelty` (how clearly the signal is new against the baseline, 0..1,
`agent/detectors/stats.py`) times `floor + gain * effect` (how much the signal goes with the bad outputs, 0..1): a
new signal that does not go with the bad outputs keeps about a third of its weight, never nothing, because the
bad outputs may have been recognised only in part.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


def _t(value: float, why: str) -> float:
    return Field(default=value, description=why)  # type: ignore[return-value]


def _n(value: int, why: str) -> int:
    return Field(default=value, description=why)  # type: ignore[return-value]


def _cap(value: int, why: str) -> int:
    """A budget: bounds the work, not the conclusion (the sweep leaves it alone)."""
    return Field(default=value, description=why, json_schema_extra={"budget": True})  # type: ignore[return-value]


class SharedThresholds(BaseModel):
    """What several detectors (and agent/detectors/stats.py, base.py) decide with."""

    # ---- stats.novelty: is a signal new against the baseline? ---------------------------------------------
    novelty_no_baseline: float = _t(
        0.6,
        "with no baseline to compare against, a signal can be common but never shown new: its novelty is capped "
        "a little above the middle",
    )
    novelty_unclear_cap: float = _t(
        0.3,
        "a rise whose interval overlaps the baseline's is not clearly new: it scores its raw difference, at most "
        "this, below novelty_change",
    )
    novelty_clear_floor: float = _t(
        0.4,
        "the novelty of the smallest clear rise (window's lower Wilson bound just above the baseline's upper "
        "one): clearly new starts where 'not clearly new' stops",
    )
    novelty_clear_gain: float = _t(
        1.5,
        "novelty grows with the gap between the bounds and saturates at a gap of 0.4 (a step of 40 points)",
    )
    novelty_change: float = _t(
        0.4,
        "a signal at least this new (a clear rise: stats.novelty gives 0.4 at the smallest) is reported as a "
        "change in the window, not drift",
    )
    # ---- stats.Association / step_effect: does a signal go with the bad outputs? ---------------------------
    association_coverage_weight: float = _t(
        0.5,
        "association = half the share of bad outputs the signal covers + half its lift (doubled, capped at 1): "
        "a cause both explains most bad outputs and raises their rate",
    )
    association_z_scale: float = _t(
        1.5,
        "the association is scaled by 1 - exp(-z / this): a z of 1.5 keeps 63%, of 3 keeps 86%, so a "
        "significant association counts almost fully and a chance one little",
    )
    step_answers: int = _n(
        40,
        "a change is judged on the 40 answers after it against the 40 before: enough to see a step of 20 points, "
        "few enough to stay near the change",
    )
    step_reach: float = _t(
        3,
        "... within three horizons (a horizon is a tenth of the window): a change is judged by what followed it "
        "soon, not by an incident days later",
    )
    step_no_before: float = _t(
        0.5,
        "with no answer before a change, only the rate after it can speak: half of it, as nothing shows it rose",
    )
    horizon_fraction: float = _t(
        10, "'near in time' is a tenth of the incident window (at least horizon_min_minutes)"
    )
    horizon_min_minutes: float = _t(
        30, "... and never under 30 minutes: deploys and rollouts take that long to reach traffic"
    )
    scope_crossing: float = _t(
        0.6,
        "a span of another service in a trace that passes through the incident's service is part of its "
        "requests: it keeps most of its weight",
    )
    scope_elsewhere: float = _t(
        0.25,
        "a span of a service the incident's requests never touch: a quarter, visible but rarely decisive",
    )
    rate_z: float = _t(
        2.5,
        "a share that rose (a language, a source gone, a group's negative rate) must do so with a two-proportion "
        "z of at least 2.5 (one-sided p ~0.006): several shares are tested per incident",
    )
    # ---- distribution shifts (retrieval, input_shift): the strength of a shift finding ---------------------
    shift_no_symptom_effect: float = _t(
        0.2,
        "the effect assumed for a shift when no bad output was recognised at all: a candidate, not evidence",
    )
    shift_base: float = _t(0.1, "a shift of any novelty is a weak hint by itself")
    shift_novelty_gain: float = _t(
        0.5, "... rising with novelty to 0.6: a shift alone never reaches a 'likely' verdict"
    )
    shift_effect_floor: float = _t(
        0.3, "a shift that does not go with the bad outputs keeps 30% (bad outputs may be only partly found)"
    )
    shift_effect_gain: float = _t(0.7, "... and the full weight when it marks them completely")


class OutputThresholds(BaseModel):
    """Phase-1 detectors that judge outputs: grounding, delivery, injection."""

    grounding_max_claims: int = _cap(8, "sentences of an answer checked: the claims sit in its first few")
    grounding_embed_answers: int = _cap(
        50, "answers sampled for the embedding check (the lexical checks see all)"
    )
    grounding_embed_doc_sentences: int = _cap(
        20, "document sentences an answer is compared with by embedding"
    )
    grounding_specific_number: float = _t(
        10,
        "a figure below 10 without decimals is a count ('3 items', 'step 2') the model may state without a "
        "source; larger ones and decimals are amounts, prices, dates that must come from the context",
    )
    grounding_flip_min_words: int = _n(
        3,
        "a claim needs three content words to be matched against a document sentence for a flipped negation",
    )
    grounding_flip_overlap: float = _t(
        0.5,
        "a claim shares at least half its content words with a document sentence: the same statement, so a "
        "negation on one side only is a contradiction",
    )
    grounding_far_cosine: float = _t(
        0.3,
        "a sentence whose best MiniLM cosine to every document sentence is below 0.3 is about something else "
        "(paraphrases of one fact score 0.6 and more)",
    )
    grounding_prompt_bad_share: float = _t(
        0.6, "the bad answers' instructions are 'their own' when most (60%) bad answers ran under them ..."
    )
    grounding_prompt_good_share: float = _t(
        0.3, "... and at most 30% of the good ones: then the instructions, not the model, set them apart"
    )
    grounding_base: float = _t(0.1, "unsupported answers, however few, are a weak finding")
    grounding_gain: float = _t(
        0.8, "... up to 0.9 when they are clearly new: an output judged wrong against its own trace is strong"
    )
    grounding_no_context_novelty: float = _t(
        0.2, "answers without any retrieved document count once their rate is somewhat new (novelty 0.2)"
    )
    grounding_no_context_base: float = _t(0.1, "a weak finding by itself ...")
    grounding_no_context_gain: float = _t(
        0.6, "... up to 0.7: a missing context is a cause candidate, not a judged bad answer"
    )
    delivery_novelty: float = _t(
        0.2, "rewritten or model-less answers count once their rate is somewhat new against the baseline"
    )
    delivery_base: float = _t(0.1, "a delivery path that bypasses the model is a weak finding by itself ...")
    delivery_gain: float = _t(0.75, "... up to 0.85 when it is clearly new")
    injection_leak_words: int = _n(
        8,
        "an output repeats the system prompt when it contains 8 consecutive words of it: shorter runs are "
        "stock phrases",
    )
    injection_refusal_chars: int = _n(
        300,
        "a refusal shorter than this is a refusal, not compliance that happens to contain the asked words",
    )
    injection_min_ask_chars: int = _n(
        6, "an injected ask shorter than 6 characters ('ok', 'yes') appears in outputs by chance"
    )
    injection_resisted: float = _t(
        0.05, "injection attempts that were not obeyed: worth a line, not evidence of a cause"
    )
    injection_obeyed_base: float = _t(
        0.35, "an obeyed injection is the bad output itself: a moderate finding even if it was seen before"
    )
    injection_obeyed_gain: float = _t(0.55, "... and strong (up to 0.9) when it is new")


class DataThresholds(BaseModel):
    """Data-layer detectors: retrieval, staleness, input shift."""

    retrieval_min_baseline: int = _n(
        5, "a baseline needs five retrievals before its score quantile or its sources mean anything"
    )
    retrieval_low_quantile: float = _t(
        0.1, "a top score under the baseline's 10th percentile is low (one in ten by chance)"
    )
    retrieval_low_novelty: float = _t(
        0.3, "low scores count once their rate is more than chance-level new (novelty 0.3)"
    )
    retrieval_source_min_share: float = _t(
        0.2, "a source missing from the window matters only if it was in a fifth of the baseline retrievals"
    )
    retrieval_source_drop: float = _t(
        0.5, "... and its window share fell to at most half of that (with rate_z significance)"
    )
    retrieval_missing_base: float = _t(0.15, "a source that stopped being retrieved: a hint by itself ...")
    retrieval_missing_gain: float = _t(0.45, "... up to 0.6 when it vanished completely")
    stale_rollback_boost: float = _t(
        1.1, "an older version replacing a newer one is a stale index for sure: a tenth more than any change"
    )
    stale_base: float = _t(
        0.25,
        "a document in the bad answers' context with a reason to be stale (newer copy, archive, date) ...",
    )
    stale_gain: float = _t(0.6, "... up to 0.85 when its presence marks the bad answers completely")
    stale_unexplained_base: float = _t(
        0.05, "a document that goes with the bad answers without any sign of staleness: barely a finding ..."
    )
    stale_unexplained_gain: float = _t(0.15, "... at most 0.2: it may only share their topic")
    stale_peer_days: int = _n(
        180,
        "a document over half a year older than the median document retrieved beside it looks out of date "
        "(supports another reason, never alone)",
    )
    stale_peer_boost: float = _t(1.1, "... and that adds a tenth")
    stale_specific_share: float = _t(
        0.8,
        "documents that merely share the bad answers' topic ride along with the one that drives them: a "
        "document whose bad-answer rate is under 80% of the most specific one's ...",
    )
    stale_rider_factor: float = _t(0.3, "... keeps 30% of its weight")
    stale_min_flagged: int = _n(
        3, "a document counts as in the bad answers' context when it was in at least three of them ..."
    )
    stale_min_association: float = _t(0.25, "... and its presence goes with them (association 0.25)")
    input_sample: int = _cap(150, "requests sampled per side for the topic comparison")
    input_min_baseline: int = _n(
        10,
        "the length and topic of inputs are compared against the spread (quantiles) of 10 baseline requests; a "
        "language's share needs no minimum: its rise test (rate_z) already fails on too few",
    )
    input_min_window: int = _n(5, "... and 5 window requests to be called shifted")
    input_onset_llr: float = _t(
        2.0,
        "where a shift starts: a change point needs a log-likelihood ratio of 2 (about 7 to 1) over none",
    )
    input_language_rise: float = _t(
        0.1, "a language's share must rise by 10 points (with rate_z significance) to be a shift"
    )
    input_length_low: float = _t(
        0.6, "inputs got shorter when the median length fell under 60% of the baseline's ..."
    )
    input_length_high: float = _t(1.6, "... or longer when it rose over 160%")
    input_length_tail: float = _t(
        0.1, "... and then the inputs beyond the baseline's outer 10% (either end) are the shifted ones"
    )
    input_topic_quantile: float = _t(
        0.05,
        "a window input is a new topic when it is further from every baseline input than 95% of baseline "
        "inputs are from their nearest other ...",
    )
    input_topic_margin: float = _t(0.03, "... by a margin of 0.03 (cosine or token overlap)")
    input_topic_novelty: float = _t(0.3, "new topics count once their rate is more than chance-level new")


class SystemThresholds(BaseModel):
    """System-layer and cross-layer detectors: truncation, bias, latent conditions, telemetry gaps, reproducibility."""

    truncation_base: float = _t(0.1, "cut outputs or full inputs are a weak finding by themselves ...")
    truncation_dropped_base: float = _t(
        0.15,
        "... a dropped system prompt or unpassed documents a little more (the model saw less than meant)",
    )
    truncation_novelty_gain: float = _t(0.45, "... rising with novelty")
    truncation_effect_floor: float = _t(
        0.35, "a truncation that does not go with the bad outputs keeps 35% ..."
    )
    truncation_effect_gain: float = _t(0.65, "... and all of it when it marks them")
    truncation_scale: float = _t(
        0.9, "the product is divided by 0.9 so a clearly new, fully tied signal nears 1"
    )
    truncation_min_calls: int = _n(
        3, "three calls with token counts (or pressed against a plateau, or passed documents in the baseline)"
    )
    truncation_known_full: float = _t(
        0.95, "an input using 95% of a known context window was cut by the context assembly"
    )
    truncation_plateau_full: float = _t(
        0.99, "without a known window, inputs within 1% of the largest seen press against a plateau ..."
    )
    truncation_plateau_share: float = _t(0.1, "... when a tenth of the calls (at least min_calls) do ...")
    truncation_plateau_baseline: float = _t(0.9, "... and the baseline stayed under 90% of that ceiling")
    truncation_min_ceiling: int = _n(
        512,
        "... and the plateau is at least 512 tokens: no context window in use, nor an assembly budget that holds "
        "instructions, context and a question, is smaller; a shorter common length is identical prompts, not a cap",
    )
    truncation_system_baseline: float = _t(
        0.1, "the system prompt was 'present in the baseline' when at most 10% of baseline calls lacked it"
    )
    truncation_dropped_novelty: float = _t(0.2, "dropped context counts once its rate is somewhat new")
    bias_cap: int = _cap(600, "answers compared for disparities (the latest)")
    bias_embed_cap: int = _cap(
        300, "above this many requests, pairs come from token overlap (embedding them all costs too much)"
    )
    bias_pair_cosine: float = _t(
        0.85, "two requests are near-identical at a MiniLM cosine of 0.85 (same ask, a detail changed)"
    )
    bias_pair_jaccard: float = _t(0.5, "... or, without embeddings, half their tokens shared")
    bias_min_answers: int = _n(12, "a disparity needs 12 answers: fewer cannot show one group faring worse")
    bias_scored_share: float = _t(
        0.5, "outcomes are read from scores when at least half the answers state one, else from refusal words"
    )
    bias_value_chars: int = _n(40, "an attribute value longer than 40 characters is free text, not a group")
    bias_max_values: int = _n(10, "an attribute with more than 10 values is an id, not a group")
    bias_min_group: int = _n(5, "a group needs 5 members and 5 non-members to compare rates")
    bias_word_pairs: int = _n(
        3,
        "a word becomes a candidate group when it is on the negative side of 3 discordant near-identical pairs",
    )
    bias_rate_gap: float = _t(
        0.2, "a group's negative rate must exceed the others' by 20 points (and rate_z)"
    )
    bias_pair_ratio: float = _t(
        3,
        "... and among near-identical pairs across the group boundary, the group must be the negative side "
        "three times as often as the other way",
    )
    bias_period_quantile: float = _t(
        0.2,
        "a 'group' whose members fall after the others' 80th (or before their 20th) percentile in time ...",
    )
    bias_period_share: float = _t(0.8, "... for 80% of them is a period, a change, not a population")
    bias_base: float = _t(0.2, "a disparity is a moderate finding by itself ...")
    bias_gap_gain: float = _t(0.4, "... rising with the rate gap ...")
    bias_pair_gain: float = _t(0.05, "... and with each discordant pair against the group ...")
    bias_max: float = _t(0.9, "... capped at 0.9")
    bias_input_sign_share: float = _t(
        0.75,
        "an input field explains a disparity when it differs in one direction in 75% of the discordant pairs",
    )
    # ---- matched_pairs: same question, same facts, another subject (agent/detectors/matched_pairs.py) ---------
    matched_min_fields: int = _n(
        3,
        "two cases match on at least 3 equal tool-result fields besides the one label (one a number): fewer "
        "equal facts is a coincidence of category, not the same case",
    )
    matched_min_pairs: int = _n(
        2, "a single discordant pair can be sampling; two independent pairs are a pattern worth a finding"
    )
    matched_full_pairs: float = _t(
        4,
        "the finding reaches its full weight at 4 discordant pairs (the bias detector's pair gain, 4 x 0.05...)",
    )
    matched_gain: float = _t(
        0.6,
        "times the share of matched groups that went both ways: same inputs, opposite outcomes is strong evidence "
        "of the model's own behaviour, as strong as a model change with a step in bad outputs (about 0.6)",
    )
    matched_max: float = _t(0.8, "capped below a confirmed change: the match is on the recorded facts only")
    latent_min_trigger: float = _t(0.1, "a trigger finding weaker than this explains nothing")
    latent_min_cases: int = _n(3, "bad outputs a latent condition must show in")
    latent_guard_share: float = _t(
        0.3,
        "a removed guard instruction: at least 30% of the bad answers ran under the prompt without it ...",
    )
    latent_guard_base: float = _t(
        0.2, "... then it weighs 0.2 (the instructions let the trigger through) ..."
    )
    latent_guard_gain: float = _t(0.3, "... plus 0.3 times that share, capped like every latent condition")
    latent_covering_share: float = _t(
        0.5, "answers covering a tool failure must be half of those that ignored it to blame the instructions"
    )
    latent_failure_base: float = _t(0.1, "missing failure instructions: weak by themselves ...")
    latent_failure_gain: float = _t(0.7, "... growing with the trigger and the share covered ...")
    latent_failure_max: float = _t(0.5, "... at most 0.5: a latent condition is contributing, never primary")
    latent_action_share: float = _t(
        0.3, "a side-effecting tool ran unchecked in at least 30% of the bad requests"
    )
    latent_action_base: float = _t(0.1, "an unchecked action: weak ...")
    latent_action_gain: float = _t(0.3, "... up to 0.4 when every bad request acted")
    latent_trigger_strength: float = _t(
        0.2,
        "a model or prompt change must be at least a weak finding (0.2) to be the trigger of a latent condition",
    )
    latent_fine_tune_effect: float = _t(
        0.3, "a fine-tune is blamed for its data when bad outputs clearly stepped up with it (effect 0.3)"
    )
    latent_fine_tune_factor: float = _t(0.5, "... at half the strength of the change itself")
    latent_limit_base: float = _t(0.1, "an output limit that cut newly long outputs: weak ...")
    latent_limit_gain: float = _t(0.4, "... up to 0.5 with the novelty of the cut outputs")
    gap_content: float = _t(0.5, "no prompt or completion content: half the analysis is blind")
    gap_system_prompt: float = _t(0.4, "no system prompt: the prompt layer cannot be examined")
    gap_response_model: float = _t(0.4, "no served model version: snapshot changes are invisible")
    gap_prompt_version: float = _t(0.2, "no prompt version: changes still show in the text")
    gap_finish_reason: float = _t(0.15, "no finish reason: truncation shows less directly")
    gap_token_usage: float = _t(0.15, "no token usage: context limits show less directly")
    gap_sampling: float = _t(0.1, "no sampling settings: rarely the cause")
    gap_min_share: float = _t(0.5, "a field is a gap when at least half the LLM calls miss it")
    gap_system_baseline: float = _t(
        0.1,
        "... unless the baseline had it (at most 10% missing): then it was dropped (truncation reports it)",
    )
    gap_no_traces: float = _t(0.6, "no traces at all: the draft rests on reports alone")
    gap_no_llm: float = _t(0.5, "spans but no LLM call: the model's inputs and outputs are unexaminable")
    gap_documents_share: float = _t(0.8, "retrieval spans record no documents when 80% of them are blank")
    gap_documents: float = _t(0.4, "... weighted by that share")
    gap_sessions_share: float = _t(
        0.2, "session ids are missing when under a fifth of the requests carry one"
    )
    gap_sessions: float = _t(0.1, "... a minor gap (affected users cannot be counted)")
    repro_similar: float = _t(
        0.55, "requests at a MiniLM cosine of 0.55 to a flagged one ask about the same thing"
    )
    repro_cap: int = _cap(150, "window requests compared by embedding (the same sample input_shift embeds)")
    repro_flagged_cap: int = _cap(60, "flagged requests they are compared with")


class RunThresholds(BaseModel):
    """Multi-agent runs (agent/runs/): which agent, at which step, made the failure inevitable."""

    runs_min_turns: int = _n(
        3, "fewer turns is one request and its answer, not a run with steps to choose between"
    )
    runs_max_runs: int = _n(
        5, "an incident about one run names it; past a handful the window is traffic, not a run"
    )
    runs_answer_bonus: float = _t(
        2.0, "the answer's own sentences say what was wrong; other claims may be correct context"
    )
    runs_confirmed_bonus: float = _t(3.0, "a claim the reports quote is known to be part of the bad output")
    runs_grounded_factor: float = _t(
        0.6,
        "a figure copied from a tool result or document is less often the wrong one than one an agent asserted "
        "unsupported (the data can still be stale: it keeps most of its weight)",
    )
    runs_replaced_bonus: float = _t(
        2.0, "a value that replaced another in the same phrase was changed there, not found"
    )
    runs_derived_factor: float = _t(
        0.3, "a figure computed from earlier ones is wrong because they are, mostly"
    )
    runs_dropped_weight: float = _t(2.0, "a correct value the reports name, stated in the run and then lost")
    runs_shape_weight: float = _t(
        1.5, "one failure shape weighs about as much as one specific claim of the answer"
    )
    runs_fallback_similarity: float = _t(
        0.8, "without traced claims: the earliest turn within this share of the best overlap"
    )
    runs_confidence_floor: float = _t(
        0.25, "a traced attribution is never below this (it rests on recorded content)"
    )
    runs_confidence_span: float = _t(
        0.6, "confidence = floor + span x the decisive turn's share of all support"
    )
    runs_fallback_confidence: float = _t(
        0.15, "an attribution from overlap alone is little more than a guess"
    )
    runs_weak_claim: float = _t(
        0.6, "below this specificity a claim's match counts only next to the answer's own words"
    )
    runs_loop_repeats: int = _n(3, "twice can be a deliberate retry; three identical actions is a loop")
    runs_loop_similarity: float = _t(0.9, "content-token Jaccard at which two messages are 'the same action'")
    runs_plan_items: int = _n(3, "fewer enumerated lines is a sentence, not a plan")
    runs_plan_coverage: float = _t(
        0.5, "share of a plan item's content words a later turn must state to address it"
    )
    runs_specific_weight: float = _t(
        0.6, "claims at least this specific count as constraints / asked terms (claims.Claim.weight)"
    )
    runs_delegation_restates: float = _t(
        0.5, "share of the task's specific terms a delegation must carry to be a restatement of it"
    )


class DetectorThresholds(SharedThresholds, OutputThresholds, DataThresholds, SystemThresholds, RunThresholds):
    """Every detector section; `agent.thresholds.Thresholds` adds the classifier's and the changes' values."""
