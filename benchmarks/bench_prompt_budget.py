"""The prompt sent to an LLM stays under a fixed budget whether the window holds 100 or 100,000 spans.

For each window size this builds the classification and narrative prompts through the same code the providers
use, sends the classification prompt through the real openai SDK to the local fake server (tests/wire), and
prints: the budgeted prompt's tokens (our estimate, and the MiniLM WordPiece tokenizer as a proxy), the naive
prompt's tokens (every finding and every evidence excerpt, as a baseline measured in the same run), and the time
the selection takes. Token estimate: see agent/llm/budget.py (BPE-like pieces; no tiktoken download here).
"""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime, timedelta

from agent.llm import blocks
from agent.llm.classifier_step import CLASSIFY_MAX_TOKENS, classify_with_llm
from agent.llm.narrative import DEFAULT_SECTIONS, NARRATIVE_MAX_TOKENS
from agent.llm.prompt import build_prompt
from agent.llm.schemas import ClassificationAnswer, NarrativeAnswer
from agent.models import Classification, Evidence, Finding, Incident, LayerAssessment, Report
from agent.providers.base import RetryPolicy
from agent.providers.tokens import estimate_tokens
from agent.settings import Settings

SIZES = (100, 100_000)
T0 = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)
QUESTIONS = [
    "Can I get a refund on a Basic fare booked last week?",
    "My flight was cancelled, what are my options for rebooking?",
    "¿Puedo cambiar la fecha de mi vuelo sin coste?",
    "How many bags can I check on an international flight?",
    "The app charged me twice for seat selection, can you fix it?",
]
ANSWERS = [
    "Yes, Basic fares can be refunded in full within 30 days of booking.",
    "I'm sorry about the cancellation. You can rebook for free on any flight within 7 days or request a refund.",
    "Sí, puede cambiar la fecha pagando la diferencia de tarifa.",
    "International economy includes one checked bag up to 23 kg.",
    "I can't see payment details; I've opened ticket ERR_PAYMENT_DUPLICATE_4012 for our billing team.",
]


def window(n: int, seed: int = 11) -> tuple[Incident, list[Finding], list[Evidence]]:
    """A synthetic incident window: n spans as evidence, documents, reports, and detector findings."""
    rng = random.Random(seed)
    evidence: list[Evidence] = []
    for i in range(n):
        trace = f"{rng.getrandbits(128):032x}"
        span = f"{rng.getrandbits(64):016x}"
        k = rng.randrange(len(QUESTIONS))
        excerpt = (
            f"user: {QUESTIONS[k]}\nassistant: {ANSWERS[k]} "
            + "Details: "
            + " ".join(
                rng.choice(["policy", "fare", "refund", "booking", "v2.3.1", "2025-03-04", "42", "agent"])
                for _ in range(rng.randrange(10, 120))
            )
        )
        evidence.append(
            Evidence(
                id=f"span:{span}",
                kind="span",
                trace_id=trace,
                span_id=span,
                excerpt=excerpt,
                timestamp=T0 + timedelta(seconds=i * 3),
                label=f"llm chat gpt-4o (support-bot) #{i}",
            )
        )
        if i % 10 == 0:
            evidence.append(
                Evidence(
                    id=f"doc:{span}:0",
                    kind="document",
                    trace_id=trace,
                    span_id=span,
                    excerpt="Refund policy (2023-01): all fares are refundable within 30 days. " * 4,
                )
            )
    reports = [
        Report(text=f"Customer {j}: the bot promised me a refund on a Basic fare.", timestamp=T0)
        for j in range(8)
    ]
    incident = Incident(
        title="Support bot promises refunds the policy forbids",
        description="Since the morning of March 4 the support bot tells customers Basic fares are refundable.",
        service="support-bot",
        window_start=T0,
        window_end=T0 + timedelta(hours=12),
        reports=reports,
    )
    layers = ["data", "prompt", "model", "system", None]
    findings = [
        Finding(
            detector=f"detector_{j}",
            title=f"Signal {j}: bad outputs co-occur with retrieved policy version 2023-01",
            detail="Rate of flagged outputs 0.41 in window vs 0.02 in baseline. " * 6,
            layer_hint=layers[j % len(layers)],
            strength=round(1.0 - j / 14, 2),
            evidence=[e.id for e in rng.sample(evidence, min(len(evidence), max(3, n // 20)))],
        )
        for j in range(14)
    ]
    return incident, findings, evidence


def naive_tokens(incident: Incident, findings: list[Finding], evidence: list[Evidence]) -> int:
    """Everything, unclipped: what a prompt without a budget would carry."""
    rows = blocks.incident_lines(incident) + [json.dumps(f.model_dump(mode="json")) for f in findings]
    rows += [json.dumps(e.model_dump(mode="json")) for e in evidence]
    return estimate_tokens("\n".join(rows))


def wordpiece():
    from tokenizers import Tokenizer

    from retrieval.embeddings.cache import default_model_dir

    tok = Tokenizer.from_file(str(default_model_dir() / "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    return lambda text: len(tok.encode(text, add_special_tokens=False).ids)


def send_through_sdk(incident, findings, evidence, budget: int) -> tuple[int, int]:
    """Classify through the real openai SDK against the local fake server; return (body bytes, est. tokens)."""
    from agent.providers.openai_provider import OpenAIProvider
    from tests.wire.server import FakeLLMServer, openai_completion

    cited = findings[0].evidence[0]
    reply = {
        "primary": "data",
        "layers": [
            {
                "layer": "data",
                "role": "primary",
                "confidence": "likely",
                "rationale": "r",
                "evidence": [cited],
            }
        ],
    }
    with FakeLLMServer() as server:
        server.enqueue(openai_completion(json.dumps(reply)))
        provider = OpenAIProvider(
            api_key="sk-bench",
            base_url=server.url + "/v1",
            model="gpt-4.1-mini",
            policy=RetryPolicy(max_retries=0),
        )
        classify_with_llm(provider, incident, findings, evidence, budget=budget)
        body = server.requests[0].body
    sent = sum(estimate_tokens(m["content"]) + 4 for m in body["messages"])
    sent += estimate_tokens(json.dumps(body["response_format"]))
    return len(json.dumps(body).encode()), sent


def main() -> None:
    budget = Settings().token_budget
    count_wp = wordpiece()
    classification = Classification(
        primary="data",
        layers=[LayerAssessment(layer="data", role="primary", confidence="likely", rationale="stale index")],
    )
    print(
        f"token budget (settings.token_budget): {budget:,}; estimator: BPE-like pieces; proxy: MiniLM WordPiece"
    )
    header = (
        f"{'spans':>8} {'prompt':>10} {'est.tok':>8} {'wordpiece':>9} {'<=budget':>8} {'items sent':>14} "
        f"{'naive tok':>11} {'naive/budget':>12} {'select ms':>9}"
    )
    print(header)
    results: dict[int, int] = {}
    for n in SIZES:
        incident, findings, evidence = window(n)
        naive = naive_tokens(incident, findings, evidence)
        for name, schema, max_tokens, extra, values in (
            ("classify", ClassificationAnswer, CLASSIFY_MAX_TOKENS, None, None),
            (
                "narrative",
                NarrativeAnswer,
                NARRATIVE_MAX_TOKENS,
                {"classification": blocks.classification_lines(classification)},
                {"sections_list": "\n".join(f"- `{k}`: {t}" for k, t in DEFAULT_SECTIONS.items())},
            ),
        ):
            started = time.perf_counter()
            prompt = build_prompt(
                name,
                incident=incident,
                findings=findings,
                evidence=evidence,
                budget=budget,
                schema=schema,
                max_tokens=max_tokens,
                extra_blocks=extra,
                values=values,
            )
            elapsed = (time.perf_counter() - started) * 1000
            text = (prompt.request.system or "") + "\n".join(m.content for m in prompt.request.messages)
            wp = count_wp(text)
            results.setdefault(n, prompt.tokens)
            print(
                f"{n:>8,} {name:>10} {prompt.tokens:>8,} {wp:>9,} {str(prompt.tokens <= budget):>8} "
                f"{len(prompt.selection.evidence):>6}/{prompt.selection.total_evidence:<7,} {naive:>11,} "
                f"{naive / budget:>11.1f}x {elapsed:>9.0f}"
            )
        size, sent = send_through_sdk(incident, findings, evidence, budget)
        print(
            f"{'':>8} {'wire':>10} {sent:>8,} {'':>9} {str(sent <= budget):>8}  request body {size / 1024:,.0f} KiB"
        )
    small, large = results[SIZES[0]], results[SIZES[-1]]
    print(
        f"classify prompt at {SIZES[-1]:,} spans vs {SIZES[0]:,}: {large / small:.2f}x the tokens "
        f"(both within {budget:,}); the naive prompt would grow with the window instead."
    )


if __name__ == "__main__":
    main()
