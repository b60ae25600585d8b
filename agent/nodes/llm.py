"""The LLM path, behind two small functions. Any provider failure (or a provider layer that is not
installed) returns None and one plain sentence; the caller then uses the offline analysis. The usage of every
call is returned either way, failed calls included."""

from __future__ import annotations

from typing import Any

from agent.models import Classification, Evidence, Finding, Incident, Section


def fallback_note(provider: Any, what: str, exc: Exception) -> str:
    """One plain sentence: which provider, which step, why (the reason is plain; the server's text is logged)."""
    name = getattr(provider, "name", None) or type(provider).__name__
    reason = getattr(exc, "reason", None) or (str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    prefix = f"{name}: "
    if reason.startswith(prefix):
        reason = reason[len(prefix) :]
    return (
        f"provider {name} failed during {what} ({reason.rstrip('.')}); the offline analysis was used instead"
    )


def _usage(step: str, usage: Any, *, failed: bool = False) -> dict[str, Any]:
    if usage is None:
        return {}
    data = usage.model_dump(mode="json") if hasattr(usage, "model_dump") else dict(usage)
    if not data.get("calls"):
        return {}
    return {"step": step, **data, **({"failed": True} if failed else {})}


def llm_classify(
    provider: Any,
    incident: Incident,
    findings: list[Finding],
    evidence: list[Evidence],
    similar: list[Any],
    budget: int,
    offline: Classification,
    max_tokens: int | None = None,
) -> tuple[Classification | None, dict[str, Any], list[str]]:
    """(the model's classification merged into the offline one, or None; usage; notes for the draft)."""
    try:
        from agent.llm.classifier_step import classify_checked
        from agent.llm.merge import merge_with_offline
        from agent.providers import ProviderError
    except ImportError as exc:
        return (
            None,
            {},
            [f"LLM classification is not available ({exc}); the offline analysis was used instead"],
        )
    try:
        checked, usage = classify_checked(
            provider, incident, findings, evidence, similar, budget=budget, max_tokens=max_tokens
        )
    except ProviderError as exc:
        return (
            None,
            _usage("classify", exc.usage, failed=True),
            [fallback_note(provider, "classification", exc)],
        )
    merged, merge_notes = merge_with_offline(checked, offline)
    notes = [f"classification: {note}" for note in [*merge_notes, *checked.notes]]
    return merged, _usage("classify", usage), notes


def llm_narrative(
    provider: Any,
    incident: Incident,
    classification: Classification,
    findings: list[Finding],
    evidence: list[Evidence],
    budget: int,
    max_tokens: int | None = None,
) -> tuple[list[Section] | None, dict[str, Any], list[str]]:
    """(the sections the model wrote, or None; usage; notes for the draft). A section of the model replaces the
    offline one only when every sentence in it passed the check; the notes say which sections it wrote."""
    try:
        from agent.llm.narrative import write_narrative_checked
        from agent.providers import ProviderError
    except ImportError as exc:
        return None, {}, [f"LLM narrative is not available ({exc}); the offline draft was used instead"]
    try:
        checked, usage = write_narrative_checked(
            provider, incident, classification, findings, evidence, budget=budget, max_tokens=max_tokens
        )
    except ProviderError as exc:
        return None, _usage("narrative", exc.usage, failed=True), [fallback_note(provider, "drafting", exc)]
    return checked.sections, _usage("narrative", usage), checked.notes()


def llm_investigate(
    provider: Any, settings: Any, **evidence: Any
) -> tuple[Any | None, Any | None, dict, list[str]]:
    """(classification merged with offline or None, the investigation log, usage, notes): the investigation loop
    (agent/investigate/), falling back to the offline classification with one plain sentence when it fails."""
    try:
        from agent.investigate import investigate
        from agent.providers import ProviderError
    except ImportError as exc:
        return (
            None,
            None,
            {},
            [f"LLM investigation is not available ({exc}); the offline analysis was used instead"],
        )
    try:
        result = investigate(provider, settings, **evidence)
    except ProviderError as exc:  # the prompt itself could not be built (a budget too small)
        return (
            None,
            None,
            _usage("investigate", exc.usage, failed=True),
            [fallback_note(provider, "investigation", exc)],
        )
    usage = _usage("investigate", result.usage, failed=result.classification is None)
    if usage:
        usage["tool_calls"] = len(result.log.calls)
    if result.classification is None:
        name = getattr(provider, "name", None) or type(provider).__name__
        reason = (result.failure or "no answer").removeprefix(f"{name}: ").rstrip(".")
        note = (
            f"provider {name} failed during investigation ({reason}); the offline analysis was used instead"
        )
        return None, result.log, usage, [note]
    return result.classification, result.log, usage, result.notes
