"""The description lexicon (agent.textcues) and the AIID dev/test split it is measured on."""

from __future__ import annotations

import csv

import pytest

from agent.models import LAYERS, Incident, Report
from agent.textcues import FALLBACK, classify_description, cue_hits, explain, text_prior
from evals.harness import aiid


def _inc(title: str, description: str = "", *reports: str) -> Incident:
    return Incident(title=title, description=description, reports=[Report(text=r) for r in reports])


@pytest.mark.parametrize(
    ("text", "layer"),
    [
        # model: hallucination, learned bias, recognition errors, model changes
        ("Legal chatbot hallucinated citations to cases that do not exist", "model"),
        ("Hiring screener found biased against older applicants", "model"),
        ("Speech app misidentified the caller and mistranslated the request", "model"),
        ("Answers got longer after the provider's silent model update", "model"),
        # prompt: instructions, personas, jailbreaks and injections
        ("Users jailbreak the assistant with a role persona to get banned content", "prompt"),
        ("The new system prompt template dropped the escalation instruction", "prompt"),
        ("A web page carried a prompt injection: 'ignore previous instructions'", "prompt"),
        # data: stale or poisoned sources, consent-less training data, adversarial inputs
        ("The help bot quoted a stale policy page from the knowledge base", "data"),
        ("Image model's training data collected by scraping photos without consent", "data"),
        ("Search answers drew on poisoned forum posts", "data"),
        # system: misuse without safeguards, process, infrastructure, guardrail code
        ("Deepfake video of a CEO used to scam staff", "system"),
        ("Man wrongfully arrested after a face match; police got a warrant", "system"),
        ("Voice cloning used to impersonate a minister", "system"),
        ("Order bot failed during the payment API outage: tool call timed out", "system"),
        ("A misconfigured guardrail let leaked passwords through", "system"),
    ],
)
def test_each_layer_has_cues_written_from_its_definition(text: str, layer: str) -> None:
    verdict = explain(_inc(text))
    assert verdict.layer == layer, verdict.why()
    assert not verdict.fallback and any(h.layer == layer for h in verdict.hits)
    assert verdict.why().startswith(f"{layer}: '")


@pytest.mark.parametrize(
    "text",
    [
        "He was a model citizen",
        "She pointed with her index finger",
        "Spectators at the racetrack near an apiary",
        "Thanks for a prompt reply and the feedback",  # ('the prompt reply' would match: a known limit)
        "The company learned of it from a $500 fine",
        "A falsely labelled tool shed",  # 'falsely' alone and 'tool' alone are not cues
    ],
)
def test_look_alikes_do_not_match(text: str) -> None:
    assert cue_hits(text) == [], [h.cue for h in cue_hits(text)]
    assert classify_description(_inc(text)) is None


def test_stems_plurals_and_word_edges() -> None:
    assert [h.cue for h in cue_hits("Hallucinations everywhere")] == ["hallucinat*"]
    assert [h.cue for h in cue_hits("two deepfakes")] == ["deepfake*"]
    assert [h.cue for h in cue_hits("known biases")] == ["bias"]
    assert cue_hits("the biasing circuit") == []  # 'bias' takes only s/es, not any ending
    assert [h.cue for h in cue_hits("AI-generated images spread")] == ["ai generated image"]
    assert [h.cue for h in cue_hits("wrong answers")] == ["wrong answer"]


def test_weights_decide_and_the_prior_is_the_weight_share() -> None:
    # one heavy system cue (deepfake 3) against one light model cue (incorrect 1)
    incident = _inc("Deepfake ad made incorrect claims")
    verdict = explain(incident)
    assert verdict.layer == "system" and verdict.scores["system"] == 3 and verdict.scores["model"] == 1
    prior = text_prior(incident)
    assert prior["system"] == pytest.approx(0.75) and prior["model"] == pytest.approx(0.25)
    assert sum(prior.values()) == pytest.approx(1.0)
    # a phrase counts once however often it occurs; reports count as the incident's words too
    repeated = _inc("bias bias bias", "", "the bot hallucinated")
    assert explain(repeated).scores["model"] == 2 + 3


def test_without_cues_it_abstains_and_the_fallback_is_visible_and_never_a_prior() -> None:
    quiet = _inc("Something odd happened at the office")
    assert classify_description(quiet) is None
    verdict = explain(quiet, fallback=True)
    assert verdict.layer == FALLBACK == "system" and verdict.fallback and verdict.hits == []
    assert "no cue matched" in verdict.why()
    assert classify_description(quiet, fallback=True) == "system"
    assert set(text_prior(quiet).values()) == {0.0}
    # with a cue the fallback changes nothing
    assert explain(_inc("the model hallucinated"), fallback=True).fallback is False


# -- the AIID split -------------------------------------------------------------------------------------------
def test_the_shipped_split_is_the_seeded_stratified_one() -> None:
    labels = aiid.load_labels()
    assert all(label.split in aiid.SPLITS for label in labels)
    assert {label.incident_id: label.split for label in labels} == aiid.assign_splits(labels)
    for layer in LAYERS:
        ids = [label for label in labels if label.primary_layer == layer]
        dev = sum(label.split == "dev" for label in ids)
        assert dev == (len(ids) + 1) // 2  # half of each hand label, rounded up, is dev
    other = aiid.assign_splits(labels, seed=1)
    assert other != aiid.assign_splits(labels)  # the seed matters, so the fixed one is a choice


def test_a_bad_split_names_the_line(tmp_path) -> None:
    path = tmp_path / "labels.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["incident_id", "primary_layer", "split", "reason"])
        writer.writerow(["1", "model", "dev", "ok"])
        writer.writerow(["2", "data", "train", "no such split"])
    with pytest.raises(aiid.AiidError, match=r"labels.csv:line 3: split 'train'"):
        aiid.load_labels(path)


def _aiid(n: int, title: str) -> aiid.AiidIncident:
    return aiid.AiidIncident(incident_id=n, date="2024-01-01", title=title, description="")


def test_scores_are_reported_per_split_and_majority_is_fitted_on_dev() -> None:
    incidents = [
        _aiid(1, "Deepfake scam call"),
        _aiid(2, "Chatbot hallucinated a lawsuit"),
        _aiid(3, "Nothing said about any part"),
        _aiid(4, "Stale knowledge base answers"),
        _aiid(5, "Model hallucinated a quote"),
    ]
    rows = [
        (1, "system", "dev"),
        (2, "model", "dev"),
        (3, "model", "dev"),
        (4, "data", "test"),
        (5, "data", "test"),
    ]
    labels = [aiid.Label(incident_id=i, primary_layer=layer, reason="r", split=s) for i, layer, s in rows]
    report = aiid.evaluate_aiid(incidents, labels)
    by = {split: {s.system: s for s in results} for split, results in report.by_split.items()}
    assert set(by) == {"dev", "test"} and report.split_counts["test"] == {"data": 2}
    assert by["dev"]["agent"].correct == 2 and by["dev"]["agent"].abstained == 1  # no cue in incident 3
    assert by["dev"]["agent+fallback"].predictions[3] == "system" and by["dev"]["agent+fallback"].correct == 2
    assert by["test"]["agent"].correct == 1 and by["test"]["agent"].predictions[5] == "model"
    # majority comes from dev (model 2 of 3), though data is as common over all five labels
    assert by["test"]["majority"].predictions == {4: "model", 5: "model"}
    assert "on dev" in by["dev"]["majority"].method
    overall = {s.system: s for s in report.systems}
    assert overall["agent"].correct == by["dev"]["agent"].correct + by["test"]["agent"].correct


@pytest.mark.skipif(not aiid.default_csv().is_file(), reason="shared AIID data not beside the checkout")
def test_on_the_real_dev_half_the_lexicon_beats_the_keyword_baseline() -> None:
    report = aiid.evaluate_aiid(aiid.load_incidents(aiid.default_csv()), aiid.load_labels())
    dev = {s.system: s for s in report.by_split["dev"]}
    assert dev["agent"].accuracy > dev["keyword"].accuracy
    assert dev["agent+fallback"].accuracy > dev["majority"].accuracy
    assert (
        report.all_predicted["agent"].get("none", 0) < report.all_incidents / 3
    )  # most incidents get a layer
