"""Token estimates and the selection of findings and evidence to a token budget, most relevant first.

No tokenizer download is possible here (tiktoken fetches its files), so counts are a conservative estimate in the
way BPE tokenizers split text: one token per 4 letters of a word, per 3 digits of a number, per punctuation mark
(JSON and hex ids are punctuation- and digit-heavy, and a flat chars/3.5 would undercount them by half), and one
per non-ASCII character (two above the BMP, e.g. emoji). Whitespace is free (BPE merges it into the next word).
`benchmarks/bench_prompt_budget.py` compares it with the MiniLM WordPiece tokenizer as a proxy.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from agent.models import Evidence, Finding
from agent.providers.base import ChatRequest

MESSAGE_OVERHEAD = 4  # role and separators per chat message
FINDING_EVIDENCE_FIRST = 3  # evidence items of each finding brought in with it, before the general ranking
KIND_PRIOR = {"report": 0.6, "postmortem": 0.3, "document": 0.05, "span": 0.0}
GIVE_UP_AFTER = 50  # consecutive items that do not fit before the general pass stops

_PIECES = re.compile(r"[A-Za-z]{1,4}|\d{1,3}|[!-/:-@\[-`{-~]")
_ASTRAL = re.compile(r"[\U00010000-\U0010FFFF]")
_LARGE = 20_000  # characters; above this the vectorised counter is faster
# byte class: 0 whitespace/control/non-ASCII byte, 1 letter, 2 digit, 3 punctuation; chars per token by class
_CLASS = np.zeros(256, dtype=np.int8)
_CLASS[[c for c in range(128) if chr(c).isalpha()]] = 1
_CLASS[[c for c in range(128) if chr(c).isdigit()]] = 2
_CLASS[[c for c in range(33, 127) if not chr(c).isalnum()]] = 3
_PER_TOKEN = np.array([1, 4, 3, 1])


def estimate_tokens(text: str | None) -> int:
    if not text:
        return 0
    count = len(_PIECES.findall(text)) if len(text) < _LARGE else _count_large(text)
    if not text.isascii():
        ascii_chars = len(text.encode("ascii", "ignore"))
        count += len(text) - ascii_chars + len(_ASTRAL.findall(text))
    return count


def _count_large(text: str) -> int:
    """Same count as the regex, by runs of byte classes (numpy)."""
    classes = _CLASS[np.frombuffer(text.encode("utf-8"), dtype=np.uint8)]
    starts = np.flatnonzero(np.concatenate(([True], classes[1:] != classes[:-1])))
    lengths = np.diff(np.append(starts, len(classes)))
    kinds = classes[starts]
    counted = kinds > 0
    return int(np.sum(-(-lengths[counted] // _PER_TOKEN[kinds[counted]])))


def estimate_request_tokens(request: ChatRequest) -> int:
    total = estimate_tokens(request.system) + (MESSAGE_OVERHEAD if request.system else 0)
    for m in request.messages:
        total += MESSAGE_OVERHEAD + estimate_tokens(m.content)
        total += sum(estimate_tokens(c.arguments) + estimate_tokens(c.name) for c in m.tool_calls)
    return total


@dataclass
class Selection:
    """What fits: findings (with only their sent evidence ids) and evidence, in prompt order."""

    findings: list[tuple[Finding, list[str]]] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    tokens: int = 0
    total_findings: int = 0
    total_evidence: int = 0

    @property
    def evidence_ids(self) -> set[str]:
        return {e.id for e in self.evidence}

    @property
    def note(self) -> str:
        return (
            f"{len(self.evidence)} of {self.total_evidence} items, "
            f"{len(self.findings)} of {self.total_findings} findings"
        )


def evidence_weights(findings: Sequence[Finding]) -> dict[str, float]:
    """The summed strength of the findings citing each evidence id."""
    weight: dict[str, float] = {}
    for f in findings:
        for eid in dict.fromkeys(f.evidence):
            weight[eid] = weight.get(eid, 0.0) + f.strength
    return weight


def rank_evidence(
    findings: Sequence[Finding], evidence: Sequence[Evidence], weight: dict[str, float] | None = None
) -> list[Evidence]:
    """Evidence by relevance: the findings' weight plus a prior by kind; the rest keeps its order, unsorted."""
    weight = evidence_weights(findings) if weight is None else weight
    # plain floats and ints only: tuples per item would wake the garbage collector over 100,000s of models
    scores = [weight.get(e.id, 0.0) + KIND_PRIOR.get(e.kind, 0.0) for e in evidence]
    positive = [i for i, score in enumerate(scores) if score > 0]
    positive.sort(key=lambda i: -scores[i])  # stable: ties keep the caller's order
    return [evidence[i] for i in positive] + [
        e for e, score in zip(evidence, scores, strict=True) if score <= 0
    ]


def select(
    findings: Sequence[Finding],
    evidence: Sequence[Evidence],
    *,
    available_tokens: int,
    finding_cost: Callable[[Finding, list[str]], int],
    evidence_cost: Callable[[Evidence], int],
) -> Selection:
    """Fill `available_tokens` with the strongest findings, each with its first evidence, then the rest by rank.

    A finding only lists evidence ids that were sent, so the model never sees an id it cannot read. Cost is one
    sort plus a linear pass, so a window of 100,000 spans stays cheap.
    """
    by_id: dict[str, Evidence] = {}
    for e in evidence:
        by_id.setdefault(e.id, e)
    selection = Selection(total_findings=len(findings), total_evidence=len(by_id))
    chosen: dict[str, Evidence] = {}
    used = 0

    def take(e: Evidence) -> bool:
        nonlocal used
        cost = evidence_cost(e)
        if used + cost > available_tokens:
            return False
        chosen[e.id] = e
        used += cost
        return True

    for f in sorted(findings, key=lambda f: -f.strength):
        brought = [by_id[eid] for eid in dict.fromkeys(f.evidence) if eid in by_id and eid not in chosen]
        brought = brought[:FINDING_EVIDENCE_FIRST]
        brought_ids = {e.id for e in brought}
        planned = [eid for eid in dict.fromkeys(f.evidence) if eid in chosen or eid in brought_ids]
        cost = finding_cost(f, planned)
        if used + cost > available_tokens:
            continue
        used += cost
        for e in brought:
            take(e)
        selection.findings.append((f, [eid for eid in planned if eid in chosen]))

    weight = evidence_weights(findings)
    misses = 0
    for e in rank_evidence(findings, list(by_id.values()), weight):
        if e.id in chosen:
            continue
        if take(e):
            misses = 0
            continue
        misses += 1
        if misses >= GIVE_UP_AFTER or used >= available_tokens - 8:
            break

    rank = {e.id: i for i, e in enumerate(rank_evidence(findings, list(chosen.values()), weight))}
    selection.evidence = sorted(chosen.values(), key=lambda e: rank[e.id])
    selection.tokens = used
    return selection
