"""Clustering, labels, quality figures and recurring items, on real MiniLM vectors of small corpora whose
topics are known."""

from __future__ import annotations

import numpy as np
import pytest

from agent.patterns.analyze import analyze
from agent.patterns.cluster import candidate_ks, cluster
from agent.patterns.corpus import build_corpus
from agent.patterns.factors import action_patterns, lexicon_factors, never_closed, recurring
from agent.patterns.label import cluster_terms
from agent.patterns.quality import evaluate, nmi, purity
from agent.patterns.schema import ActionRef, CorpusItem
from retrieval.trace import PostmortemDoc
from tests.test_patterns_corpus import whole_docs, write_postmortems

SUBJECTS = ["support bot", "billing assistant", "travel agent", "HR helpdesk", "sales copilot", "legal assistant",
            "shopping assistant", "banking chatbot"]  # fmt: skip
# (title, description) per topic: titles name the failure, as post-mortem titles do; subjects vary across topics.
TOPICS = {
    "stale": (
        ("Outdated policy served from the index", "The {s} quoted an outdated policy because the index still served the archived article."),
        ("Old price list after index rebuild failed", "Answers from the {s} cited last year's price list: the nightly index rebuild had failed for days."),
        ("Documents missing from the new index", "Retrieval for the {s} returned documents missing from the new index, so customers got old terms."),
        ("Stale index kept a retired FAQ", "A stale index behind the {s} kept a retired FAQ; the re-embedding job timed out silently."),
    ),
    "model": (
        ("Malformed JSON after silent model update", "After the provider silently updated the model snapshot, the {s} returned malformed JSON."),
        ("Refusals after the model alias moved", "The {s} began refusing valid requests when the model alias moved to a newer version."),
        ("Unpinned model upgrade broke tool arguments", "An unpinned model upgrade changed how the {s} formats tool arguments, breaking validation."),
        ("Vendor swapped the model", "The vendor swapped the model under the {s}; answers became longer and ignored the schema."),
    ),
    "injection": (
        ("Prompt injection overrode the rules", "A user pasted hidden instructions into the {s} that made it ignore its rules (prompt injection)."),
        ("Injection from a poisoned web page", "Through a poisoned web page, an injection told the {s} to reveal its system prompt."),
        ("Jailbreak granted a forbidden discount", "A jailbreak message led the {s} to grant a forbidden discount; the injection overrode policy."),
        ("Injection in an uploaded file leaked data", "Injection text in an uploaded file made the {s} email customer data to an attacker."),
    ),
}  # fmt: skip


def topic_items() -> tuple[list[CorpusItem], list[str]]:
    docs, truth = [], []
    for t, (topic, templates) in enumerate(TOPICS.items()):
        for n, subject in enumerate(SUBJECTS):
            title, template = templates[n % len(templates)]
            number = t * len(SUBJECTS) + n + 1
            docs.append(
                PostmortemDoc(
                    id=f"pm-{number}",
                    title=title,
                    date=f"2025-{(n % 12) + 1:02d}-0{t + 1}",
                    service=subject.replace(" ", "-"),
                    text=template.format(s=subject),
                )
            )
            truth.append(topic)
    items = build_corpus(docs)
    order = {d.id: i for i, d in enumerate(docs)}
    return items, [truth[order[i.id]] for i in items]


@pytest.fixture(scope="module")
def topics(embedder):
    items, truth = topic_items()
    return items, truth, embedder.embed([i.text for i in items])


def test_clusters_recover_known_topics_and_name_them(topics, embedder):
    items, truth, vectors = topics
    report, result = analyze(items, vectors, embedder.embed, k=3)
    assert nmi(truth, result.labels.tolist()) > 0.9
    assert purity(truth, result.labels.tolist()) > 0.95
    labels = " ".join(c.label for c in report.clusters)
    for word in ("index", "model", "injection"):
        assert word in labels, labels
    assert sorted(c.size for c in report.clusters) == [8, 8, 8]
    assert sum(len(c.incidents) for c in report.clusters) == len(items)


def test_k_chosen_by_silhouette_gives_clusters_inside_topics(topics):
    items, truth, vectors = topics
    result = cluster([i.text for i in items], vectors)
    assert set(result.silhouette) == set(candidate_ks(len(items)))
    assert result.k == max(result.silhouette, key=lambda c: (result.silhouette[c], -c))
    # Silhouette may split a topic by wording, but never mixes topics.
    assert purity(truth, result.labels.tolist()) == 1.0, (result.k, result.labels)


def test_same_input_same_clusters_whatever_the_order(topics, embedder):
    items, _, vectors = topics
    first, _ = analyze(items, vectors, embedder.embed)
    rng = np.random.default_rng(7)
    perm = rng.permutation(len(items))
    reordered = build_corpus([PostmortemDoc(id=items[i].id, title=items[i].title, date=items[i].date,
                                            service=items[i].service, text=items[i].text.split("\n", 1)[1])
                              for i in perm])  # fmt: skip
    assert reordered == items
    again, _ = analyze(reordered, vectors, embedder.embed)
    dump = lambda r: [c.model_dump() for c in r.clusters]  # noqa: E731
    assert dump(first) == dump(again)


def test_candidate_ks_stay_small_and_bounded():
    assert candidate_ks(3) == [1]
    assert candidate_ks(12) == [2, 3, 4]
    ks = candidate_ks(1367)
    assert ks[0] == 8 and ks[-1] == 24 and len(ks) <= 10


def test_purity_and_nmi_match_hand_computed_values():
    truth = ["a", "a", "a", "b", "b", "c"]
    assert purity(truth, [0, 0, 0, 1, 1, 2]) == 1.0
    assert purity(truth, [0, 0, 1, 1, 1, 1]) == pytest.approx(4 / 6)
    assert nmi(truth, [5, 5, 5, 7, 7, 9]) == pytest.approx(1.0)
    assert nmi(truth, [0, 0, 0, 0, 0, 0]) == pytest.approx(0.0)


def test_quality_reports_both_methods_on_labelled_items_only(topics, embedder):
    items, truth, vectors = topics
    _, result = analyze(items, vectors, embedder.embed, k=3)
    labels = {item.id: t for item, t in zip(items, truth, strict=True) if not item.id.endswith("1")}
    q = evaluate(items, result, labels)
    assert q.labelled == len(labels) < len(items) and q.classes == 3
    assert q.ours.k == q.baseline.k == 3 and q.ours.seeds == 1 and q.ours.nmi_sd is None
    assert q.ours.nmi > 0.9
    assert 0.0 <= q.baseline.nmi <= 1.0 and 0.0 < q.baseline.purity <= 1.0
    spread = evaluate(items, result, labels, seeds=3)
    assert spread.ours.seeds == 3 and spread.ours.nmi_sd is not None and spread.baseline.purity_sd is not None


def test_cluster_terms_distinguish_clusters():
    texts = ["facial recognition wrongful arrest"] * 3 + ["tesla autopilot crash"] * 3
    texts = [f"{t} police report {i}" for i, t in enumerate(texts)]
    terms = cluster_terms(texts, [0, 0, 0, 1, 1, 1])
    # In every incident, so it distinguishes nothing (bigrams joining it to a distinguishing word may stay).
    assert not {"police", "police report", "report"} & set(terms[0] + terms[1]), terms
    assert any("recognition" in t for t in terms[0]) and any("autopilot" in t for t in terms[1])


def test_recurring_and_never_closed_action_items(tmp_path, embedder):
    items = build_corpus(whole_docs(write_postmortems(tmp_path)))
    groups = action_patterns([a for i in items for a in i.actions], embedder.embed)
    again = recurring(groups)
    pin = next(p for p in again if "pin" in p.text.lower())
    assert pin.incidents == ["PM-A", "pm-c"] and pin.open == 2 and pin.done == 0
    reindex = next(p for p in again if "re-index" in p.text.lower())
    assert reindex.incidents == ["PM-A", "PM-B"] and reindex.open == 1
    evals = next(p for p in again if "regression eval" in p.text.lower())
    assert evals.done == 1
    closed_somewhere = {p.text for p in groups if p.done}
    assert pin in never_closed(groups) and not closed_somewhere & {p.text for p in never_closed(groups)}


def test_action_groups_need_similar_meaning(embedder):
    refs = [
        ActionRef(incident="x", text="Rotate the API keys"),
        ActionRef(incident="y", text="Add a refund eval"),
    ]
    assert [len(p.incidents) for p in action_patterns(refs, embedder.embed)] == [1, 1]


def test_lexicon_factors_match_word_starts_only():
    assert lexicon_factors("A deepfake video impersonated the mayor") == ["synthetic media and impersonation"]
    assert lexicon_factors("The model hallucinated a fake citation") == [
        "fabricated or false output (hallucination)"
    ]
    assert lexicon_factors("an unbiased reporter") == []  # "bias" must start a word


def test_vectors_for_uses_stored_vectors_by_id_and_embeds_the_rest(topics, embedder):
    from agent.patterns.analyze import vectors_for

    items, _, vectors = topics
    stored = {item.id: vectors[i] for i, item in enumerate(items) if i % 2 == 0}
    calls: list[list[str]] = []

    def embed(texts: list[str]) -> np.ndarray:
        calls.append(texts)
        return embedder.embed(texts)

    rows = vectors_for(list(reversed(items)), stored, embed)
    assert len(calls) == 1 and len(calls[0]) == len(items) - len(stored)  # only the missing ones, in one call
    for row, item in zip(rows, reversed(items), strict=True):
        assert float(row @ vectors[items.index(item)]) > 0.999
