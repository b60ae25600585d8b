"""The text patterns of redaction, built to be fast on long trace texts.

Python's `re` tries a pattern at every position unless it starts with a literal, which costs ~50 ns per
character; trace texts are long, so every scan here starts from a literal or runs only after a cheap
substring test. Digit runs are found on a translated byte copy where every digit is '#', which gives the
card and phone checks a literal to start from.
"""

from __future__ import annotations

import re
from collections.abc import Callable

KINDS: tuple[str, ...] = ("email", "phone", "card", "api_key", "bearer")

_BEARER = re.compile(r"(?i)\b(bearer)(\s+)[A-Za-z0-9\-._~+/]{8,}=*")
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
_API_KEY = re.compile(
    r"\b(?:"
    r"sk-(?:proj-|ant-(?:api|admin)\d{2}-|lf-)?[A-Za-z0-9_-]{20,}"  # OpenAI, Anthropic, Langfuse secret keys
    r"|pk-lf-[A-Za-z0-9-]{16,}"
    r"|(?:AKIA|ASIA)[0-9A-Z]{16}"  # AWS access key ids
    r"|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}"
    r"|xox[abposr]-[A-Za-z0-9-]{10,}"  # Slack
    r"|AIza[0-9A-Za-z_-]{35}"  # Google
    r"|(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}"  # Stripe
    r"|hf_[A-Za-z0-9]{30,}|glpat-[A-Za-z0-9_-]{20,}|gsk_[A-Za-z0-9]{30,}"
    r")"
)
_API_KEY_HINTS = (
    "sk-",
    "pk-lf-",
    "AKIA",
    "ASIA",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "xox",
)
_API_KEY_HINTS += ("AIza", "_live_", "_test_", "hf_", "glpat-", "gsk_")
# key=value / "key": "value" assignments of secrets; only the value is replaced
_ASSIGNED = re.compile(
    r"(?i)\b((?:api[_-]?key|secret(?:[_-]?key)?|access[_-]?token|auth[_-]?token|client[_-]?secret|password)"
    r"[\"']?\s*[:=]\s*[\"']?)([A-Za-z0-9_\-./+=]{12,})"
)
_ASSIGNED_HINTS = (
    "api_key",
    "api-key",
    "apikey",
    "secret",
    "access_token",
    "access-token",
    "auth_token",
    "password",
)
# the domain side of an address, found from its literal '@'; the local part is walked back by hand
_EMAIL_DOMAIN = re.compile(r"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_LOCAL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")

# digits become '#', and a real '#' becomes '!', so runs of digits start with a literal
_HASH_DIGITS = bytes.maketrans(b"0123456789#", b"##########!")
_RUN = re.compile(rb"#[#\-. ()]{6,}+")
# one pass over a digit run: a card (13-19 digits) or one of three phone shapes
_NUMBER = re.compile(
    rb"(?P<card>(?<![\w.-])\d(?:[ -]?\d){12,18}(?![\w.-]|-\d))"
    rb"|(?<![\w+])\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,5}(?![\w-])"  # international: +CC then 2-5 groups
    rb"|(?<![\w.-])(?:\(\d{3}\)\s?|\d{3}[-. ])\d{3}[-. ]\d{4}(?![\w-]|\.\d)"  # North American
    rb"|(?<![\w.:-])0\d{1,4}(?:[ -]\d{2,4}){2,4}(?![\w:-]|\.\d)"  # national with a trunk 0: 020 7946 0958
)
_CARD_PREFIX = re.compile(rb"(?:4|5[1-5]|2[2-7]|3[47]|3[068]|35|6(?:011|5|4[4-9]|2))")
# letters, digits, '_' and '-' become 'a', the rest a space: a long token shows as a run of 'a'
_TOKEN_CHARS = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"
_TOKENS = bytes(ord("a") if bytes([c]) in _TOKEN_CHARS else ord(" ") for c in range(256))
_LONG_TOKEN = b"a" * 12
# bare digits right after a phone word: "call me on 4155550134" (the word is kept)
_PHONE_WORD = re.compile(
    r"(?i)\b(phone|tel|mobile|cell|whatsapp|call me (?:at|on))([:\s#.]{1,3})\+?\d{7,15}\b"
)
_PHONE_WORDS = ("phone", "tel", "mobile", "cell", "whatsapp", "call me")


def _luhn(digits: bytes) -> bool:
    total = 0
    for i, d in enumerate(reversed(digits)):
        d -= 48
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _number(m: re.Match[bytes], kinds: tuple[str, ...]) -> bytes:
    raw = m.group(0)
    if m.group("card") is not None:
        digits = raw.replace(b" ", b"").replace(b"-", b"")
        is_card = not (b" " in raw and b"-" in raw) and _CARD_PREFIX.match(digits) and _luhn(digits)
        return b"[REDACTED:card]" if is_card and "card" in kinds else raw  # card-shaped: never a phone
    if "phone" not in kinds:
        return raw
    n = sum(1 for c in raw if 48 <= c <= 57)
    return b"[REDACTED:phone]" if 7 <= n <= 15 else raw


def _assigned(m: re.Match[str]) -> str:
    value = m.group(2)
    if value.startswith("[REDACTED") or not (
        any(c.isdigit() for c in value) and any(c.isalpha() for c in value)
    ):
        return m.group(0)
    return f"{m.group(1)}[REDACTED:api_key]"


class TextRedactor:
    """Redact one string for a set of kinds (a subset of KINDS)."""

    def __init__(self, kinds: tuple[str, ...]) -> None:
        self.kinds = kinds
        self._steps: list[Callable[[str], str]] = []
        if "bearer" in kinds:
            self._steps.append(self._bearer)
        if "api_key" in kinds:
            self._steps.append(self._api_key)
        if "email" in kinds:
            self._steps.append(self._email)
        if "card" in kinds or "phone" in kinds:
            self._steps.append(self._numbers)
        self._number: Callable[[re.Match[bytes]], bytes] = lambda m: _number(m, kinds)

    def __call__(self, s: str) -> str:
        if len(s) < 6:  # nothing shorter holds an address, a number or a key
            return s
        for step in self._steps:
            s = step(s)
        return s

    def _bearer(self, s: str) -> str:
        if "earer" in s or "EARER" in s:
            s = _BEARER.sub(lambda m: f"{m.group(1)}{m.group(2)}[REDACTED:bearer]", s)
        if "eyJ" in s:
            s = _JWT.sub("[REDACTED:bearer]", s)
        return s

    def _api_key(self, s: str) -> str:
        if len(s) < 20 or _LONG_TOKEN not in s.encode("utf-8").translate(_TOKENS):
            return s  # every key, and every assigned secret value, is a long run of token characters
        for hint in _API_KEY_HINTS:
            if hint in s:
                s = _API_KEY.sub("[REDACTED:api_key]", s)
                break
        low = s.lower()
        for hint in _ASSIGNED_HINTS:
            if hint in low:
                return _ASSIGNED.sub(_assigned, s)
        return s

    def _email(self, s: str) -> str:
        if "@" not in s:
            return s
        pieces: list[str] = []
        last = 0
        for m in _EMAIL_DOMAIN.finditer(s):
            start = m.start()
            while start > last and s[start - 1] in _LOCAL_CHARS:
                start -= 1
            if start == m.start():
                continue  # no local part: "@handle.com" is not an address
            pieces.append(s[last:start])
            pieces.append("[REDACTED:email]")
            last = m.end()
        if not pieces:
            return s
        pieces.append(s[last:])
        return "".join(pieces)

    def _numbers(self, s: str) -> str:
        """Cards and phone numbers, checked only inside digit runs (plus one byte of context each side)."""
        raw = s.encode("utf-8")
        hashed = raw.translate(_HASH_DIGITS)
        if b"#" not in hashed:
            return s
        pieces: list[bytes] = []
        last = 0
        for run in _RUN.finditer(hashed):
            if hashed.count(b"#", run.start(), run.end()) < 7:
                continue  # fewer than 7 digits: neither a phone number nor a card
            lo, hi = max(last, run.start() - 1), min(len(raw), run.end() + 1)
            piece = raw[lo:hi]
            new = _NUMBER.sub(self._number, piece)
            if new != piece:
                pieces += [raw[last:lo], new]
                last = hi
        if pieces:
            pieces.append(raw[last:])
            s = b"".join(pieces).decode("utf-8")
        if "phone" in self.kinds and b"#######" in hashed:
            low = s.lower()
            if any(word in low for word in _PHONE_WORDS):
                s = _PHONE_WORD.sub(lambda m: f"{m.group(1)}{m.group(2)}[REDACTED:phone]", s)
        return s
