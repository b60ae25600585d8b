"""The JSON form of a Draft: a public contract (fields may be added, none renamed)."""

from __future__ import annotations

from typing import Any

from agent.models import Draft


def draft_json(draft: Draft) -> dict[str, Any]:
    """`{"incident", "classification": {"primary", "layers"}, "evidence", "decisive_evidence", "onset",
    "affected", "reproducibility", "action_items", "markdown", ...}` with ISO-8601 times."""
    return draft.model_dump(mode="json")
