"""Provenance of the bad answer: where each of its claims first entered the run, who was responsible for it
entering, and where a correct value the reports name was dropped or overridden.

A claim that first appears in a tool or retrieval result entered with the data the agents were given, unless
the agent's own call or code produced it (the claim is in the call's arguments, or the result is the output of a
code block the previous turn wrote): then the turn that wrote the call is responsible.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.detectors.text import ALL_STOPWORDS, content_tokens, sentences, tokens
from agent.runs.claims import Claim, derived, extract_claims, occurs
from agent.runs.turns import CODE_BLOCK, Run, Turn
from agent.thresholds import T

ANSWER_SENTENCES = 2  # the final answer's last sentences state the answer itself; their claims weigh double


@dataclass
class ClaimOrigin:
    claim: Claim
    origin: int  # the turn where it was first stated
    responsible: int  # the turn responsible for it entering (the origin, or the call/code that produced it)
    how: str  # stated, tool_result, code_output, retrieved, given
    carriers: list[int] = field(default_factory=list)  # later turns that repeated it
    in_answer: bool = False  # stated in the final answer's last sentences
    confirmed: bool = False  # the incident's reports or description quote it
    derived: bool = False  # a number computed from figures stated earlier in the run
    replaced: int | None = (
        None  # an earlier turn that gave another value in the same phrase (a changed value)
    )


@dataclass
class Dropped:
    """A value the reports name that the run had, and lost."""

    claim: Claim
    last_seen: int  # the last turn that stated it
    lost_at: int  # the first acting turn after it that went on without it


def trace_claims(run: Run, final: Turn, reported: str) -> list[ClaimOrigin]:
    """Each claim of the final answer with its origin; claims already in the task are given, not traced."""
    tail = " ".join(sentences(final.text, 3)[-ANSWER_SENTENCES:]) or final.text
    out: list[ClaimOrigin] = []
    for claim in extract_claims(final.text):
        if occurs(claim, run.task):
            continue
        context = _context(claim, final.text)
        stated = [t.index for t in run.turns[: final.index + 1] if _states(claim, context, t.content)]
        if not stated:
            continue
        origin = stated[0]
        responsible, how = responsible_for(run, origin, claim)
        out.append(
            ClaimOrigin(
                claim=claim,
                origin=origin,
                responsible=responsible,
                how=how,
                carriers=stated[1:],
                in_answer=occurs(claim, tail),
                confirmed=bool(reported) and occurs(claim, reported),
            )
        )
    for item in out:
        item.replaced = replaced_value(run, item, final.text)
    for item in out:  # a figure of the answer computed from the answer's other figures, stated by then
        inputs = {
            o.claim.value
            for o in out
            if o.claim.kind == "number" and o is not item and o.origin <= item.origin
        }
        item.derived = derived(item.claim, inputs)
    return out


LABEL_WORDS = 3  # "FINAL ANSWER:", "Result:": a short lead-in before a colon labels what follows


def _context(claim: Claim, text: str) -> frozenset[str]:
    """The content words around a claim in the final answer (its sentence, without a leading "Label:" and without
    the claim's own words); empty when the answer is the bare claim."""
    for sentence in sentences(text, 3):
        if occurs(claim, sentence):
            head, colon, rest = sentence.partition(":")
            if colon and len(head.split()) <= LABEL_WORDS:
                sentence = rest
            return content_tokens(sentence) - content_tokens(claim.text)
    return frozenset()


def _states(claim: Claim, context: frozenset[str], text: str) -> bool:
    """Whether a turn states the claim: a specific claim anywhere; a weak one (a small number, one word) only
    in a sentence that shares a word with the answer's sentence, so "3" in "step 3" is not "3 stations"."""
    if not occurs(claim, text):
        return False
    if claim.weight >= T.runs_weak_claim or not context:
        return True
    return any(occurs(claim, s) and content_tokens(s) & context for s in sentences(text, 3))


MAX_SLOT_SENTENCES = 1500  # sentences read back per claim: a long run's pages must not make a draft slow
SLOT_WORDS = 4  # the words just before a value name its slot ("fiscal 2021 revenue (EUR million): 421.8")


def replaced_value(run: Run, origin: ClaimOrigin, final_text: str) -> int | None:
    """The last turn before the claim's origin stating another value of the same kind after the same words:
    the value was changed there, not found."""
    slot = _slot(origin.claim, final_text) if origin.claim.weight >= T.runs_weak_claim else frozenset()
    if not slot:
        return None
    budget = MAX_SLOT_SENTENCES
    for turn in reversed(run.turns[: origin.origin]):
        if not slot <= frozenset(_slot_words(turn.content)):
            continue
        for sentence in sentences(turn.content, 3):
            budget -= 1
            if budget < 0:
                return None
            if occurs(origin.claim, sentence) or not slot <= frozenset(_slot_words(sentence)):
                continue
            others = [c for c in extract_claims(sentence) if _same_form(c, origin.claim)]
            if any(_slot(c, sentence) == slot for c in others):
                return turn.index
    return None


def _same_form(a: Claim, b: Claim) -> bool:
    """Two values that could fill one slot: same kind; numbers of like size and precision (a year is no count)."""
    if a.kind != b.kind or a.weight < T.runs_weak_claim:
        return False
    if a.kind != "number":
        return True
    digits = [len(c.value.lstrip("-").partition(".")[0]) for c in (a, b)]
    return abs(digits[0] - digits[1]) <= 1 and ("." in a.value) == ("." in b.value)


def _slot(claim: Claim, text: str) -> frozenset[str]:
    """The last SLOT_WORDS words before the claim in the sentence that states it (numbers count: "fiscal 2021
    revenue" and "fiscal 2022 revenue" are two slots), stopwords left out."""
    for sentence in sentences(text, 3):
        at = _position(claim, sentence)
        if at is not None:
            words = _slot_words(sentence[:at])
            return frozenset(words[-SLOT_WORDS:]) if len(words) >= 2 else frozenset()
    return frozenset()


def _slot_words(text: str) -> list[str]:
    return [w for w in tokens(text) if w not in ALL_STOPWORDS]


def _position(claim: Claim, sentence: str) -> int | None:
    if not occurs(claim, sentence):
        return None
    needle = claim.text if claim.kind != "number" else claim.value
    at = sentence.find(needle)
    return at if at >= 0 else None


def responsible_for(run: Run, origin: int, claim: Claim | None = None) -> tuple[int, str]:
    """(turn responsible for content first seen at `origin`, how it entered)."""
    turn = run.turns[origin]
    requester = _requester(run, origin)
    if turn.role in ("tool", "retrieval"):
        if requester is not None and claim is not None and any(occurs(claim, c) for c in requester.calls):
            return requester.index, "stated"  # the agent put it in its own call
        if requester is not None and CODE_BLOCK.search(requester.text):
            return requester.index, "code_output"
        return origin, "retrieved" if turn.role == "retrieval" else "tool_result"
    if run.executes(turn):
        return origin - 1, "code_output"  # the output of code the previous turn wrote
    if turn.role == "user":
        return origin, "given"
    return origin, "stated"


def _requester(run: Run, index: int) -> Turn | None:
    """The acting turn that asked for the result at `index`: the nearest earlier acting turn."""
    for turn in reversed(run.turns[:index]):
        if turn.acts:
            return turn
    return None


def dropped_values(run: Run, final: Turn, reported: str, origins: list[ClaimOrigin]) -> list[Dropped]:
    """Values named in the reports that the run stated but the final answer lacks (a correct value lost)."""
    answer_claims = [o.claim for o in origins]
    out = []
    for claim in extract_claims(reported):
        if claim.weight < 0.6 or occurs(claim, final.text) or occurs(claim, run.task):
            continue
        seen = [t.index for t in run.turns[: final.index] if occurs(claim, t.content)]
        if not seen:
            continue
        last = seen[-1]
        for turn in run.turns[last + 1 : final.index + 1]:
            if turn.acts and any(occurs(c, turn.content) for c in answer_claims):
                out.append(Dropped(claim=claim, last_seen=last, lost_at=turn.index))
                break
    return out
