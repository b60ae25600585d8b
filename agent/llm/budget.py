"""The selection of findings and evidence to a token budget, most relevant first (token estimates:
agent/providers/tokens.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from agent.models import Evidence, Finding

FINDING_EVIDENCE_FIRST = 3  # evidence items of each finding brought in with it, before the general ranking
KIND_PRIOR = {"report": 0.6, "postmortem": 0.3, "document": 0.05, "span": 0.0}
GIVE_UP_AFTER = 50  # consecutive items that do not fit before the general pass stops


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
