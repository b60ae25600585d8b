"""The exceptions of the openai and anthropic SDKs, classified once for both.

Both SDKs are generated from the same template and name their errors alike (APITimeoutError, APIConnectionError,
APIStatusError, APIResponseValidationError), so one function, given the SDK module, serves both providers. Both
providers build their client with `max_retries=0`: the retries, and their accounting, are base.Provider's.

A failure's `reason` is one plain sentence for the draft; the server's own text goes into `detail` (log only).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from agent.providers.base import Failure
from agent.providers.modes import is_capability_error

RETRYABLE_STATUS = frozenset({408, 409, 429})  # and every 5xx that is not a capability answer
_MEANING = {
    400: "the server refused the request",
    401: "the server refused the API key",
    403: "the API key may not use this model",
    404: "the server does not know this model or URL",
    413: "the request is too large for the server",
    422: "the server refused the request",
    429: "the server is rate limiting",
}


def sdk_failure(
    exc: Exception, sdk: ModuleType, timeout: float, *, retry_timeouts: bool = True
) -> Failure | None:
    """Classify an exception raised by `sdk` (the openai or anthropic module); None when it is not the SDK's."""
    if isinstance(exc, sdk.APITimeoutError):  # a subclass of APIConnectionError: test it first
        if retry_timeouts:
            return Failure(reason=f"the request timed out after {timeout:g}s", retryable=True)
        return Failure(
            reason=f"the request timed out after {timeout:g}s (not retried: a local server would still be busy "
            "with it; raise POSTMORTEM_REQUEST_TIMEOUT)",
            retryable=False,
        )
    if isinstance(exc, sdk.APIConnectionError):
        return Failure(reason="cannot connect to the server", retryable=True, detail=str(exc))
    if isinstance(exc, sdk.APIStatusError):
        status = exc.status_code
        message = error_message(exc)
        if is_capability_error(status, message):
            return Failure(
                reason=f"the server refused the request's shape (HTTP {status})",
                retryable=False,
                capability=True,
                detail=message,
            )
        retryable = status in RETRYABLE_STATUS or status >= 500
        after = retry_after_seconds(exc.response.headers) if retryable else None
        meaning = _MEANING.get(
            status, "the server failed" if status >= 500 else "the server refused the request"
        )
        return Failure(
            reason=f"{meaning} (HTTP {status})", retryable=retryable, retry_after=after, detail=message
        )
    if isinstance(exc, sdk.APIResponseValidationError):
        return Failure(reason="the server's answer had an unexpected shape", retryable=True, detail=str(exc))
    return None


def error_message(exc: Any) -> str:
    """The server's own message from an APIStatusError's JSON body (`{"error": {"message": …}}`), else the SDK's."""
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if isinstance(inner, str):
            return inner
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
