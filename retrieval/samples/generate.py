"""Writes the bundled demo's traces (OTLP JSON, current GenAI semantic conventions), deterministically.

    python -m retrieval.samples.generate      # rewrites retrieval/samples/demo/traces/*.json

The incident file and the past post-mortems next to them are written by hand.
"""

from __future__ import annotations

import hashlib
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from retrieval.samples import demo_texts as T

OUT = Path(__file__).parent / "demo" / "traces"
BASELINE_START = datetime(2025, 5, 11, 18, 0, tzinfo=UTC)
WINDOW_START = datetime(2025, 5, 12, 6, 0, tzinfo=UTC)
WINDOW_END = datetime(2025, 5, 12, 18, 0, tzinfo=UTC)
PROMPT_V7_AT = datetime(2025, 5, 11, 20, 0, tzinfo=UTC)  # harmless typo fix, in the baseline
PROMPT_V8_AT = datetime(2025, 5, 12, 7, 30, tzinfo=UTC)  # drops the "only quote the excerpts" guard
REINDEX_AT = datetime(2025, 5, 12, 9, 40, tzinfo=UTC)  # brings back the 2023 refund policy
TOOL_OUTAGE = (datetime(2025, 5, 12, 13, 5, tzinfo=UTC), datetime(2025, 5, 12, 13, 25, tzinfo=UTC))
SEARCH_MODEL_SWITCH = datetime(2025, 5, 12, 9, 0, tzinfo=UTC)  # in another service
SCOPE = {"name": "opentelemetry.instrumentation.openai_v2", "version": "2.1b0"}


class Ids:
    def __init__(self, seed: str) -> None:
        self.seed, self.n = seed, 0

    def hex(self, chars: int) -> str:
        self.n += 1
        return hashlib.sha256(f"{self.seed}:{self.n}".encode()).hexdigest()[:chars]


def any_value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, list):
        return {"arrayValue": {"values": [any_value(v) for v in value]}}
    return {"stringValue": str(value)}


def attributes(values: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": any_value(v)} for k, v in values.items() if v is not None]


def nanos(moment: datetime) -> str:
    return str(int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000)


def span(
    ids: Ids,
    trace: str,
    parent: str | None,
    name: str,
    kind: int,
    start: datetime,
    ms: float,
    attrs: dict[str, Any],
    error: str | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "traceId": trace,
        "spanId": ids.hex(16),
        "name": name,
        "kind": kind,
        "startTimeUnixNano": nanos(start),
        "endTimeUnixNano": nanos(start + timedelta(milliseconds=ms)),
        "attributes": attributes(attrs),
        "status": {"code": 2, "message": error} if error else {"code": 1},
    }
    if parent:
        out["parentSpanId"] = parent
    return out


def _tokens(text: str) -> int:
    return max(1, round(len(text) / 4))


def _documents(topic: str, at: datetime, rng: random.Random) -> list[dict[str, Any]]:
    if topic == "refund":
        names = ["refund-policy-2025", "returns-how-to", "shipping-policy"]
        if at >= REINDEX_AT:
            names = ["refund-policy-2023", "refund-policy-2025", "returns-how-to"]
    elif topic == "shipping":
        names = ["shipping-policy", "returns-how-to"]
    else:
        names = ["sizing-guide", "returns-how-to"]
    docs, score = [], rng.uniform(0.8, 0.88)
    for name in names:
        doc = T.DOCS[name]
        docs.append(
            {
                "id": name,
                "score": round(score, 3),
                "content": doc["content"],
                "metadata": {"source": doc["source"], "updated_at": doc["updated_at"]},
            }
        )
        score -= rng.uniform(0.04, 0.12)
    return docs


def _answer(topic: str, question: str, at: datetime, rng: random.Random) -> str:
    if topic == "refund":
        if at >= REINDEX_AT and at >= PROMPT_V8_AT:
            return (
                rng.choice(T.BAD_REFUND_ANSWERS) if rng.random() < 0.8 else rng.choice(T.GOOD_REFUND_ANSWERS)
            )
        if at >= REINDEX_AT:
            return T.ESCALATE_ANSWER
        return T.ESCALATE_ANSWER if rng.random() < 0.1 else rng.choice(T.GOOD_REFUND_ANSWERS)
    return rng.choice(T.OTHER_ANSWERS[topic])


def _prompt_version(at: datetime) -> str:
    return "v6" if at < PROMPT_V7_AT else "v7" if at < PROMPT_V8_AT else "v8"


def support_trace(ids: Ids, at: datetime, rng: random.Random, conv: str, user: str) -> list[dict[str, Any]]:
    """One support-assistant request: an order lookup or a retrieval, then the chat call."""
    trace = ids.hex(32)
    topic = rng.choices(["refund", "order", "shipping", "sizing"], weights=[40, 25, 15, 20])[0]
    question = rng.choice(T.REFUND_QUESTIONS if topic == "refund" else T.OTHER_QUESTIONS[topic])
    common = {"session.id": conv, "user.id": user}
    root = span(
        ids,
        trace,
        None,
        "POST /v1/chat",
        2,
        at,
        0,
        {"http.request.method": "POST", "http.route": "/v1/chat", **common},
    )
    cursor = at + timedelta(milliseconds=rng.uniform(5, 20))
    step = _order_step if topic == "order" else _retrieval_step
    step_span, message, cursor, answer = step(ids, trace, root["spanId"], topic, question, at, cursor, rng)
    messages = [message, {"role": "user", "parts": [{"type": "text", "content": question}]}]
    chat, cursor = _chat_span(ids, trace, root["spanId"], messages, answer, at, cursor, rng, common)
    root["endTimeUnixNano"] = nanos(cursor)
    return [root, step_span, chat]


Step = tuple[dict[str, Any], dict[str, Any], datetime, str]  # (span, message for the model, cursor, answer)


def _order_step(
    ids: Ids,
    trace: str,
    parent: str,
    topic: str,
    question: str,
    at: datetime,
    cursor: datetime,
    rng: random.Random,
) -> Step:
    """The order_lookup tool call (it times out during the outage) and the answer it leads to."""
    order = next((w.strip("#?.,") for w in question.split() if w.strip("#?.,").startswith("NW-")), "NW-00000")
    down = TOOL_OUTAGE[0] <= at <= TOOL_OUTAGE[1]
    result = (
        None
        if down
        else json.dumps(
            {"order": order, "status": "in_transit", "shipped": "2025-05-09", "eta": "2025-05-14"}
        )
    )
    ms = 5000.0 if down else rng.uniform(120, 380)
    call_id = "call_" + ids.hex(12)
    tool = span(
        ids,
        trace,
        parent,
        "execute_tool order_lookup",
        1,
        cursor,
        ms,
        {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": "order_lookup",
            "gen_ai.tool.call.id": call_id,
            "gen_ai.tool.call.arguments": json.dumps({"order_id": order}),
            "gen_ai.tool.call.result": result,
            "error.type": "TimeoutError" if down else None,
        },
        error="order service timeout after 5000 ms" if down else None,
    )
    cursor += timedelta(milliseconds=ms + 10)
    answer = (T.ORDER_DOWN_ANSWER if down else T.ORDER_ANSWER).format(order=order, day="May 9", eta="May 14")
    message = {
        "role": "tool",
        "parts": [{"type": "tool_call_response", "id": call_id, "response": result or "error: timeout"}],
    }
    return tool, message, cursor, answer


def _retrieval_step(
    ids: Ids,
    trace: str,
    parent: str,
    topic: str,
    question: str,
    at: datetime,
    cursor: datetime,
    rng: random.Random,
) -> Step:
    """The knowledge-base retrieval, its excerpts as a user message, and the answer they lead to."""
    docs = _documents(topic, at, rng)
    ms = rng.uniform(40, 120)
    retrieval = span(
        ids,
        trace,
        parent,
        "retrieval kb-main",
        3,
        cursor,
        ms,
        {
            "gen_ai.operation.name": "retrieval",
            "gen_ai.data_source.id": "kb-main",
            "gen_ai.retrieval.query.text": question,
            "gen_ai.retrieval.documents": json.dumps(docs),
        },
    )
    cursor += timedelta(milliseconds=ms + 5)
    excerpts = "\n".join(f"[{i + 1}] ({d['metadata']['source']}) {d['content']}" for i, d in enumerate(docs))
    message = {"role": "user", "parts": [{"type": "text", "content": "POLICY EXCERPTS:\n" + excerpts}]}
    return retrieval, message, cursor, _answer(topic, question, at, rng)


def _chat_span(
    ids: Ids,
    trace: str,
    parent: str,
    messages: list[dict[str, Any]],
    answer: str,
    at: datetime,
    cursor: datetime,
    rng: random.Random,
    common: dict[str, str],
) -> tuple[dict[str, Any], datetime]:
    """The chat call with the prompt version live at `at`."""
    version = _prompt_version(at)
    system = T.PROMPTS[version]
    ms = rng.uniform(700, 2400)
    input_text = system + "".join(
        p.get("content", p.get("response", "")) for m in messages for p in m["parts"]
    )
    output = [{"role": "assistant", "parts": [{"type": "text", "content": answer}], "finish_reason": "stop"}]
    chat = span(
        ids,
        trace,
        parent,
        f"chat {T.MODEL_REQUEST}",
        3,
        cursor,
        ms,
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": T.MODEL_REQUEST,
            "gen_ai.response.model": T.MODEL_SERVED,
            "gen_ai.response.id": "chatcmpl-" + ids.hex(20),
            "gen_ai.request.temperature": 0.7,
            "gen_ai.request.top_p": 1.0,
            "gen_ai.request.max_tokens": 300,
            "gen_ai.system_instructions": json.dumps([{"type": "text", "content": system}]),
            "gen_ai.input.messages": json.dumps(messages),
            "gen_ai.output.messages": json.dumps(output),
            "gen_ai.response.finish_reasons": ["stop"],
            "gen_ai.usage.input_tokens": _tokens(input_text),
            "gen_ai.usage.output_tokens": _tokens(answer),
            "gen_ai.prompt.name": "support-answer",
            "gen_ai.prompt.version": version,
            "gen_ai.conversation.id": common["session.id"],
            **common,
        },
    )
    return chat, cursor + timedelta(milliseconds=ms + 5)


def search_trace(ids: Ids, at: datetime, rng: random.Random) -> list[dict[str, Any]]:
    trace = ids.hex(32)
    query = rng.choice(T.SEARCH_QUERIES)
    served = "gpt-4.1-mini-2025-04-14" if at >= SEARCH_MODEL_SWITCH else T.MODEL_SERVED
    requested = "gpt-4.1-mini" if at >= SEARCH_MODEL_SWITCH else T.MODEL_REQUEST
    summary = T.SEARCH_SUMMARY.format(q=query, n=rng.randint(8, 40))
    return [
        span(
            ids,
            trace,
            None,
            f"chat {requested}",
            3,
            at,
            rng.uniform(400, 900),
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": requested,
                "gen_ai.response.model": served,
                "gen_ai.request.temperature": 0.7,
                "gen_ai.system_instructions": json.dumps(
                    [{"type": "text", "content": "Summarise product search results in one sentence."}]
                ),
                "gen_ai.input.messages": json.dumps(
                    [{"role": "user", "parts": [{"type": "text", "content": query}]}]
                ),
                "gen_ai.output.messages": json.dumps(
                    [
                        {
                            "role": "assistant",
                            "parts": [{"type": "text", "content": summary}],
                            "finish_reason": "stop",
                        }
                    ]
                ),
                "gen_ai.response.finish_reasons": ["stop"],
                "gen_ai.usage.input_tokens": _tokens(query) + 20,
                "gen_ai.usage.output_tokens": _tokens(summary),
            },
        )
    ]


def _request(service: str, spans: list[dict[str, Any]]) -> dict[str, Any]:
    resource = {
        "service.name": service,
        "service.version": "2025.05.2",
        "deployment.environment.name": "production",
    }
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": attributes(resource)},
                "scopeSpans": [{"scope": SCOPE, "spans": spans}],
            }
        ]
    }


def generate() -> dict[str, dict[str, Any]]:
    rng, ids = random.Random(20250512), Ids("northwind-demo")
    support: list[dict[str, Any]] = []
    at, conversations = BASELINE_START, 0
    while at < WINDOW_END:
        conversations += 1
        conv, user = f"conv-{conversations:04d}", f"u-{rng.randint(1000, 9999)}"
        turns = 2 if rng.random() < 0.15 else 1
        for turn in range(turns):
            support += support_trace(ids, at + timedelta(minutes=3 * turn), rng, conv, user)
        at += timedelta(minutes=rng.uniform(14, 24) if at < WINDOW_START else rng.uniform(7, 11))
    search: list[dict[str, Any]] = []
    at = WINDOW_START
    while at < WINDOW_END:
        search += search_trace(ids, at, rng)
        at += timedelta(minutes=rng.uniform(30, 60))
    return {
        "support-assistant.otlp.json": _request(T.SERVICE, support),
        "product-search.otlp.json": _request(T.OTHER_SERVICE, search),
    }


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, payload in generate().items():
        (OUT / name).write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {OUT / name}")


if __name__ == "__main__":
    main()
