"""The investigation as a LangGraph subgraph: think (one model turn) -> act (run its tool calls) -> think ... ->
conclude (the final answer, asked for outright when a budget ended the loop).

Budgets: tool calls (steps), tokens over every model call, wall time; a request that would not fit the per-request
token budget has its oldest tool results elided first. The same call asked again is answered "repeated" and, past
`max_repeats`, ends the loop; so do `max_errors` failed calls in a row.
"""

from __future__ import annotations

import logging

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime

from agent.investigate.protocol import (
    ask_turn,
    schema_tokens,
    small_answer_schema,
    tool_message,
    turn_overhead,
)
from agent.investigate.state import InvestigationContext, InvestigationState, PendingCall
from agent.investigate.tools import ANSWER_TOOL, run_tool, signature
from agent.llm import blocks
from agent.llm.schemas import ClassificationAnswer
from agent.models import ToolCallRecord
from agent.providers.base import ChatMessage, ChatRequest, ProviderError, Usage
from agent.providers.tokens import estimate_request_tokens

log = logging.getLogger("postmortem.investigate")

ELIDED = "(result elided to fit the token budget)"
# a loop turn's output ceiling on a small budget: a call or "done" is a few dozen tokens, and a small model that
# rambles (prose, or an argument that never ends) is cut before it spends minutes of a CPU-only server
SMALL_TURN_OUTPUT = 200
MAX_RECAP_IDS = 40  # the ids seen, listed again when the answer is asked for (the latest first kept)
FINAL_ASK = (
    "Stop investigating now ({why}). Give your final classification from what you have seen, citing only ids "
    "that appeared in the data or in tool results."
)
STOP_REASONS = {
    "steps": "the tool-call budget is spent",
    "tokens": "the token budget is spent",
    "time": "the time budget is spent",
    "loop": "the same calls kept repeating",
    "errors": "too many tool calls failed in a row",
    "done": "you ended the investigation",
}


def spent_tokens(usage: Usage) -> int:
    return usage.input_tokens + usage.output_tokens


def over_budget(state: InvestigationState, ctx: InvestigationContext) -> str:
    """Which budget is spent ("" when none)."""
    if spent_tokens(state["usage"]) >= ctx.budget.max_tokens:
        return "tokens"
    if ctx.elapsed() >= ctx.budget.max_seconds:
        return "time"
    return ""


def fit(
    messages: list[ChatMessage],
    system: str,
    ctx: InvestigationContext,
    overhead: int,
    max_tokens: int | None = None,
) -> ChatRequest | None:
    """The request for the next turn within the per-request token budget (`overhead`: what travels with the
    messages, tools or a schema): the oldest tool results and the model's oldest prose are elided first (its tool
    calls stay), never the opening turn or the last; None when even that does not fit. `max_tokens`: the turn's
    output ceiling (the budget's when not given)."""
    limit = ctx.budget.request_tokens - overhead
    turns = list(messages)
    ceiling = max_tokens or ctx.budget.max_output_tokens
    request = ChatRequest(system=system, messages=turns, max_tokens=ceiling, temperature=0)
    redact = getattr(ctx.provider, "redacted", None)

    def size(req: ChatRequest) -> int:  # as sent: redaction can lengthen the text (placeholders)
        return estimate_request_tokens(redact(req) if callable(redact) else req)

    for i, message in enumerate(turns[:-1]):
        if size(request) <= limit:
            return request
        if (
            i > 0
            and message.role in ("tool", "user", "assistant")
            and message.content not in (ELIDED, None, "")
        ):
            turns[i] = message.model_copy(update={"content": ELIDED})
            request = request.model_copy(update={"messages": turns})
    return request if size(request) <= limit else None


def think(state: InvestigationState, runtime: Runtime[InvestigationContext]) -> dict:
    ctx = runtime.context
    why = over_budget(state, ctx)
    if why:
        return {"stopped": why}
    small = ctx.budget.small
    ceiling = min(ctx.budget.max_output_tokens, SMALL_TURN_OUTPUT) if small else None
    request = fit(state["messages"], ctx.system, ctx, turn_overhead(state["protocol"], small), ceiling)
    if request is None:
        return {"stopped": "tokens"}
    try:
        turn = ask_turn(ctx.provider, request, state["protocol"], small, first=state.get("turns", 0) == 0)
    except ProviderError as exc:
        ctx.failure = exc
        return {"stopped": "failed", "usage": state["usage"] + exc.usage}
    updates: dict = {
        "messages": [*state["messages"], turn.message],
        "pending": turn.calls,
        "usage": state["usage"] + turn.usage,
        "protocol": turn.protocol,
        "turns": state.get("turns", 0) + 1,
    }
    if turn.answer is not None:
        updates["answer"] = turn.answer
    elif not turn.calls:
        updates["stopped"] = "done"  # the model ended the loop without the answer: conclude asks for it
    return updates


def act(state: InvestigationState, runtime: Runtime[InvestigationContext]) -> dict:
    ctx = runtime.context
    messages, records = list(state["messages"]), list(state.get("log", []))
    seen, tainted = list(state.get("seen", [])), list(state.get("tainted", []))
    signatures, errors = dict(state.get("signatures", {})), state.get("errors", 0)
    answer, stopped = state.get("answer"), state.get("stopped", "")
    for call in state.get("pending", []):
        if call.name == ANSWER_TOOL:
            answer, text = _take_answer(call)
            messages.append(tool_message(call, text, state["protocol"]))
            continue
        record, text, ids, marked = _one_call(ctx, call, records, signatures, stopped)
        records.append(record)
        messages.append(tool_message(call, text, state["protocol"]))
        errors = errors + 1 if record.status == "error" else 0
        seen += [ref for ref in ids if ref not in seen]
        tainted += [ref for ref in marked if ref not in tainted]
        stopped = stopped or _guard(ctx, records, signatures, errors)
    return {
        "messages": messages,
        "pending": [],
        "log": records,
        "seen": seen,
        "tainted": tainted,
        "signatures": signatures,
        "errors": errors,
        "answer": answer,
        "stopped": stopped,
    }


def _take_answer(call: PendingCall) -> tuple[ClassificationAnswer | None, str]:
    try:
        return ClassificationAnswer.model_validate_json(call.arguments or "{}"), "answer received"
    except ValueError as exc:
        first = str(exc).splitlines()[0]
        return None, f"error: the answer does not match the classification schema ({first}); answer again"


def _one_call(
    ctx: InvestigationContext,
    call: PendingCall,
    records: list[ToolCallRecord],
    signatures: dict[str, int],
    stopped: str,
) -> tuple[ToolCallRecord, str, list[str], list[str]]:
    """(the log record, the text for the model, the ids the result showed, the ids whose text gave orders)."""
    step = len(records) + 1
    executed = sum(r.status in ("ok", "error") for r in records)
    if stopped or executed >= ctx.budget.max_steps:
        why = STOP_REASONS.get(stopped or "steps", stopped)
        return (
            ToolCallRecord(step=step, tool=call.name, status="cut", note=why),
            f"error: not run: {why}",
            [],
            [],
        )
    outcome = run_tool(ctx, call.name, call.arguments)
    key = signature(call.name, outcome.arguments)
    signatures[key] = signatures.get(key, 0) + 1
    if signatures[key] > 1:
        note = "the same call was made before; its result is above"
        record = ToolCallRecord(
            step=step, tool=call.name, arguments=outcome.arguments, status="repeated", note=note
        )
        return record, f"error: {note}", [], []
    record = ToolCallRecord(
        step=step,
        tool=call.name,
        arguments=outcome.arguments,
        status="ok" if outcome.ok else "error",
        result_chars=len(outcome.text),
        result_tokens=outcome.tokens,
        ids=len(outcome.ids),
        note=outcome.error
        or ("the result carried instructions (treated as data)" if outcome.tainted else ""),
    )
    return record, outcome.text, outcome.ids, outcome.tainted


def _guard(
    ctx: InvestigationContext, records: list[ToolCallRecord], signatures: dict[str, int], errors: int
) -> str:
    if any(n > ctx.budget.max_repeats for n in signatures.values()):
        return "loop"
    if errors >= ctx.budget.max_errors:
        return "errors"
    if sum(r.status in ("ok", "error") for r in records) >= ctx.budget.max_steps:
        return "steps"
    return ""


def conclude(state: InvestigationState, runtime: Runtime[InvestigationContext]) -> dict:
    """When the loop ended without an answer (a budget, a loop, the model said it was done): ask for the
    classification outright, once, reminding the model of the ids it saw (older results may have been elided to
    fit the budget). On a small budget the schema's id lists are limited to those ids (a grammar then cannot
    produce another)."""
    ctx = runtime.context
    if state.get("answer") is not None or state.get("stopped") == "failed":
        return {}
    why = STOP_REASONS.get(state.get("stopped", ""), "the investigation is over")
    ids = [ref for ref in state.get("seen", []) if ref not in set(state.get("tainted", []))][-MAX_RECAP_IDS:]
    rows = [blocks.line({"id": ref}) for ref in ids]
    recap = blocks.block("ids_seen", rows, blocks.boundary_for(rows))
    ask = ChatMessage(role="user", content=f"{FINAL_ASK.format(why=why)}\nIds you saw:\n{recap}")
    schema = small_answer_schema(ids) if ctx.budget.small else ClassificationAnswer
    request = fit([*flatten(state["messages"]), ask], ctx.system, ctx, schema_tokens(schema))
    if request is None:
        return {"stopped": "no_room"}
    if over_budget(state, ctx) == "time":
        return {}
    try:
        parsed = ctx.provider.parse(request, schema)
    except ProviderError as exc:
        ctx.failure = exc
        return {"usage": state["usage"] + exc.usage}
    answer = ClassificationAnswer.model_validate(parsed.value.model_dump())
    return {"answer": answer, "usage": state["usage"] + parsed.usage, "turns": state.get("turns", 0) + 1}


def flatten(messages: list[ChatMessage]) -> list[ChatMessage]:
    """The conversation without tool-call structure (a structured-output request carries no tools)."""
    out = []
    for m in messages:
        if m.role == "assistant" and m.tool_calls:
            calls = "; ".join(f"{c.name}({c.arguments or '{}'})" for c in m.tool_calls)
            out.append(
                ChatMessage(
                    role="assistant", content="\n".join(p for p in (m.content, f"Called: {calls}") if p)
                )
            )
        elif m.role == "tool":
            out.append(ChatMessage(role="user", content=f"Result of {m.name or 'the call'}:\n{m.content}"))
        else:
            out.append(m)
    return out


def route_after_think(state: InvestigationState) -> str:
    if state.get("stopped") or state.get("answer") is not None:
        return "conclude"
    return "act" if state.get("pending") else "conclude"


def route_after_act(state: InvestigationState) -> str:
    return "conclude" if state.get("stopped") or state.get("answer") is not None else "think"


def build_investigation() -> CompiledStateGraph:
    graph = StateGraph(InvestigationState, context_schema=InvestigationContext)
    graph.add_node("think", think)
    graph.add_node("act", act)
    graph.add_node("conclude", conclude)
    graph.add_edge(START, "think")
    graph.add_conditional_edges("think", route_after_think, ["act", "conclude"])
    graph.add_conditional_edges("act", route_after_act, ["think", "conclude"])
    graph.add_edge("conclude", END)
    # never checkpointed, not even under a parent graph that is (its state holds the whole conversation)
    return graph.compile(checkpointer=False, name="investigate")
