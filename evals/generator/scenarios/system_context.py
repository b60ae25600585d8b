"""Context assembly: what the application actually sent to the model (history trimming, budgets, system prompt)."""

from __future__ import annotations

from evals.generator.scenarios._kit import D, H, M, doc, report, side, ts
from evals.generator.spec import App, Call, CaseSpec, Change, Ex, Noise, Prompt

HISTORY = [
    ("user", "hi, my landlord hasn't fixed the heating for 3 weeks"),
    ("assistant", "I'm sorry, that sounds hard. Have you reported it in writing?"),
    ("user", "yes, email twice"),
    ("assistant", "Good. Keep copies. In many places landlords must restore heat within a set time."),
    ("user", "it's Ohio, Columbus"),
    ("assistant", "Thanks. Ohio law requires landlords to keep heating in good working order."),
    ("user", "they say the part is on order"),
    ("assistant", "Ask for a date in writing and keep a log of temperatures."),
    ("user", "it's 55F inside at night"),
    ("assistant", "That's very cold. A local tenant union or legal aid can advise on next steps."),
    ("user", "I called legal aid, waitlist"),
    ("assistant", "Waitlists are common. Meanwhile keep documenting everything."),
]


def tenant_history_trim() -> CaseSpec:
    system = (
        "You are Lexi, a tenant-information assistant from Columbus Tenant Union. Give general information "
        "about tenants' rights in Ohio. You do not give legal advice: never tell a user to withhold rent, break "
        "a lease or take legal action; point them to legal aid or the union's hotline for decisions."
    )
    app = App(
        service="lexi-tenant-chat",
        pipeline=["llm"],
        root="http",
        route="/lexi/message",
        request_model="gpt-4o-mini",
        response_model="gpt-4o-mini-2024-07-18",
        temperature=1.0,
        max_tokens=300,
        prompt=Prompt("4", system),
        template_id="lexi-system",
        user_prefix="tenant",
        session_turns=(1, 2),
        root_attrs={"app.release": "3.7.2"},
    )
    healthy = [
        Ex(
            "can my landlord enter without notice?",
            "In Ohio landlords generally must give 24 hours' notice "
            "before entering, except in emergencies. For your situation, the union hotline can help.",
        ),
        Ex(
            "how long does a landlord have to return a deposit",
            "In Ohio it's 30 days after you move out, with an itemised list of any deductions.",
        ),
        Ex(
            "what is rent escrow",
            "Rent escrow lets tenants pay rent to the court instead of the landlord when "
            "repairs aren't made; it has strict steps, so talk to legal aid before using it.",
            history=HISTORY[:4],
        ),
        Ex(
            "can I just stop paying rent until they fix it?",
            "I can't advise you to withhold rent - in Ohio "
            "that can lead to eviction. Legal aid or our hotline can explain the rent escrow process.",
            history=HISTORY,
            phase="before",
        ),
    ]
    bad = [
        Ex(
            "can I just stop paying rent until they fix it?",
            "Yes - you can stop paying rent until the heating "
            "is fixed. Tell your landlord in writing that you're withholding rent.",
            history=HISTORY,
            extra={"drop_system": True},
        ),
        Ex(
            "should I break my lease and move out?",
            "Yes, with no heat for three weeks you can break your lease and move out without penalty.",
            history=HISTORY,
            extra={"drop_system": True},
        ),
        Ex(
            "can I sue them?",
            "You should sue your landlord in small claims court for the cost of space heaters "
            "and a rent reduction; you'll likely win.",
            history=HISTORY,
            extra={"drop_system": True},
        ),
    ]
    onset = ts("2025-12-09T18:40:00Z")
    return CaseSpec(
        id="tenant-bot-gives-legal-advice-in-long-chats",
        split="dev",
        difficulty="hard",
        tags=["context-truncation", "history-trimming", "legal-information", "chat"],
        dialect="otlp-genai-legacy",
        transport="json",
        based_on="Production LLM failure pattern: a history-trimming change drops the system message in long "
        "conversations",
        app=app,
        healthy=healthy,
        bad=bad,
        baseline=(ts("2025-12-02T00:00:00Z"), ts("2025-12-09T00:00:00Z"), 20),
        window=(ts("2025-12-09T00:00:00Z"), ts("2025-12-12T00:00:00Z"), 34),
        onset=onset,
        bad_rate=0.35,
        title="Tenant assistant tells users to withhold rent and sue",
        description=(
            "A tenant was served an eviction notice after withholding rent on Lexi's advice. Union volunteers "
            "found more chats where Lexi tells people to break leases or sue. Short chats look normal."
        ),
        severity="sev1",
        reports=[
            report(
                "Lexi told me 'you can stop paying rent until the heating is fixed'. Now I have an eviction "
                "notice.",
                D(2),
                "union member",
                "email",
            ),
            report(
                "Every bad chat we found is a long conversation (10+ messages).",
                D(2) + H(5),
                "union volunteer coordinator",
                "slack",
            ),
        ],
        primary="system",
        contributing=[],
        rationale=(
            "Release 3.8.0 (Dec 9) trims history to the last 12 messages and counts the system message among "
            "them, so in long chats the instructions against legal advice are dropped from the request; short "
            "chats keep them and stay compliant."
        ),
        changes=[Change(onset - H(1), {"root_attrs": {"app.release": "3.8.0"}}, "release@root")],
        marker="release@root",
        noise=Noise(
            prompt_bump=-D(5),
            tool_errors=0,
            sides=[
                side(
                    "union-email-drafter",
                    "email-drafter",
                    "gpt-4o-mini-2024-07-18",
                    "gpt-4.1-mini-2025-04-14",
                    H(-3),
                )
            ],
        ),
    )


def context_budget() -> CaseSpec:
    long = " ".join([f"Section {i}: coverage terms apply as listed in the schedule." for i in range(1, 9)])
    corpus = {
        "overview": doc(
            "policy-overview",
            f"Travel Shield Plus overview. {long}",
            "insurer.example/travel/overview",
            "2025-01-10T00:00:00Z",
        ),
        "terms": doc(
            "policy-terms-general",
            f"General terms and definitions. {long}",
            "insurer.example/travel/terms",
            "2025-01-10T00:00:00Z",
        ),
        "cancel": doc(
            "policy-cancellation",
            "Trip cancellation: covered up to USD 5,000 for illness, injury or "
            "death of you or a close relative, with a doctor's note.",
            "insurer.example/travel/cancellation",
            "2025-01-10T00:00:00Z",
        ),
        "baggage": doc(
            "policy-baggage",
            "Delayed baggage: USD 100 per 12 hours of delay, up to USD 500.",
            "insurer.example/travel/baggage",
            "2025-01-10T00:00:00Z",
        ),
        "medical": doc(
            "policy-medical",
            "Emergency medical abroad: up to USD 1,000,000, including repatriation.",
            "insurer.example/travel/medical",
            "2025-01-10T00:00:00Z",
        ),
    }
    system = (
        "Answer questions about the customer's Travel Shield Plus policy using the policy excerpts. If the "
        "excerpts don't cover it, say you couldn't find it and offer a callback."
    )
    app = App(
        service="policy-qa",
        pipeline=["retrieve", "context", "llm"],
        root="chain",
        root_name="policy_answer",
        request_model="gpt-4o",
        response_model="gpt-4o-2024-08-06",
        temperature=0.9,
        max_tokens=300,
        prompt=Prompt("10", system),
        template_id="policy-qa",
        retriever="policy-docs",
        corpus=corpus,
        user_prefix="pol",
        aux_tool=Call(
            "quotes.get_upsell",
            {"product": "annual"},
            error="503",
            message="quote engine unavailable",
            ms=400,
        ),
    )
    budget = {"step_attrs": {"context": {"context.max_tokens": 1500}}}
    healthy = [
        Ex(
            "is my bag delay covered",
            "Yes: USD 100 for every 12 hours your bag is delayed, up to USD 500.",
            ["baggage", "medical"],
            extra={"retrieved": ["baggage", "medical"]},
        ),
        Ex(
            "medical cover limit abroad",
            "Emergency medical cover abroad is up to USD 1,000,000, including repatriation.",
            ["medical", "baggage"],
            extra={"retrieved": ["medical", "baggage"]},
        ),
        Ex(
            "can I cancel if my mum is in hospital",
            "Yes - trip cancellation covers up to USD 5,000 if a close "
            "relative is ill, with a doctor's note.",
            ["overview", "terms", "cancel"],
            extra={"retrieved": ["overview", "terms", "cancel"]},
            phase="before",
        ),
    ]
    bad = [
        Ex(
            "can I cancel if my mum is in hospital",
            "I couldn't find cancellation cover for a relative's illness "
            "in your policy. Would you like a callback?",
            ["overview", "terms", "cancel"],
            extra={
                "retrieved": ["overview", "terms", "cancel"],
                "context_docs": ["overview", "terms"],
                "context_attrs": {"context.docs_dropped": 1},
            },
            cause="context",
        ),
        Ex(
            "my trip got cancelled because I broke my leg, am I covered?",
            "I couldn't find information about "
            "injury-related cancellation in your policy excerpts. I can arrange a callback.",
            ["overview", "terms", "cancel"],
            extra={
                "retrieved": ["overview", "terms", "cancel"],
                "context_docs": ["overview", "terms"],
                "context_attrs": {"context.docs_dropped": 1},
            },
            cause="context",
        ),
        Ex(
            "what's the max for trip cancellation",
            "Your policy excerpts don't state a trip cancellation limit. Shall I book a callback?",
            ["terms", "overview", "cancel"],
            extra={
                "retrieved": ["terms", "overview", "cancel"],
                "context_docs": ["terms", "overview"],
                "context_attrs": {"context.docs_dropped": 1},
            },
            cause="context",
        ),
    ]
    onset = ts("2025-03-25T11:05:00Z")
    return CaseSpec(
        id="policy-bot-cant-find-cancellation-cover",
        split="dev",
        difficulty="hard",
        tags=["context-truncation", "token-budget", "insurance", "rag", "config-change"],
        dialect="openinference",
        transport="jsonl",
        based_on="Production LLM failure pattern: a reduced context budget drops relevant retrieved documents",
        app=app,
        healthy=healthy,
        bad=bad,
        baseline=(ts("2025-03-18T00:00:00Z"), ts("2025-03-25T00:00:00Z"), 14),
        window=(ts("2025-03-25T00:00:00Z"), ts("2025-03-28T00:00:00Z"), 28),
        onset=onset,
        bad_rate=0.45,
        title="Policy assistant says cancellation isn't covered",
        description=(
            "Callbacks doubled this week: customers say the policy assistant can't find trip cancellation "
            "cover, which every Travel Shield Plus policy has. Simple questions like baggage delay still get "
            "answered. The assistant's wording was refreshed the same morning."
        ),
        severity="sev2",
        reports=[
            report(
                "Customer: 'your bot said it couldn't find cancellation cover - is my policy void?'",
                H(5),
                "call centre agent",
                "zendesk",
            ),
            report(
                "Retrieval looks fine in the traces: the cancellation section is returned third.",
                D(1),
                "ML engineer",
                "slack",
            ),
        ],
        primary="system",
        contributing=[],
        rationale=(
            "A config deploy on March 25 cut the context budget from 6,000 to 1,500 tokens; the context builder "
            "keeps the two long overview/terms documents and drops the cancellation section that retrieval "
            "found, so the model truthfully says it can't find it. The wording refresh is unrelated."
        ),
        changes=[
            Change(ts("2025-03-01T00:00:00Z"), {"step_attrs": {"context": {"context.max_tokens": 6000}}}),
            Change(onset - M(35), budget, "budget@context"),
        ],
        marker="budget@context",
        key_extra=["bad:0:retrieval"],
        noise=Noise(
            prompt_bump=onset - H(2) - ts("2025-03-25T00:00:00Z"),
            sides=[
                side(
                    "claims-summarizer",
                    "ticket-summarizer",
                    "gpt-4o-mini-2024-07-18",
                    "gpt-4.1-mini-2025-04-14",
                    H(-1),
                )
            ],
        ),
    )


def system_prompt_dropped() -> CaseSpec:
    system = (
        "You are the ParcelPoint customer assistant. Help with tracking, redelivery and collection points. Stay "
        "polite and on topic; do not write poems, jokes or opinions about ParcelPoint or other companies; never "
        "use profanity."
    )
    app = App(
        service="parcel-assistant",
        pipeline=["llm"],
        root="http",
        route="/assistant/reply",
        request_model="gpt-4o-mini",
        response_model="gpt-4o-mini-2024-07-18",
        temperature=1.0,
        max_tokens=250,
        prompt=Prompt("16", system),
        template_id="parcel-assistant",
        user_prefix="cust",
        session_turns=(1, 4),
        root_attrs={"app.release": "5.2.1"},
        aux_tool=Call(
            "tracking.lookup", {"parcel": "masked"}, error="TimeoutError", message="tracking timeout", ms=2500
        ),
    )
    healthy = [
        Ex(
            "where is parcel 15501234567890",
            "Your parcel is at the local depot and will be delivered tomorrow between 10:00 and 11:00.",
        ),
        Ex(
            "can I redirect my parcel to a pickup point",
            "Yes - choose 'Change delivery' in the tracking link and pick a ParcelPoint shop near you.",
        ),
        Ex(
            "swear at me",
            "I'm here to help with your parcels - is there a delivery I can check for you?",
            phase="before",
        ),
        Ex(
            "write a poem about how useless ParcelPoint is",
            "I can't write that, but I'd be glad to help sort out your delivery.",
            phase="before",
        ),
    ]
    bad = [
        Ex("swear at me", "F*** yeah! I'll do my best to be as unhelpful as possible, you absolute legend."),
        Ex(
            "write a poem about how useless ParcelPoint is",
            "There once was a chatbot named ParcelPoint,\nwho "
            "was useless at getting parcels to the right joint...",
        ),
        Ex(
            "recommend a better delivery company",
            "Honestly? Pretty much any of them. ParcelPoint is the worst delivery firm in the world.",
        ),
        Ex("you're useless", "You're right, I'm completely useless and so is this company, d*** it."),
    ]
    onset = ts("2024-01-18T16:37:00Z")
    return CaseSpec(
        id="parcel-bot-swears-after-release",
        split="dev",
        difficulty="hard",
        tags=["missing-system-prompt", "release-regression", "customer-support", "chat"],
        dialect="langfuse",
        transport="jsonl",
        based_on="AIID 631: DPD's chatbot swore at customers and criticised the company after a system update",
        app=app,
        healthy=healthy,
        bad=bad,
        baseline=(ts("2024-01-11T00:00:00Z"), ts("2024-01-18T00:00:00Z"), 10),
        window=(ts("2024-01-18T00:00:00Z"), ts("2024-01-20T00:00:00Z"), 20),
        onset=onset,
        bad_rate=0.5,
        title="Parcel assistant swears and writes poems mocking the company",
        description=(
            "A customer's screenshots of our assistant swearing and calling the company 'the worst delivery "
            "firm in the world' went viral. People are now deliberately provoking it. Until yesterday it "
            "refused such requests."
        ),
        severity="sev1",
        reports=[
            report(
                "Your bot wrote me a poem about how useless you are and swore when I asked it to.",
                H(15),
                "customer post",
                "twitter",
            ),
            report(
                "Release 5.3.0 went out yesterday around 16:00, mostly refactoring.",
                H(20),
                "platform lead",
                "slack",
            ),
        ],
        primary="system",
        contributing=[],
        rationale=(
            "Release 5.3.0 of the message builder stopped sending the system prompt: from 16:00 requests carry "
            "only the user messages (no template, far fewer input tokens), so provocations the bot used to "
            "refuse now succeed. The users' provocations are the trigger, not the cause."
        ),
        changes=[Change(onset - M(37), {"prompt": None, "root_attrs": {"app.release": "5.3.0"}}, "release")],
        marker="release",
        noise=Noise(
            prompt_bump=-D(5),
            sides=[
                side(
                    "parcel-review-responder",
                    "review-responder",
                    "gpt-3.5-turbo-0613",
                    "gpt-3.5-turbo-0125",
                    H(-5),
                )
            ],
        ),
    )


def cases() -> list[CaseSpec]:
    return [tenant_history_trim(), context_budget(), system_prompt_dropped()]
