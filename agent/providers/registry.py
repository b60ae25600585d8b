"""Build the configured provider from settings. Offline (the default) is `None`: callers use the offline analysis.

Names: offline, openai, anthropic, openai-compatible, and the aliases ollama / vllm / llamacpp (OpenAI-compatible,
with the server's usual local URL unless POSTMORTEM_BASE_URL says otherwise).
"""

from __future__ import annotations

from collections.abc import Callable

from agent.providers.base import Provider, ProviderError, RetryPolicy
from agent.providers.modes import ModeMemory
from agent.settings import LOCAL_SERVERS, PROVIDER_NAMES, Settings

# The SDKs are imported only when their provider is built: importing anthropic alone takes seconds, and every
# `postmortem` command would pay for it.

__all__ = ["LOCAL_SERVERS", "PROVIDER_NAMES", "get_provider", "mode_memory"]


def get_provider(
    settings: Settings, name: str | None = None, *, policy: RetryPolicy | None = None
) -> Provider | None:
    """The provider called `name` (default: settings.provider), or None for offline.

    Raises ValueError for an unknown name (a user mistake) and ProviderError when the provider is known but not
    usable as configured (no API key, no base URL): callers fall back to offline and say why.
    """
    chosen = (name or settings.provider or "offline").strip().lower()
    if chosen in ("", "offline", "none"):
        return None
    if chosen not in PROVIDER_NAMES:
        raise ValueError(f"unknown provider {chosen!r}; choose one of: {', '.join(PROVIDER_NAMES)}")
    common = {
        "model": settings.model,
        "redact": _redactor(settings),
        "policy": policy or RetryPolicy(max_retries=settings.max_retries),
        "timeout": settings.timeout_for(chosen),
        "memory": mode_memory(settings),
    }
    if chosen == "anthropic":
        from agent.providers.anthropic_provider import AnthropicProvider

        key = settings.anthropic_api_key.get_secret_value() if settings.anthropic_api_key else None
        if not key and not settings.base_url:
            raise ProviderError("anthropic: ANTHROPIC_API_KEY is not set")
        return AnthropicProvider(api_key=key, base_url=settings.base_url, **common)
    from agent.providers.openai_provider import OpenAIProvider

    if chosen == "openai":
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        if not key and not settings.base_url:
            raise ProviderError("openai: OPENAI_API_KEY is not set")
        return OpenAIProvider(api_key=key, base_url=settings.base_url, **common)
    base_url = settings.base_url or LOCAL_SERVERS.get(chosen)
    if not base_url:
        raise ProviderError(
            "openai-compatible: POSTMORTEM_BASE_URL is not set (e.g. http://127.0.0.1:11434/v1)"
        )
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    return OpenAIProvider(api_key=key, base_url=base_url, compatible=True, retry_timeouts=False, **common)


def mode_memory(settings: Settings) -> ModeMemory:
    """The structured-output modes that worked, per base URL and model, in the home's providers.sqlite."""
    return ModeMemory(settings.home / "providers.sqlite")


def _redactor(settings: Settings) -> Callable[[str], str] | None:
    """Redaction runs on every prompt before it leaves the machine, unless switched off in settings."""
    if not settings.redact:
        return None
    from retrieval.redact import Redactor

    return Redactor(settings.redact_kinds).text
