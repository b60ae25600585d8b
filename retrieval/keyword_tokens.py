"""Tokenising for the keyword index, done here rather than by SQLite so that identifiers survive.

"ERR_RATE_LIMIT_429", "gpt-4o-2024-08-06" or "RateLimitError" are indexed whole (`err_rate_limit_429`)
and by their parts (`err`, `rate`, ...). Exact identifiers are rare terms, so BM25 ranks a record quoting
one far above records sharing only parts. Plain words lose a plural ending ("refunds" -> "refund").
"""

from __future__ import annotations

import re

SEPARATORS = "_-./:@#"
_CHUNK = re.compile(r"[\w\-./:@#]+")  # one linear pass; words and identifiers are split from chunks
_SEP = re.compile(r"[_\-./:@#]+")
_CAMEL = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+")
# fmt: off
STOP = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "by", "did", "do", "does", "for", "from", "how", "i",
    "in", "is", "it", "me", "my", "of", "on", "or", "that", "the", "this", "to", "was", "were", "what",
    "when", "where", "which", "who", "why", "with",
))
# fmt: on
MAX_TOKEN = 80


def stem(word: str) -> str:
    """A light plural stemmer for plain lowercase ASCII words (identifiers are left alone)."""
    if len(word) <= 3 or not (word.isascii() and word.isalpha()):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _word(part: str, out: list[str], query_mode: bool) -> None:
    """One alphanumeric run: lowercased and stemmed, plus its pieces when it is camelCase."""
    low = part.lower()
    if low[-1] == "s":
        low = stem(low)
    if not (query_mode and low in STOP):
        out.append(low[:MAX_TOKEN])
    if part.isalpha() and not (part.islower() or part.isupper() or part.istitle()):
        pieces = _CAMEL.findall(part)
        if len(pieces) > 1 and "".join(pieces) == part:
            for piece in pieces:
                _word(piece, out, query_mode)


def _parts(chunk: str) -> list[str]:
    return [p for p in _SEP.split(chunk) if p]


def tokens(text: str, *, query_mode: bool = False) -> list[str]:
    """Lowercase terms: every word (plurals stemmed), each compound identifier also whole with "_" as
    separator, and the words inside camelCase names. In query mode common English words are dropped."""
    out: list[str] = []
    for chunk in _CHUNK.findall(text):
        if chunk.isalnum():  # the common case: a plain word or number
            _word(chunk, out, query_mode)
            continue
        parts = _parts(chunk)
        if len(parts) > 1:
            out.append("_".join(parts).lower()[:MAX_TOKEN])
        for part in parts:
            _word(part, out, query_mode)
    return out


def is_identifier(word: str) -> bool:
    """A code, id, version or product name rather than a word: ERR_X_1, gpt-4o, 4bf92f35, RateLimitError."""
    if any(c in SEPARATORS for c in word) or any(c.isdigit() for c in word):
        return True
    return word.isalpha() and not (word.islower() or word.isupper() or word.istitle())


def identifier_terms(query: str) -> list[str]:
    """The index terms of the query's identifiers, each whole (as `tokens` indexes them)."""
    terms = []
    for chunk in _CHUNK.findall(query):
        parts = _parts(chunk)
        if not parts or not is_identifier(chunk.strip(SEPARATORS)):
            continue
        terms.append(
            "_".join(parts).lower()[:MAX_TOKEN] if len(parts) > 1 else stem(parts[0].lower())[:MAX_TOKEN]
        )
    return list(dict.fromkeys(terms))


def quoted(terms: list[str], op: str = "OR") -> str:
    """An FTS5 MATCH expression over whole terms, each quoted (so no FTS syntax leaks in)."""
    return f" {op} ".join(f'"{t}"' for t in terms)


def match_expression(query: str) -> str | None:
    """Any of the query's terms, as an FTS5 MATCH expression; None when nothing is left to match."""
    terms = list(dict.fromkeys(tokens(query, query_mode=True)))
    return quoted(terms) if terms else None
