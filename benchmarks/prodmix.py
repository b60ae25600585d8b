"""A realistic production mix of spans for the ingest benchmarks: one support chat service at 20 requests/s.

Each request is one trace of 6-7 spans, as a RAG + tools assistant emits them in production:
- `POST /v1/chat` (HTTP server), `SELECT sessions` (DB), `GET session` (cache): no text of their own;
- an intent classifier call (its own system prompt; the user's question; one of a few intents);
- retrieval from a 60-document knowledge base (query = the question; top 3 documents);
- in 40% of requests a tool call: `order_lookup` (a fresh order id) or `get_policy` (a few topics);
- the answer call: one of two system prompt versions, the excerpts and the question as the user message,
  an answer written from the intent's template with the product and some free wording.

Questions come from 25 templates x 40 products (people ask the same things), 30% with a free-form tail
(order numbers, details) that makes them unique. Deterministic for a seed.
"""

from __future__ import annotations

import json
import random
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PRODUCTS = [f"{a} {b}" for a in ("Alpine", "Ridge", "Summit", "Coastal", "Urban") for b in (
    "fleece", "boots", "rain jacket", "backpack", "tent", "gloves", "beanie", "trail shoes")]  # fmt: skip
TEMPLATES = [
    "Is the {p} waterproof?", "How do I return the {p}?", "Where is my order with the {p}?",
    "Does the {p} run small?", "Can I get a refund for the {p} I bought on sale?", "When will the {p} be back in stock?",
    "What size {p} should I get, I am usually a medium?", "My {p} arrived damaged, what can I do?",
    "Is there a warranty on the {p}?", "Can I exchange the {p} for another colour?", "How do I wash the {p}?",
    "Do you ship the {p} to Canada?", "The {p} zip broke after two weeks", "Is the {p} good for winter hiking?",
    "Can I cancel my order for the {p}?", "Why was I charged twice for the {p}?", "How long does delivery of the {p} take?",
    "Do you price match the {p}?", "Is the {p} vegan?", "Can I use a voucher on the {p}?",
    "What is the difference between the {p} models?", "Is the {p} final sale?", "Can I pick up the {p} in store?",
    "The tracking for my {p} has not moved in a week", "Does the {p} come with a carry bag?",
]  # fmt: skip
TAILS = [
    "order NW-{n}",
    "I ordered it on the {d}th",
    "my account is {n}",
    "it was a gift for my brother",
    "the box was open when it arrived",
    "I already emailed twice",
    "the label says size {s}",
]
INTENTS = ["returns", "shipping", "sizing", "warranty", "billing", "stock", "product_info", "other"]
SYSTEM = [
    "You are Northwind Outfitters' support assistant. Answer using the POLICY EXCERPTS provided with the question "
    "and nothing else. If the excerpts do not answer the question, say you will hand over to a colleague. Never "
    "promise refunds, exchanges or delivery dates beyond what the policy says. Keep answers under 80 words, friendly "
    "and concrete. Quote order numbers exactly. Do not ask for card numbers or passwords. " * 3,
    "You are Northwind Outfitters' support assistant (v7). Use only the POLICY EXCERPTS. Escalate anything about "
    "safety, legal threats or chargebacks. Refunds: only within the windows the policy states; final-sale items are "
    "not refundable. Be brief: at most 80 words. Quote order numbers exactly; never ask for payment details. "
    * 3,
]
INTENT_SYSTEM = (
    "Classify the customer's message into one of: "
    + ", ".join(INTENTS)
    + ". Answer with the label only. " * 4
)
WORDS = [
    "refund",
    "order",
    "parcel",
    "invoice",
    "warranty",
    "return",
    "shipping",
    "label",
    "carrier",
    "size",
    "fleece",
    "boots",
    "jacket",
    "policy",
    "window",
    "days",
]


def _kb(rng: random.Random) -> list[dict[str, Any]]:
    topics = [
        "returns",
        "refunds",
        "shipping",
        "sizing",
        "warranty",
        "care",
        "stock",
        "vouchers",
        "final-sale",
        "exchanges",
    ]
    return [
        {
            "id": f"kb-{t}-{i}",
            "source": f"kb/help/{t}.md",
            "content": f"{t.title()} policy, part {i}: " + " ".join(rng.choice(WORDS) for _ in range(70)),
        }
        for t in topics
        for i in range(6)
    ]


def _attr(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    if isinstance(value, float):
        return {"key": key, "value": {"doubleValue": value}}
    return {"key": key, "value": {"stringValue": str(value)}}


def _messages(role: str, text: str) -> str:
    return json.dumps([{"role": role, "parts": [{"type": "text", "content": text}]}])


class _Trace:
    def __init__(self, rng: random.Random, start_ns: int) -> None:
        self.rng = rng
        self.trace_id = f"{rng.getrandbits(128):032x}"
        self.start = start_ns
        self.spans: list[dict[str, Any]] = []
        self.root = self.span("POST /v1/chat", 2, 0, 1_800, [_attr("http.request.method", "POST"), _attr("http.route", "/v1/chat"), _attr("http.response.status_code", 200)], parent=None)  # fmt: skip

    def span(self, name: str, kind: int, at_ms: int, dur_ms: int, attrs: list, parent: str | None = "root", error: str | None = None) -> str:  # fmt: skip
        span_id = f"{self.rng.getrandbits(64):016x}"
        record = {
            "traceId": self.trace_id,
            "spanId": span_id,
            "name": name,
            "kind": kind,
            "startTimeUnixNano": str(self.start + at_ms * 1_000_000),
            "endTimeUnixNano": str(self.start + (at_ms + dur_ms) * 1_000_000),
            "attributes": attrs,
            "status": {"code": 2, "message": error} if error else {"code": 1},
        }
        if parent is not None:
            record["parentSpanId"] = self.root if parent == "root" else parent
        self.spans.append(record)
        return span_id


def _question(rng: random.Random) -> tuple[str, str]:
    product = rng.choice(PRODUCTS)
    question = rng.choice(TEMPLATES).format(p=product)
    if rng.random() < 0.3:
        tail = rng.choice(TAILS).format(
            n=rng.randint(10000, 99999), d=rng.randint(1, 28), s=rng.choice("SMLX")
        )
        question = f"{question} ({tail})"
    return question, product


def _request(rng: random.Random, kb: list[dict[str, Any]], start_ns: int) -> list[dict[str, Any]]:
    t = _Trace(rng, start_ns)
    question, product = _question(rng)
    intent = INTENTS[zlib.crc32((question.split(" ")[1] + product).encode()) % len(INTENTS)]
    session = f"sess-{rng.randint(1, 5000)}"
    t.span("SELECT sessions", 3, 2, 4, [_attr("db.system.name", "postgresql"), _attr("db.query.text", "SELECT * FROM sessions WHERE id = $1")])  # fmt: skip
    t.span("GET session", 3, 7, 1, [_attr("db.system.name", "redis"), _attr("db.operation.name", "GET")])
    llm = [_attr("gen_ai.provider.name", "openai"), _attr("gen_ai.request.model", "gpt-4o-mini"), _attr("gen_ai.response.model", "gpt-4o-mini-2024-07-18"), _attr("session.id", session)]  # fmt: skip
    t.span("chat gpt-4o-mini", 3, 10, 300, [*llm, _attr("gen_ai.operation.name", "chat"), _attr("gen_ai.system_instructions", INTENT_SYSTEM), _attr("gen_ai.input.messages", _messages("user", question)), _attr("gen_ai.output.messages", _messages("assistant", intent))])  # fmt: skip
    docs = rng.sample(kb, 3)
    t.span("retrieval kb-main", 3, 320, 60, [_attr("gen_ai.operation.name", "retrieval"), _attr("gen_ai.data_source.id", "kb-main"), _attr("gen_ai.retrieval.query.text", question), _attr("gen_ai.retrieval.documents", json.dumps([{**d, "score": round(rng.uniform(0.6, 0.9), 3)} for d in docs]))])  # fmt: skip
    if rng.random() < 0.4:
        if rng.random() < 0.6:
            order = f"NW-{rng.randint(10000, 99999)}"
            args, result = json.dumps({"order_id": order}), json.dumps({"order": order, "status": rng.choice(["in_transit", "delivered", "processing"])})  # fmt: skip
            name = "order_lookup"
        else:
            topic = rng.choice(["returns", "shipping", "warranty", "final-sale"])
            args, result, name = (
                json.dumps({"topic": topic}),
                f"Policy {topic}: see kb/help/{topic}.md",
                "get_policy",
            )
        error = "TimeoutError: upstream timed out" if rng.random() < 0.02 else None
        t.span(f"execute_tool {name}", 1, 390, 80, [_attr("gen_ai.operation.name", "execute_tool"), _attr("gen_ai.tool.name", name), _attr("gen_ai.tool.call.arguments", args), *([] if error else [_attr("gen_ai.tool.call.result", result)])], error=error)  # fmt: skip
    excerpts = "\n".join(f"[{i + 1}] ({d['source']}) {d['content']}" for i, d in enumerate(docs))
    answer = f"About the {product}: " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 30)))
    if rng.random() < 0.4:  # the common answers come out word for word
        answer = f"Thanks for asking about the {product}. Our {intent} policy applies; see the help centre."
    system = SYSTEM[0] if rng.random() < 0.7 else SYSTEM[1]
    t.span("chat gpt-4o-mini", 3, 480, 1_200, [*llm, _attr("gen_ai.operation.name", "chat"), _attr("gen_ai.system_instructions", system), _attr("gen_ai.input.messages", _messages("user", f"POLICY EXCERPTS:\n{excerpts}\n\nQUESTION: {question}")), _attr("gen_ai.output.messages", _messages("assistant", answer))])  # fmt: skip
    return t.spans


def requests(n: int, seed: int = 7) -> Iterator[list[dict[str, Any]]]:
    """The spans of `n` requests, one list per request (20 requests/s from 2025-05-12T00:00Z)."""
    rng = random.Random(seed)
    kb = _kb(rng)
    start = 1_747_008_000_000_000_000
    for i in range(n):
        yield _request(rng, kb, start + i * 50_000_000)


def write_mix(path: Path, *, spans: int | None = None, megabytes: float | None = None, seed: int = 7) -> int:
    """OTLP JSON lines (one request per line) until `spans` spans or `megabytes` MB; returns spans written."""
    resource = {"attributes": [_attr("service.name", "support-assistant"), _attr("deployment.environment.name", "production")]}  # fmt: skip
    written = size = 0
    limit = int((megabytes or 0) * 1_000_000)
    with path.open("w") as fp:
        for batch in requests(10**9, seed):
            if (spans is not None and written >= spans) or (limit and size >= limit):
                break
            line = json.dumps({"resourceSpans": [{"resource": resource, "scopeSpans": [{"scope": {"name": "app"}, "spans": batch}]}]})  # fmt: skip
            fp.write(line + "\n")
            size += len(line) + 1
            written += len(batch)
    return written
