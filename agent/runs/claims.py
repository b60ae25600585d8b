"""Claims of a text (numbers, names and entities, quoted strings, code identifiers, URLs) and where they occur.

A claim is a short checkable unit of the bad final answer. Matching is normalised per kind: numbers by value
("1,200.0" == "1200"), everything else case-insensitively on word boundaries. Nothing here knows a domain:
the same extraction runs on every text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from agent.detectors.text import ALL_STOPWORDS, numbers

# how specific (so how informative) a claim of each kind is when it is found twice; see T.runs_* (agent/detector_thresholds.py)
KIND_WEIGHT = {"number": 1.0, "entity": 0.8, "quoted": 1.0, "code": 1.0, "url": 1.0}

_ENTITY = re.compile(r"\b[A-Z][\w&'’.-]*(?:[ \t]+(?:of|de|the|and|for|von|van|da|du|[A-Z][\w&'’.-]*))*\b")
_CONNECTORS = frozenset(("of", "de", "the", "and", "for", "von", "van", "da", "du"))
_QUOTED = re.compile(r"[\"“`']([^\"”`'\n]{3,80})[\"”`']")
_CODE = re.compile(
    r"\b[A-Za-z_][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+\b"  # snake_case
    r"|\b[a-z]+[A-Z][A-Za-z0-9]+\b"  # camelCase
    r"|\b[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+(?:\(\))?"  # dotted.names, module.func()
)
_URL = re.compile(r"\bhttps?://[^\s)>\]\"']+", re.IGNORECASE)
_SENTENCE_START = re.compile(r"(?:^|[.!?\n]\s*|[-*•]\s+|\d[.)]\s+)$")


@dataclass(frozen=True)
class Claim:
    kind: str  # number, entity, quoted, code, url
    value: str  # normalised (numbers canonical; entities as written; the rest lowercase)
    text: str  # as written in the source text

    @property
    def weight(self) -> float:
        """Specificity: short numbers and one-word names occur by chance, long ones do not."""
        base = KIND_WEIGHT[self.kind]
        if self.kind == "number":
            digits = len(self.value.lstrip("-").replace(".", ""))
            return base * (0.25 if digits <= 1 else 0.6 if digits == 2 else 1.0)
        if self.kind == "entity" and " " not in self.value:
            return base * 0.6
        return base


def extract_claims(text: str) -> list[Claim]:
    """The claims of a text, each once, in order of appearance (by kind)."""
    found: dict[tuple[str, str], Claim] = {}
    for value in sorted(numbers(text), key=lambda v: text.find(v)):
        if value.lstrip("-") not in ("0", "1"):
            found.setdefault(("number", value), Claim("number", value, value))
    for match in _URL.finditer(text):
        raw = match.group(0).rstrip(".,;:")
        found.setdefault(("url", raw.lower()), Claim("url", raw.lower(), raw))
    for match in _QUOTED.finditer(text):
        raw = match.group(1).strip()
        if len(raw) >= 3 and not raw.isdigit():
            found.setdefault(("quoted", raw.lower()), Claim("quoted", raw.lower(), raw))
    for match in _CODE.finditer(text):
        raw = match.group(0)
        if "." in raw and raw.replace(".", "").isdigit():
            continue
        if _URL.search(text[max(0, match.start() - 60) : match.end()]):
            continue
        found.setdefault(("code", raw.lower()), Claim("code", raw.lower(), raw))
    for claim in _entities(text):
        found.setdefault(("entity", claim.value), claim)
    return list(found.values())


def _entities(text: str) -> list[Claim]:
    out = []
    for match in _ENTITY.finditer(text):
        raw = match.group(0).rstrip(".-'’")
        words = raw.split()
        if not words:
            continue
        at_start = bool(_SENTENCE_START.search(text[max(0, match.start() - 4) : match.start()]))
        # a capital at a sentence start says nothing: the first word counts only when the next is a name too
        if at_start and (len(words) == 1 or words[0].lower() in ALL_STOPWORDS or not words[1][:1].isupper()):
            words = words[1:]
        while words and words[0].lower() in _CONNECTORS:
            words = words[1:]
        while words and words[-1].lower() in _CONNECTORS:
            words = words[:-1]
        raw = " ".join(words)
        if text[match.end() : match.end() + 1] == ":":  # "Result:", "FINAL ANSWER:" label what follows
            continue
        if len(raw) < 3 or raw.lower() in ALL_STOPWORDS or raw.isupper() and len(raw) <= 3:
            continue
        out.append(Claim("entity", raw, raw))  # names keep their case: "Final answer" is no name
    return out


@lru_cache(maxsize=65536)
def _lower(text: str) -> str:
    return text.lower()


def occurs(claim: Claim, text: str) -> bool:
    """Whether the claim is stated in a text (numbers by value, the rest on word boundaries)."""
    if not text:
        return False
    if claim.kind == "number":
        return claim.value in numbers(text)
    if claim.kind == "entity":
        return _bounded(claim.value, text)
    return _bounded(claim.value, _lower(text))


@lru_cache(maxsize=131072)
def _bounded(needle: str, haystack: str) -> bool:
    start = haystack.find(needle)
    while start >= 0:
        before = haystack[start - 1] if start > 0 else " "
        end = start + len(needle)
        after = haystack[end] if end < len(haystack) else " "
        if not (before.isalnum() or before == "_") and not (after.isalnum() or after == "_"):
            return True
        start = haystack.find(needle, start + 1)
    return False


def derived(claim: Claim, earlier: frozenset[str] | set[str]) -> bool:
    """A number that simple arithmetic on two earlier numbers gives (sum, difference, product, ratio, percentage
    or percentage change, to the precision written): a computation over the run's figures, not a new figure."""
    if claim.kind != "number":
        return False
    try:
        target = float(claim.value)
    except ValueError:
        return False
    decimals = len(claim.value.partition(".")[2])
    tolerance = 0.5 * 10**-decimals + 1e-9
    values = [float(v) for v in earlier if _is_float(v)][:DERIVE_MAX_INPUTS]
    for i, a in enumerate(values):
        for b in values[i + 1 :]:
            for result in _combinations(a, b):
                if abs(abs(result) - abs(target)) <= tolerance:
                    return True
    return False


DERIVE_MAX_INPUTS = 40  # 40 numbers are 780 pairs: enough for a run's figures, bounded in time


def _is_float(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _combinations(a: float, b: float) -> list[float]:
    out = [a + b, a - b, a * b]
    for x, y in ((a, b), (b, a)):
        if y:
            out += [x / y, x / y * 100, (x - y) / y * 100]
    return out
