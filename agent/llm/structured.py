"""Ask for a structured answer, check it against what was sent, and ask again with the reasons when it fails."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from pydantic import BaseModel

from agent.llm.prompt import with_feedback
from agent.providers.base import ChatRequest, Provider, ProviderError, Usage

log = logging.getLogger("postmortem.llm")

A = TypeVar("A", bound=BaseModel)  # the schema asked for
R = TypeVar("R")  # what the check makes of an accepted answer


def ask_checked(
    provider: Provider,
    request: ChatRequest,
    schema: type[A],
    check: Callable[[A], tuple[R, list[str]]],
    *,
    what: str,
) -> tuple[R, Usage]:
    """Parse `schema` from the provider and `check` it: `check` returns (result, problems), and an answer with
    problems is asked again (policy.answer_retries times) with them as feedback. Raises ProviderError carrying
    the usage of every call made."""
    usage = Usage()
    asked = request
    problems: list[str] = []
    for _ in range(provider.policy.answer_retries + 1):
        try:
            parsed = provider.parse(asked, schema)
        except ProviderError as exc:
            raise ProviderError(exc.reason, usage=usage + exc.usage, retryable=exc.retryable) from exc
        usage = usage + parsed.usage
        result, problems = check(parsed.value)
        if not problems:
            return result, usage
        log.info(
            "%s: %s answer rejected (%s): %s", provider.name, what, "; ".join(problems)[:500], parsed.value
        )
        usage = usage + Usage(invalid_answers=1)
        asked = with_feedback(request, problems)
    # the first problem says why in general terms; the rest can quote the answer (ids it invented): log only
    raise ProviderError(
        f"{provider.name}: {what} rejected: {problems[0]}", usage=usage, detail="; ".join(problems)
    )
