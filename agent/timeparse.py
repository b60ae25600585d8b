"""Times a person types: ISO-8601 (naive = UTC) or a duration back from now ("90m", "2h", "7d"). Shared by the
CLI (`--since/--until`) and Slack (`since:/until:`)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from agent.errors import UserError

_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_time(value: str | None, option: str, now: datetime | None = None) -> datetime | None:
    """ISO-8601 (naive = UTC) or a duration back from now ("90m", "2h", "7d")."""
    if value is None:
        return None
    text = value.strip()
    relative = _RELATIVE.match(text)
    if relative:
        delta = timedelta(**{_UNITS[relative.group(2)]: float(relative.group(1))})
        return (now or datetime.now(UTC)) - delta
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UserError(
            f"{option} {value!r}: not an ISO-8601 time (e.g. 2025-03-04T10:00:00Z) or a duration like 2h"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
