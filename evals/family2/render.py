"""One request of the incident's service as one trace: the root span and one span per pipeline step it used."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from evals.family2.schema import (
    CaseSource,
    Exchange,
    GenericVal,
    LlmVal,
    RetrievalVal,
    StepDef,
    ToolErrorNoise,
    ToolVal,
)
from evals.generator.ids import IdGen
from evals.generator.ir import Doc, GSpan, GTrace, Msg

LLM_MS = (650, 3200)


def tokens(text: str | None) -> int:
    return max(1, len(text or "") // 4)


def as_json(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def step_value(step: StepDef, raw: Any) -> ToolVal | LlmVal | RetrievalVal | GenericVal:
    """The typed value of one step of an exchange (a bare string or list is the short form)."""
    if step.kind == "tool":
        return ToolVal.model_validate(raw or {})
    if step.kind == "llm":
        return LlmVal(out=raw) if isinstance(raw, str) else LlmVal.model_validate(raw)
    if step.kind in ("retrieval", "rerank"):
        return RetrievalVal(docs=raw) if isinstance(raw, list) else RetrievalVal.model_validate(raw)
    return GenericVal(out=raw) if isinstance(raw, str) or raw is None else GenericVal.model_validate(raw)


@dataclass
class Flags:
    """Noise applied to one healthy request."""

    llm_retry: bool = False
    tool_error: ToolErrorNoise | None = None
    strip: bool = False  # optional attributes missing (usage, prompt template, sampling)


@dataclass
class _Ctx:
    trace_id: str
    session: str
    user: str
    now: datetime
    spans: list[GSpan] = field(default_factory=list)
    steps: dict[str, str] = field(default_factory=dict)
    docs: list[Doc] = field(default_factory=list)
    tool_msgs: list[Msg] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # results of tools the application called itself
    planned: dict[str, str] = field(default_factory=dict)  # tool step key -> tool call id


class Renderer:
    def __init__(self, src: CaseSource, ids: IdGen, rng: random.Random) -> None:
        self.src, self.app, self.ids, self.rng = src, src.app, ids, rng

    def _span(self, ctx: _Ctx, key: str, name: str, kind: str, ms: tuple[int, int], **kw: Any) -> GSpan:
        start = ctx.now + timedelta(milliseconds=self.rng.randint(1, 9))
        end = start + timedelta(milliseconds=self.rng.randint(*ms))
        parent = kw.pop("parent", None) or ctx.steps["root"]
        span = GSpan(
            trace_id=ctx.trace_id,
            span_id=self.ids.span_id(),
            parent_id=parent,
            name=name,
            kind=kind,
            service=self.app.service,
            start=start,
            end=end,
            session_id=ctx.session,
            user_id=ctx.user,
            **kw,
        )
        ctx.now = end
        ctx.spans.append(span)
        ctx.steps.setdefault(key, span.span_id)
        return span

    def _parent(self, ctx: _Ctx, step: StepDef) -> str:
        return ctx.steps.get(step.under or "root", ctx.steps["root"])

    def trace(
        self, t: datetime, ex: Exchange, state: dict[str, Any], who: tuple[str, str], flags: Flags
    ) -> GTrace:
        ctx = _Ctx(self.ids.trace_id(), who[0], who[1], t)
        draws = {k: self._draw(k, state) for k in self.app.sampling}
        root_attrs = dict(state["attrs"].get("root", {}))
        for name, draw in draws.items():
            if draw["bucket"]:
                root_attrs[f"app.experiment.{name}"] = draw["bucket"]
        root = GSpan(
            trace_id=ctx.trace_id,
            span_id=self.ids.span_id(),
            parent_id=None,
            name=self.app.root.name,
            kind=self.app.root.kind,
            service=self.app.service,
            start=t,
            end=t,
            session_id=ctx.session,
            user_id=ctx.user,
            input_value=ex.user,
            attrs=root_attrs,
            capture_content=state["capture_content"],
        )
        ctx.spans.append(root)
        ctx.steps["root"] = root.span_id
        values = ex.values()
        order = [k for k in self.app.steps if k in values]
        answer = None
        for i, key in enumerate(order):
            step = self.app.steps[key]
            value = step_value(step, values[key])
            if step.kind == "llm":
                answer = self._llm(ctx, key, step, value, ex, state, draws, flags, order[i + 1 :]) or answer
            elif step.kind == "tool":
                self._tool(ctx, key, step, value, state, flags)
            elif step.kind in ("retrieval", "rerank"):
                self._retrieval(ctx, key, step, value, ex, state)
            else:
                self._generic(ctx, key, step, value, state)
                if step.kind == "chain" and value.out and not answer:
                    answer = value.out  # e.g. a cache hit answers without an llm call
        self._close_groups(ctx)
        root.end = ctx.now + timedelta(milliseconds=self.rng.randint(3, 30))
        root.output_value = answer
        trace = GTrace(trace_id=ctx.trace_id, service=self.app.service, spans=ctx.spans)
        trace.steps = dict(ctx.steps)
        llm_keys = [k for k in order if self.app.steps[k].kind == "llm"]
        trace.llm_span = ctx.steps.get(llm_keys[-1]) if llm_keys else None
        return trace

    def _draw(self, key: str, state: dict[str, Any]) -> dict[str, Any]:
        sampling = state["sampling"][key]
        temp, top_p = sampling.get("temperature"), sampling.get("top_p")
        return {
            "temperature": round(self.rng.uniform(*temp), 2) if temp else None,
            "top_p": round(self.rng.uniform(*top_p), 2) if top_p else None,
            "max_tokens": sampling.get("max_tokens"),
            "bucket": self.rng.choice(sampling["buckets"]) if sampling.get("buckets") else None,
        }

    def _close_groups(self, ctx: _Ctx) -> None:
        """Agent/chain steps that others are nested in span their children."""
        for span in reversed(ctx.spans):
            children = [s for s in ctx.spans if s.parent_id == span.span_id]
            if children and span.parent_id is not None:
                span.end = max(span.end, max(c.end for c in children) + timedelta(milliseconds=2))

    def _messages(self, ctx: _Ctx, step: StepDef, value: LlmVal, ex: Exchange, state: dict[str, Any]):
        prompt = state["prompts"].get(step.prompt) if step.prompt else None
        system = prompt["text"] if prompt else None
        context = "\n".join(
            [f"[{d.id}] ({d.source}, updated {d.updated_at}) {d.content}" for d in ctx.docs] + ctx.notes
        )
        user = value.in_ or ex.user
        if context and step.context == "system" and system:
            system = f"{system}\n\nReference material:\n{context}"
        elif context:
            user = f"Context:\n{context}\n\nRequest: {user}"
        messages = []
        for asked, answered in ex.history:
            messages += [Msg("user", asked), Msg("assistant", answered)]
        messages.append(Msg("user", user))
        return prompt, system, messages + ctx.tool_msgs

    def _llm(
        self, ctx, key, step, value: LlmVal, ex, state, draws, flags: Flags, rest: list[str]
    ) -> str | None:
        model = state["models"][step.model]
        draw = draws.get(step.sampling) or {"temperature": None, "top_p": None, "max_tokens": None}
        parent = self._parent(ctx, step)
        if flags.llm_retry:
            flags.llm_retry = False
            failed = self._span(
                ctx, key + ":retry", f"chat {model['request']}", "llm", (80, 400), parent=parent
            )
            failed.provider, failed.request_model = model["provider"], model["request"]
            failed.status, failed.error_type = "error", "RateLimitError"
            failed.status_message = "Error code: 429 - rate limit exceeded, retry after 2s"
            failed.events = [_exception(failed.end, "openai.RateLimitError", failed.status_message)]
            failed.capture_content = False
            ctx.now += timedelta(seconds=2)
        prompt, system, messages = self._messages(ctx, step, value, ex, state)
        out = Msg("assistant", value.out)
        if step.plans:
            calls = []
            for later in rest:
                if self.app.steps[later].kind == "llm":
                    break
                if self.app.steps[later].kind == "tool":
                    call_id = self.ids.token("call_", 24)
                    ctx.planned[later] = call_id
                    tool = step_value(self.app.steps[later], ex.values()[later])
                    args = tool.asked if tool.asked is not None else tool.args
                    calls.append(
                        {"id": call_id, "name": self.app.steps[later].tool or later, "arguments": args}
                    )
            out = Msg("assistant", value.out or None, tool_calls=calls)
        span = self._span(
            ctx,
            key,
            f"chat {model['request']}",
            "llm",
            LLM_MS if step.ms == (40, 400) else step.ms,
            parent=parent,
            provider=model["provider"],
            request_model=model["request"],
            response_model=model["response"],
            temperature=draw["temperature"],
            top_p=draw["top_p"],
            max_tokens=draw["max_tokens"],
            system=system,
            input_messages=messages,
            output_messages=[out],
            finish_reason="tool_calls" if step.plans else value.finish,
            input_tokens=tokens(system) + sum(tokens(m.content) for m in messages),
            output_tokens=tokens(value.out),
            capture_content=state["capture_content"],
            attrs={**state["attrs"].get(key, {}), **value.attrs},
        )
        span.response_id = self.ids.token("msg_" if model["provider"] == "anthropic" else "chatcmpl-", 24)
        if prompt:
            span.template_id, span.template_version = prompt["id"], prompt["version"]
        if step.plans:
            ctx.tool_msgs = [out]
        if flags.strip:
            span.input_tokens = span.output_tokens = None
            span.template_id = span.template_version = None
            if self.rng.random() < 0.5:
                span.temperature = span.top_p = None
        return None if step.plans else value.out

    def _tool(self, ctx: _Ctx, key: str, step: StepDef, value: ToolVal, state, flags: Flags) -> None:
        name = step.tool or key
        parent = self._parent(ctx, step)
        attempts = [(value.retry_error, f"{name}: {value.retry_error}")] * value.retries
        if flags.tool_error and flags.tool_error.step == key:
            attempts.append((flags.tool_error.error, flags.tool_error.message))
        call_id = ctx.planned.get(key) or self.ids.token("call_", 24)
        common = {"tool_name": name, "tool_description": step.description, "tool_call_id": call_id}
        for error, message in attempts:
            span = self._span(
                ctx,
                key + ":attempt",
                step.name or name,
                "tool",
                (900, 10000),
                parent=parent,
                tool_args=as_json(value.args),
                **common,
            )
            span.status, span.error_type, span.status_message = "error", error, message
            span.events = [_exception(span.end, error, message)]
        span = self._span(
            ctx,
            key,
            step.name or name,
            "tool",
            step.ms,
            parent=parent,
            tool_args=as_json(value.args),
            tool_result=as_json(value.result),
            attrs={**state["attrs"].get(key, {}), **value.attrs},
            **common,
        )
        if value.error:
            span.status, span.error_type = "error", value.error
            span.status_message = value.message or value.error
            span.events = [_exception(span.end, value.error, span.status_message)]
        else:
            span.status = "ok"
        content = as_json(value.result) if not value.error else f"error: {span.status_message}"
        if key in ctx.planned:
            ctx.tool_msgs.append(Msg("tool", content, tool_call_id=call_id))
        else:
            ctx.notes.append(f"{name} returned: {content}")

    def _retrieval(
        self, ctx: _Ctx, key: str, step: StepDef, value: RetrievalVal, ex: Exchange, state
    ) -> None:
        score = round(self.rng.uniform(0.78, 0.93), 3)
        docs = []
        for doc_key in value.docs:
            doc = state["docs"][doc_key]
            docs.append(
                Doc(doc_key, doc["content"], doc["source"], doc["updated_at"], score, dict(doc["extra"]))
            )
            score = round(score - self.rng.uniform(0.02, 0.09), 3)
        self._span(
            ctx,
            key,
            step.name or f"retrieve {step.source or key}",
            step.kind,
            step.ms,
            parent=self._parent(ctx, step),
            query=value.query or ex.user,
            documents=docs,
            data_source=step.source or key,
            capture_content=state["capture_content"],
            attrs={**state["attrs"].get(key, {}), **value.attrs},
        )
        ctx.docs = docs if step.kind == "rerank" else ctx.docs + docs

    def _generic(self, ctx: _Ctx, key: str, step: StepDef, value: GenericVal, state) -> None:
        span = self._span(
            ctx,
            key,
            step.name or key,
            step.kind,
            step.ms,
            parent=self._parent(ctx, step),
            input_value=value.in_,
            output_value=value.out,
            attrs={**state["attrs"].get(key, {}), **value.attrs},
        )
        if step.kind in ("agent", "chain"):
            span.end = span.start + timedelta(milliseconds=3)
            ctx.now = span.end
        if value.error:
            span.status, span.error_type = "error", value.error
            span.status_message = value.message or value.error
            span.events = [_exception(span.end, value.error, span.status_message)]


def _exception(at: datetime, kind: str, message: str) -> dict[str, Any]:
    return {
        "name": "exception",
        "time": at,
        "attributes": {"exception.type": kind, "exception.message": message},
    }
