"""The offline classifier: transparent per-layer scores, several layers, red herrings that cannot decide."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from agent.evidence import EvidenceCatalog
from agent.layer_classifier import ScoringInput, classify_offline
from agent.models import Finding, Incident, Report
from agent.state import SimilarIncident
from agent.textcues import classify_description, text_prior
from retrieval.trace import Span, SpanKind

T0 = datetime(2025, 5, 12, 10, 0, tzinfo=UTC)


def _span(span_id: str, trace: str, service: str = "bot", minutes: int = 0) -> Span:
    return Span(
        trace_id=trace * 32,
        span_id=span_id * 16,
        name="chat",
        kind=SpanKind.llm,
        service=service,
        start_time=T0 + timedelta(minutes=minutes),
    )


CATALOG = EvidenceCatalog(
    [_span("1", "a"), _span("2", "b"), _span("3", "c"), _span("4", "d", service="search"), _span("5", "e")]
)
BAD_TRACES = {"a" * 32, "b" * 32}


def _finding(detector: str, layer, strength: float, *spans: str, change: bool = False) -> Finding:
    return Finding(
        detector=detector,
        title=f"{detector} finding",
        layer_hint=layer,
        strength=strength,
        evidence=[f"span:{s * 16}" for s in spans],
        data={"change": True} if change else {},
    )


def _classify(findings, **kw):
    data = ScoringInput(
        findings=findings,
        flagged_traces=kw.pop("flagged", BAD_TRACES),
        service="bot",
        trace_of=CATALOG.trace_of,
        service_of=CATALOG.service_of,
        **kw,
    )
    result = classify_offline(data)
    return result, {a.layer: a for a in result.layers}


def test_red_herrings_do_not_decide():
    findings = [
        _finding("stale_documents", "data", 0.55, "1", "2"),
        _finding("tool_errors", "system", 0.6, "3"),  # an unrelated tool error in a healthy trace
        _finding("model_drift", "model", 0.7, "4", change=True),  # a model change in another service
    ]
    result, layers = _classify(findings)
    assert result.primary == "data"
    assert layers["system"].role != "contributing" and layers["model"].role != "contributing"
    assert layers["system"].score < layers["data"].score and layers["model"].score < layers["data"].score
    assert "not in a flagged trace" in layers["system"].rationale
    assert "other service" in layers["model"].rationale
    assert layers["data"].evidence == ["span:" + "1" * 16, "span:" + "2" * 16]
    loud = [_finding("stale_documents", "data", 0.4, "1"), _finding("tool_errors", "system", 0.95, "3")]
    result, layers = _classify(loud)  # even a loud unrelated error does not become primary
    assert result.primary == "data" and layers["system"].role == "unknown"
    assert result.method == "offline"


def test_several_layers_contribute_independent_groups_reinforce_near_duplicates_do_not():
    findings = [
        _finding("stale_documents", "data", 0.7, "1", "2"),
        _finding("prompt_change", "prompt", 0.45, "5", change=True),  # a change's first span need not be bad
        _finding("injection", "prompt", 0.2, "2"),
    ]
    result, layers = _classify(findings)
    assert result.primary == "data" and layers["prompt"].role == "contributing"
    assert layers["model"].role == "ruled_out" and layers["system"].role == "ruled_out"
    assert layers["data"].confidence in ("likely", "confirmed")
    assert (
        "over 2 group(s)" in layers["prompt"].rationale
        and "prompt_change finding" in layers["prompt"].rationale
    )
    assert layers["prompt"].score == 0.56  # two detectors, two groups: 1 - (1 - 0.45)(1 - 0.2)
    # ten near-duplicates of one detector about one kind of cause are one piece of evidence
    dupes = [_finding("tool_errors", "system", 0.17, "1") for _ in range(10)]
    _, dupe_layers = _classify(dupes)
    assert (
        dupe_layers["system"].score == 0.17 and "+9 more of the same kind" in dupe_layers["system"].rationale
    )


def test_the_primary_is_always_named_and_a_weak_case_says_so_in_its_confidence():
    weak, weak_layers = _classify([_finding("stale_documents", "data", 0.1, "1")])
    assert weak.primary == "data" and weak_layers["data"].confidence == "inconclusive"
    nothing, nothing_layers = _classify([])
    assert nothing.primary is not None and nothing_layers[nothing.primary].confidence == "inconclusive"


def test_upstream_first_the_model_is_primary_only_with_a_model_change_or_inputs_shown_right():
    unproven = [_finding("sampling", "model", 0.5, "1"), _finding("stale_documents", "data", 0.2, "2")]
    result, layers = _classify(unproven)
    assert result.primary == "data" and "Upstream first" in layers["data"].rationale
    checked = _finding("grounding", "model", 0.5, "1")
    checked.data["inputs_checked"] = True
    assert _classify([checked, unproven[1]])[0].primary == "model"
    changed = _finding("model_drift", "model", 0.5, "1", change=True)
    changed.data.update(kind="served_model_changed", effect=0.6, scope_weight=1.0)
    assert _classify([changed, unproven[1]])[0].primary == "model"
    changed.data["effect"] = (
        0.0  # a change with no step in bad outputs is not the model changing at the onset
    )
    assert _classify([changed, unproven[1]])[0].primary == "data"
    alone, alone_layers = _classify([unproven[0]])  # nothing upstream: the model, saying what was examined
    assert alone.primary == "model" and "Upstream causes examined first" in alone_layers["model"].rationale


def test_a_telemetry_gap_leaves_its_layer_unknown_not_ruled_out():
    gap = Finding(
        detector="telemetry_gaps",
        title="No system prompt recorded on 40 of 40 LLM spans",
        layer_hint=None,
        strength=0.5,
        is_gap=True,
    )
    _, layers = _classify([_finding("stale_documents", "data", 0.7, "1"), gap])
    assert layers["prompt"].role == "unknown" and "gap" in layers["prompt"].rationale
    assert layers["model"].role == "ruled_out"


def test_without_traces_past_incidents_and_the_description_decide_inconclusively():
    incident = Incident(
        title="Assistant ignored the escalation rule after a prompt rewrite",
        description="Support says the new system prompt template no longer tells the bot to escalate.",
        reports=[Report(text="The instructions changed last week, now it never hands over to a human.")],
    )
    gap = Finding(detector="no_traces", title="No traces were recorded", strength=1.0, is_gap=True)
    past = [
        SimilarIncident(id="pm-1", title="Tone rewrite removed escalation", score=0.8, layers=["prompt"]),
        SimilarIncident(id="pm-2", title="Stale FAQ", score=0.35, layers=["data", "system"]),
    ]
    result, layers = _classify(
        [gap], similar=past, has_traces=False, text_prior=text_prior(incident), flagged=set()
    )
    assert result.primary == "prompt" and layers["prompt"].confidence == "inconclusive"
    assert "pm:pm-1" in layers["prompt"].evidence
    assert all(a.role != "ruled_out" for a in result.layers)
    assert classify_description(incident) == "prompt"
    assert classify_description(Incident(title="Something odd happened")) is None


def _latent(layer, strength: float, *spans: str) -> Finding:
    return Finding(
        detector="latent_conditions",
        title=f"latent {layer} condition",
        layer_hint=layer,
        strength=strength,
        evidence=[f"span:{s * 16}" for s in spans],
        data={"latent": True},
    )


def test_a_latent_condition_tied_to_bad_outputs_contributes_and_cites_its_finding():
    findings = [_finding("model_drift", "model", 0.6, "1", change=True), _latent("prompt", 0.2, "2")]
    result, layers = _classify(findings)
    assert result.primary == "model"
    assert layers["prompt"].role == "contributing" and layers["prompt"].evidence == ["span:" + "2" * 16]
    assert "latent prompt condition" in layers["prompt"].rationale
    # the same score without the latent mark stays below the contributing thresholds
    plain = [findings[0], _finding("prompt_change", "prompt", 0.2, "2")]
    assert _classify(plain)[1]["prompt"].role != "contributing"


def test_a_latent_condition_never_becomes_primary_nor_contributes_off_symptom():
    loud = [_finding("tool_errors", "system", 0.3, "1"), _latent("prompt", 0.9, "2")]
    result, layers = _classify(loud)
    assert result.primary == "system" and layers["prompt"].role == "contributing"
    assert layers["prompt"].score > layers["system"].score  # the score shows it; the role does not follow it
    off = [
        _finding("model_drift", "model", 0.6, "1", change=True),
        _latent("prompt", 0.5, "3"),
    ]  # healthy trace
    assert _classify(off)[1]["prompt"].role != "contributing"
    weak = [_finding("model_drift", "model", 0.6, "1", change=True), _latent("data", 0.1, "2")]
    assert _classify(weak)[1]["data"].role != "contributing"
    alone = [_latent("prompt", 0.9, "2")]  # with nothing else, a condition is not a cause
    result, layers = _classify(alone)
    assert result.primary != "prompt" and layers["prompt"].role == "unknown"
    assert layers[result.primary].confidence == "inconclusive"


def test_a_change_the_bad_outputs_did_not_step_with_cannot_take_the_primary_from_evidence_in_bad_traces():
    def prompt_edit(effect: float) -> Finding:
        edit = _finding("prompt_change", "prompt", 0.05, "3", change=True)
        return edit.model_copy(update={"data": {"change": True, "effect": effect}})

    weak_but_tied = _finding("retrieval", "data", 0.04, "1")  # in a bad trace
    result, layers = _classify([prompt_edit(0.01), weak_but_tied])
    assert result.primary == "data" and "no step in bad outputs" in layers["prompt"].rationale
    result, _ = _classify([prompt_edit(0.6), weak_but_tied])  # the same edit with a step is tied to them
    assert result.primary == "prompt"
