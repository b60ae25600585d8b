"""URLs as they may be shown: credentials in the user-info part and secrets in the query string masked.

`http://user:sk-abc123@host:8000/v1?api_key=XYZ&region=eu` is shown as `http://***@host:8000/v1?api_key=***&region=eu`.
Every place that displays a configured URL (doctor, store and provider errors, the Slack API address) goes
through `mask_url`, or `mask_urls` for free text that may quote one (an exception message).
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit

MASK = "***"
_SECRET_NAME = re.compile(
    r"(?i)(key|token|secret|passw|pwd|auth|sig|credential|session|access|code|private|bearer)"
)
_TOKEN_LIKE = re.compile(r"^[A-Za-z0-9_\-.~+/=]{20,}$")  # a long opaque value is masked whatever its name
_URL = re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://[^\s'\"<>`]+")
_USERINFO = re.compile(r"(?i)(://)[^/@\s]*@")


def _query(query: str) -> str:
    if not query:
        return query
    pairs = parse_qsl(query, keep_blank_values=True)
    masked = [
        (name, MASK if value and (_SECRET_NAME.search(name) or _TOKEN_LIKE.match(value)) else value)
        for name, value in pairs
    ]
    return query if masked == pairs else urlencode(masked, safe="*")


def mask_url(url: str | None) -> str:
    """The URL with its user-info replaced by *** and secret-looking query values by ***; text that does not
    parse as a URL has anything between '://' and '@' masked."""
    if not url:
        return url or ""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return _USERINFO.sub(rf"\1{MASK}@", url)
    netloc = parts.netloc
    if "@" in netloc:
        shown_host = f"[{host}]" if ":" in host else host
        netloc = f"{MASK}@{shown_host}" + (f":{port}" if port is not None else "")
    masked = SplitResult(parts.scheme, netloc, parts.path, _query(parts.query), parts.fragment)
    return masked.geturl()


def mask_urls(text: str) -> str:
    """Free text with every URL in it masked as mask_url does."""

    def masked(match: re.Match[str]) -> str:
        url = match.group(0)
        core = url.rstrip(").,;:!?]")  # punctuation closing the sentence, not the URL
        return mask_url(core) + url[len(core) :]

    return _URL.sub(masked, text or "")
