"""List prices per model, in USD per million tokens (input, output). Unknown model -> cost None, never a guess.

Figures are the providers' published list prices for standard (non-batch, uncached) use, as listed in mid 2026;
they change, so treat costs as estimates. A dated snapshot ("gpt-4.1-mini-2025-04-14") prices as its alias; a routing
prefix ("openai/gpt-4o") is ignored. Local models behind an OpenAI-compatible server have no price.
"""

from __future__ import annotations

import re

PER_MILLION: dict[str, tuple[float, float]] = {
    # OpenAI
    "gpt-5.5": (5.00, 30.00),
    "gpt-5.4": (2.50, 15.00),
    "gpt-5.4-mini": (0.75, 4.50),
    "gpt-5.4-nano": (0.20, 1.25),
    "gpt-5.1": (1.25, 10.00),
    "gpt-5": (1.25, 10.00),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5-nano": (0.05, 0.40),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "o3": (2.00, 8.00),
    "o3-mini": (1.10, 4.40),
    "o4-mini": (1.10, 4.40),
    # Anthropic
    "claude-fable-5-1": (10.00, 50.00),
    "claude-opus-5-5": (4.00, 20.00),
    "claude-opus-5": (5.00, 25.00),
    "claude-sonnet-5-5": (2.00, 10.00),
    "claude-sonnet-5": (2.00, 10.00),
    "claude-sonnet-4-6": (3.00, 15.00),
    "claude-sonnet-4-5": (3.00, 15.00),
    "claude-sonnet-4": (3.00, 15.00),
    "claude-opus-4-5": (5.00, 25.00),
    "claude-opus-4-1": (15.00, 75.00),
    "claude-opus-4": (15.00, 75.00),
    "claude-haiku-4-5": (1.00, 5.00),
    "claude-3-5-haiku": (0.80, 4.00),
}

_SNAPSHOT = re.compile(r"^(-\d{4}-?\d{2}-?\d{2}|-latest)?$")


def price(model: str | None) -> tuple[float, float] | None:
    """(input, output) USD per million tokens, or None when the model is not in the table."""
    if not model:
        return None
    name = model.rsplit("/", 1)[-1].lower()
    best: str | None = None
    for known in PER_MILLION:
        if (
            name.startswith(known)
            and _SNAPSHOT.match(name[len(known) :])
            and (best is None or len(known) > len(best))
        ):
            best = known
    return PER_MILLION[best] if best else None


def cost_usd(model: str | None, input_tokens: int, output_tokens: int) -> float | None:
    rates = price(model)
    if rates is None:
        return None
    return round((input_tokens * rates[0] + output_tokens * rates[1]) / 1_000_000, 8)
