"""The LLM path, behind two small functions. Any provider failure (or a provider layer that is not
installed) returns None and a one-line note; the caller then uses the offline analysis."""

from __future__ import annotations

from typing import Any

from agent.models import Classification, Evidence, Finding, Incident, Section


def _fallback_note(provider: Any, what: str, exc: Exception) -> str:
    name = getattr(provider, "name", None) or type(provider).__name__
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"provider {name} failed during {what} ({reason}); the offline analysis was used instead"


def _usage(usage: Any) -> dict[str, Any]:
    if usage is None:
        return {}
    return usage.model_dump(mode="json") if hasattr(usage, "model_dump") else dict(usage)


def llm_classify(
    provider: Any,
    incident: Incident,
    findings: list[Finding],
    evidence: list[Evidence],
    similar: list[Any],
    budget: int,
) -> tuple[Classification | None, dict[str, Any], str | None]:
    """(classification or None, usage, note)."""
    try:
        from agent.llm import classify_with_llm
        from agent.providers import ProviderError
    except ImportError as exc:
        return None, {}, f"LLM classification is not available ({exc}); the offline analysis was used instead"
    try:
        classification, usage = classify_with_llm(
            provider, incident, findings, evidence, similar, budget=budget
        )
    except ProviderError as exc:
        return None, {}, _fallback_note(provider, "classification", exc)
    return classification, {"step": "classify", **_usage(usage)}, None


def llm_narrative(
    provider: Any,
    incident: Incident,
    classification: Classification,
    findings: list[Finding],
    evidence: list[Evidence],
    budget: int,
) -> tuple[list[Section] | None, dict[str, Any], str | None]:
    """(narrative sections or None, usage, note). Sentences without citations are dropped here."""
    try:
        from agent.llm import write_narrative
        from agent.providers import ProviderError
    except ImportError as exc:
        return None, {}, f"LLM narrative is not available ({exc}); the offline draft was used instead"
    try:
        sections, usage = write_narrative(
            provider, incident, classification, findings, evidence, budget=budget
        )
    except ProviderError as exc:
        return None, {}, _fallback_note(provider, "drafting", exc)
    cited = [
        section.model_copy(update={"sentences": [s for s in section.sentences if s.cites]})
        for section in sections
    ]
    return cited, {"step": "narrative", **_usage(usage)}, None
