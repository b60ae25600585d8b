"""The exceptions of the openai and anthropic SDKs, classified once for both.

Both SDKs are generated from the same template and name their errors alike (APITimeoutError, APIConnectionError,
APIStatusError, APIResponseValidationError), so one function, given the SDK module, serves both providers. Both
providers build their client with `max_retries=0`: the retries, and their accounting, are base.Provider's.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from agent.providers.base import Failure

RETRYABLE_STATUS = frozenset({408, 409, 429})  # and every 5xx


def sdk_failure(exc: Exception, sdk: ModuleType, timeout: float) -> Failure | None:
    """Classify an exception raised by `sdk` (the openai or anthropic module); None when it is not the SDK's."""
    if isinstance(exc, sdk.APITimeoutError):  # a subclass of APIConnectionError: test it first
        return Failure(reason=f"request timed out after {timeout:g}s", retryable=True)
    if isinstance(exc, sdk.APIConnectionError):
        return Failure(reason=f"cannot connect ({exc})", retryable=True)
    if isinstance(exc, sdk.APIStatusError):
        status = exc.status_code
        retryable = status in RETRYABLE_STATUS or status >= 500
        after = retry_after_seconds(exc.response.headers) if retryable else None
        return Failure(reason=f"HTTP {status}: {error_message(exc)}", retryable=retryable, retry_after=after)
    if isinstance(exc, sdk.APIResponseValidationError):
        return Failure(reason=f"unexpected response shape: {exc}", retryable=True)
    return None


def error_message(exc: Any) -> str:
    """The server's own message from an APIStatusError's JSON body (`{"error": {"message": …}}`), else the SDK's."""
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
    return exc.message


def retry_after_seconds(headers: Any) -> float | None:
    """Seconds from Retry-After / Retry-After-Ms response headers (numeric forms), else None."""
    if headers is None:
        return None
    for header, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(header)
        if value is None:
            continue
        try:
            return float(value) / divisor
        except ValueError:
            continue
    return None
