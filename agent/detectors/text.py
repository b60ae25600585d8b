"""Generic text helpers for detectors: tokens, sentences, numbers, language, and pattern families
(refusals, error acknowledgements, tool errors, negation, prompt injection). No scenario-specific keywords."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from functools import lru_cache

from agent.detectors.langid import trigram_language

_WS = re.compile(r"\s+")
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)
_SENT = re.compile(r"(?<=[.!?。！？])\s+|\n+|(?<=:)\s+(?=[-*•]\s)")
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![\w])|(?<=[$€£¥])\d+(?:\.\d+)?")
_LIST_MARK = re.compile(r"^\s*\d{1,2}[.)]\s", re.MULTILINE)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


STOPWORDS: dict[str, frozenset[str]] = {
    "en": _words(
        "the a an and or of to in on for is are was were be been it this that with as at by from you your "
        "i we they he she not can will would do does have has had what how when where which who please"
    ),
    "es": _words(
        "el la los las un una y o de del en para por es son fue ser que con como al su sus se no lo le mi "
        "por qué cuando donde pero muy más este esta mis tu yo otra otro puedo cómo cuánto"
    ),
    "fr": _words(
        "le la les un une et ou de des du en pour par est sont été être que qui avec comme au aux son ses "
        "se ne pas je vous nous il elle mais très plus ce cette vos votre mes mon ma à quel quels quelle sont "
        "peux est-ce comment où"
    ),
    "de": _words(
        "der die das ein eine und oder von zu im in für ist sind war sein dass mit wie am auf sich nicht "
        "ich sie wir er es aber sehr mehr dieser diese kann"
    ),
    "pt": _words(
        "o a os as um uma e ou de do da dos das em para por é são foi ser que com como ao seu sua se não "
        "eu você nós mas muito mais este esta"
    ),
    "it": _words(
        "il lo la i gli le un una e o di del della in per è sono era essere che con come al suo sua si non "
        "io lei noi ma molto più questo questa"
    ),
    "nl": _words(
        "de het een en of van te in voor is zijn was dat met als aan op zich niet ik je wij hij maar zeer "
        "meer deze dit kan"
    ),
}
# letters (and marks) used by one Latin-script language far more than by the others
_LETTER_HINTS = {"es": "¿¡ñ", "de": "ßäöü", "fr": "çœèêëîïûù", "pt": "ãõ"}
# English function words beyond the short list above (which language detection counts, so it stays short): the
# pronouns, determiners, auxiliaries and conjunctions of any English grammar (not the words that can carry a
# constraint: only, no, more, before, after, under, over ...). Content words leave them out.
FUNCTION_WORDS_EN = _words(
    "about also am any because being both but could did doing each else even ever every here hers herself him "
    "himself his her its itself just me my myself now ought our ours ourselves own shall should so some "
    "such than then there these those thus too upon us very via whether while whom whose why yet yours "
    "yourself yourselves them themselves their theirs into onto may might many much one ones if let lets"
)
ALL_STOPWORDS = frozenset().union(*STOPWORDS.values(), FUNCTION_WORDS_EN)

_SCRIPTS = (
    ("CJK", "zh"),
    ("HIRAGANA", "ja"),
    ("KATAKANA", "ja"),
    ("HANGUL", "ko"),
    ("CYRILLIC", "ru"),
    ("GREEK", "el"),
    ("ARABIC", "ar"),
    ("HEBREW", "he"),
    ("DEVANAGARI", "hi"),
    ("THAI", "th"),
)

REFUSAL = re.compile(
    r"\b(?:i(?:'m| am) (?:(?:so |very |really )?sorry(?! (?:for|to hear|about))|afraid|unable|not able|not sure)|i (?:do(?:n't| not)|cannot) know\b|"
    r"i (?:could(?:n't| not)|can(?:no|')t) find|i (?:can(?:no|')t|cannot|won't|am not allowed)|"
    r"unable to (?:help|assist|provide|answer|process|complete)|i apologi[sz]e|as an ai\b|"
    r"(?:can(?:no|')t|cannot|not able to) (?:help|assist|provide|answer) (?:with|you)|"
    r"i do(?:n't| not) have (?:access|information|enough))",
    re.IGNORECASE,
)
ERROR_ACK = re.compile(
    r"\b(?:error|unavailable|outage|could(?:n't| not) (?:retrieve|access|reach|load|find|connect|complete|check|"
    r"verify|look up)|was(?:n't| not) able to|unable to|try again|temporar(?:y|ily)|having trouble|"
    r"something went wrong|technical (?:issue|problem|difficult)|not (?:currently )?available|"
    r"failed|can(?:no|')t (?:access|retrieve|check|verify|look up))",
    re.IGNORECASE,
)
TOOL_ERROR = re.compile(
    r"(?:\b(?:error|exception|traceback|timed? ?out|timeout|unavailable|connection refused|"
    r"rate[- ]?limit(?:ed)?|forbidden|unauthori[sz]ed|bad gateway|internal server|service down|"
    r"(?:request|call|lookup|query) failed|failed to)\b|"
    r"\b(?:4(?:0[0-9]|29)|5\d\d)\b(?=\D{0,20}(?:error|status|code|gateway|service|timeout))|"
    r"\"(?:error|status)\"\s*:\s*\"?(?:error|fail))",
    re.IGNORECASE,
)
# verbal negation only ("no charge", "free" are not polarity flips)
NEGATION = re.compile(
    r"\b(?:not|never|cannot|can't|won't|isn't|aren't|doesn't|don't|didn't|wasn't|weren't|shouldn't|mustn't|"
    r"no longer|neither|nor)\b|n't\b",
    re.IGNORECASE,
)
INJECTION = re.compile(
    r"(?:\b(?:ignore|disregard|forget|override|bypass)\b[^.\n]{0,40}\b(?:previous|prior|above|earlier|all|"
    r"your|the|any)\b[^.\n]{0,30}\b(?:instructions?|rules?|prompts?|guidelines?|directions?|policy|policies)\b|"
    r"\byou are now\b|\bnew (?:instructions?|rules?)\s*:|\b(?:system|developer) (?:prompt|message|override)\b|"
    r"\b(?:reveal|print|show|repeat|output)\b[^.\n]{0,30}\b(?:system prompt|instructions|hidden prompt)\b|"
    r"\b(?:do anything now|jailbreak|developer mode|dan mode)\b|\bact as (?:an? )?(?:unrestricted|unfiltered)\b|"
    r"<\s*/?\s*(?:system|instructions?)\s*>|\[\s*(?:system|inst)\s*\]|###\s*(?:system|instruction)|"
    r"\byour (?:new |real |only )?(?:objective|goal|task|role|job|purpose) (?:is|now is) to\b|"
    r"\b(?:end|start|begin|finish) (?:each|every|all|your) (?:responses?|answers?|replies|reply|messages?)"
    r"(?: with)?\b|\bfrom now on,? (?:you|always|never|only)\b|\bagree with (?:anything|everything)\b|"
    r"\bpretend (?:to be|you are|that you)\b|"
    # text inside data that addresses the AI reading it: the shape of an indirect injection
    r"\b(?:note|message|instructions?|notice|attention)\s*(?:to|for)\s*(?:any |all |the )?(?:ai|llms?|language "
    r"models?|(?:ai|automated|coding) (?:assistants?|agents?))\b|"
    # ... and the same address as a header ("AI instructions:", "Assistant instructions:")
    r"\b(?:ai|llm|assistant)s? instructions?\s*:|"
    r"\b(?:ai|llm|automated) (?:agents?|assistants?|models?|bots?),? (?:reading|processing|parsing|summari[sz]ing|"
    r"handling|that (?:read|process|parse|summari[sz]e)) (?:this|these|the following)\b|"
    r"\bif you are an? (?:ai|llm|language model|assistant|bot|agent)\b)",
    re.IGNORECASE,
)
# what an injection asks the model to emit: quoted text, or what follows "say/respond with/include ..."
_QUOTED = re.compile(r"[\"“‘]([^\"”’\n]{3,120})[\"”’]|(?<!\w)'([^\n]{3,160}?)'(?!\w)")
_INJECTION_ASK = re.compile(
    r"\b(?:say|respond with|reply with|answer with|include|output|print|write|tell (?:them|the user|users))"
    r"\s*:?\s+((?:[^.\n]|\.(?=\S)){3,120})",
    re.IGNORECASE,
)
_URL = re.compile(r"\bhttps?://[^\s)>\]\"']+|\bwww\.[^\s)>\]\"']+", re.IGNORECASE)
_CITATION = re.compile(
    r"\[(?:doc(?:ument)?|source|ref)?[\s#:-]*([\w.-]{1,40})\]|\(source:\s*([^)]{1,80})\)", re.I
)


def norm(text: str) -> str:
    return _WS.sub(" ", text).strip()


def tokens(text: str) -> list[str]:
    return [t.lower() for t in _WORD.findall(text)]


@lru_cache(maxsize=32768)
def content_tokens(text: str) -> frozenset[str]:
    return frozenset(t for t in tokens(text) if t not in ALL_STOPWORDS and len(t) > 2 and not t.isdigit())


def jaccard(a: set[str], b: set[str]) -> float:
    if not a and not b:
        return 0.0
    return len(a & b) / len(a | b)


def sentences(text: str, min_chars: int = 12) -> list[str]:
    """Sentences (and bullet items) of a text, each a verbatim substring after stripping."""
    return list(_sentences(text or "", min_chars))


@lru_cache(maxsize=16384)
def _sentences(text: str, min_chars: int) -> tuple[str, ...]:
    parts = [p.strip() for p in _SENT.split(text)]
    return tuple(p for p in parts if len(p) >= min_chars)


def numbers(text: str) -> frozenset[str]:
    """Canonical numbers in a text ("1,200.00" -> "1200"), ignoring list markers like "1." at line start."""
    return _numbers(text or "")


@lru_cache(maxsize=32768)
def _numbers(text: str) -> frozenset[str]:
    text = _LIST_MARK.sub(" ", text)
    out = set()
    for raw in _NUMBER.findall(text):
        value = raw.replace(",", "").lstrip("+")
        if "." in value:
            value = value.rstrip("0").rstrip(".")
        if value and value != "-":
            out.add(value)
    return frozenset(out)


def urls(text: str) -> set[str]:
    return {u.rstrip(".,;:").lower() for u in _URL.findall(text or "")}


def citations(text: str) -> set[str]:
    """Bracketed source references like [doc-12] or (source: refund-policy.md)."""
    return {(a or b).strip().lower() for a, b in _CITATION.findall(text or "")}


def language(text: str) -> str:
    """A language code from the script, then stopwords for Latin script; "und" when unsure."""
    return _language((text or "")[:400])


@lru_cache(maxsize=8192)
def _language(text: str) -> str:
    letters = [c for c in text[:2000] if c.isalpha()]
    if len(letters) < 3:
        return "und"
    counts: Counter[str] = Counter()
    for char in letters[:400]:
        if ord(char) < 0x250:  # Basic Latin, Latin-1, Latin Extended-A/B
            counts["latin"] += 1
            continue
        name = unicodedata.name(char, "")
        for marker, code in _SCRIPTS:
            if marker in name:
                counts[code] += 1
                break
        else:
            counts["latin"] += 1
    script, n = counts.most_common(1)[0]
    if script == "zh" and (counts["ja"] > 0.1 * n):
        return "ja"
    if script != "latin":
        return script
    words = tokens(text)
    counts_w = Counter(words)
    scores = {code: sum(counts_w[w] for w in stop & counts_w.keys()) for code, stop in STOPWORDS.items()}
    for code, chars in _LETTER_HINTS.items():
        if any(c in chars for c in text):
            scores[code] += 2
    best = max(scores, key=scores.__getitem__)
    if scores[best] == 0 or (len(words) >= 6 and scores[best] < 2):
        # too few stopwords: the letters may still tell, unless they contradict the stopword there is
        guess = trigram_language(text)
        return guess if scores[best] == 0 or guess == best else "und"
    return best


def injection_asks(text: str) -> list[str]:
    """What an injected instruction asks the model to emit (quoted strings, objects of 'say ...', URLs)."""
    asks = [a or b for a, b in _QUOTED.findall(text or "")] + _INJECTION_ASK.findall(text or "")
    asks = [norm(a).strip("\"'“”‘’ :") for a in asks]
    asks.extend(u.rstrip(".,;:") for u in _URL.findall(text or ""))
    return [a for a in dict.fromkeys(asks) if len(a) >= 3]


def snippet(text: str, max_chars: int = 160) -> str:
    """A verbatim substring of `text` (whitespace-trimmed), cut at a word boundary."""
    text = (text or "").strip()
    if len(text) <= max_chars:
        return text
    cut = text[:max_chars]
    space = cut.rfind(" ")
    return cut[:space].rstrip() if space > max_chars // 2 else cut


def around(text: str, needle: str, max_chars: int = 160) -> str:
    """A verbatim substring of `text` containing `needle` (case-insensitive), else a snippet."""
    idx = (text or "").lower().find(needle.lower())
    if idx < 0:
        return snippet(text, max_chars)
    start = max(0, idx - (max_chars - len(needle)) // 2)
    start = text.rfind(" ", 0, start) + 1 if start > 0 else 0
    end = min(len(text), max(idx + len(needle), start + max_chars))
    return text[start:end].strip()


def jaccard_matrix(a: list[str], b: list[str]):
    """Token-set Jaccard similarity of every text of `a` with every text of `b` (dense numpy array)."""
    import numpy as np
    from scipy import sparse

    vocab: dict[str, int] = {}

    def rows(texts: list[str]):
        data, cols, ptr = [], [], [0]
        for text in texts:
            toks = content_tokens(text)
            cols.extend(vocab.setdefault(t, len(vocab)) for t in toks)
            data.extend([1.0] * len(toks))
            ptr.append(len(cols))
        return data, cols, ptr

    ra, rb = rows(a), rows(b)
    ma = sparse.csr_matrix((ra[0], ra[1], ra[2]), shape=(len(a), len(vocab)))
    mb = sparse.csr_matrix((rb[0], rb[1], rb[2]), shape=(len(b), len(vocab)))
    inter = (ma @ mb.T).toarray()
    size_a = np.asarray(ma.sum(axis=1)).reshape(-1, 1)
    size_b = np.asarray(mb.sum(axis=1)).reshape(1, -1)
    union = size_a + size_b - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, 0.0)
