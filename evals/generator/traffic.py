"""Turns one exchange plus the application state into one trace of spans, step by step."""

from __future__ import annotations

import json
import math
import random
from datetime import datetime, timedelta
from typing import Any

from evals.generator.ids import IdGen
from evals.generator.ir import Doc, GSpan, GTrace, Msg
from evals.generator.spec import App, Call, Ex

CHANGE_STEP = {"model": "llm", "prompt": "llm", "prompt-bump": "llm"}


def tokens(text: str | None) -> int:
    return math.ceil(len(text or "") / 3.8)


def _json(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def format_docs(docs: list[Doc]) -> str:
    return "\n".join(
        f"[{i + 1}] ({d.source}, updated {d.updated_at[:10]}) {d.content}" for i, d in enumerate(docs)
    )


class TraceBuilder:
    """Builds the spans of one request; `steps` maps step names to the span ids it produced."""

    def __init__(self, app: App, ids: IdGen, rng: random.Random) -> None:
        self.app = app
        self.ids = ids
        self.rng = rng

    # -- helpers -------------------------------------------------------------------------------------------
    def _span(self, name: str, kind: str, parent: str | None, start: datetime, ms: float, **kw: Any) -> GSpan:
        return GSpan(
            trace_id=self.trace_id,
            span_id=self.ids.span_id(),
            parent_id=parent,
            name=name,
            kind=kind,
            service=self.app.service,
            start=start,
            end=start + timedelta(milliseconds=max(ms, 1.0)),
            session_id=self.session,
            user_id=self.user,
            **kw,
        )

    def _add(self, span: GSpan, step: str) -> GSpan:
        span.attrs.update(self.step_attrs.get(step, {}))
        self.spans.append(span)
        self.steps.setdefault(step, span.span_id)
        self.cursor = span.end + timedelta(milliseconds=self.rng.randint(2, 25))
        return span

    def _scores(self, ex: Ex, n: int) -> list[float]:
        if ex.scores:
            return list(ex.scores) + [
                round(ex.scores[-1] - 0.03 * (i + 1), 3) for i in range(n - len(ex.scores))
            ]
        top = self.rng.uniform(0.78, 0.9)
        return [round(top - i * self.rng.uniform(0.03, 0.07), 3) for i in range(n)]

    def _docs(self, keys: list[str], scores: list[float]) -> list[Doc]:
        out = []
        for key, score in zip(keys, scores, strict=False):
            doc = self.app.corpus[key]
            out.append(Doc(doc.id, doc.content, doc.source, doc.updated_at, score, dict(doc.extra)))
        return out

    # -- the trace -----------------------------------------------------------------------------------------
    def build(
        self, t: datetime, ex: Ex, state: dict[str, Any], session: str, user: str, noise: dict[str, Any]
    ) -> GTrace:
        self.trace_id = self.ids.trace_id()
        self.session, self.user = session, user
        self.spans: list[GSpan] = []
        self.steps: dict[str, str] = {}
        self.step_attrs: dict[str, dict[str, Any]] = state.get("step_attrs", {})
        self.cursor = t + timedelta(milliseconds=self.rng.randint(3, 20))
        app = self.app
        root_kind = {"http": "http", "agent": "agent"}.get(app.root, "chain")
        root_name = f"POST {app.route}" if app.root == "http" else app.root_name
        root = GSpan(
            trace_id=self.trace_id,
            span_id=self.ids.span_id(),
            parent_id=None,
            name=root_name,
            kind=root_kind,
            service=app.service,
            start=t,
            end=t,
            session_id=session,
            user_id=user,
            input_value=ex.user,
            attrs={**state["root_attrs"], **ex.extra.get("root_attrs", {})},
        )
        if app.root == "http":
            root.attrs.update({"http.request.method": "POST", "http.route": app.route, "url.path": app.route})
        root.attrs.update(self.step_attrs.get("root", {}))
        self.spans.append(root)
        self.steps["root"] = root.span_id
        final = ex.answer
        context_docs: list[Doc] = []
        for step in app.pipeline:
            if step == "llm" and (noise.get("llm_retry") or ex.extra.get("retry_model")):
                self._llm_retry(root.span_id, state, ex.extra.get("retry_model"))
            if step == "llm" and noise.get("tool_error"):
                self._aux_tool(root.span_id, noise["tool_error"])
            if step == "asr":
                self._asr(root.span_id, ex)
            elif step == "cache":
                if self._cache(root.span_id, ex):
                    final = ex.answer
                    break
            elif step == "router":
                if self._router(root.span_id, ex):
                    break
            elif step == "embed":
                self._embed(root.span_id, ex)
            elif step == "retrieve":
                context_docs = self._retrieve(root.span_id, ex, state)
            elif step == "rerank":
                context_docs = self._rerank(root.span_id, ex, context_docs)
            elif step == "context":
                context_docs = self._context(root.span_id, ex, context_docs)
            elif step == "llm":
                self._llm(root.span_id, ex, state, context_docs)
            elif step == "guardrail":
                final = self._guardrail(root.span_id, ex)
            elif step == "post":
                final = self._post(root.span_id, ex)
            elif step == "tool":
                for call in ex.tools:
                    self._tool(root.span_id, call)
        if "final" in ex.extra:
            final = ex.extra["final"]
        root.end = self.cursor + timedelta(milliseconds=self.rng.randint(2, 30))
        root.output_value = final
        if app.root == "http":
            root.attrs["http.response.status_code"] = ex.extra.get("http_status", 200)
        if ex.extra.get("root_error"):
            root.status, root.error_type = "error", ex.extra["root_error"]
        return GTrace(self.trace_id, app.service, self.spans, llm_span=self.steps.get("llm"))

    # -- steps ---------------------------------------------------------------------------------------------
    def _asr(self, parent: str, ex: Ex) -> None:
        asr = ex.extra.get("asr", {})
        span = self._span(
            "speech.transcribe",
            "tool",
            parent,
            self.cursor,
            self.rng.randint(250, 900),
            tool_name="speech_to_text",
            tool_args=_json({"lane": asr.get("lane", "lane-1"), "audio_ms": asr.get("audio_ms", 5200)}),
            tool_result=ex.user,
            attrs={"asr.confidence": asr.get("confidence", round(self.rng.uniform(0.88, 0.97), 2))}
            | ({"asr.vendor": asr["vendor"]} if "vendor" in asr else {}),
        )
        self._add(span, "asr")

    def _cache(self, parent: str, ex: Ex) -> bool:
        cache = ex.extra.get("cache", {})
        hit = bool(cache.get("hit"))
        span = self._span(
            "semantic_cache.lookup",
            "chain",
            parent,
            self.cursor,
            self.rng.randint(4, 18),
            input_value=ex.user,
            output_value=ex.answer if hit else None,
            attrs={"cache.hit": hit, "cache.key": cache.get("key", "").replace("{user}", self.user)}
            | ({"cache.entry.created_by_session": cache["origin"]} if "origin" in cache else {}),
        )
        self._add(span, "cache")
        return hit

    def _router(self, parent: str, ex: Ex) -> bool:
        route = ex.extra.get("route", "faq")
        span = self._span(
            "route_intent",
            "chain",
            parent,
            self.cursor,
            self.rng.randint(6, 40),
            input_value=ex.user,
            output_value=route,
            attrs={"router.route": route, "router.version": ex.extra.get("router_version", "r1")},
        )
        self._add(span, "router")
        if ex.extra.get("scripted"):
            scripted = self._span(
                "scripted_flow",
                "chain",
                parent,
                self.cursor,
                self.rng.randint(10, 60),
                input_value=ex.user,
                output_value=ex.answer,
                attrs={"flow.id": ex.extra.get("flow", "script")},
            )
            self._add(scripted, "scripted")
            return True
        return False

    def _embed(self, parent: str, ex: Ex) -> None:
        query = ex.extra.get("query", ex.user)
        span = self._span(
            "embeddings text-embedding-3-small",
            "embedding",
            parent,
            self.cursor,
            self.rng.randint(40, 160),
            provider="openai",
            request_model="text-embedding-3-small",
            response_model="text-embedding-3-small",
            input_tokens=tokens(query),
        )
        self._add(span, "embed")

    def _retrieve(self, parent: str, ex: Ex, state: dict[str, Any]) -> list[Doc]:
        keys = list(ex.extra.get("retrieved", ex.docs))
        docs = self._docs(keys, self._scores(ex, len(keys)))
        span = self._span(
            f"retrieve {self.app.retriever}",
            "retrieval",
            parent,
            self.cursor,
            self.rng.randint(45, 260),
            query=ex.extra.get("query", ex.user),
            documents=docs if state["record_docs"] else [],
            data_source=self.app.retriever,
            attrs={"retrieval.top_k": state.get("top_k", 4)} | ex.extra.get("retrieve_attrs", {}),
            capture_content=state["capture_content"],
        )
        if ex.extra.get("retrieve_error"):
            span.status, span.error_type = "error", ex.extra["retrieve_error"]
            span.status_message = ex.extra.get("retrieve_message")
        self._add(span, "retrieval")
        return [d for d in docs if d.id in {self.app.corpus[k].id for k in ex.docs}]

    def _rerank(self, parent: str, ex: Ex, docs: list[Doc]) -> list[Doc]:
        order = [self.app.corpus[k].id for k in ex.docs]
        ranked = sorted(docs, key=lambda d: order.index(d.id) if d.id in order else 99)[: len(order)]
        for i, doc in enumerate(ranked):
            doc.score = round(0.97 - i * self.rng.uniform(0.05, 0.15), 3)
        span = self._span(
            "rerank",
            "rerank",
            parent,
            self.cursor,
            self.rng.randint(30, 120),
            documents=ranked,
            query=ex.extra.get("query", ex.user),
            attrs={"reranker.model_name": "bge-reranker-v2-m3", "reranker.top_k": len(ranked)},
        )
        self._add(span, "rerank")
        return ranked

    def _context(self, parent: str, ex: Ex, docs: list[Doc]) -> list[Doc]:
        keep = ex.extra.get("context_docs")
        kept = docs if keep is None else [d for d in docs if d.id in {self.app.corpus[k].id for k in keep}]
        attrs = {
            "context.docs_in": len(docs),
            "context.docs_kept": len(kept),
            "context.tokens": sum(tokens(d.content) for d in kept) + tokens(ex.user),
        } | ex.extra.get("context_attrs", {})
        span = self._span(
            "build_context",
            "chain",
            parent,
            self.cursor,
            self.rng.randint(2, 12),
            input_value=json.dumps([d.id for d in docs]),
            output_value=json.dumps([d.id for d in kept]),
            attrs=attrs,
        )
        self._add(span, "context")
        return kept

    def _messages(self, ex: Ex, state: dict[str, Any], docs: list[Doc]) -> tuple[str | None, list[Msg]]:
        prompt = state.get("prompt")
        system = prompt.text if prompt is not None else None
        if system is not None and docs and self.app.context_in == "system":
            system = f"{system}\n\nContext:\n{format_docs(docs)}"
        messages = [Msg(role, text) for role, text in ex.history]
        if "drop_system" in ex.extra:
            system = None
        user = ex.user
        if docs and self.app.context_in == "user":
            user = f"Context:\n{format_docs(docs)}\n\nQuestion: {ex.user}"
        messages.append(Msg("user", user))
        return system, messages

    def _llm_span(
        self, parent: str, state: dict[str, Any], system: str | None, messages: list[Msg], out: Msg, ex: Ex
    ) -> GSpan:
        model = state["request_model"]
        out_tokens = ex.extra.get("output_tokens") or max(tokens(out.content), 12 * len(out.tool_calls) or 1)
        in_tokens = ex.extra.get("input_tokens") or (
            tokens(system) + sum(tokens(m.content) + 4 for m in messages) + 8
        )
        low, high = self.app.llm_ms
        ms = min(high * 3, low + out_tokens * self.rng.uniform(9, 22))
        prompt = state.get("prompt")
        span = self._span(
            f"chat {model}",
            "llm",
            parent,
            self.cursor,
            ms,
            provider=state["provider"],
            request_model=model,
            response_model=state["response_model"],
            temperature=state["temperature"],
            top_p=state["top_p"],
            max_tokens=state["max_tokens"],
            seed=state["seed"],
            system=system if state["record_system"] else None,
            input_messages=messages,
            output_messages=[out],
            finish_reason=out.tool_calls and "tool_calls" or ex.finish,
            input_tokens=in_tokens,
            output_tokens=out_tokens,
            response_id=self.ids.token("chatcmpl-" if state["provider"] != "anthropic" else "msg_"),
            template_id=state["template_id"] if prompt is not None else None,
            template_version=prompt.version if prompt is not None else None,
            template_text=prompt.text if prompt is not None and state["record_system"] else None,
            template_vars={**state["template_vars"], **ex.extra.get("vars", {})},
            attrs={**state["llm_attrs"], **ex.extra.get("llm_attrs", {})},
            capture_content=state["capture_content"],
        )
        return span

    def _llm(self, parent: str, ex: Ex, state: dict[str, Any], docs: list[Doc]) -> None:
        system, messages = self._messages(ex, state, docs)
        rounds: list[list[Call]] = ex.extra.get("rounds") or ([ex.tools] if ex.tools else [])
        if "tool" in self.app.pipeline:
            rounds = []
        for n, round_calls in enumerate(rounds, start=1):
            calls = [
                {"id": self.ids.token("call_", 20), "name": c.name, "arguments": c.args} for c in round_calls
            ]
            first = self._llm_span(parent, state, system, messages, Msg("assistant", None, calls), ex)
            first.finish_reason = "tool_calls"
            first.output_tokens = 20 + 15 * len(calls)
            self._add(first, f"llm{n}")
            messages = [*messages, Msg("assistant", None, calls)]
            for call, meta in zip(round_calls, calls, strict=True):
                result = self._tool(parent, call, meta["id"])
                messages.append(Msg("tool", result, tool_call_id=meta["id"]))
        span = self._llm_span(parent, state, system, messages, Msg("assistant", ex.answer), ex)
        self._add(span, "llm")
        self.steps["llm"] = span.span_id

    def _tool(self, parent: str, call: Call, call_id: str | None = None) -> str:
        call_id = call_id or self.ids.token("call_", 20)
        for error, message, ms in call.retries:
            failed = Call(call.name, call.args, error=error, message=message, ms=ms)
            self._tool_span(parent, failed, call_id)
        result = self._tool_span(parent, call, call_id)
        if call.retries:
            self.steps.setdefault("tool_retry", self.spans[-1].span_id)
        return result

    def _tool_span(self, parent: str, call: Call, call_id: str) -> str:
        ms = call.ms or self.rng.randint(60, 700)
        result = call.message if call.error else _json(call.result)
        span = self._span(
            f"execute_tool {call.name}",
            "tool",
            parent,
            self.cursor,
            ms,
            tool_name=call.name,
            tool_args=_json(call.args),
            tool_result=result,
            tool_call_id=call_id,
            tool_description=self.app.tools_desc.get(call.name),
        )
        if call.error:
            span.status, span.error_type, span.status_message = "error", call.error, call.message
            span.events.append(
                {
                    "name": "exception",
                    "time": span.end,
                    "attributes": {"exception.type": call.error, "exception.message": call.message or ""},
                }
            )
        self._add(span, "tool")
        self.steps.setdefault(f"tool:{call.name}", span.span_id)
        if call.error:
            self.steps.setdefault("tool_error", span.span_id)
        return f"ERROR {call.error}: {call.message}" if call.error else result

    def _aux_tool(self, parent: str, call: Call) -> None:
        self._tool(parent, call)
        self.steps.pop("tool_error", None)

    def _llm_retry(self, parent: str, state: dict[str, Any], model: str | None = None) -> None:
        model = model or state["request_model"]
        span = self._span(
            f"chat {model}",
            "llm",
            parent,
            self.cursor,
            self.rng.randint(90, 400),
            provider=state.get("retry_provider") or state["provider"],
            request_model=model,
            temperature=state["temperature"],
            max_tokens=state["max_tokens"],
            status="error",
            error_type="429",
            status_message="Rate limit reached for requests. Please retry after 2s.",
            capture_content=False,
        )
        self._add(span, "llm_retry")
        self.cursor += timedelta(seconds=2)

    def _guardrail(self, parent: str, ex: Ex) -> str:
        guard = ex.extra.get("guard", {})
        final = ex.extra.get("final", ex.answer)
        span = self._span(
            guard.get("name", "output_guardrail"),
            "guardrail",
            parent,
            self.cursor,
            self.rng.randint(5, 60),
            input_value=ex.answer,
            output_value=final,
            attrs={"guardrail.action": guard.get("action", "pass")}
            | {f"guardrail.{k}": v for k, v in guard.items() if k not in ("name", "action")},
        )
        self._add(span, "guardrail")
        return final

    def _post(self, parent: str, ex: Ex) -> str:
        post = ex.extra.get("post", {})
        span = self._span(
            post.get("name", "postprocess"),
            "chain",
            parent,
            self.cursor,
            self.rng.randint(2, 30),
            input_value=ex.answer,
            output_value=_json(post.get("output", "")),
            attrs=post.get("attrs", {}),
        )
        self._add(span, "post")
        return span.output_value or ex.answer
