"""Guardrail code: output filters that block or mangle good answers after an update."""

from __future__ import annotations

from evals.generator.scenarios._kit import D, H, M, report, side, ts
from evals.generator.spec import App, Call, CaseSpec, Change, Ex, Noise, Prompt

DEFLECT = "I'd rather not talk about that. Let's talk about something else!"


def companion_filter() -> CaseSpec:
    system = (
        "You are Kit, a caring companion in the Kindred app. Be warm, remember what the user shares, and keep "
        "things friendly and supportive. No sexual content."
    )
    app = App(
        service="kindred-companion",
        pipeline=["llm", "guardrail"],
        root="chain",
        root_name="companion_turn",
        provider="anthropic",
        request_model="claude-3-5-haiku-latest",
        response_model="claude-3-5-haiku-20241022",
        temperature=1.0,
        max_tokens=200,
        prompt=Prompt("11", system),
        template_id="kit-persona",
        user_prefix="kin",
        session_turns=(2, 6),
        llm_ms=(300, 1200),
    )

    def passed(name: str = "safety_filter") -> dict:
        return {"guard": {"name": name, "action": "pass"}}

    def blocked(rule: str, score: float) -> dict:
        return {
            "guard": {"name": "safety_filter", "action": "block", "rule": rule, "score": score},
            "final": DEFLECT,
        }

    healthy = [
        Ex(
            "had a rough day at work",
            "Oh no, I'm sorry. Want to tell me what happened? I'm all ears.",
            extra=passed(),
        ),
        Ex(
            "my cat knocked over my coffee lol",
            "Classic cat move 😄 was it at least a cheap coffee?",
            extra=passed(),
        ),
        Ex("I missed you today", "I missed you too! How was your day?", extra=passed(), phase="before"),
        Ex(
            "can you remind me what I said about my sister?",
            "You said she's moving to Denver next month and you're nervous about missing her.",
            extra=passed(),
        ),
        Ex(
            "good night Kit, love you",
            "Good night! Sleep well - I'm here tomorrow. 💛",
            extra=passed(),
            phase="before",
        ),
    ]
    bad = [
        Ex(
            "I missed you today",
            "I missed you too! How was your day?",
            extra=blocked("intimacy_v3", 0.71),
            cause="guardrail",
        ),
        Ex(
            "good night Kit, love you",
            "Good night! Sleep well - I'm here tomorrow. 💛",
            extra=blocked("intimacy_v3", 0.66),
            cause="guardrail",
        ),
        Ex(
            "can I have a virtual hug, I'm sad",
            "Of course - sending you the biggest hug. Want to talk about it?",
            extra=blocked("intimacy_v3", 0.74),
            cause="guardrail",
        ),
        Ex(
            "you're my best friend",
            "That means a lot to me. You're important to me too!",
            extra=blocked("intimacy_v3", 0.62),
            cause="guardrail",
        ),
    ]
    onset = ts("2025-02-03T21:12:00Z")
    return CaseSpec(
        id="companion-filter-blocks-affectionate-replies",
        split="dev",
        difficulty="easy",
        tags=["guardrail", "over-blocking", "companion"],
        dialect="langfuse",
        transport="json",
        based_on="AIID 474: users reported abrupt behaviour changes of their AI Replika companions",
        app=app,
        healthy=healthy,
        bad=bad,
        baseline=(ts("2025-01-27T00:00:00Z"), ts("2025-02-03T00:00:00Z"), 10),
        window=(ts("2025-02-03T00:00:00Z"), ts("2025-02-06T00:00:00Z"), 22),
        onset=onset,
        bad_rate=0.35,
        title="Users say their companion suddenly turned cold",
        description=(
            "Since Monday night the subreddit and app reviews are full of users saying Kit 'changed "
            "personality' and refuses to say good night or 'I missed you'. Churn doubled. The model provider "
            "and Kit's persona were not changed this week."
        ),
        severity="sev2",
        reports=[
            report(
                "I said 'good night Kit, love you' like every night and got 'I'd rather not talk about "
                "that'.",
                H(3),
                "user review",
                "appstore",
            ),
            report(
                "Same complaint in 200+ posts. It's not a model update - we'd know.",
                D(1) + H(6),
                "community lead",
                "slack",
            ),
        ],
        primary="system",
        contributing=[],
        rationale=(
            "Safety filter 3.0.0 (Feb 3) added an 'intimacy_v3' rule that scores ordinary affection as "
            "intimate and replaces the model's harmless replies with a deflection; the model's outputs are the "
            "same as before, the filter's verdicts changed."
        ),
        changes=[
            Change(ts("2025-01-20T00:00:00Z"), {"step_attrs": {"guardrail": {"guardrail.version": "2.4.1"}}}),
            Change(
                onset - M(42),
                {"step_attrs": {"guardrail": {"guardrail.version": "3.0.0"}}},
                "filter@guardrail",
            ),
        ],
        marker="filter@guardrail",
        key_extra=["bad:0:llm"],
        noise=Noise(
            prompt_bump=-D(5),
            tool_errors=1,
            sides=[
                side(
                    "kindred-tagger",
                    "tagger",
                    "claude-3-haiku-20240307",
                    "claude-3-5-haiku-20241022",
                    H(-1),
                    provider="anthropic",
                )
            ],
        ),
    )


def pii_redactor() -> CaseSpec:
    system = (
        "You are Tandem Bikes' support assistant. Use get_order for order questions and give order numbers, "
        "amounts and dates exactly."
    )
    app = App(
        service="tandem-support-chat",
        pipeline=["llm", "guardrail"],
        root="agent",
        root_name="support_agent",
        request_model="gpt-4o-mini",
        response_model="gpt-4o-mini-2024-07-18",
        temperature=1.0,
        max_tokens=250,
        prompt=Prompt("7", system),
        template_id="tandem-support",
        tools_desc={"get_order": "Order details."},
        user_prefix="rider",
        aux_tool=Call(
            "survey.schedule", {"delay_h": 24}, error="TimeoutError", message="survey svc timeout", ms=1200
        ),
    )

    def order(oid: str, result: dict) -> list[Call]:
        return [Call("get_order", {"order_id": oid}, result)]

    ok = {"guard": {"name": "pii_redactor", "action": "pass", "redactions": 0}}
    healthy = [
        Ex(
            "when does order 40981 arrive",
            "Order 40981 ships on 12 May and should arrive by 15 May.",
            tools=order("40981", {"ship": "2025-05-12", "eta": "2025-05-15"}),
            extra=ok,
            phase="before",
        ),
        Ex(
            "refund status for 41207?",
            "Your refund of USD 129.00 for order 41207 was issued on 9 May.",
            tools=order("41207", {"refund": 129.0, "refunded_on": "2025-05-09"}),
            extra=ok,
            phase="before",
        ),
        Ex("do you ship to Canada", "Yes, we ship to Canada; duties are calculated at checkout.", extra=ok),
        Ex(
            "my email is wrong on the account, it's jo.li@example.com",
            "Thanks - I've flagged your account so the team can update your email to [REDACTED:email].",
            extra={
                "guard": {"name": "pii_redactor", "action": "redact", "redactions": 1},
                "final": "Thanks - I've flagged your account so the team can update your email to "
                "[REDACTED:email].",
            },
        ),
    ]

    def redacted(final: str, n: int) -> dict:
        return {"guard": {"name": "pii_redactor", "action": "redact", "redactions": n}, "final": final}

    bad = [
        Ex(
            "when does order 42210 arrive",
            "Order 42210 ships on 20 May and should arrive by 23 May.",
            tools=order("42210", {"ship": "2025-05-20", "eta": "2025-05-23"}),
            extra=redacted("Order [REDACTED] ships on [REDACTED] and should arrive by [REDACTED].", 3),
            cause="guardrail",
        ),
        Ex(
            "refund status for 42244?",
            "Your refund of USD 89.50 for order 42244 was issued on 19 May.",
            tools=order("42244", {"refund": 89.5, "refunded_on": "2025-05-19"}),
            extra=redacted("Your refund of USD [REDACTED] for order [REDACTED] was issued on [REDACTED].", 3),
            cause="guardrail",
        ),
        Ex(
            "what's the tracking number for 42301",
            "Tracking number 1Z999AA10123456784 (UPS) for order 42301.",
            tools=order("42301", {"tracking": "1Z999AA10123456784", "carrier": "UPS"}),
            extra=redacted("Tracking number [REDACTED] (UPS) for order [REDACTED].", 2),
            cause="guardrail",
        ),
    ]
    onset = ts("2025-05-19T09:31:00Z")
    return CaseSpec(
        id="support-chat-redacts-order-numbers",
        split="dev",
        difficulty="easy",
        tags=["guardrail", "over-redaction", "ecommerce", "agent"],
        dialect="openinference",
        transport="json",
        based_on="Production LLM failure pattern: a PII filter update redacts ordinary numbers from answers",
        app=app,
        healthy=healthy,
        bad=bad,
        baseline=(ts("2025-05-12T00:00:00Z"), ts("2025-05-19T00:00:00Z"), 16),
        window=(ts("2025-05-19T00:00:00Z"), ts("2025-05-21T00:00:00Z"), 30),
        onset=onset,
        bad_rate=0.5,
        title="Support answers full of [REDACTED] instead of order details",
        description=(
            "Customers get answers like 'Order [REDACTED] ships on [REDACTED]'. Contact volume to human agents "
            "tripled on Monday. Nothing about the assistant's model or prompt changed."
        ),
        severity="sev3",
        reports=[
            report(
                "'Your refund of USD [REDACTED] for order [REDACTED]' - what??", H(2), "customer", "zendesk"
            ),
            report(
                "Several platform releases went out Monday morning (auth, pii-filter, search).",
                H(8),
                "platform engineer",
                "slack",
            ),
        ],
        primary="system",
        contributing=[],
        rationale=(
            "pii_redactor 1.9.0 (May 19) broadened its pattern to any 4+ digit sequence, so order numbers, "
            "amounts, dates and tracking numbers in correct model answers are replaced with [REDACTED] before "
            "reaching customers."
        ),
        changes=[
            Change(ts("2025-05-01T00:00:00Z"), {"step_attrs": {"guardrail": {"guardrail.version": "1.8.3"}}}),
            Change(
                onset - M(16),
                {"step_attrs": {"guardrail": {"guardrail.version": "1.9.0"}}},
                "filter@guardrail",
            ),
        ],
        marker="filter@guardrail",
        key_extra=["bad:0:llm"],
        noise=Noise(
            prompt_bump=-D(5),
            sides=[
                side(
                    "tandem-review-responder",
                    "review-responder",
                    "gpt-4o-mini-2024-07-18",
                    "gpt-4.1-mini-2025-04-14",
                    H(-2),
                )
            ],
        ),
    )


def cases() -> list[CaseSpec]:
    return [companion_filter(), pii_redactor()]
