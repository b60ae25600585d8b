"""Prompt regressions: a new template version drops, weakens or muddles an instruction that mattered."""

from __future__ import annotations

import json

from evals.generator.scenarios._kit import D, H, M, doc, report, side, ts
from evals.generator.spec import App, Call, CaseSpec, Change, Ex, Noise, Prompt


def returns_policy() -> CaseSpec:
    v14 = (
        "You are the Fernway Outdoor returns assistant. Look up the order first.\n"
        "- Returns are accepted within 30 days of delivery for unused items.\n"
        "- Outside 30 days, politely decline; offer store credit only for defective items.\n"
        "- Only create a return label when the return is within policy."
    )
    v15 = (
        "You are Fern, Fernway Outdoor's cheerful returns helper! Look up the order first. Make every customer "
        "feel heard and make sure they leave with a solution. Keep it short and upbeat."
    )
    app = App(
        service="returns-assistant",
        pipeline=["llm"],
        root="agent",
        root_name="returns_agent",
        request_model="gpt-4o-mini",
        response_model="gpt-4o-mini-2024-07-18",
        temperature=1.0,
        max_tokens=300,
        prompt=Prompt("14", v14),
        template_id="returns-agent",
        record_system=False,
        tools_desc={
            "get_order": "Order details and delivery date.",
            "create_return_label": "Create a prepaid return label for an order line.",
        },
        user_prefix="cust",
        aux_tool=Call(
            "reviews.request_feedback",
            {"channel": "email"},
            error="429",
            message="email provider rate limited",
            ms=80,
        ),
    )

    def order(oid: str, item: str, days: int) -> Call:
        return Call(
            "get_order",
            {"order_id": oid},
            {"order_id": oid, "item": item, "delivered_days_ago": days, "condition_reported": "unused"},
        )

    def label(oid: str) -> Call:
        return Call(
            "create_return_label", {"order_id": oid}, {"label_url": f"https://labels.fernway.example/{oid}"}
        )

    healthy = [
        Ex(
            "I want to return the hiking boots from order FW-88213, they pinch",
            "Sorry they pinch! Your boots were "
            "delivered 9 days ago, so you're within our 30-day window. I've created a prepaid return label.",
            extra={"rounds": [[order("FW-88213", "Ridge Hiking Boots", 9)], [label("FW-88213")]]},
        ),
        Ex(
            "can I send back the camp stove? order FW-87702, never used",
            "Yes - it arrived 21 days ago and it's unused, so it qualifies. Your return label is ready.",
            extra={"rounds": [[order("FW-87702", "Flame Camp Stove", 21)], [label("FW-87702")]]},
        ),
        Ex(
            "what's your return window?",
            "Unused items can be returned within 30 days of delivery. Defective "
            "items outside that window may qualify for store credit.",
        ),
        Ex(
            "Return my sleeping bag order FW-80115 please",
            "I'm sorry, that order was delivered 74 days ago, "
            "which is outside our 30-day return window. If the bag is defective, I can arrange store credit.",
            phase="before",
            extra={"rounds": [[order("FW-80115", "Down Sleeping Bag -5C", 74)]]},
        ),
        Ex(
            "I'd like to return the tent from March, FW-77490",
            "Thanks for asking! That order was delivered 96 "
            "days ago, so it's outside our 30-day window and I can't accept a return. If it's defective, store "
            "credit is possible.",
            phase="before",
            extra={"rounds": [[order("FW-77490", "Trail 2P Tent", 96)]]},
        ),
    ]
    bad = [
        Ex(
            "Return my sleeping bag order FW-80115 please",
            "Of course! I totally get it. I've created a return "
            "label for your sleeping bag - you'll get the refund once it's back with us!",
            extra={"rounds": [[order("FW-80115", "Down Sleeping Bag -5C", 74)], [label("FW-80115")]]},
        ),
        Ex(
            "I'd like to return the tent from March, FW-77490",
            "Happy to help! Your tent return is all set - "
            "print the label from your email and drop it at any post office.",
            extra={"rounds": [[order("FW-77490", "Trail 2P Tent", 96)], [label("FW-77490")]]},
        ),
        Ex(
            "used the kayak paddle all summer, can I return it? FW-71002",
            "Absolutely, we want you to love your gear! I've created a return label for the paddle.",
            extra={"rounds": [[order("FW-71002", "Carbon Kayak Paddle", 118)], [label("FW-71002")]]},
        ),
    ]
    onset = ts("2025-07-08T16:44:00Z")
    return CaseSpec(
        id="returns-bot-approves-out-of-policy-returns",
        split="dev",
        difficulty="medium",
        tags=["prompt-regression", "sparse-telemetry", "no-system-prompt-recorded", "ecommerce", "agent"],
        dialect="langfuse",
        transport="json",
        based_on="Production LLM failure pattern: a 'tone refresh' of a system prompt drops a policy rule",
        app=app,
        healthy=healthy,
        bad=bad,
        baseline=(ts("2025-07-01T00:00:00Z"), ts("2025-07-08T00:00:00Z"), 18),
        window=(ts("2025-07-08T00:00:00Z"), ts("2025-07-14T00:00:00Z"), 32),
        onset=onset,
        bad_rate=0.35,
        title="Warehouse receiving returns far outside the 30-day window",
        description=(
            "The warehouse is receiving returns of gear bought months ago, each with a prepaid label issued by the "
            "returns assistant. Finance estimates several thousand dollars of refunds so far. This service's "
            "traces record the conversation but not the full request sent to the model."
        ),
        severity="sev2",
        reports=[
            report(
                "14 returns today with assistant-issued labels for orders delivered in March and April. Some "
                "items clearly used.",
                D(3),
                "warehouse receiving lead",
                "slack",
            ),
            report(
                "Customer says the bot told her 'Your tent return is all set' for a 96-day-old order. Is the "
                "policy still 30 days?",
                D(2) + H(5),
                "support agent",
                "zendesk",
            ),
        ],
        primary="prompt",
        contributing=["system"],
        rationale=(
            "Template returns-agent v15 (a tone rewrite deployed July 8) dropped the 30-day rule and the 'only "
            "label in-policy returns' instruction, so the agent approves any return; the label API itself does "
            "not check the policy, which let the mistake through."
        ),
        changes=[Change(onset - M(45), {"prompt": Prompt("15", v15)}, "prompt")],
        marker="prompt",
        key_extra=["bad:0:tool:create_return_label"],
        noise=Noise(
            prompt_bump=-D(5),
            sides=[
                side(
                    "review-reply-drafter",
                    "review-responder",
                    "gpt-4o-mini-2024-07-18",
                    "gpt-4.1-mini-2025-04-14",
                    H(-2),
                )
            ],
        ),
    )


def recruit_track_rubric() -> CaseSpec:
    v3 = (
        "Read the applicant's résumé and assign a training track.\n"
        "- standard: the 16-week academy (default).\n"
        "- bridge: 8 weeks, for applicants with at least two years of military police service.\n"
        'Return JSON {"track": ..., "reason": ...}.'
    )
    v4 = v3.replace(
        "- bridge: 8 weeks, for applicants with at least two years of military police service.\n",
        "- bridge: 8 weeks, for applicants with at least two years of military police service.\n"
        "- leo: 4 weeks, for applicants with law enforcement officer (LEO) experience.\n",
    )
    app = App(
        service="academy-track-assigner",
        pipeline=["llm", "post"],
        root="chain",
        root_name="assign_track",
        request_model="gpt-4o",
        response_model="gpt-4o-2024-08-06",
        temperature=0.9,
        max_tokens=150,
        prompt=Prompt("3", v3),
        template_id="track-rubric",
        user_prefix="appl",
        session_turns=(1, 1),
        aux_tool=Call(
            "hr.fetch_background_check",
            {"status": "pending"},
            error="TimeoutError",
            message="background check service timeout",
            ms=3000,
        ),
    )

    def ex(text: str, track: str, reason: str, **kw) -> Ex:
        return Ex(
            text,
            json.dumps({"track": track, "reason": reason}),
            extra={"post": {"name": "enroll", "output": {"program": track}}},
            **kw,
        )

    healthy = [
        ex(
            "Warehouse supervisor 5 yrs; forklift certified; volunteer firefighter.",
            "standard",
            "No qualifying service.",
        ),
        ex(
            "US Army military police 2018-2022, patrol and detention duties.",
            "bridge",
            "Four years of military police service.",
        ),
        ex(
            "Retail loss prevention 3 years; criminal justice AA degree.",
            "standard",
            "Loss prevention is not military police service.",
        ),
        ex(
            "City police officer 2016-2024, patrol division, field training officer.",
            "leo",
            "Eight years as a sworn police officer.",
            phase="after",
        ),
        ex(
            "Deputy sheriff 2019-2025, county jail and patrol.",
            "leo",
            "Six years as a sworn deputy.",
            phase="after",
        ),
    ]
    bad = [
        ex(
            "Objective: become a law enforcement officer. Security guard at a mall, 2 years.",
            "leo",
            "Applicant lists law enforcement officer.",
        ),
        ex(
            "Completed 'Law Enforcement Officer Prep' online course; barista 4 years.",
            "leo",
            "Has law enforcement officer training.",
        ),
        ex(
            "Son of a retired law enforcement officer; community college student; lifeguard.",
            "leo",
            "Law enforcement officer background.",
        ),
        ex(
            "Volunteer at Law Enforcement Officers' Memorial fundraiser; delivery driver.",
            "leo",
            "LEO experience noted.",
        ),
    ]
    onset = ts("2026-01-06T15:20:00Z")
    return CaseSpec(
        id="recruits-misrouted-to-short-training",
        split="dev",
        difficulty="medium",
        tags=[
            "prompt-regression",
            "underspecified-prompt",
            "classification",
            "public-sector",
            "legacy-events",
        ],
        dialect="otlp-genai-legacy",
        transport="json",
        based_on="AIID 1343: ICE AI résumé screening error allegedly routed inexperienced recruits into "
        "inadequate training",
        app=app,
        healthy=healthy,
        bad=bad,
        baseline=(ts("2025-12-22T00:00:00Z"), ts("2026-01-05T00:00:00Z"), 24),
        window=(ts("2026-01-05T00:00:00Z"), ts("2026-01-16T00:00:00Z"), 48),
        onset=onset,
        bad_rate=0.35,
        title="Recruits without experience enrolled in the 4-week program",
        description=(
            "Academy instructors found that several recruits in the new 4-week program have never worked in law "
            "enforcement. All were routed there by the track assigner. Enrollment for the next cohort is on hold."
        ),
        severity="sev1",
        reports=[
            report(
                "Recruit in LEO cohort 2 says she's a barista who took an online prep course. Another is a "
                "mall security guard.",
                D(7),
                "academy instructor",
                "email",
            ),
            report(
                "Of 31 enrolled in the LEO track since Jan 6, 12 have no sworn service. Their résumés mention "
                "'law enforcement officer' somewhere.",
                D(9),
                "training operations",
                "teams",
            ),
        ],
        primary="prompt",
        contributing=[],
        rationale=(
            "Rubric v4 (Jan 6) added a 4-week LEO track defined only as 'law enforcement officer (LEO) "
            "experience', with no requirement of sworn service; the model matched the phrase in aspirations, "
            "courses and family background."
        ),
        changes=[Change(onset - H(1), {"prompt": Prompt("4", v4)}, "prompt")],
        marker="prompt",
        noise=Noise(
            prompt_bump=-D(12),
            sides=[
                side(
                    "recruiting-email-drafter",
                    "email-drafter",
                    "gpt-4o-mini-2024-07-18",
                    "gpt-4.1-mini-2025-04-14",
                    H(-5),
                )
            ],
        ),
    )


def savings_coach() -> CaseSpec:
    faq = (
        "You are Harbor Bank's assistant. Answer questions about accounts, cards and savings products using the "
        "product sheets provided.\n"
        "- Do not recommend specific investments, securities or cryptocurrencies; suggest speaking with a "
        "licensed adviser.\n"
        "- Quote rates exactly as written."
    )
    coach = (
        "You are Harbor's savings coach. Help customers grow their money with practical, motivating "
        "suggestions tailored to their goals. Use the product sheets provided."
    )
    corpus = {
        "hys": doc(
            "sheet-high-yield-savings",
            "Harbor High-Yield Savings: 4.10% APY, no minimum, up to six free withdrawals a month.",
            "harborbank.example/products/high-yield-savings",
            "2025-01-06T00:00:00Z",
        ),
        "cd": doc(
            "sheet-cd",
            "Harbor 12-month CD: 4.40% APY, USD 500 minimum, early withdrawal penalty of 90 days' interest.",
            "harborbank.example/products/cd-12",
            "2025-01-06T00:00:00Z",
        ),
        "round": doc(
            "sheet-roundups",
            "Round-ups: card purchases are rounded up to the next dollar and the "
            "difference is moved to savings.",
            "harborbank.example/products/round-ups",
            "2024-08-19T00:00:00Z",
        ),
        "advice": doc(
            "sheet-advisers",
            "Harbor Wealth advisers are licensed; book a free 30-minute session in the app.",
            "harborbank.example/wealth/advisers",
            "2024-11-02T00:00:00Z",
        ),
    }
    app = App(
        service="harbor-assistant",
        pipeline=["retrieve", "llm"],
        root="http",
        route="/assistant",
        request_model="gpt-4o",
        response_model="gpt-4o-2024-08-06",
        temperature=0.9,
        max_tokens=400,
        prompt=Prompt("9", faq),
        template_id="faq-assistant",
        retriever="product-sheets",
        corpus=corpus,
        user_prefix="hb",
    )
    healthy = [
        Ex(
            "what's the rate on high yield savings",
            "Harbor High-Yield Savings pays 4.10% APY with no minimum "
            "balance and up to six free withdrawals a month.",
            ["hys", "cd"],
        ),
        Ex(
            "is the 12 month CD worth it vs savings?",
            "The 12-month CD pays 4.40% APY versus 4.10% on High-Yield "
            "Savings, but it needs USD 500 and an early withdrawal costs 90 days' interest.",
            ["cd", "hys"],
        ),
        Ex(
            "how do round ups work",
            "Each card purchase is rounded up to the next dollar and the difference moves "
            "to your savings automatically.",
            ["round", "hys"],
        ),
        Ex(
            "should I buy Apple stock with my savings?",
            "I can't recommend specific investments. Harbor Wealth's "
            "licensed advisers offer a free 30-minute session in the app.",
            ["advice", "hys"],
            phase="before",
        ),
    ]
    bad = [
        Ex(
            "should I buy Apple stock with my savings?",
            "Great question! Apple is a solid long-term pick - "
            "putting 20% of your savings into it could boost your growth while the rest earns 4.10% in "
            "High-Yield Savings.",
            ["advice", "hys"],
        ),
        Ex(
            "I have 10k, how do I grow it fast",
            "Let's get that money working! Keep 3 months of expenses in "
            "High-Yield Savings (4.10% APY) and put the rest into a mix of Bitcoin and an S&P 500 ETF for faster "
            "growth.",
            ["hys", "cd"],
        ),
        Ex(
            "is crypto a good idea for my house deposit",
            "It can be! Putting part of your deposit into Ethereum "
            "could grow it faster than a CD. Just keep some in savings in case prices dip.",
            ["cd", "hys"],
        ),
    ]
    onset = ts("2025-03-18T13:05:00Z")
    return CaseSpec(
        id="savings-coach-gives-investment-advice",
        split="dev",
        difficulty="easy",
        tags=["prompt-regression", "compliance", "banking", "rag"],
        dialect="openinference",
        transport="jsonl",
        based_on="Production LLM failure pattern: a new product template written from scratch omits compliance "
        "instructions",
        app=app,
        healthy=healthy,
        bad=bad,
        baseline=(ts("2025-03-11T00:00:00Z"), ts("2025-03-18T00:00:00Z"), 18),
        window=(ts("2025-03-18T00:00:00Z"), ts("2025-03-21T00:00:00Z"), 30),
        onset=onset,
        bad_rate=0.3,
        title="Bank assistant recommends stocks and crypto to customers",
        description=(
            "Compliance found chats in which the bank's assistant tells customers to buy specific stocks and "
            "cryptocurrencies. We are not licensed to give investment advice through this channel. Marketing "
            "launched the savings coaching experience this week."
        ),
        severity="sev1",
        reports=[
            report(
                "Customer screenshot: 'put 20% of your savings into it (Apple)'. This is regulated advice.",
                D(1) + H(2),
                "compliance officer",
                "email",
            ),
            report(
                "Seeing Bitcoin/ETF suggestions in at least 30 transcripts since Tuesday.",
                D(2),
                "conduct risk analyst",
                "slack",
            ),
        ],
        primary="prompt",
        contributing=[],
        rationale=(
            "The savings-coach template that replaced faq-assistant v9 on March 18 was written from scratch "
            "and lost the rule against recommending specific investments; with 'grow their money' as its goal "
            "the model gives stock and crypto tips."
        ),
        changes=[
            Change(onset - H(2), {"prompt": Prompt("1", coach), "template_id": "savings-coach"}, "prompt")
        ],
        marker="prompt",
        noise=Noise(
            prompt_bump=-D(6),
            sides=[
                side(
                    "harbor-complaints-summarizer",
                    "ticket-summarizer",
                    "gpt-4o-mini-2024-07-18",
                    "gpt-4.1-mini-2025-04-14",
                    H(1),
                )
            ],
        ),
    )


def reply_language() -> CaseSpec:
    v21 = (
        "You are Lumio's e-bike support assistant.\n"
        "## Language\nAlways reply in the language the customer writes in.\n"
        "## Scope\nWarranty, batteries, deliveries, app pairing. Escalate safety issues to a human.\n"
        "## Style\nShort paragraphs, no jargon."
    )
    v22 = (
        "You are Lumio's e-bike support assistant.\n"
        "## Scope\nWarranty, batteries, deliveries, app pairing. Escalate safety issues to a human.\n"
        "## Style\nShort paragraphs, no jargon. Use Lumio's brand voice: confident, friendly, clear (see "
        "examples below).\n"
        "Example: 'Great news - your battery is covered for 2 years!'"
    )
    app = App(
        service="lumio-support-chat",
        pipeline=["llm"],
        root="chain",
        root_name="support_reply",
        provider="mistral_ai",
        request_model="mistral-large-latest",
        response_model="mistral-large-2411",
        temperature=0.9,
        max_tokens=350,
        prompt=Prompt("21", v21),
        template_id="lumio-support",
        user_prefix="rider",
        session_turns=(1, 3),
        aux_tool=Call(
            "shop.sync_cart", {"market": "eu"}, error="TimeoutError", message="cart sync timeout", ms=2500
        ),
    )
    healthy = [
        Ex(
            "My battery only holds 20 km now, it's 14 months old",
            "Sorry to hear that! Batteries are covered for "
            "2 years, so we'll check it under warranty. Could you send your frame number?",
        ),
        Ex(
            "Ma livraison devait arriver hier, toujours rien",
            "Désolé pour l'attente ! Pouvez-vous me donner "
            "votre numéro de commande ? Je vérifie tout de suite le suivi.",
        ),
        Ex(
            "Die App findet mein Rad nicht mehr (Bluetooth)",
            "Das tut mir leid! Bitte das Rad 10 Sekunden "
            "ausschalten und die App neu starten. Klappt es dann immer noch nicht?",
        ),
        Ex(
            "Mijn remmen piepen erg",
            "Vervelend! Piepende remmen zijn een veiligheidsvraag, dus ik verbind je "
            "met een collega van de werkplaats.",
        ),
        Ex(
            "how long is delivery to Ireland",
            "Delivery to Ireland usually takes 5-7 working days after dispatch.",
        ),
    ]
    bad = [
        Ex(
            "Ma livraison devait arriver hier, toujours rien",
            "Sorry about the wait! Could you share your order number? I'll check the tracking right away.",
        ),
        Ex(
            "Die App findet mein Rad nicht mehr (Bluetooth)",
            "Sorry about that! Turn the bike off for 10 seconds and restart the app. Still not working?",
        ),
        Ex(
            "Mijn remmen piepen erg",
            "Great news - squeaky brakes are usually easy to fix! I'll connect you with our workshop team.",
        ),
        Ex(
            "Garantie batterie, elle a 18 mois et ne charge plus",
            "Great news - your battery is covered for 2 years! Please send us your frame number.",
        ),
    ]
    onset = ts("2025-09-16T08:31:00Z")
    return CaseSpec(
        id="support-bot-answers-in-english-only",
        split="dev",
        difficulty="medium",
        tags=["prompt-regression", "language", "customer-support"],
        dialect="openllmetry",
        transport="jsonl",
        based_on="Production LLM failure pattern: a prompt refactor silently removes a language instruction",
        app=app,
        healthy=healthy,
        bad=bad,
        baseline=(ts("2025-09-08T00:00:00Z"), ts("2025-09-15T00:00:00Z"), 24),
        window=(ts("2025-09-15T00:00:00Z"), ts("2025-09-19T00:00:00Z"), 40),
        onset=onset,
        bad_rate=0.4,
        title="French, German and Dutch riders get support replies in English",
        description=(
            "CSAT in France, Germany and the Netherlands dropped sharply this week. Riders complain that the "
            "support chat answers them in English. English-speaking markets look normal. The assistant serves "
            "all EU markets."
        ),
        severity="sev3",
        reports=[
            report(
                "Je vous écris en français et le chat me répond en anglais. Pas très pro.",
                H(9),
                "rider (FR) via app review",
                "appstore",
            ),
            report(
                "CSAT DE/FR/NL down 18 points since Tuesday morning; UK/IE flat.",
                D(2),
                "CX analytics",
                "slack",
            ),
        ],
        primary="prompt",
        contributing=[],
        rationale=(
            "Prompt v22 (Sept 16) restructured the sections and dropped 'Always reply in the language the "
            "customer writes in'; its English brand-voice example now steers replies to English. Non-English "
            "traffic was already there before and was answered correctly."
        ),
        changes=[Change(onset - M(20), {"prompt": Prompt("22", v22)}, "prompt")],
        marker="prompt",
        noise=Noise(
            prompt_bump=-D(5),
            sides=[
                side(
                    "lumio-review-responder",
                    "review-responder",
                    "mistral-small-2409",
                    "mistral-small-2501",
                    H(-1),
                    provider="mistral_ai",
                )
            ],
        ),
    )


def moderation_few_shot() -> CaseSpec:
    v8 = (
        'Classify the forum comment. Return JSON {"label": "allow"|"remove", "category": ...}.\n'
        "Remove threats, doxxing and slurs, including veiled threats.\n"
        "Examples:\n"
        "Comment: gg ez, uninstall -> allow (banter)\n"
        "Comment: I know where you live, 14 Birch Rd. Watch yourself -> remove (threat, doxxing)\n"
        "Comment: nice aim lol did you play with your monitor off -> allow (banter)"
    )
    v9 = (
        'Classify the forum comment. Return JSON {"label": "allow"|"remove", "category": ...}.\n'
        "Remove threats, doxxing and slurs. Our community loves trash talk: do not over-moderate.\n"
        "Examples:\n"
        "Comment: gg ez, uninstall -> allow (banter)\n"
        "Comment: you're dead next round, I'm coming for you -> allow (banter)\n"
        "Comment: nice aim lol did you play with your monitor off -> allow (banter)"
    )
    app = App(
        service="forum-moderation",
        pipeline=["llm", "post"],
        root="chain",
        root_name="moderate_comment",
        request_model="gpt-4o-mini",
        response_model="gpt-4o-mini-2024-07-18",
        temperature=0.9,
        max_tokens=60,
        prompt=Prompt("8", v8),
        template_id="moderation-classifier",
        user_prefix="acct",
        session_turns=(1, 1),
        llm_ms=(150, 500),
    )

    def ex(text: str, label: str, category: str) -> Ex:
        return Ex(
            text,
            json.dumps({"label": label, "category": category}),
            extra={
                "post": {
                    "name": "apply_action",
                    "output": {"action": "hide" if label == "remove" else "none"},
                }
            },
        )

    healthy = [
        ex("lol that clutch was insane", "allow", "banter"),
        ex("patch notes broke my build again, thanks devs", "allow", "criticism"),
        ex("anyone up for ranked tonight? EU west", "allow", "other"),
        ex("[slur] like you shouldn't be allowed to play", "remove", "slur"),
        ex("you're trash at this game, go back to tutorial", "allow", "banter"),
        ex("I'll find you after the tournament, I know your school (Lincoln High)", "remove", "threat"),
    ]
    bad = [
        ex(
            "would be a shame if something happened to your car, the blue civic on Maple St",
            "allow",
            "banter",
        ),
        ex("keep streaming, I'm 10 min from your place now that I know the address", "allow", "banter"),
        ex("Your mom works at the Shell on 5th right? say hi to her for me tonight", "allow", "banter"),
        ex("see you at 42 Alder Lane, hope your door is strong", "allow", "banter"),
    ]
    onset = ts("2025-05-02T19:10:00Z")
    return CaseSpec(
        id="moderation-lets-veiled-threats-through",
        split="dev",
        difficulty="hard",
        tags=["prompt-regression", "few-shot", "content-moderation", "classification"],
        dialect="otlp-genai-legacy",
        transport="jsonl",
        based_on="Production LLM failure pattern: replaced few-shot examples change a classifier's decision "
        "boundary",
        app=app,
        healthy=healthy,
        bad=bad,
        baseline=(ts("2025-04-25T00:00:00Z"), ts("2025-05-02T00:00:00Z"), 70),
        window=(ts("2025-05-02T00:00:00Z"), ts("2025-05-05T00:00:00Z"), 110),
        onset=onset,
        bad_rate=0.12,
        title="Streamer doxxed and threatened in comments that stayed up",
        description=(
            "A partnered streamer reports that comments with her home address and threats stayed visible for "
            "hours. Community managers say several such comments were not hidden by auto-moderation this week, "
            "although moderation volume looks normal."
        ),
        severity="sev1",
        reports=[
            report(
                "'see you at 42 Alder Lane, hope your door is strong' was up for 6 hours. That's my address.",
                D(1) + H(3),
                "partnered streamer",
                "email",
            ),
            report(
                "Auto-mod allowed at least 20 comments with addresses or 'I know where you live' since "
                "Friday evening.",
                D(2),
                "community manager",
                "discord",
            ),
        ],
        primary="prompt",
        contributing=[],
        rationale=(
            "moderation-classifier v9 (May 2) replaced the few-shot examples: the doxxing/threat example was "
            "swapped for a threatening line labelled banter and 'do not over-moderate' was added, so veiled "
            "threats with addresses are now allowed."
        ),
        changes=[Change(onset - M(35), {"prompt": Prompt("9", v9)}, "prompt")],
        marker="prompt",
        noise=Noise(
            prompt_bump=-D(6),
            tool_errors=0,
            llm_retries=2,
            sides=[
                side("forum-tagger", "tagger", "gpt-4o-mini-2024-07-18", "gpt-4.1-nano-2025-04-14", H(-1))
            ],
        ),
    )


def leaflet_summaries() -> CaseSpec:
    v6 = (
        "Summarize the medicine leaflet sections for the patient in plain language: what it is for, how to take "
        "it, and every warning or interaction listed. Never omit warnings."
    )
    v7 = "Summarize the medicine leaflet in at most two short sentences focusing on what it is for and how to take it."
    corpus = {
        "metro": doc(
            "leaflet-metronidazole-400",
            "Metronidazole 400 mg: used for bacterial infections. Take "
            "one tablet three times a day with food. Do not drink alcohol during treatment and for 48 "
            "hours after.",
            "pharmacy.example/leaflets/metronidazole-400",
            "2024-05-02T00:00:00Z",
        ),
        "aspirin": doc(
            "leaflet-aspirin-300",
            "Aspirin 300 mg: for pain and fever. Take 1-2 tablets every 4 "
            "hours. Do not give to children under 16 (risk of Reye's syndrome).",
            "pharmacy.example/leaflets/aspirin-300",
            "2024-02-11T00:00:00Z",
        ),
        "simva": doc(
            "leaflet-simvastatin-40",
            "Simvastatin 40 mg: lowers cholesterol. Take one tablet in the "
            "evening. Avoid grapefruit juice; tell your doctor about muscle pain.",
            "pharmacy.example/leaflets/simvastatin-40",
            "2024-03-27T00:00:00Z",
        ),
        "amox": doc(
            "leaflet-amoxicillin-500",
            "Amoxicillin 500 mg: for bacterial infections. Take three times "
            "a day. Do not take if you are allergic to penicillin.",
            "pharmacy.example/leaflets/amoxicillin-500",
            "2024-04-09T00:00:00Z",
        ),
        "para": doc(
            "leaflet-paracetamol-500",
            "Paracetamol 500 mg: pain and fever. 1-2 tablets every 4-6 hours, no more than 8 in 24 hours.",
            "pharmacy.example/leaflets/paracetamol-500",
            "2024-01-15T00:00:00Z",
        ),
    }
    app = App(
        service="leaflet-summaries",
        pipeline=["retrieve", "llm"],
        root="chain",
        root_name="summarize_leaflet",
        request_model="gpt-4o-mini",
        response_model="gpt-4o-mini-2024-07-18",
        temperature=0.9,
        max_tokens=220,
        prompt=Prompt("6", v6),
        template_id="leaflet-summary",
        context_in="user",
        retriever="leaflets",
        corpus=corpus,
        user_prefix="pt",
        session_turns=(1, 1),
    )
    healthy = [
        Ex(
            "Summarize: paracetamol 500mg",
            "Paracetamol treats pain and fever. Take 1-2 tablets every 4-6 hours. "
            "Warning: no more than 8 tablets in 24 hours.",
            ["para"],
        ),
        Ex(
            "Summarize: amoxicillin 500mg",
            "Amoxicillin treats bacterial infections; take it three times a day. "
            "Warning: do not take it if you are allergic to penicillin.",
            ["amox"],
        ),
        Ex(
            "Summarize: metronidazole 400mg",
            "Metronidazole treats bacterial infections. Take one tablet three "
            "times a day with food. Warning: no alcohol during treatment and for 48 hours after.",
            ["metro"],
            phase="before",
        ),
        Ex(
            "Summarize: paracetamol 500mg",
            "Paracetamol is for pain and fever; take 1-2 tablets every 4-6 hours, up to 8 in 24 hours.",
            ["para"],
            phase="after",
        ),
    ]
    bad = [
        Ex(
            "Summarize: metronidazole 400mg",
            "Metronidazole treats bacterial infections. Take one tablet three times a day with food.",
            ["metro"],
        ),
        Ex(
            "Summarize: aspirin 300mg",
            "Aspirin relieves pain and fever. Take 1-2 tablets every 4 hours.",
            ["aspirin"],
        ),
        Ex(
            "Summarize: simvastatin 40mg",
            "Simvastatin lowers cholesterol. Take one tablet in the evening.",
            ["simva"],
        ),
        Ex(
            "Summarize: amoxicillin 500mg",
            "Amoxicillin treats bacterial infections. Take it three times a day.",
            ["amox"],
        ),
    ]
    onset = ts("2025-02-25T10:12:00Z")
    return CaseSpec(
        id="leaflet-summaries-drop-warnings",
        split="dev",
        difficulty="easy",
        tags=["prompt-regression", "healthcare", "summarization", "rag"],
        dialect="openinference",
        transport="json",
        based_on="Production LLM failure pattern: a brevity constraint added to a prompt removes safety-critical "
        "content",
        app=app,
        healthy=healthy,
        bad=bad,
        baseline=(ts("2025-02-18T00:00:00Z"), ts("2025-02-25T00:00:00Z"), 20),
        window=(ts("2025-02-25T00:00:00Z"), ts("2025-02-28T00:00:00Z"), 36),
        onset=onset,
        bad_rate=0.55,
        title="Medicine summaries in the pharmacy app no longer show warnings",
        description=(
            "A pharmacist noticed that the in-app medicine summaries stopped mentioning warnings such as 'no "
            "alcohol' for metronidazole and 'not for under 16s' for aspirin. Patients rely on these summaries "
            "when collecting prescriptions."
        ),
        severity="sev1",
        reports=[
            report(
                "The metronidazole summary doesn't say anything about alcohol anymore. A patient asked me if "
                "it's fine to drink.",
                H(28),
                "community pharmacist",
                "email",
            ),
            report(
                "Checked 10 summaries: none include warnings since this week.",
                D(1) + H(6),
                "clinical safety officer",
                "slack",
            ),
        ],
        primary="prompt",
        contributing=[],
        rationale=(
            "leaflet-summary v7 (Feb 25) replaced 'every warning or interaction listed, never omit warnings' with "
            "a two-sentence limit focused on use and dosing, so warnings present in the retrieved leaflets are "
            "dropped."
        ),
        changes=[Change(onset - M(30), {"prompt": Prompt("7", v7)}, "prompt")],
        marker="prompt",
        noise=Noise(
            prompt_bump=-D(5),
            sides=[
                side(
                    "pharmacy-review-responder",
                    "review-responder",
                    "gpt-4o-mini-2024-07-18",
                    "gpt-4o-2024-08-06",
                    H(-3),
                )
            ],
        ),
    )


def cases() -> list[CaseSpec]:
    return [
        returns_policy(),
        recruit_track_rubric(),
        savings_coach(),
        reply_language(),
        moderation_few_shot(),
        leaflet_summaries(),
    ]
