"""LLM providers: offline (None), OpenAI, Anthropic, and OpenAI-compatible servers."""

from __future__ import annotations

from agent.providers.base import (
    ChatMessage,
    ChatRequest,
    Completion,
    Parsed,
    Provider,
    ProviderError,
    RetryPolicy,
    Usage,
)
from agent.providers.registry import PROVIDER_NAMES, get_provider

__all__ = [
    "PROVIDER_NAMES",
    "ChatMessage",
    "ChatRequest",
    "Completion",
    "Parsed",
    "Provider",
    "ProviderError",
    "RetryPolicy",
    "Usage",
    "get_provider",
]
