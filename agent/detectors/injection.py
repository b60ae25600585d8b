"""Prompt-injection patterns in inputs (user text, retrieved documents, tool results) and whether the output
obeyed them: it contains what the injection asked for, takes on the persona it imposed, leaks the system
prompt, or acts on it (an agent's later tool call or output carries an identifier -- a variable name, an address --
that only the injected text gave it: neither the request nor the instructions). Attempts the model resisted are
reported weakly (they are not the cause)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from agent.detectors.base import DetectorContext, detector
from agent.detectors.common import make, quote, system_text
from agent.detectors.stats import novelty
from agent.detectors.text import INJECTION, REFUSAL, around, injection_asks, norm, tokens
from agent.models import Finding, doc_ref, span_ref
from agent.thresholds import T
from retrieval.trace import Span, SpanKind

NAME = "injection"
_PERSONA = re.compile(r"\byou are now (?:an? |the )?([\w-]+(?: [\w-]+){0,2})", re.IGNORECASE)
# identifiers an instruction can hand an agent: snake/upper-case names (variables, secrets), e-mail addresses
_IDENTIFIER = re.compile(r"\b[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+\b|\b[\w.+-]+@[\w-]+\.[\w.-]+\b")


@dataclass
class Attempt:
    answer: Span
    vector: str  # user, document, tool
    ref: str  # evidence id of the injected text
    text: str  # verbatim excerpt of the injected text
    obeyed: str | None  # how, if obeyed


def _sources(ctx: DetectorContext, answer: Span) -> list[tuple[str, str, str]]:
    """(vector, evidence id, text) of the untrusted inputs of an answer: documents and tool results first, so
    that text they carried into the user message is attributed to them."""
    out = [("document", doc_ref(sid, i), d.content or "") for sid, i, d in ctx.documents_for(answer)]
    out += [("tool", span_ref(s.span_id), s.tool.result or "") for s in ctx.before(answer) if s.tool]
    holder, request = ctx.request_source(answer)
    out.append(("user", span_ref(holder.span_id), request))
    # earlier turns of the conversation, replayed in the call, can carry the injection too
    history = [
        m.content for m in answer.input_messages if m.role == "user" and m.content and m.content != request
    ]
    out += [("user", span_ref(answer.span_id), text) for text in dict.fromkeys(history)]
    return out


def _leaks(answer: Span) -> bool:
    system = tokens(system_text(answer))
    n = T.injection_leak_words
    if len(system) < n:
        return False
    grams = {" ".join(system[i : i + n]) for i in range(len(system) - n + 1)}
    out = tokens(answer.output_text)
    return any(" ".join(out[i : i + n]) in grams for i in range(len(out) - n + 1))


def _obeyed(ctx: DetectorContext, answer: Span, injected: str, source: Span | None) -> str | None:
    output = norm(answer.output_text).lower()
    if REFUSAL.search(answer.output_text) and len(output) < T.injection_refusal_chars:
        return None
    for ask in injection_asks(injected):
        if len(ask) >= T.injection_min_ask_chars and ask.lower() in output:
            return f'the output contains "{ask}", as the injection asked'
    persona = _PERSONA.search(injected)
    if persona and persona.group(1).lower() in output:
        return f"the output takes on the imposed persona ({persona.group(1)})"
    if _leaks(answer):
        return "the output repeats the system prompt"
    return _acted_on(ctx, answer, injected, source)


def _acted_on(ctx: DetectorContext, answer: Span, injected: str, source: Span | None) -> str | None:
    """An identifier only the injected text gave (not the request, not the instructions) that shows up in a tool
    call or model output after the injected input reached the agent: it acted on the injection."""
    known = f"{ctx.request_text(answer)}\n{system_text(answer)}".lower()
    given = {
        m.group(0)
        for m in _IDENTIFIER.finditer(injected)
        if len(m.group(0)) >= T.injection_min_ask_chars and m.group(0).lower() not in known
    }
    if not given:
        return None
    after = source.start_time if source is not None else answer.start_time
    for s in ctx.traces.get(answer.trace_id, []):
        if s is source or s.start_time < after or (s.start_time > answer.start_time and s is not answer):
            continue
        acted = (s.tool.arguments or "") if s.tool else s.output_text if s.kind == SpanKind.llm else ""
        hit = next((g for g in sorted(given) if g.lower() in acted.lower()), None)
        if hit:
            what = f"a call of {s.tool.name or s.name}" if s.tool else "the model's output"
            return f'it acted on it: {what} carries "{hit}", which only the injected text gave'
    return None


@lru_cache(maxsize=16384)
def _find(text: str) -> re.Match[str] | None:
    return INJECTION.search(text)


def attempts(ctx: DetectorContext, answers: list[Span]) -> list[Attempt]:
    out = []
    for answer in answers:
        seen: set[str] = set()
        for vector, ref, text in _sources(ctx, answer):
            match = _find(text or "")
            if not match:
                continue
            start = text.rfind("\n", 0, match.start()) + 1
            end = text.find("\n", match.end())
            injected = text[start : end if end > 0 else len(text)]
            if any(norm(injected) in s or s in norm(injected) for s in seen):
                continue  # the same injected text, already attributed to where it came from
            seen.add(norm(injected))
            source = ctx.by_id.get(ref.split(":", 1)[1]) if vector == "tool" else None
            obeyed = _obeyed(ctx, answer, injected, source)
            out.append(Attempt(answer, vector, ref, around(text, match.group(0), 200), obeyed))
    return out


@detector(NAME, phase=1)
def detect(ctx: DetectorContext) -> list[Finding]:
    win = attempts(ctx, ctx.answers)
    if not win:
        return []
    base = attempts(ctx, ctx.baseline_answers)
    findings = []
    for vector in ("user", "document", "tool"):
        tried = [a for a in win if a.vector == vector]
        if not tried:
            continue
        obeyed = [a for a in tried if a.obeyed]
        base_obeyed = [a for a in base if a.vector == vector and a.obeyed]
        first = (obeyed or tried)[0]
        quotes = [quote(first.ref, first.text, "input" if vector != "document" else "document")]
        if obeyed:
            new = novelty(len(obeyed), len(ctx.answers), len(base_obeyed), len(ctx.baseline_answers))
            strength = T.injection_obeyed_base + T.injection_obeyed_gain * new
            title = f"Prompt injection via {vector} input obeyed in {len(obeyed)} of {len(tried)} attempts"
            detail = f"{len(tried)} window requests carried an injection pattern in the {vector} input; in "
            detail += f"{len(obeyed)} the answer complied ({first.obeyed}). The instructions let it through."
        else:
            strength = T.injection_resisted
            title = f"Prompt injection attempts via {vector} input ({len(tried)}), none obeyed"
            detail = "The answers did not follow the injected instructions."
        findings.append(
            make(
                NAME,
                title,
                strength=strength,
                layer_hint="prompt",
                evidence=[first.ref, span_ref(first.answer.span_id)],
                detail=detail,
                onset=first.answer.start_time,
                quotes=quotes,
                change=bool(obeyed),
                kind="injection_obeyed" if obeyed else "injection_resisted",
                vector=vector,
                attempts=len(tried),
                obeyed=len(obeyed),
                obeyed_baseline=len(base_obeyed),
                bad_span_ids=[a.answer.span_id for a in obeyed],
                baseline_bad_span_ids=[a.answer.span_id for a in base_obeyed],
            )
        )
    return findings
