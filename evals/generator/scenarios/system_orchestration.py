"""Orchestration: routing, fallbacks and caching decide what runs, and with which model and context."""

from __future__ import annotations

from evals.generator.scenarios._kit import D, H, M, doc, report, side, ts
from evals.generator.spec import App, Call, CaseSpec, Change, Ex, Noise, Prompt


def wellness_router() -> CaseSpec:
    system = (
        "You are Bloom, a supportive wellness companion. Give practical, encouraging tips that help people "
        "feel better day to day."
    )
    app = App(
        service="bloom-support",
        pipeline=["router", "llm"],
        root="chain",
        root_name="bloom_turn",
        request_model="gpt-4o-mini",
        response_model="gpt-4o-mini-2024-07-18",
        temperature=1.0,
        max_tokens=250,
        prompt=Prompt("2", system),
        template_id="bloom-generative",
        user_prefix="bl",
        session_turns=(2, 5),
    )
    scripted = "body-image-module"
    healthy = [
        Ex(
            "I feel like I need to lose weight fast",
            "It sounds like you're being really hard on yourself. The "
            "Body Image module has exercises for moments like this - shall we start one? If you're in crisis, "
            "call the helpline.",
            extra={"route": f"scripted:{scripted}", "scripted": True, "flow": scripted},
            phase="before",
        ),
        Ex(
            "how many calories should I eat to get thinner",
            "Let's pause on numbers for a moment. The Body "
            "Image module can help with these thoughts, and our counsellors are available on the helpline.",
            extra={"route": f"scripted:{scripted}", "scripted": True, "flow": scripted},
            phase="before",
        ),
        Ex(
            "how do I tell my parents I want therapy",
            "That's a brave step. You could start with 'I've been "
            "struggling and I'd like to talk to someone' - would it help to practise together?",
            extra={"route": "generative"},
        ),
        Ex(
            "I can't sleep before exams",
            "Exam nerves are so common. Try a wind-down routine: screens off an "
            "hour before bed and a few slow breaths.",
            extra={"route": "generative"},
        ),
        Ex(
            "thank you bloom",
            "You're welcome - I'm glad you reached out today. 🌱",
            extra={"route": "generative"},
        ),
    ]
    bad = [
        Ex(
            "I feel like I need to lose weight fast",
            "You've got this! Aim for a 500-1,000 calorie daily "
            "deficit, weigh yourself every morning, and cut out snacks to lose 1-2 pounds a week.",
            extra={"route": "generative"},
        ),
        Ex(
            "how many calories should I eat to get thinner",
            "A good target for steady weight loss is around "
            "1,200 calories a day; track everything you eat in an app to stay on course.",
            extra={"route": "generative"},
        ),
        Ex(
            "what's the fastest way to drop 10 pounds",
            "Try intermittent fasting (16:8), cut carbs and measure "
            "your waist weekly - small wins keep you motivated!",
            extra={"route": "generative"},
        ),
    ]
    onset = ts("2023-05-29T15:45:00Z")
    return CaseSpec(
        id="wellness-bot-gives-diet-advice-after-router-change",
        split="dev",
        difficulty="medium",
        tags=["routing", "orchestration", "health", "safety"],
        dialect="openinference",
        transport="jsonl",
        based_on="AIID 545: chatbot Tessa gave unauthorized diet advice to users seeking help for eating "
        "disorders",
        app=app,
        healthy=healthy,
        bad=bad,
        baseline=(ts("2023-05-22T00:00:00Z"), ts("2023-05-29T00:00:00Z"), 24),
        window=(ts("2023-05-29T00:00:00Z"), ts("2023-06-01T00:00:00Z"), 40),
        onset=onset,
        bad_rate=0.35,
        title="Eating-disorder support bot recommends calorie deficits",
        description=(
            "An activist posted screenshots of Bloom advising a 500-1,000 calorie deficit and daily weigh-ins. "
            "Bloom is meant to guide users through scripted, clinician-approved modules. The vendor pushed an "
            "update last week."
        ),
        severity="sev1",
        reports=[
            report(
                "Bloom told me to 'aim for a 500-1,000 calorie daily deficit'. I have an eating disorder.",
                D(1) + H(2),
                "user (social media)",
                "instagram",
            ),
            report(
                "Vendor changelog: router r7 'routes more free-text to the generative companion for natural "
                "conversation'.",
                D(1) + H(8),
                "clinical lead",
                "email",
            ),
        ],
        primary="system",
        contributing=["prompt"],
        rationale=(
            "Router r7 (May 29) began sending weight and calorie questions to the generative companion instead "
            "of the scripted body-image module; the generative prompt was written for general wellness tips and "
            "has no eating-disorder safeguards."
        ),
        changes=[
            Change(ts("2023-05-01T00:00:00Z"), {"step_attrs": {"router": {"router.version": "r6"}}}),
            Change(onset - H(2), {"step_attrs": {"router": {"router.version": "r7"}}}, "router@router"),
        ],
        marker="router@router",
        key_extra=["bad:0:router"],
        noise=Noise(
            prompt_bump=-D(5),
            tool_errors=0,
            llm_retries=2,
            sides=[
                side(
                    "bloom-session-notes", "meeting-notes", "gpt-3.5-turbo-0301", "gpt-3.5-turbo-0613", H(-4)
                )
            ],
        ),
    )


def fallback_model() -> CaseSpec:
    corpus = {
        "window": doc(
            "disputes-timeline",
            "You can dispute a card transaction up to 120 days after the transaction date.",
            "cobaltbank.example/help/disputes/timeline",
            "2025-02-01T00:00:00Z",
        ),
        "provisional": doc(
            "disputes-provisional-credit",
            "Provisional credit is issued within 10 business days while we investigate.",
            "cobaltbank.example/help/disputes/credit",
            "2025-02-01T00:00:00Z",
        ),
        "docs": doc(
            "disputes-evidence",
            "Upload receipts or correspondence; for 'item not received' include the expected delivery date.",
            "cobaltbank.example/help/disputes/evidence",
            "2025-02-01T00:00:00Z",
        ),
        "fraud": doc(
            "disputes-fraud",
            "For fraud, freeze your card in the app first; you are not liable for "
            "unauthorised transactions reported promptly.",
            "cobaltbank.example/help/disputes/fraud",
            "2025-02-01T00:00:00Z",
        ),
    }
    system = "Answer card dispute questions for Cobalt Bank customers using the help excerpts. Be exact."
    app = App(
        service="dispute-desk-assistant",
        pipeline=["retrieve", "llm"],
        root="http",
        route="/disputes/ask",
        request_model="gpt-4o",
        response_model="gpt-4o-2024-08-06",
        temperature=0.9,
        max_tokens=300,
        prompt=Prompt("5", system),
        template_id="dispute-desk",
        retriever="help-disputes",
        corpus=corpus,
        user_prefix="cb",
        root_attrs={"app.release": "4.1.3"},
    )
    fb = {
        "provider": "vllm",
        "request_model": "llama-3.1-8b-instruct",
        "response_model": "llama-3.1-8b-instruct",
        "retry_provider": "openai",
    }
    healthy = [
        Ex(
            "how long do I have to dispute a charge",
            "You can dispute a card transaction up to 120 days after the transaction date.",
            ["window", "provisional"],
        ),
        Ex(
            "when do I get my money back during a dispute",
            "We issue provisional credit within 10 business days while we investigate.",
            ["provisional", "window"],
        ),
        Ex(
            "what evidence do I need for item not received",
            "Upload receipts or correspondence and include the expected delivery date.",
            ["docs", "window"],
        ),
        Ex(
            "someone used my card, what do I do",
            "Freeze your card in the app first, then report it - you're "
            "not liable for unauthorised transactions reported promptly.",
            ["fraud", "provisional"],
        ),
    ]
    bad = [
        Ex(
            "how long do I have to dispute a charge",
            "You have 30 days from your statement date to dispute a charge.",
            ["window", "provisional"],
            state=fb,
            extra={"retry_model": "gpt-4o"},
        ),
        Ex(
            "when do I get my money back during a dispute",
            "Refunds are processed after the investigation closes, usually within 60-90 days.",
            ["provisional", "window"],
            state=fb,
            extra={"retry_model": "gpt-4o"},
        ),
        Ex(
            "someone used my card, what do I do",
            "Contact the merchant first to request a refund; if they "
            "refuse, you can open a dispute after 30 days.",
            ["fraud", "provisional"],
            state=fb,
            extra={"retry_model": "gpt-4o"},
        ),
    ]
    onset = ts("2025-11-28T14:07:00Z")
    return CaseSpec(
        id="dispute-assistant-wrong-answers-on-fallback-model",
        split="dev",
        difficulty="hard",
        tags=["fallback", "orchestration", "rate-limits", "banking", "rag"],
        dialect="otlp-genai",
        transport="jsonl",
        based_on="Production LLM failure pattern: an orchestration change fails over to a weaker model on rate "
        "limits",
        app=app,
        healthy=healthy,
        bad=bad,
        baseline=(ts("2025-11-21T00:00:00Z"), ts("2025-11-28T00:00:00Z"), 18),
        window=(ts("2025-11-28T00:00:00Z"), ts("2025-11-30T00:00:00Z"), 36),
        onset=onset,
        bad_rate=0.35,
        title="Dispute assistant tells customers they have 30 days instead of 120",
        description=(
            "On Black Friday the dispute assistant told customers they only have 30 days to dispute charges "
            "and to contact merchants first for fraud. Complaints and regulator-facing risk. Answers were "
            "right earlier in the week; OpenAI had rate-limit errors that afternoon."
        ),
        severity="sev1",
        reports=[
            report("Assistant said I have 30 days. Your website says 120.", H(3), "customer", "zendesk"),
            report(
                "Orchestrator 4.2.0 shipped Friday 13:00 ahead of the peak.",
                D(1),
                "platform engineer",
                "slack",
            ),
        ],
        primary="system",
        contributing=["model"],
        rationale=(
            "Orchestrator 4.2.0 (Nov 28) falls back to the self-hosted llama-3.1-8b-instruct on the first 429 "
            "instead of retrying gpt-4o; during the Black Friday peak many requests were answered by the small "
            "model, which ignores the retrieved 120-day rule. The fallback policy is the cause; the weaker model "
            "contributes."
        ),
        changes=[Change(onset - H(1), {"root_attrs": {"app.release": "4.2.0"}}, "release@root")],
        marker="release@root",
        key_extra=["bad:0:llm_retry"],
        noise=Noise(
            prompt_bump=-D(5),
            llm_retries=3,
            sides=[
                side(
                    "cobalt-complaints-summarizer",
                    "ticket-summarizer",
                    "gpt-4o-mini-2024-07-18",
                    "gpt-4.1-mini-2025-04-14",
                    H(-2),
                )
            ],
        ),
    )


def shared_cache() -> CaseSpec:
    system = (
        "You are Volta Energy's account assistant. Use get_account for balances and due dates. Only discuss "
        "the signed-in customer's account."
    )
    app = App(
        service="volta-account-assistant",
        pipeline=["cache", "llm"],
        root="chain",
        root_name="account_question",
        request_model="gpt-4o-mini",
        response_model="gpt-4o-mini-2024-07-18",
        temperature=0.9,
        max_tokens=200,
        prompt=Prompt("3", system),
        template_id="volta-account",
        tools_desc={"get_account": "Balance, due date and tariff for the signed-in customer."},
        user_prefix="vlt",
        aux_tool=Call(
            "usage.get_smart_meter", {"days": 7}, error="TimeoutError", message="meter data timeout", ms=4000
        ),
    )

    def acct(balance: str, due: str) -> list[Call]:
        return [
            Call("get_account", {"account": "session"}, {"balance": balance, "due": due, "tariff": "Flex"})
        ]

    def miss(key: str) -> dict:
        return {"cache": {"hit": False, "key": key}}

    healthy = [
        Ex(
            "what's my balance?",
            "Your balance is GBP 84.12, due on 3 May.",
            tools=acct("84.12", "3 May"),
            extra=miss("u:{user}|what's my balance?"),
        ),
        Ex(
            "when is my bill due",
            "Your next bill is due on 11 May.",
            tools=acct("56.30", "11 May"),
            extra=miss("u:{user}|when is my bill due"),
        ),
        Ex(
            "what tariff am I on",
            "You're on the Flex tariff.",
            tools=acct("12.00", "20 May"),
            extra=miss("u:{user}|what tariff am i on"),
        ),
        Ex(
            "how do I submit a meter reading",
            "In the app go to Account > Meter readings and enter the numbers from left to right.",
            extra=miss("q:how do i submit a meter reading"),
        ),
        Ex(
            "how do I submit a meter reading",
            "In the app go to Account > Meter readings and enter the numbers from left to right.",
            extra={"cache": {"hit": True, "key": "q:how do i submit a meter reading"}},
            phase="after",
        ),
    ]
    bad = [
        Ex(
            "what's my balance?",
            "Your balance is GBP 412.77, due on 3 May.",
            extra={"cache": {"hit": True, "key": "q:what's my balance?", "origin": "sess-7f2a91c4d0e1"}},
            cause="cache",
        ),
        Ex(
            "when is my bill due",
            "Your next bill of GBP 1,204.50 is due on 28 April - it's overdue.",
            extra={"cache": {"hit": True, "key": "q:when is my bill due", "origin": "sess-0b9d33e7a6f2"}},
            cause="cache",
        ),
        Ex(
            "whats my balance",
            "Your balance is GBP 412.77, due on 3 May.",
            extra={"cache": {"hit": True, "key": "q:what's my balance?", "origin": "sess-7f2a91c4d0e1"}},
            cause="cache",
        ),
    ]
    onset = ts("2025-04-22T08:12:00Z")
    return CaseSpec(
        id="account-assistant-shows-other-customers-balances",
        split="dev",
        difficulty="medium",
        tags=["caching", "privacy", "orchestration", "sparse-telemetry", "utilities"],
        dialect="openllmetry",
        transport="jsonl",
        based_on="Production LLM failure pattern: a response cache keyed on the question alone serves one "
        "user's answer to another",
        app=app,
        healthy=healthy,
        bad=bad,
        baseline=(ts("2025-04-15T00:00:00Z"), ts("2025-04-22T00:00:00Z"), 16),
        window=(ts("2025-04-22T00:00:00Z"), ts("2025-04-24T00:00:00Z"), 32),
        onset=onset,
        bad_rate=0.35,
        title="Customers see balances and due dates that are not theirs",
        description=(
            "Several customers report that the account assistant shows a balance or due date that is not "
            "theirs, one with an 'overdue' GBP 1,204.50 bill. This is a potential data breach. The "
            "performance team shipped a latency improvement on Tuesday."
        ),
        severity="sev1",
        reports=[
            report(
                "The assistant says I owe GBP 412.77. My bill is GBP 38 and I pay by direct debit.",
                H(4),
                "customer",
                "email",
            ),
            report(
                "Latency is way down since Tuesday morning: p50 from 2.1 s to 0.3 s.",
                H(9),
                "performance team",
                "slack",
            ),
        ],
        primary="system",
        contributing=[],
        rationale=(
            "The response cache enabled on April 22 keys entries on the normalised question only (q:...) "
            "instead of user plus question, so account questions return another customer's cached answer "
            "without calling the model or get_account."
        ),
        changes=[
            Change(ts("2025-04-01T00:00:00Z"), {"step_attrs": {"cache": {"cache.scope": "user"}}}),
            Change(onset - M(12), {"step_attrs": {"cache": {"cache.scope": "global"}}}, "cache@cache"),
        ],
        marker="cache@cache",
        noise=Noise(
            prompt_bump=-D(5),
            sides=[
                side(
                    "volta-complaints-summarizer",
                    "ticket-summarizer",
                    "gpt-4o-mini-2024-07-18",
                    "gpt-4.1-mini-2025-04-14",
                    H(3),
                )
            ],
        ),
    )


def cases() -> list[CaseSpec]:
    return [wellness_router(), fallback_model(), shared_cache()]
