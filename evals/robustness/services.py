"""Other services of the same store, written by code: each ships its own model change and prompt change and has
its own tool errors inside the incident window, while its answers stay fine. A verdict about the incident's service
must not follow them."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from pydantic import BaseModel

from evals.generator.ids import IdGen
from retrieval.trace import Message, PromptTemplate, Sampling, Span, SpanKind, Status, TokenUsage, ToolInfo


class SideApp(BaseModel):
    """One other application: its prompts before and after its own prompt change, its models, its tool."""

    name: str
    provider: str
    model_before: str
    model_after: str
    prompt_before: str
    prompt_after: str
    tool: str
    questions: tuple[str, ...]
    answer: str


# Written for this suite from generic internal tools; no case's domain or vocabulary.
SIDE_APPS: tuple[SideApp, ...] = (
    SideApp(
        name="meeting-notes-summarizer",
        provider="openai",
        model_before="gpt-4o-mini-2024-07-18",
        model_after="gpt-4.1-mini-2025-04-14",
        prompt_before="Summarize the meeting transcript in five bullet points.",
        prompt_after="Summarize the meeting transcript in five bullet points. List decisions first, then owners.",
        tool="calendar.get_event",
        questions=("summarize the weekly sync", "notes for the design review", "recap of the planning call"),
        answer="- Decisions: ship the beta on Friday.\n- Owners: Sam (release notes), Ana (QA).",
    ),
    SideApp(
        name="expense-category-tagger",
        provider="anthropic",
        model_before="claude-3-5-haiku-20241022",
        model_after="claude-haiku-4-5-20251001",
        prompt_before="Assign one expense category to the receipt line.",
        prompt_after="Assign exactly one expense category to the receipt line; answer with the category only.",
        tool="ledger.lookup_vendor",
        questions=("taxi airport 42.10", "team lunch 86.00", "printer toner 39.99"),
        answer="travel",
    ),
    SideApp(
        name="wiki-search-helper",
        provider="openai",
        model_before="gpt-4o-2024-08-06",
        model_after="gpt-4o-2024-11-20",
        prompt_before="Answer questions about internal wiki pages and link the page you used.",
        prompt_after="Answer questions about internal wiki pages, link the page you used and keep it under 80 words.",
        tool="wiki.search_pages",
        questions=("how do I request a laptop", "where is the on-call rota", "vpn setup on linux"),
        answer="See the IT onboarding page: request it in the service portal under Hardware.",
    ),
    SideApp(
        name="release-notes-drafter",
        provider="aws.bedrock",
        model_before="anthropic.claude-3-sonnet-20240229-v1:0",
        model_after="anthropic.claude-3-5-sonnet-20240620-v1:0",
        prompt_before="Draft release notes from the merged pull request titles.",
        prompt_after="Draft release notes from the merged pull request titles, grouped by component.",
        tool="git.list_merged",
        questions=("notes for v2.3", "notes for the hotfix", "notes for sprint 41"),
        answer="Fixes: export no longer times out. Features: dark mode for the dashboard.",
    ),
)


def _llm(
    app: SideApp,
    ids: IdGen,
    trace_id: str,
    parent: str,
    at: datetime,
    after_model: bool,
    after_prompt: bool,
    question: str,
    dialect: str | None,
) -> Span:
    model = app.model_after if after_model else app.model_before
    prompt = app.prompt_after if after_prompt else app.prompt_before
    return Span(
        trace_id=trace_id,
        span_id=ids.span_id(),
        parent_span_id=parent,
        service=app.name,
        name=f"chat {model}",
        kind=SpanKind.llm,
        start_time=at,
        end_time=at + timedelta(milliseconds=900),
        status=Status(code="ok"),
        operation="chat",
        provider=app.provider,
        request_model=model,
        response_model=model,
        sampling=Sampling(temperature=0.3),
        system_instructions=prompt,
        input_messages=[Message(role="system", content=prompt), Message(role="user", content=question)],
        output_messages=[Message(role="assistant", content=app.answer, finish_reason="stop")],
        finish_reasons=["stop"],
        usage=TokenUsage(input_tokens=120, output_tokens=40, total_tokens=160),
        prompt_template=PromptTemplate(id=f"{app.name}-system", version="2" if after_prompt else "1"),
        dialect=dialect,
        source="robustness:side-service",
    )


def _tool(
    app: SideApp, ids: IdGen, trace_id: str, parent: str, at: datetime, failed: bool, dialect: str | None
) -> Span:
    status = (
        Status(code="error", message="503 Service Unavailable", error_type="HTTPError")
        if failed
        else Status(code="ok")
    )
    return Span(
        trace_id=trace_id,
        span_id=ids.span_id(),
        parent_span_id=parent,
        service=app.name,
        name=f"execute_tool {app.tool}",
        kind=SpanKind.tool,
        start_time=at,
        end_time=at + timedelta(milliseconds=200),
        status=status,
        operation="execute_tool",
        tool=ToolInfo(name=app.tool, arguments="{}", result=None if failed else '{"ok": true}'),
        dialect=dialect,
        source="robustness:side-service",
    )


def side_trace(
    app: SideApp,
    ids: IdGen,
    at: datetime,
    *,
    changed_model: bool,
    changed_prompt: bool,
    tool_failed: bool,
    question: str,
    dialect: str | None,
) -> list[Span]:
    """One request of a side application: root, tool call, LLM call (fine answer, also when the tool failed)."""
    trace_id, root_id = ids.trace_id(), ids.span_id()
    root = Span(
        trace_id=trace_id,
        span_id=root_id,
        service=app.name,
        name=f"POST /{app.name}",
        kind=SpanKind.chain,
        start_time=at,
        end_time=at + timedelta(milliseconds=1400),
        status=Status(code="ok"),
        input_value=question,
        output_value=app.answer,
        dialect=dialect,
        source="robustness:side-service",
    )
    tool = _tool(app, ids, trace_id, root_id, at + timedelta(milliseconds=50), tool_failed, dialect)
    llm = _llm(
        app,
        ids,
        trace_id,
        root_id,
        at + timedelta(milliseconds=300),
        changed_model,
        changed_prompt,
        question,
        dialect,
    )
    return [root, tool, llm]


def side_service(
    app: SideApp,
    rng: random.Random,
    ids: IdGen,
    *,
    start: datetime,
    window: tuple[datetime, datetime],
    dialect: str | None,
    before: int = 10,
    during: int = 14,
) -> list[Span]:
    """A side service's traffic, `before` requests in the baseline and `during` in the window: a model change and
    a prompt change at random moments inside the window, tool errors on about a third of its window requests."""
    w_start, w_end = window
    width = (w_end - w_start).total_seconds()
    model_at = w_start + timedelta(seconds=rng.uniform(0.05, 0.7) * width)
    prompt_at = w_start + timedelta(seconds=rng.uniform(0.05, 0.7) * width)
    base = max(1.0, (w_start - start).total_seconds())
    moments = [start + timedelta(seconds=rng.uniform(0, base - 1)) for _ in range(before)]
    moments += [w_start + timedelta(seconds=rng.uniform(0, width - 5)) for _ in range(during)]
    spans: list[Span] = []
    for at in sorted(moments):
        spans += side_trace(
            app,
            ids,
            at,
            changed_model=at >= model_at,
            changed_prompt=at >= prompt_at,
            tool_failed=at >= w_start and rng.random() < 0.35,
            question=rng.choice(app.questions),
            dialect=dialect,
        )
    return spans
