"""Assemble a prompt from a template file and the incident's findings and evidence, within a token budget."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

import prompts
from agent.llm import blocks
from agent.llm.budget import Selection, select
from agent.llm.schemas import A, with_ids
from agent.models import Evidence, Finding, Incident, pm_ref, report_ref
from agent.providers.base import ChatMessage, ChatRequest, ProviderError
from agent.providers.tokens import MESSAGE_OVERHEAD, estimate_request_tokens, estimate_tokens
from retrieval.trace import PostmortemDoc

FEEDBACK_RESERVE = 400  # tokens kept free for the one 'your answer was rejected' follow-up (at most)
FEEDBACK_SHARE = 0.08  # ... and at most this share of a small budget (2,000 tokens on a small local model)
MIN_EVIDENCE_TOKENS = 300
SCHEMA_WRAPPER_TOKENS = 40  # the response_format / tool wrapper, or the 'answer with JSON only' sentence
MAX_SIMILAR = 5
SMALL_BUDGET = 6000  # below this (a small local model's context), compact rows: see blocks.COMPACT_*
# below SMALL_BUDGET the similar post-mortems are not listed in their own block: they still compete for room as
# evidence items (kind "postmortem"), like everything else
SMALL_MAX_SIMILAR = 0


@dataclass
class Prompt:
    request: ChatRequest
    selection: Selection
    boundary: str
    budget: int
    schema_tokens: int
    excerpt_chars: int = blocks.EXCERPT_CHARS
    small: bool = False  # a small budget: compact rows, and the schema lists the ids sent (schemas.with_ids)

    @property
    def sent_ids(self) -> set[str]:
        return self.selection.evidence_ids

    @property
    def excerpts(self) -> dict[str, str]:
        """The excerpt of each evidence item exactly as sent (clipped), for checking quotes."""
        return {e.id: blocks.clip(e.excerpt, self.excerpt_chars) for e in self.selection.evidence}

    @property
    def tokens(self) -> int:
        """Estimated input tokens: the messages plus the JSON schema the SDK sends with them."""
        enum = sum(id_enum_cost(i) for i in self.sent_ids) if self.small else 0
        return estimate_request_tokens(self.request) + self.schema_tokens + enum

    def schema(self, schema: type[A]) -> type[A]:
        """The schema to ask with: on a small budget, its id lists restricted to the ids sent."""
        return with_ids(schema, sorted(self.sent_ids)) if self.small else schema


def similar_docs(similar: Sequence[Any]) -> list[PostmortemDoc]:
    """Accept PostmortemDoc or store hits carrying `.doc`; one entry per post-mortem id."""
    docs: dict[str, PostmortemDoc] = {}
    for item in similar:
        doc = getattr(item, "doc", item)
        if isinstance(doc, PostmortemDoc):
            docs.setdefault(doc.id, doc)
    return list(docs.values())[:MAX_SIMILAR]


def all_evidence(
    incident: Incident, evidence: Sequence[Evidence], similar: Sequence[PostmortemDoc]
) -> list[Evidence]:
    """The caller's evidence, plus the incident's reports and the similar post-mortems if it lacks them."""
    out = list(evidence)
    known = {e.id for e in out}
    for i, report in enumerate(incident.reports, start=1):
        if report_ref(i) not in known:
            out.append(
                Evidence(id=report_ref(i), kind="report", excerpt=report.text, timestamp=report.timestamp)
            )
    for doc in similar:
        if pm_ref(doc.id) not in known:
            out.append(Evidence(id=pm_ref(doc.id), kind="postmortem", excerpt=doc.text, label=doc.title))
    return out


def build_prompt(
    template: str,
    *,
    incident: Incident,
    findings: Sequence[Finding],
    evidence: Sequence[Evidence],
    similar: Sequence[Any] = (),
    budget: int,
    schema: type[BaseModel],
    max_tokens: int,
    extra_blocks: dict[str, list[str]] | None = None,
    values: dict[str, str] | None = None,
) -> Prompt:
    """Render `prompts/<template>.md` with data blocks filled to the budget (input tokens, schema included)."""
    small = budget < SMALL_BUDGET
    excerpt_chars = blocks.COMPACT_EXCERPT_CHARS if small else blocks.EXCERPT_CHARS
    docs = similar_docs(similar)
    pool = all_evidence(incident, evidence, docs)
    fixed_rows: dict[str, list[str]] = {
        "incident": blocks.incident_lines(incident),
        "similar": blocks.similar_lines(docs[: SMALL_MAX_SIMILAR if small else MAX_SIMILAR]),
    }
    fixed_rows.update(extra_blocks or {})
    # the schema travels once per request: in response_format, as a tool's parameters, or in the prompt
    schema_tokens = estimate_tokens(json.dumps(schema.model_json_schema())) + SCHEMA_WRAPPER_TOKENS
    system = prompts.render("system")

    def render(boundary: str, finding_rows: list[str], evidence_rows: list[str], note: str) -> ChatRequest:
        filled = {f"{name}_block": blocks.block(name, rows, boundary) for name, rows in fixed_rows.items()}
        filled["findings_block"] = blocks.block("findings", finding_rows, boundary)
        filled["evidence_block"] = blocks.block("evidence", evidence_rows, boundary)
        text = prompts.render(template, boundary=boundary, evidence_note=note, **filled, **(values or {}))
        return ChatRequest(
            system=system,
            messages=[ChatMessage(role="user", content=text)],
            max_tokens=max_tokens,
            temperature=0,
        )

    placeholder = "0" * 16
    skeleton = render(placeholder, [], [], "000000 of 000000 items, 00000 of 00000 findings")
    fixed = estimate_request_tokens(skeleton) + schema_tokens + MESSAGE_OVERHEAD
    reserve = feedback_reserve(budget)
    available = budget - fixed - reserve
    if available < MIN_EVIDENCE_TOKENS:
        raise ProviderError(
            f"token budget {budget} is too small: the prompt's fixed part alone needs {fixed}"
        )

    selection = select(
        findings,
        pool,
        available_tokens=available,
        finding_cost=lambda f, ids: estimate_tokens(blocks.finding_line(f, ids, compact=small)) + 1,
        evidence_cost=lambda e: (
            estimate_tokens(blocks.evidence_line(e, excerpt_chars, compact=small))
            + 1
            + (id_enum_cost(e.id) if small else 0)
        ),
    )
    finding_rows = [blocks.finding_line(f, ids, compact=small) for f, ids in selection.findings]
    evidence_rows = [blocks.evidence_line(e, excerpt_chars, compact=small) for e in selection.evidence]
    boundary = blocks.boundary_for(*fixed_rows.values(), finding_rows, evidence_rows)
    request = render(boundary, finding_rows, evidence_rows, selection.note)
    prompt = Prompt(
        request=request,
        selection=selection,
        boundary=boundary,
        budget=budget,
        schema_tokens=schema_tokens,
        excerpt_chars=excerpt_chars,
        small=small,
    )
    if prompt.tokens > budget - reserve:  # cannot happen with per-row ceilings; guard the invariant
        raise ProviderError(f"prompt of {prompt.tokens} tokens exceeds the budget of {budget}")
    return prompt


def id_enum_cost(evidence_id: str) -> int:
    """Tokens an id adds to the schema when it is listed in an enum."""
    return estimate_tokens(json.dumps(evidence_id)) + 1


def feedback_reserve(budget: int) -> int:
    return min(FEEDBACK_RESERVE, int(budget * FEEDBACK_SHARE))


def with_feedback(request: ChatRequest, problems: Sequence[str]) -> ChatRequest:
    """The same request plus one short user turn saying why the previous answer was rejected."""
    listed = "; ".join(problems)[:600]
    note = (
        f"Your previous answer was rejected: {listed}. Answer again, following the schema, citing only ids "
        "that appear in the data blocks above."
    )
    return request.model_copy(
        update={"messages": [*request.messages, ChatMessage(role="user", content=note)]}
    )
