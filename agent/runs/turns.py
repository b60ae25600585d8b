"""One trace as a run of turns, the way a person reads a multi-agent log.

A turn is a span that did something visible: an LLM call (what the agent said or called), a tool execution (what
came back), a retrieval (the documents), or an agent/chain span that carries its own text and encloses no other
turn. Container spans (an `invoke_agent` wrapping its chat and tool spans, a workflow root) are not turns; their
agent name is inherited by the turns inside them. Turns are numbered from 0 in start order, so step N is the N-th
span a reader sees in the log.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field

from agent.detectors.text import content_tokens
from agent.thresholds import T
from retrieval.trace import Message, Span, SpanKind

CODE_BLOCK = re.compile(r"```|^(?: {4}|\t)\S", re.MULTILINE)  # fenced or indented code in a message
MIN_ANSWER_WORDS = 2  # content words an answer has at least ("TERMINATE" has one)
MAX_TURN_CHARS = 20_000  # a turn's text is cut here: provenance never needs more, long pages only cost time


class Turn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    index: int
    span_id: str
    agent: str  # the agent that acted (recorded or inherited); the tool or span name when none was recorded
    speaker: str | None = None  # the name as recorded when it carried a note, e.g. "Orchestrator (thought)"
    role: str  # user, assistant, tool, retrieval, system
    text: str = ""  # what it said, or what came back from the tool/retrieval
    asked: str = ""  # what it was asked (its last user/instruction input), when recorded apart from history
    calls: list[str] = Field(default_factory=list)  # "name(arguments)" of the tool calls it made
    tool: str | None = None  # the tool executed, for tool turns
    handoff_to: str | None = None
    error: str | None = None  # the span's error status message (or "error")

    @property
    def content(self) -> str:
        """Everything a claim may be found in: text, tool calls and their arguments."""
        return "\n".join([self.text, *self.calls]) if self.calls else self.text

    @property
    def acts(self) -> bool:
        """An agent's own turn (it chose what to say or call), as opposed to a tool/retrieval result or input."""
        return self.role in ("assistant", "agent")


class Run(BaseModel):
    model_config = ConfigDict(extra="forbid")

    trace_id: str
    turns: list[Turn]
    task: str = ""  # the question the run was given (first user input), when recorded

    @property
    def agents(self) -> list[str]:
        return list(dict.fromkeys(t.agent for t in self.turns))

    @property
    def final(self) -> Turn | None:
        """The run's last answer: the last acting turn that says something (a control message such as a lone
        "TERMINATE" or "Approved." is not an answer), else the last turn with text."""
        for turn in reversed(self.turns):
            if turn.acts and len(content_tokens(turn.text)) >= MIN_ANSWER_WORDS:
                return turn
        return next((t for t in reversed(self.turns) if t.text.strip()), None)

    def executes(self, turn: Turn) -> bool:
        """Whether a turn is the output of code the previous turn (another agent) wrote: a terminal's reply."""
        if turn.index == 0 or turn.index >= len(self.turns) or self.turns[turn.index] is not turn:
            return False
        previous = self.turns[turn.index - 1]
        return (
            previous.agent != turn.agent
            and bool(CODE_BLOCK.search(previous.text))
            and not CODE_BLOCK.search(turn.text)
        )

    def by_span(self, span_id: str) -> Turn | None:
        return next((t for t in self.turns if t.span_id == span_id), None)


def is_agent_run(spans: list[Span], *, named: bool = False) -> bool:
    """A trace recorded as agents taking turns (an agent name or id, agent spans, hand-offs), or a trace the
    incident names, with at least T.runs_min_turns turns."""
    agents = any(s.agent_name or s.agent_id or s.kind == SpanKind.agent or s.handoff_to for s in spans)
    return (agents or named) and len(_turn_spans(spans)) >= T.runs_min_turns


def agent_count(spans: list[Span]) -> int:
    """How many distinct agents a trace records (names, ids, or agent spans' names)."""
    names = {s.agent_name or s.agent_id for s in spans if s.agent_name or s.agent_id}
    names |= {s.name for s in spans if s.kind == SpanKind.agent and not (s.agent_name or s.agent_id)}
    return len(names)


def build_run(spans: list[Span]) -> Run:
    """The trace's turns in start order (spans of one trace; any order in)."""
    ordered = sorted(spans, key=_order)
    by_id = {s.span_id: s for s in ordered}
    turns = [_turn(i, span, _agent_of(span, by_id)) for i, span in enumerate(_turn_spans(ordered))]
    trace_id = ordered[0].trace_id if ordered else ""
    return Run(trace_id=trace_id, turns=turns, task=_task(ordered, turns))


def _last_input(span: Span) -> Message | None:
    """The last input message with text (a log converted one span per turn may record the turn as input)."""
    return next((m for m in reversed(span.input_messages) if (m.content or "").strip()), None)


def _has_content(span: Span) -> bool:
    return bool(
        span.output_text.strip()
        or span.user_text.strip()
        or _last_input(span)
        or span.documents
        or (span.tool and (span.tool.result or span.tool.arguments))
        or any(m.tool_calls for m in span.output_messages)
        or _handoff_target(span)
        or span.is_error
    )


def _turn_spans(spans: list[Span]) -> list[Span]:
    """Spans with content that enclose no other span with content (containers are not turns)."""
    ids = {s.span_id for s in spans}
    candidates = [s for s in spans if _has_content(s)]
    candidate_ids = {s.span_id for s in candidates}
    parent = {s.span_id: s.parent_span_id for s in spans}
    containers: set[str] = set()
    for span in candidates:
        seen: set[str] = set()
        up = parent.get(span.span_id)
        while up and up in ids and up not in seen:
            seen.add(up)
            if up in candidate_ids:
                containers.add(up)
            up = parent.get(up)
    ordered = sorted(candidates, key=_order)
    return [s for s in ordered if s.span_id not in containers]


def _order(span: Span) -> tuple:
    """Start time; on a tie (logs converted without real timestamps) the order the records were read in."""
    where = tuple(int(n) for n in re.findall(r"\d+", span.source or ""))
    return (span.start_time, where, span.end_time or span.start_time)


def _agent_of(span: Span, by_id: dict[str, Span]) -> str | None:
    seen: set[str] = set()
    current: Span | None = span
    while current is not None and current.span_id not in seen:
        seen.add(current.span_id)
        if current.agent_name or current.agent_id:
            return current.agent_name or current.agent_id
        if current.kind == SpanKind.agent and current is not span and current.name:
            return current.name
        current = by_id.get(current.parent_span_id or "")
    return None


def _role(span: Span) -> str:
    if span.kind == SpanKind.tool:
        return "tool"
    if span.kind == SpanKind.retrieval:
        return "retrieval"
    out_roles = [m.role for m in span.output_messages if m.role]
    if not out_roles and not span.output_text.strip() and _last_input(span) is not None:
        out_roles = [_last_input(span).role]  # type: ignore[union-attr]
    if out_roles:
        role = out_roles[-1].lower()
        return "user" if role in ("human", "user") else role
    return "assistant" if span.output_text.strip() else "user"


def _turn(index: int, span: Span, agent: str | None) -> Turn:
    recorded = agent or (span.tool.name if span.tool else None) or span.name or "?"
    name, note = _split_name(recorded)
    handoff = _handoff_target(span) or (note[2:].strip() if note and note.startswith(("->", "→")) else None)
    role = _role(span)
    calls = [f"{c.name or '?'}({c.arguments or ''})" for m in span.output_messages for c in m.tool_calls]
    tool = span.tool.name if span.tool else None
    if role == "tool":
        text = (span.tool.result if span.tool else None) or span.output_value or span.output_text
        if span.tool and span.tool.arguments:
            calls = [f"{tool or span.name}({span.tool.arguments})"]
    elif role == "retrieval":
        text = "\n".join(d.content or "" for d in span.documents) or span.output_text
    else:
        last = _last_input(span)
        text = span.output_text or (last.content if last else "") or span.input_value or ""
        if not text and handoff:
            role = "assistant"  # a hand-off span: the handing agent acted
    asked = span.user_text if role not in ("user", "tool", "retrieval") else ""
    error = (span.status.message or "error") if span.is_error else None
    return Turn(
        index=index,
        span_id=span.span_id,
        agent=name,
        speaker=recorded if note else None,
        role=role,
        text=(text or "")[:MAX_TURN_CHARS],
        asked=(asked or "")[:MAX_TURN_CHARS],
        calls=calls,
        tool=tool,
        handoff_to=handoff,
        error=error,
    )


_HANDOFF_NAME = re.compile(r"\bhand-?off\b.*?\bto\s+(.+?)\s*$", re.IGNORECASE)


def _handoff_target(span: Span) -> str | None:
    """The agent a hand-off passed control to: recorded, or named by a hand-off span ("handoff from A to B",
    operation `handoff` as the OpenAI Agents SDK integrations record it)."""
    if span.handoff_to:
        return span.handoff_to
    if span.operation == "handoff" or span.name.lower().startswith(("handoff", "hand-off")):
        match = _HANDOFF_NAME.search(span.name)
        return match.group(1) if match else None
    return None


_NOTE = re.compile(r"^(.*?\S)\s*\(([^()]*)\)\s*$")


def _split_name(recorded: str) -> tuple[str, str | None]:
    """("Orchestrator", "thought") from "Orchestrator (thought)": logs annotate the speaker with what the turn
    was (a thought, a hand-off "-> WebSurfer"); the agent is the name before the note."""
    match = _NOTE.match(recorded)
    if not match:
        return recorded, None
    return match.group(1), match.group(2).strip()


def _task(spans: list[Span], turns: list[Turn]) -> str:
    """The question the run was given: the first user turn, else the root's input, else the first input an LLM
    call recorded, else the first turn's text (a log converted one span per message opens with the task)."""
    for turn in turns[:3]:
        if turn.role == "user" and turn.text.strip():
            return turn.text
    roots = [s for s in spans if s.parent_span_id is None and (s.input_value or s.user_text)]
    if roots:
        return roots[0].input_value or roots[0].user_text
    asked = next((t.asked for t in turns if t.asked), "")
    return asked or (turns[0].text if turns else "")
