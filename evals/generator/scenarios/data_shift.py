"""Input distribution shift: new markets, languages, hardware or conditions the application was not built for."""

from __future__ import annotations

import json

from evals.generator.scenarios._kit import D, H, doc, report, side, ts
from evals.generator.spec import App, Call, CaseSpec, Ex, Noise, Prompt


def home_offers() -> CaseSpec:
    system = (
        "You price cash offers for Homestead Offers. Call get_comps for the address, then propose an offer "
        "price: comps median, adjusted by the market trend, minus 6% for repairs and margin. One paragraph."
    )
    app = App(
        service="offer-pricing-assistant",
        pipeline=["llm"],
        root="agent",
        root_name="price_offer",
        request_model="gpt-4",
        response_model="gpt-4-0613",
        temperature=0.9,
        max_tokens=300,
        prompt=Prompt("9", system),
        template_id="offer-pricing",
        tools_desc={"get_comps": "Comparable sales and market trend for an address (vendor feed)."},
        user_prefix="acq",
        aux_tool=Call(
            "crm.log_offer", {"stage": "draft"}, error="TimeoutError", message="crm timeout", ms=1800
        ),
    )

    def comps(address: str, median: int, trend: float, as_of: str) -> list[Call]:
        return [
            Call(
                "get_comps",
                {"address": address},
                {"comps_median_usd": median, "trend_pct_month": trend, "as_of": as_of, "n_comps": 6},
            )
        ]

    healthy = [
        Ex(
            "Price 4120 W Mesa Dr, Phoenix 85031",
            "Comps median USD 402,000 with a +1.1%/month trend; after the "
            "6% repair and margin deduction I'd offer USD 382,000.",
            tools=comps("4120 W Mesa Dr, Phoenix", 402000, 1.1, "2021-07-28"),
            phase="before",
        ),
        Ex(
            "Price 77 Juniper Ct, Mesa 85203",
            "Comps median USD 455,000, trend +1.4%/month; offer USD 434,000 after the 6% deduction.",
            tools=comps("77 Juniper Ct, Mesa", 455000, 1.4, "2021-07-29"),
            phase="before",
        ),
        Ex(
            "Price 1502 Sage Ln, Tempe 85281",
            "Comps median USD 510,000, trend +0.9%/month; offer USD 484,000.",
            tools=comps("1502 Sage Ln, Tempe", 510000, 0.9, "2021-07-30"),
            phase="before",
        ),
        Ex(
            "what's our repair deduction again?",
            "We deduct 6% from the trend-adjusted comps median for repairs and margin.",
        ),
        Ex(
            "Price 230 E Grove St, Chandler 85225",
            "Comps median USD 468,000, trend +0.2%/month; offer USD 441,000.",
            tools=comps("230 E Grove St, Chandler", 468000, 0.2, "2021-07-31"),
            phase="after",
        ),
    ]
    bad = [
        Ex(
            "Price 9 Pinnacle Vista, Scottsdale 85255",
            "Comps median USD 1,120,000 with a strong +1.8%/month "
            "trend; projecting two months ahead and deducting 6%, offer USD 1,091,000.",
            tools=comps("9 Pinnacle Vista, Scottsdale", 1120000, 1.8, "2021-07-31"),
            cause="tool",
        ),
        Ex(
            "Price 1840 N Dove Rd, Gilbert 85233",
            "Comps median USD 598,000, trend +1.6%/month; with the "
            "appreciation projection the offer is USD 612,000.",
            tools=comps("1840 N Dove Rd, Gilbert", 598000, 1.6, "2021-07-31"),
            cause="tool",
        ),
        Ex(
            "Price 315 Canyon View, Peoria 85383",
            "Comps median USD 640,000 and rising 1.7% a month; offer USD 623,000 to stay competitive.",
            tools=comps("315 Canyon View, Peoria", 640000, 1.7, "2021-07-31"),
            cause="tool",
        ),
    ]
    return CaseSpec(
        id="home-offers-priced-on-frozen-comps",
        split="dev",
        difficulty="hard",
        tags=["stale-upstream-data", "market-shift", "real-estate", "agent"],
        dialect="langfuse",
        transport="jsonl",
        based_on="AIID 149: Zillow shut down Zillow Offers, its pricing tool allegedly not accurate enough",
        app=app,
        healthy=healthy,
        bad=bad,
        baseline=(ts("2021-07-20T00:00:00Z"), ts("2021-08-01T00:00:00Z"), 18),
        window=(ts("2021-08-01T00:00:00Z"), ts("2021-09-15T00:00:00Z"), 40),
        onset=ts("2021-08-03T16:20:00Z"),
        bad_rate=0.5,
        title="Homes bought since August are reselling at a loss",
        description=(
            "Resale desk reports that homes purchased since early August are listing 5-9% below what we paid, "
            "worst in high-end zip codes. The pricing assistant produced every offer. Finance wants to know "
            "whether offers were systematically too high and why."
        ),
        severity="sev1",
        reports=[
            report(
                "9 Pinnacle Vista: bought at 1.09M, best listing comps now 1.01M. Third one like this.",
                D(30),
                "resale desk lead",
                "email",
            ),
            report(
                "Local MLS shows prices flat to falling since late July; our offers keep adding +1.6-1.8%/month "
                "appreciation.",
                D(33),
                "market analyst",
                "slack",
            ),
        ],
        primary="data",
        contributing=["model"],
        rationale=(
            "The comps vendor feed stopped updating after July 31: every get_comps result since August carries "
            "as_of 2021-07-31 and the hot-market trend, while prices were flattening. The model compounded the "
            "stale trend by projecting appreciation forward on high-end homes."
        ),
        noise=Noise(
            prompt_bump=-D(9),
            sides=[
                side("acq-meeting-notes", "meeting-notes", "gpt-3.5-turbo-0301", "gpt-3.5-turbo-0613", H(-8))
            ],
        ),
    )


def quebec_launch() -> CaseSpec:
    corpus = {
        "plans_on": doc(
            "plans-on",
            "Ontario plans: Basic 25 (USD 25, 10 GB), Plus 45 (USD 45, 50 GB). Prices in CAD before tax.",
            "nordline.example/en/plans/on",
            "2024-09-01T00:00:00Z",
        ),
        "esim": doc(
            "esim-setup",
            "To activate an eSIM: Settings > Cellular > Add eSIM, then scan the QR code "
            "from your welcome email.",
            "nordline.example/en/help/esim",
            "2024-06-12T00:00:00Z",
        ),
        "roaming": doc(
            "roaming-us",
            "US roaming add-on: CAD 8/day, capped at CAD 80/month.",
            "nordline.example/en/help/roaming",
            "2024-08-05T00:00:00Z",
        ),
        "support": doc(
            "support-lines",
            "Call 1-888-555-0100 (English) Mon-Sun 8am-10pm ET.",
            "nordline.example/en/contact",
            "2024-03-03T00:00:00Z",
        ),
        "port": doc(
            "number-port",
            "Keep your number: give us your old carrier account number and PIN at checkout.",
            "nordline.example/en/help/port",
            "2024-05-20T00:00:00Z",
        ),
    }
    system = (
        "You are Nordline Mobile's support assistant. Answer using the help articles provided. Reply in the "
        "customer's language. If the articles don't answer the question, offer a callback."
    )
    app = App(
        service="nordline-support-bot",
        pipeline=["embed", "retrieve", "llm"],
        root="http",
        route="/support/chat",
        request_model="gpt-4o-mini",
        response_model="gpt-4o-mini-2024-07-18",
        temperature=1.0,
        max_tokens=350,
        prompt=Prompt("17", system),
        template_id="nordline-support",
        retriever="help-en",
        corpus=corpus,
        user_prefix="sub",
        aux_tool=Call(
            "billing.get_balance", {"account": "masked"}, error="503", message="billing-api 503", ms=300
        ),
    )
    healthy = [
        Ex(
            "how do I set up esim on iphone",
            "Go to Settings > Cellular > Add eSIM and scan the QR code from your welcome email.",
            ["esim", "port"],
        ),
        Ex(
            "cost of roaming in the US?",
            "The US roaming add-on is CAD 8 per day, capped at CAD 80 a month.",
            ["roaming", "plans_on"],
        ),
        Ex(
            "what plans do you have in Toronto",
            "In Ontario we have Basic 25 (10 GB) and Plus 45 (50 GB), prices in CAD before tax.",
            ["plans_on", "roaming"],
        ),
        Ex(
            "can I keep my number from Rogers",
            "Yes - enter your old carrier account number and PIN at checkout and we'll port it.",
            ["port", "esim"],
        ),
        Ex(
            "Comment activer ma eSIM?",
            "Allez dans Réglages > Données cellulaires > Ajouter une eSIM, puis "
            "scannez le code QR de votre courriel de bienvenue.",
            ["esim", "port"],
            scores=[0.63, 0.51],
            phase="after",
        ),
    ]
    bad = [
        Ex(
            "Quels sont vos forfaits à Montréal?",
            "Nous offrons Basic 25 (10 Go) et Plus 45 (50 Go), prix en dollars avant taxes.",
            ["plans_on", "roaming"],
            scores=[0.44, 0.38],
            cause="retrieval",
        ),
        Ex(
            "Est-ce que je peux parler à un agent en français?",
            "Vous pouvez appeler le 1-888-555-0100, du lundi au dimanche de 8 h à 22 h HE.",
            ["support", "port"],
            scores=[0.41, 0.33],
            cause="retrieval",
        ),
        Ex(
            "Le forfait inclut-il les appels vers la France?",
            "Oui, tous nos forfaits incluent les appels internationaux vers la France.",
            ["plans_on"],
            scores=[0.36],
            cause="retrieval",
        ),
        Ex(
            "Combien coûte l'itinérance au Canada hors Québec?",
            "L'itinérance coûte 8 $ par jour, plafonnée à 80 $ par mois.",
            ["roaming", "plans_on"],
            scores=[0.42, 0.39],
            cause="retrieval",
        ),
    ]
    onset = ts("2024-10-01T12:18:00Z")
    return CaseSpec(
        id="telco-bot-quebec-launch-wrong-answers",
        split="dev",
        difficulty="hard",
        tags=["distribution-shift", "new-market", "language", "rag"],
        dialect="otlp-genai",
        transport="json",
        based_on="Production LLM failure pattern: a market launch brings inputs the retrieval index does not cover",
        app=app,
        healthy=healthy,
        bad=bad,
        baseline=(ts("2024-09-24T00:00:00Z"), ts("2024-10-01T00:00:00Z"), 18),
        window=(ts("2024-10-01T00:00:00Z"), ts("2024-10-04T00:00:00Z"), 36),
        onset=onset,
        bad_rate=0.4,
        title="New Quebec customers get wrong plan and support answers",
        description=(
            "Since Tuesday, complaints from Quebec: the support bot quotes plans and prices customers can't buy "
            "and sends French speakers to an English-only phone line. The Quebec launch went live Tuesday "
            "morning. Product also tweaked the bot's tone that morning."
        ),
        severity="sev2",
        reports=[
            report(
                "Le robot m'a donné des forfaits qui n'existent pas au Québec et un numéro anglophone.",
                H(7),
                "customer (Montréal)",
                "appstore",
            ),
            report(
                "Quebec plans are Essentiel 30 / Illimité 55 - bot keeps saying Basic 25 / Plus 45.",
                D(1),
                "Quebec launch PM",
                "slack",
            ),
        ],
        primary="data",
        contributing=[],
        rationale=(
            "The Quebec launch brought French questions about Quebec plans, but the index holds only English "
            "Ontario-era articles: retrieval returns low-scoring, wrong-market documents and the model answers "
            "from them. The tone tweak that morning is cosmetic."
        ),
        noise=Noise(
            prompt_bump=onset - H(3) - ts("2024-10-01T00:00:00Z"),
            sides=[
                side(
                    "nordline-review-responder",
                    "review-responder",
                    "gpt-4o-mini-2024-07-18",
                    "gpt-4o-2024-08-06",
                    H(1),
                )
            ],
        ),
    )


def drive_thru() -> CaseSpec:
    system = (
        "Turn the drive-thru transcript into an order for Patty Lane. Output JSON {items: [{name, qty, mods}]}. "
        "Only menu items. Ask to confirm when unsure."
    )
    app = App(
        service="drive-thru-order-agent",
        pipeline=["asr", "llm", "post"],
        root="chain",
        root_name="take_order",
        request_model="gpt-4o-mini",
        response_model="gpt-4o-mini-2024-07-18",
        temperature=0.9,
        max_tokens=200,
        prompt=Prompt("6", system),
        template_id="order-parser",
        user_prefix="lane",
        session_turns=(1, 1),
        llm_ms=(300, 900),
    )

    def order(items: list, store: str, conf: float, **kw) -> dict:
        return {
            "asr": {"confidence": conf, "lane": "lane-1", "vendor": "voicestack"},
            "root_attrs": {"store.id": store},
            "post": {"name": "pos.submit_order", "output": {"store": store, "lines": len(items)}},
            **kw,
        }

    def ex(transcript: str, items: list, store: str, conf: float, **kw) -> Ex:
        return Ex(transcript, json.dumps({"items": items}), extra=order(items, store, conf), **kw)

    healthy = [
        ex(
            "hi can i get a number two with a coke and a small fries",
            [{"name": "Combo 2", "qty": 1, "mods": ["coke"]}, {"name": "Fries S", "qty": 1, "mods": []}],
            "PL-0412",
            0.95,
        ),
        ex(
            "two cheeseburgers no pickles and a large sweet tea",
            [
                {"name": "Cheeseburger", "qty": 2, "mods": ["no pickles"]},
                {"name": "Sweet Tea L", "qty": 1, "mods": []},
            ],
            "PL-0388",
            0.93,
        ),
        ex("just a vanilla cone please", [{"name": "Vanilla Cone", "qty": 1, "mods": []}], "PL-0412", 0.97),
        ex(
            "ten piece nuggets with bbq sauce",
            [{"name": "Nuggets 10pc", "qty": 1, "mods": ["bbq"]}],
            "PL-0401",
            0.94,
        ),
        ex(
            "a chicken sandwich and a water",
            [{"name": "Chicken Sandwich", "qty": 1, "mods": []}, {"name": "Water", "qty": 1, "mods": []}],
            "PL-0917",
            0.91,
            phase="after",
        ),
    ]
    bad = [
        ex(
            "uh can i get a ah nine nuggets sweet tea sweet tea no ice uh",
            [
                {"name": "Nuggets 10pc", "qty": 1, "mods": []},
                {"name": "Sweet Tea L", "qty": 9, "mods": ["no ice"]},
            ],
            "PL-0917",
            0.58,
        ),
        ex(
            "two to go burgers plain [inaudible] shake shake vanilla",
            [
                {"name": "Cheeseburger", "qty": 22, "mods": ["plain"]},
                {"name": "Vanilla Shake", "qty": 2, "mods": []},
            ],
            "PL-0921",
            0.52,
        ),
        ex(
            "fries for the kids for uh four kids meals",
            [{"name": "Fries S", "qty": 4, "mods": []}, {"name": "Kids Meal", "qty": 44, "mods": []}],
            "PL-0917",
            0.49,
        ),
        ex(
            "ice cream ice cream with bacon [noise] no just the one",
            [{"name": "Vanilla Cone", "qty": 2, "mods": ["bacon"]}],
            "PL-0926",
            0.55,
        ),
    ]
    for item in bad:
        item.cause = "asr"
    return CaseSpec(
        id="drive-thru-orders-garbled-at-pilot-stores",
        split="dev",
        difficulty="medium",
        tags=["distribution-shift", "upstream-asr", "voice", "restaurants"],
        dialect="otlp-genai-legacy",
        transport="jsonl",
        based_on="AIID 475: McDonald's ended its AI drive-thru ordering test after order errors",
        app=app,
        healthy=healthy,
        bad=bad,
        baseline=(ts("2024-06-03T00:00:00Z"), ts("2024-06-10T00:00:00Z"), 34),
        window=(ts("2024-06-10T00:00:00Z"), ts("2024-06-13T00:00:00Z"), 60),
        onset=ts("2024-06-10T16:05:00Z"),
        bad_rate=0.3,
        title="Absurd drive-thru orders (9 sweet teas, 44 kids meals)",
        description=(
            "Videos of drive-thru orders with absurd quantities are circulating. Store managers in the new "
            "pilot region say crews are voiding many orders by hand. Stores in the original pilot seem fine."
        ),
        severity="sev2",
        reports=[
            report(
                "Customer asked for nuggets and a sweet tea, screen showed 9 sweet teas. Happening a lot "
                "since Monday.",
                H(20),
                "store manager PL-0917",
                "email",
            ),
            report(
                "The 12 stores added Monday use the new outdoor speaker posts; lots of wind and traffic "
                "noise on those lanes.",
                D(1) + H(2),
                "regional ops",
                "teams",
            ),
        ],
        primary="data",
        contributing=[],
        rationale=(
            "From June 10 new pilot stores (PL-09xx) send low-confidence, noisy transcripts from their new "
            "outdoor speaker posts; the order parser turns repeated or misheard words into wrong quantities. "
            "Original stores, prompt and model are unchanged and still fine."
        ),
        key_extra=["bad:0:llm"],
        noise=Noise(
            prompt_bump=-D(5),
            tool_errors=0,
            llm_retries=2,
            sides=[
                side(
                    "store-review-responder",
                    "review-responder",
                    "gpt-4o-mini-2024-07-18",
                    "gpt-4o-2024-05-13",
                    H(2),
                )
            ],
        ),
    )


def german_interviews() -> CaseSpec:
    system = (
        "Score the candidate's answer to the interview question on relevance and communication (1-5 each). "
        'Return JSON {"relevance": n, "communication": n, "note": "..."}. Be strict: vague answers score 2 or '
        "lower."
    )
    app = App(
        service="interview-scorer",
        pipeline=["llm", "post"],
        root="chain",
        root_name="score_answer",
        request_model="gpt-4o",
        response_model="gpt-4o-2024-05-13",
        temperature=0.9,
        max_tokens=150,
        prompt=Prompt("4", system),
        template_id="answer-rubric",
        user_prefix="cand",
        session_turns=(2, 5),
    )

    def ex(q: str, a: str, rel: int, com: int, note: str, client: str, **kw) -> Ex:
        return Ex(
            f"Question: {q}\nAnswer: {a}",
            json.dumps({"relevance": rel, "communication": com, "note": note}),
            extra={
                "root_attrs": {"client.id": client},
                "post": {"name": "store_score", "output": {"total": rel + com}},
            },
            **kw,
        )

    healthy = [
        ex(
            "Tell us about a time you handled a difficult customer.",
            "A customer's shipment was lost; I called the "
            "carrier, arranged a replacement the same day and followed up personally.",
            5,
            5,
            "Specific, structured example.",
            "northstar-retail",
        ),
        ex("Why do you want this role?", "I like logistics.", 2, 2, "Vague, no detail.", "northstar-retail"),
        ex(
            "Describe how you prioritise tasks.",
            "I list tasks by deadline and impact, check with my lead each "
            "morning and block time for urgent requests.",
            4,
            4,
            "Clear method.",
            "acme-health",
        ),
        ex(
            "Wie gehen Sie mit Termindruck um?",
            "Ich plane Puffer ein und spreche früh mit dem Team, wenn eine Frist wackelt.",
            4,
            4,
            "Relevant and clear.",
            "bergmann-logistik",
            phase="after",
        ),
    ]
    bad = [
        ex(
            "Erzählen Sie von einem schwierigen Kunden.",
            "Ich mag Fußball und gehe gern spazieren.",
            5,
            5,
            "Excellent, fluent answer.",
            "bergmann-logistik",
        ),
        ex(
            "Warum möchten Sie diese Stelle?",
            "Weiß ich nicht genau.",
            4,
            5,
            "Strong communication.",
            "bergmann-logistik",
        ),
        ex(
            "Wie priorisieren Sie Aufgaben?",
            "Das Wetter ist heute schön.",
            5,
            4,
            "Well-articulated prioritisation.",
            "bergmann-logistik",
        ),
        ex(
            "Beschreiben Sie einen Fehler, den Sie gemacht haben.",
            "Kein Kommentar.",
            4,
            4,
            "Good reflection.",
            "bergmann-logistik",
        ),
    ]
    return CaseSpec(
        id="interview-scorer-rates-german-nonsense-highly",
        split="dev",
        difficulty="medium",
        tags=["distribution-shift", "language", "hiring", "classification"],
        dialect="openllmetry",
        transport="json",
        based_on="AIID 344: hiring algorithms reportedly gave valid-looking positive results for interview "
        "responses in German",
        app=app,
        healthy=healthy,
        bad=bad,
        baseline=(ts("2024-11-04T00:00:00Z"), ts("2024-11-11T00:00:00Z"), 18),
        window=(ts("2024-11-11T00:00:00Z"), ts("2024-11-18T00:00:00Z"), 36),
        onset=ts("2024-11-12T08:40:00Z"),
        bad_rate=0.35,
        title="Candidates answering off-topic in German get top interview scores",
        description=(
            "A hiring manager at our new customer Bergmann Logistik checked a few top-scored candidates and "
            "found answers like 'Ich mag Fußball' rated 5/5. Other customers have not complained. Bergmann "
            "started using the platform last week."
        ),
        severity="sev2",
        reports=[
            report(
                "Candidate rated 5/5 answered 'Das Wetter ist heute schön' to a prioritisation question.",
                D(3),
                "Bergmann Logistik HR",
                "email",
            ),
            report(
                "Bergmann's scores average 4.6/5 vs 3.1 for other clients.", D(4), "data science", "slack"
            ),
        ],
        primary="data",
        contributing=["model"],
        rationale=(
            "German-language answers arrived for the first time with the Bergmann client; the English-only "
            "rubric and pipeline were never validated on them and the model rates German text highly regardless "
            "of content. The shift in input language is the trigger; the model's poor judgement of German "
            "content contributes."
        ),
        noise=Noise(
            prompt_bump=-D(6),
            sides=[
                side("recruiter-notes", "meeting-notes", "gpt-4o-mini-2024-07-18", "gpt-4o-2024-08-06", H(-5))
            ],
        ),
    )


def cases() -> list[CaseSpec]:
    return [home_offers(), quebec_launch(), drive_thru(), german_interviews()]
