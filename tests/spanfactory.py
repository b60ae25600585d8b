"""Build realistic normalized spans for tests: a RAG/tool-using assistant's traces, one call per request.

f = SpanFactory(service="support-bot")
spans = f.trace(at(90), "How long do refunds take?", "Refunds take 5 days.", docs=["Refunds take 5 days."])
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from agent.models import Incident, Report
from retrieval.trace import (
    Document,
    Message,
    PromptTemplate,
    Sampling,
    Span,
    SpanKind,
    Status,
    TokenUsage,
    ToolCall,
    ToolInfo,
)

T0 = datetime(2025, 3, 4, 0, 0, tzinfo=UTC)  # window start used by most tests
SYSTEM = (
    "You are the support assistant of Acme Travel.\n"
    "Answer only from the policy documents provided in the context.\n"
    "If the documents do not answer the question, say you don't know and offer a human agent.\n"
    "Be concise and friendly."
)


def at(minutes: float) -> datetime:
    """T0 + minutes (negative for baseline traffic)."""
    return T0 + timedelta(minutes=minutes)


@dataclass
class Tool:
    name: str
    result: str
    error: bool = False
    arguments: str = "{}"


@dataclass
class SpanFactory:
    service: str = "support-bot"
    seed: int = 7
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def _hex(self, n: int) -> str:
        return "".join(self._rng.choice("0123456789abcdef") for _ in range(n))

    def trace(
        self,
        when: datetime,
        question: str,
        answer: str,
        *,
        docs: list[str | Document] | None = None,
        system: str | None = SYSTEM,
        model: str | None = "gpt-4o",
        served: str | None = "gpt-4o-2024-08-06",
        temperature: float | None = 0.2,
        seed: int | None = None,
        template: tuple[str, str] | None = ("support-answer", "3"),
        finish: str | None = "stop",
        tools: list[Tool] | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        service: str | None = None,
        session: str | None = None,
        user: str | None = None,
        trace_id: str | None = None,
    ) -> list[Span]:
        """A request: root agent span, optional retrieval, optional tool calls, then the answering LLM call."""
        service = service or self.service
        tid = trace_id or self._hex(32)
        root = Span(
            trace_id=tid,
            span_id=self._hex(16),
            service=service,
            name="handle_request",
            kind=SpanKind.agent,
            start_time=when,
            end_time=when + timedelta(seconds=3),
            input_value=question,
            output_value=answer,
            session_id=session,
            user_id=user,
        )
        spans = [root]
        t = when + timedelta(milliseconds=50)
        context = ""
        if docs is not None:
            documents = [
                d if isinstance(d, Document) else Document(id=f"kb-{i}", content=d)
                for i, d in enumerate(docs)
            ]
            spans.append(self.retrieval(tid, root.span_id, t, question, documents, service))
            context = "\n\n".join(d.content or "" for d in documents)
            t += timedelta(milliseconds=200)
        messages: list[Message] = []
        if system is not None:
            messages.append(Message(role="system", content=system))
        user_content = f"Context:\n{context}\n\nQuestion: {question}" if context else question
        messages.append(Message(role="user", content=question if not context else user_content))
        for tool in tools or []:
            call_id = "call_" + self._hex(8)
            spans.append(self.tool(tid, root.span_id, t, tool, service, call_id))
            messages.append(
                Message(
                    role="assistant",
                    tool_calls=[ToolCall(id=call_id, name=tool.name, arguments=tool.arguments)],
                )
            )
            messages.append(Message(role="tool", content=tool.result, tool_call_id=call_id, name=tool.name))
            t += timedelta(milliseconds=300)
        llm = Span(
            trace_id=tid,
            span_id=self._hex(16),
            parent_span_id=root.span_id,
            service=service,
            name=f"chat {model}",
            kind=SpanKind.llm,
            start_time=t,
            end_time=t + timedelta(seconds=2),
            operation="chat",
            provider="openai",
            request_model=model,
            response_model=served,
            sampling=Sampling(temperature=temperature, seed=seed),
            system_instructions=system,
            input_messages=messages,
            output_messages=[Message(role="assistant", content=answer, finish_reason=finish)],
            finish_reasons=[finish] if finish else [],
            usage=TokenUsage(
                input_tokens=input_tokens or 40 + len(user_content.split()) * 2,
                output_tokens=output_tokens or len(answer.split()) * 2,
            ),
            prompt_template=PromptTemplate(id=template[0], version=template[1]) if template else None,
            session_id=session,
            user_id=user,
        )
        spans.append(llm)
        return spans

    def retrieval(
        self,
        tid: str,
        parent: str,
        when: datetime,
        query: str,
        docs: list[Document],
        service: str | None = None,
    ) -> Span:
        return Span(
            trace_id=tid,
            span_id=self._hex(16),
            parent_span_id=parent,
            service=service or self.service,
            name="retrieve",
            kind=SpanKind.retrieval,
            start_time=when,
            end_time=when + timedelta(milliseconds=150),
            retrieval_query=query,
            documents=docs,
        )

    def tool(
        self, tid: str, parent: str, when: datetime, tool: Tool, service: str | None, call_id: str
    ) -> Span:
        return Span(
            trace_id=tid,
            span_id=self._hex(16),
            parent_span_id=parent,
            service=service or self.service,
            name=f"execute_tool {tool.name}",
            kind=SpanKind.tool,
            start_time=when,
            end_time=when + timedelta(milliseconds=250),
            operation="execute_tool",
            status=Status(code="error", message=tool.result) if tool.error else Status(code="ok"),
            tool=ToolInfo(name=tool.name, call_id=call_id, arguments=tool.arguments, result=tool.result),
        )


def doc(
    content: str, source: str, updated_at: str | None = None, score: float = 0.82, id: str | None = None
) -> Document:
    meta: dict[str, Any] = {"source": source}
    if updated_at:
        meta["updated_at"] = updated_at
    return Document(id=id or source, content=content, score=score, metadata=meta)


def incident(
    service: str = "support-bot",
    hours: float = 24,
    reports: list[str] | None = None,
    trace_ids: list[str] | None = None,
    description: str = "",
) -> Incident:
    return Incident(
        id="inc-test",
        title="Assistant gives wrong answers",
        description=description,
        service=service,
        window_start=T0,
        window_end=T0 + timedelta(hours=hours),
        reports=[Report(text=r, timestamp=T0 + timedelta(hours=hours)) for r in reports or []],
        trace_ids=trace_ids or [],
    )


def flatten(traces: list[list[Span]]) -> list[Span]:
    return [s for t in traces for s in t]


def traffic(n: int, start: float, step: float, make) -> list[Span]:
    """n requests from minute `start`, every `step` minutes: make(i, when) returns one trace's spans."""
    return [s for i in range(n) for s in make(i, at(start + i * step))]


POLICY = doc(
    "Refunds are available within 30 days of purchase. After 30 days, tickets can be changed for a fee of $75.",
    "kb/refund-policy.md",
    "2025-02-20",
)
BAGGAGE = doc(
    "Each passenger may check one bag up to 23 kg. Extra bags cost $60 each.", "kb/baggage.md", "2024-11-02"
)
# (question, grounded answer) pairs of a support bot
QA = [
    (
        "Can I get a refund on my ticket from last week?",
        "Yes, refunds are available within 30 days of purchase.",
    ),
    ("How much does it cost to change my flight?", "After 30 days a change costs a fee of $75."),
    ("How many bags can I check?", "You may check one bag up to 23 kg; extra bags cost $60."),
    ("What's the refund window for online purchases?", "You can get a refund within 30 days of purchase."),
    ("Is there a fee for an extra suitcase?", "Yes, each extra bag costs $60."),
]


def cut_off_traffic(f: SpanFactory) -> tuple[list[Span], list[Span]]:
    """(window, baseline): healthy support traffic whose last 30 window answers stop at the token limit."""
    base = traffic(40, -2880, 60, lambda i, t: f.trace(t, *QA[i % 5], docs=[POLICY, BAGGAGE]))

    def window(i: int, t: datetime) -> list[Span]:
        q, a = QA[i % 5]
        if i >= 30:
            return f.trace(t, q, "Refunds are available within", docs=[POLICY, BAGGAGE], finish="length")
        return f.trace(t, q, a, docs=[POLICY, BAGGAGE])

    return traffic(60, 0, 20, window), base
