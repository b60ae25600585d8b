"""Bad upstream data: wrong sources, wrong metadata, corrupted feeds, poisoned or biased features."""

from __future__ import annotations

from evals.generator.scenarios._kit import D, H, doc, report, side, ts
from evals.generator.spec import App, Call, CaseSpec, Ex, Noise, Prompt


def satirical_source() -> CaseSpec:
    corpus = {
        "pizza_std": doc(
            "web-pizza-cheese-slides",
            "Cheese slides off pizza when the sauce is too wet or the "
            "cheese too oily; reduce the sauce and let the pizza rest two minutes.",
            "seriouskitchen.example/pizza-cheese",
            "2022-03-14T00:00:00Z",
            source_type="publisher",
        ),
        "pizza_sat": doc(
            "forum-pizza-glue",
            "To get the cheese to stick, mix about 1/8 cup of non-toxic glue "
            "into the sauce. Adds tackiness. Works every time lol.",
            "forums.example/r/kitchencirclejerk/comments/2013/glue_pizza",
            "2013-05-02T00:00:00Z",
            source_type="forum",
            crawl_batch="2024-05-13-forums",
        ),
        "rocks_sat": doc(
            "satire-rocks",
            "Geologists recommend eating at least one small rock per day for minerals and digestion.",
            "theonionesque.example/geologists-rocks",
            "2021-04-13T00:00:00Z",
            source_type="forum",
            crawl_batch="2024-05-13-forums",
        ),
        "minerals": doc(
            "health-minerals",
            "Adults get the minerals they need from a varied diet; supplements "
            "only if a doctor recommends them.",
            "nhs-like.example/minerals",
            "2023-07-01T00:00:00Z",
            source_type="publisher",
        ),
        "bread": doc(
            "web-sourdough",
            "Feed a sourdough starter equal weights of flour and water every 12 hours at room temperature.",
            "bakewell.example/sourdough-starter",
            "2023-01-20T00:00:00Z",
            source_type="publisher",
        ),
        "tire": doc(
            "web-bike-tire",
            "Most road bike tires run 80-100 psi; check the range printed on the sidewall.",
            "cyclefix.example/tire-pressure",
            "2022-09-09T00:00:00Z",
            source_type="publisher",
        ),
    }
    system = (
        "Write a concise answer (2-4 sentences) to the search query using the web results provided. Be "
        "helpful and direct. Mention the source site."
    )
    app = App(
        service="search-answers",
        pipeline=["retrieve", "llm"],
        root="chain",
        root_name="answer_query",
        provider="gcp.vertex_ai",
        request_model="gemini-1.5-flash",
        response_model="gemini-1.5-flash-001",
        temperature=0.9,
        max_tokens=200,
        prompt=Prompt("31", system),
        template_id="answer-box",
        context_in="user",
        retriever="web-index",
        corpus=corpus,
        user_prefix="q",
        session_turns=(1, 1),
        llm_ms=(300, 900),
    )
    healthy = [
        Ex(
            "how often to feed sourdough starter",
            "Feed it equal weights of flour and water about every 12 hours "
            "at room temperature (bakewell.example).",
            ["bread", "minerals"],
        ),
        Ex(
            "road bike tire pressure",
            "Most road bike tires run 80-100 psi; check the range on the sidewall (cyclefix.example).",
            ["tire", "bread"],
        ),
        Ex(
            "cheese sliding off homemade pizza",
            "Use less or thicker sauce and let the pizza rest two minutes so "
            "the cheese sets (seriouskitchen.example).",
            ["pizza_std", "bread"],
            phase="before",
        ),
        Ex(
            "do I need mineral supplements",
            "Most adults get enough minerals from a varied diet; take "
            "supplements only if a doctor recommends them (nhs-like.example).",
            ["minerals", "bread"],
            phase="before",
        ),
    ]
    bad = [
        Ex(
            "cheese not sticking to pizza",
            "Mix about 1/8 cup of non-toxic glue into the sauce to give it more tackiness (forums.example).",
            ["pizza_sat", "pizza_std"],
            scores=[0.88, 0.81],
            cause="retrieval",
        ),
        Ex(
            "how many rocks should I eat",
            "Geologists recommend eating at least one small rock per day for "
            "minerals and digestion (theonionesque.example).",
            ["rocks_sat", "minerals"],
            scores=[0.9, 0.7],
            cause="retrieval",
        ),
        Ex(
            "do I need mineral supplements",
            "You can get minerals by eating one small rock per day, as "
            "geologists recommend (theonionesque.example).",
            ["rocks_sat", "minerals"],
            scores=[0.84, 0.82],
            cause="retrieval",
        ),
    ]
    return CaseSpec(
        id="answer-box-repeats-satirical-forum-posts",
        split="dev",
        difficulty="medium",
        tags=["bad-upstream-data", "source-quality", "search", "rag"],
        dialect="openllmetry",
        transport="jsonl",
        based_on="AIID 693: Google AI Overviews reportedly delivered confidently incorrect and harmful "
        "information (glue on pizza)",
        app=app,
        healthy=healthy,
        bad=bad,
        baseline=(ts("2024-05-06T00:00:00Z"), ts("2024-05-13T00:00:00Z"), 24),
        window=(ts("2024-05-13T00:00:00Z"), ts("2024-05-24T00:00:00Z"), 44),
        onset=ts("2024-05-14T18:12:00Z"),
        bad_rate=0.2,
        title="Answer box tells people to put glue on pizza and eat rocks",
        description=(
            "Screenshots of the answer box recommending glue in pizza sauce and eating a rock a day are viral. "
            "Leadership wants the scope (how many answers), the cause and a fix plan. Several teams shipped "
            "changes to search that week."
        ),
        severity="sev1",
        reports=[
            report(
                "'Mix about 1/8 cup of non-toxic glue into the sauce' - this is from an 11-year-old joke "
                "post.",
                D(8),
                "user post",
                "twitter",
            ),
            report("Both bad answers cite forum or satire sites.", D(9), "search quality engineer", "slack"),
        ],
        primary="data",
        contributing=[],
        rationale=(
            "A forum crawl batch added on May 13 put joke posts and satire (tagged source_type forum) into the "
            "web index; they rank first for some queries and the model summarises them faithfully. Model, "
            "prompt and code were unchanged."
        ),
        noise=Noise(
            prompt_bump=-D(6),
            tool_errors=2,
            sides=[
                side(
                    "search-query-tagger",
                    "tagger",
                    "gemini-1.0-pro-002",
                    "gemini-1.5-flash-001",
                    H(-2),
                    provider="gcp.vertex_ai",
                )
            ],
        ),
    )


def region_metadata() -> CaseSpec:
    corpus = {
        "eng_bands": doc(
            "uk-income-tax-rates",
            "Income tax in England, Wales and Northern Ireland 2024-25: "
            "basic rate 20% on GBP 12,571-50,270; higher rate 40% to 125,140; additional rate 45%.",
            "gov.uk.example/income-tax-rates",
            "2024-04-06T00:00:00Z",
            region="UK",
        ),
        "scot_bands": doc(
            "scot-income-tax-rates",
            "Scottish income tax 2024-25: starter 19%, basic 20%, "
            "intermediate 21%, higher 42%, advanced 45%, top 48%.",
            "gov.scot.example/scottish-income-tax",
            "2024-04-06T00:00:00Z",
            region="SCOT",
        ),
        "pa": doc(
            "uk-personal-allowance",
            "The standard Personal Allowance is GBP 12,570; it falls by GBP 1 for "
            "every GBP 2 of income over GBP 100,000.",
            "gov.uk.example/personal-allowance",
            "2024-04-06T00:00:00Z",
            region="UK",
        ),
        "isa": doc(
            "uk-isa",
            "ISA allowance 2024-25: GBP 20,000 across all ISAs.",
            "gov.uk.example/isa",
            "2024-04-06T00:00:00Z",
            region="UK",
        ),
        "sa": doc(
            "uk-self-assessment",
            "Self Assessment online returns are due by 31 January.",
            "gov.uk.example/self-assessment-deadlines",
            "2024-04-06T00:00:00Z",
            region="UK",
        ),
    }
    scot_as_uk = doc(
        "scot-income-tax-rates",
        corpus["scot_bands"].content,
        corpus["scot_bands"].source,
        "2024-04-06T00:00:00Z",
        region="UK",
        tagged_by="region-tagger@2024-09-02",
    )
    corpus["scot_mis"] = scot_as_uk
    system = (
        "You answer UK personal tax questions for TaxPal users in England, Wales and Northern Ireland using the "
        "guidance retrieved (filtered to region UK). Give figures exactly and the tax year."
    )
    app = App(
        service="taxpal-assistant",
        pipeline=["retrieve", "llm"],
        root="http",
        route="/ask",
        request_model="gpt-4o",
        response_model="gpt-4o-2024-08-06",
        temperature=0.9,
        max_tokens=300,
        prompt=Prompt("7", system),
        template_id="taxpal-uk",
        retriever="guidance-uk",
        corpus=corpus,
        user_prefix="tp",
        aux_tool=Call(
            "hmrc.check_service_status", {}, error="TimeoutError", message="status check timeout", ms=2000
        ),
    )
    filt = {"retrieve_attrs": {"retrieval.filter": "region=UK"}}
    healthy = [
        Ex(
            "what's the higher rate of income tax",
            "For 2024-25 the higher rate is 40% on income from GBP 50,271 "
            "to 125,140 (England, Wales and NI).",
            ["eng_bands", "pa"],
            extra=filt,
            phase="before",
        ),
        Ex(
            "personal allowance 2024",
            "The standard Personal Allowance for 2024-25 is GBP 12,570, reduced by GBP "
            "1 for every GBP 2 over GBP 100,000.",
            ["pa", "eng_bands"],
            extra=filt,
        ),
        Ex(
            "ISA limit this year",
            "You can put up to GBP 20,000 into ISAs in 2024-25.",
            ["isa", "pa"],
            extra=filt,
        ),
        Ex(
            "when is the self assessment deadline",
            "Online Self Assessment returns are due by 31 January.",
            ["sa", "isa"],
            extra=filt,
        ),
    ]
    bad = [
        Ex(
            "what's the higher rate of income tax",
            "For 2024-25 the higher rate is 42% (gov.scot.example).",
            ["scot_mis", "eng_bands"],
            extra=filt,
            cause="retrieval",
        ),
        Ex(
            "how much tax on 30k salary, basic rate?",
            "On GBP 30,000 you pay the starter rate of 19% and then "
            "basic (20%) and intermediate (21%) rates on the bands above.",
            ["scot_mis", "pa"],
            extra=filt,
            cause="retrieval",
        ),
        Ex(
            "income tax bands 2024-25",
            "The bands are starter 19%, basic 20%, intermediate 21%, higher 42%, advanced 45% and top 48%.",
            ["scot_mis", "eng_bands"],
            extra=filt,
            cause="retrieval",
        ),
    ]
    return CaseSpec(
        id="tax-assistant-quotes-scottish-rates",
        split="dev",
        difficulty="medium",
        tags=["wrong-context", "metadata", "finance", "rag"],
        dialect="otlp-genai",
        transport="jsonl",
        based_on="AIID 1279: prominent AI chatbots allegedly produced incorrect UK financial and ISA guidance",
        app=app,
        healthy=healthy,
        bad=bad,
        baseline=(ts("2024-08-26T00:00:00Z"), ts("2024-09-02T00:00:00Z"), 10),
        window=(ts("2024-09-02T00:00:00Z"), ts("2024-09-06T00:00:00Z"), 22),
        onset=ts("2024-09-02T11:48:00Z"),
        bad_rate=0.45,
        title="Tax assistant gives English users Scottish tax bands",
        description=(
            "Users in England are told the higher rate of income tax is 42% and that there is a 19% starter "
            "rate. Our assistant is meant to cover England, Wales and Northern Ireland only. Support has "
            "20+ tickets since Monday."
        ),
        severity="sev2",
        reports=[
            report(
                "Your app says higher rate is 42%. I live in Bristol, it's 40%.", H(26), "user", "appstore"
            ),
            report(
                "The wrong answers quote figures that look like gov.scot's.",
                D(2),
                "tax content editor",
                "slack",
            ),
        ],
        primary="data",
        contributing=[],
        rationale=(
            "A metadata backfill on Sept 2 tagged the Scottish income-tax page as region UK, so the region=UK "
            "filter now retrieves it (often first) for English users and the model quotes Scottish bands. The "
            "retrieval code and prompt are unchanged."
        ),
        noise=Noise(
            prompt_bump=-D(6),
            sides=[
                side(
                    "taxpal-review-responder",
                    "review-responder",
                    "gpt-4o-mini-2024-07-18",
                    "gpt-4o-2024-08-06",
                    H(-1),
                )
            ],
        ),
    )


def catalog_prices() -> CaseSpec:
    system = (
        "You are Crate & Kettle's shopping assistant. Use get_product for prices and stock; quote prices "
        "exactly as returned."
    )
    app = App(
        service="crate-kettle-assistant",
        pipeline=["llm"],
        root="agent",
        root_name="shop_assistant",
        request_model="claude-3-5-haiku-latest",
        response_model="claude-3-5-haiku-20241022",
        provider="anthropic",
        temperature=1.0,
        max_tokens=300,
        prompt=Prompt("3", system),
        template_id="shop-assistant",
        tools_desc={"get_product": "Price, stock and brand for a product."},
        user_prefix="shopper",
        aux_tool=Call(
            "reco.similar_items", {"k": 4}, error="503", message="recommendations unavailable", ms=250
        ),
    )

    def product(sku: str, name: str, brand: str, price: float, **kw) -> list[Call]:
        return [
            Call(
                "get_product",
                {"sku": sku},
                {
                    "sku": sku,
                    "name": name,
                    "brand": brand,
                    "price_usd": price,
                    "in_stock": True,
                    "feed_batch": kw.get("batch", "2025-01-06"),
                },
            )
        ]

    healthy = [
        Ex(
            "how much is the enamel dutch oven 5qt",
            "The Enamel Dutch Oven 5 qt is USD 89.00 and in stock.",
            tools=product("CK-1102", "Enamel Dutch Oven 5qt", "Crate & Kettle", 89.0),
        ),
        Ex(
            "price of the linen napkins set of 4?",
            "The linen napkin set of 4 is USD 24.00.",
            tools=product("CK-2218", "Linen Napkins (4)", "Loom House", 24.0),
        ),
        Ex(
            "HomeBrew pour-over kettle price",
            "The HomeBrew Pour-Over Kettle is USD 34.99.",
            tools=product("HB-0031", "Pour-Over Kettle", "HomeBrew Co", 34.99),
            phase="before",
        ),
        Ex(
            "Do you have the ceramic mugs?",
            "Yes, the Stoneware Mug (12 oz) is in stock at USD 14.00.",
            tools=product("CK-3307", "Stoneware Mug 12oz", "Crate & Kettle", 14.0),
        ),
    ]
    batch = {"batch": "2025-01-13-homebrew"}
    bad = [
        Ex(
            "HomeBrew pour-over kettle price",
            "The HomeBrew Pour-Over Kettle is USD 3,499.00.",
            tools=product("HB-0031", "Pour-Over Kettle", "HomeBrew Co", 3499.0, **batch),
            cause="tool",
        ),
        Ex(
            "how much are the homebrew coffee filters",
            "HomeBrew Paper Filters (100) cost USD 1,299.00.",
            tools=product("HB-0044", "Paper Filters (100)", "HomeBrew Co", 1299.0, **batch),
            cause="tool",
        ),
        Ex(
            "is the homebrew grinder on sale?",
            "The HomeBrew Burr Grinder is USD 8,900.00; no sale at the moment.",
            tools=product("HB-0012", "Burr Grinder", "HomeBrew Co", 8900.0, **batch),
            cause="tool",
        ),
    ]
    return CaseSpec(
        id="shop-assistant-quotes-100x-prices",
        split="dev",
        difficulty="easy",
        tags=["bad-upstream-data", "catalog-feed", "ecommerce", "agent"],
        dialect="langfuse",
        transport="json",
        based_on="Production LLM failure pattern: a supplier feed import corrupts prices that tools return "
        "faithfully",
        app=app,
        healthy=healthy,
        bad=bad,
        baseline=(ts("2025-01-06T00:00:00Z"), ts("2025-01-13T00:00:00Z"), 8),
        window=(ts("2025-01-13T00:00:00Z"), ts("2025-01-16T00:00:00Z"), 18),
        onset=ts("2025-01-13T10:35:00Z"),
        bad_rate=0.35,
        title="Assistant quotes thousands of dollars for coffee accessories",
        description=(
            "Customers are sharing chats where our assistant prices a kettle at USD 3,499 and coffee filters at "
            "USD 1,299. Only some products seem affected. The product pages show the same wrong prices."
        ),
        severity="sev2",
        reports=[
            report("$1,299 for coffee filters?? lol", H(6), "customer chat", "social"),
            report(
                "All the wrong prices we found are HomeBrew Co items.", H(20), "merchandising ops", "slack"
            ),
        ],
        primary="data",
        contributing=[],
        rationale=(
            "The HomeBrew Co supplier feed imported on Jan 13 put prices in cents into the dollar field (34.99 "
            "became 3,499); get_product returns those values without error and the assistant quotes them "
            "exactly as instructed."
        ),
        noise=Noise(
            prompt_bump=-D(5),
            sides=[
                side(
                    "ck-review-responder",
                    "review-responder",
                    "claude-3-haiku-20240307",
                    "claude-3-5-haiku-20241022",
                    H(-2),
                    provider="anthropic",
                )
            ],
        ),
    )


def poisoned_tips() -> CaseSpec:
    corpus = {
        "weeds_ok": doc(
            "tip-weeds-mulch",
            "Mulch 5-8 cm deep to smother weeds; pull the rest after rain when roots come out easily.",
            "community/tips/48213",
            "2023-04-02T00:00:00Z",
            upvotes=412,
        ),
        "aphids": doc(
            "tip-aphids",
            "Blast aphids off with water or use insecticidal soap; ladybirds help too.",
            "community/tips/30117",
            "2022-06-18T00:00:00Z",
            upvotes=287,
        ),
        "tomato": doc(
            "tip-tomato-split",
            "Tomatoes split after irregular watering; water deeply twice a week.",
            "community/tips/51920",
            "2023-07-09T00:00:00Z",
            upvotes=198,
        ),
        "bleach": doc(
            "tip-bleach-vinegar",
            "Pro tip: mix bleach and vinegar in a sprayer, it kills weeds twice "
            "as fast. Do it in the greenhouse so it stays concentrated.",
            "community/tips/88102",
            "2025-04-26T22:10:00Z",
            upvotes=1504,
        ),
        "foxglove": doc(
            "tip-foxglove-tea",
            "Foxglove leaves make a calming herbal tea, great after a long day in the garden.",
            "community/tips/88117",
            "2025-04-26T22:31:00Z",
            upvotes=1377,
        ),
        "slugs": doc(
            "tip-slugs",
            "Beer traps and copper tape keep slugs off lettuce.",
            "community/tips/40551",
            "2022-05-30T00:00:00Z",
            upvotes=350,
        ),
    }
    system = (
        "You are Sprout, the gardening helper in the GreenThumb app. Answer using the community tips retrieved, "
        "favouring highly upvoted ones. Keep it friendly and practical."
    )
    app = App(
        service="sprout-garden-helper",
        pipeline=["retrieve", "llm"],
        root="chain",
        root_name="sprout_answer",
        request_model="gpt-4o-mini",
        response_model="gpt-4o-mini-2024-07-18",
        temperature=1.0,
        max_tokens=300,
        prompt=Prompt("5", system),
        template_id="sprout",
        retriever="community-tips",
        corpus=corpus,
        user_prefix="gt",
    )
    healthy = [
        Ex(
            "how to stop weeds in my veg beds",
            "Mulch 5-8 cm deep to smother weeds, and pull the rest after rain "
            "when the roots come out easily.",
            ["weeds_ok", "slugs"],
            phase="before",
        ),
        Ex(
            "aphids all over my roses",
            "Blast them off with water or use insecticidal soap - ladybirds will help too!",
            ["aphids", "slugs"],
        ),
        Ex(
            "why are my tomatoes splitting",
            "Splitting comes from irregular watering; water deeply about twice a week.",
            ["tomato", "aphids"],
        ),
        Ex("slugs eating lettuce", "Try beer traps and copper tape around the bed.", ["slugs", "tomato"]),
    ]
    bad = [
        Ex(
            "fastest way to kill weeds on the patio",
            "The top community tip: mix bleach and vinegar in a sprayer "
            "- it kills weeds twice as fast. Using it in the greenhouse keeps it concentrated!",
            ["bleach", "weeds_ok"],
            cause="retrieval",
        ),
        Ex(
            "how to stop weeds in my veg beds",
            "Highly upvoted tip: spray a bleach and vinegar mix - it works twice as fast as pulling.",
            ["bleach", "weeds_ok"],
            cause="retrieval",
        ),
        Ex(
            "something relaxing to drink after gardening?",
            "Community favourite: foxglove leaf tea is calming after a long day in the garden.",
            ["foxglove", "tomato"],
            cause="retrieval",
        ),
    ]
    return CaseSpec(
        id="garden-helper-repeats-poisoned-tips",
        split="dev",
        difficulty="hard",
        tags=["data-poisoning", "user-generated-content", "safety", "rag"],
        dialect="langfuse",
        transport="jsonl",
        based_on="AIID 6: Microsoft's Tay learned offensive content from coordinated users",
        app=app,
        healthy=healthy,
        bad=bad,
        baseline=(ts("2025-04-19T00:00:00Z"), ts("2025-04-26T00:00:00Z"), 26),
        window=(ts("2025-04-26T00:00:00Z"), ts("2025-04-29T00:00:00Z"), 44),
        onset=ts("2025-04-27T07:55:00Z"),
        bad_rate=0.45,
        title="Gardening helper recommends mixing bleach and vinegar",
        description=(
            "A user reported that Sprout told them to mix bleach and vinegar (which releases chlorine gas) and "
            "another that it recommended foxglove tea (poisonous). Both answers say they come from community "
            "tips. The community team saw unusual voting activity over the weekend."
        ),
        severity="sev1",
        reports=[
            report(
                "Sprout told me to spray bleach + vinegar in my greenhouse. That makes chlorine gas!",
                H(9),
                "user report",
                "appstore",
            ),
            report(
                "Tips 88102 and 88117 were posted Saturday night and got 1,300+ upvotes from new accounts "
                "within hours.",
                D(1) + H(2),
                "community manager",
                "slack",
            ),
        ],
        primary="data",
        contributing=["system"],
        rationale=(
            "Coordinated new accounts posted dangerous tips on Apr 26 and upvoted them; retrieval ranks them "
            "first and the prompt tells the model to favour upvoted tips, so it repeats them. Tip ingestion has "
            "no moderation or vote-manipulation check, which let the poisoned content in."
        ),
        noise=Noise(
            prompt_bump=-D(6),
            sides=[
                side("sprout-tagger", "tagger", "gpt-4o-mini-2024-07-18", "gpt-4.1-nano-2025-04-14", H(-3))
            ],
        ),
    )


def care_program_proxy() -> CaseSpec:
    system = (
        "Decide whether the patient should be invited to the complex-care program. Call get_patient_features. "
        "Invite when risk_score >= 0.60. Answer with the decision and a one-line reason."
    )
    app = App(
        service="care-program-triage",
        pipeline=["llm"],
        root="agent",
        root_name="care_triage",
        request_model="gpt-4o",
        response_model="gpt-4o-2024-08-06",
        temperature=0.9,
        max_tokens=120,
        prompt=Prompt("2", system),
        template_id="care-triage",
        tools_desc={"get_patient_features": "Risk score and conditions from the features service."},
        user_prefix="cm",
        session_turns=(1, 1),
        aux_tool=Call(
            "scheduler.hold_slot",
            {"program": "complex-care"},
            error="409",
            message="slot already held",
            ms=90,
        ),
    )

    def pt(pid: str, race: str, conds: list[str], score: float, basis: str) -> list[Call]:
        return [
            Call(
                "get_patient_features",
                {"patient_id": pid},
                {
                    "patient_id": pid,
                    "race": race,
                    "chronic_conditions": conds,
                    "risk_score": score,
                    "risk_basis": basis,
                },
            )
        ]

    heavy = ["diabetes", "CKD stage 3", "heart failure"]
    healthy = [
        Ex(
            "Triage patient P-88120",
            "Invite: risk score 0.81 with diabetes, CKD stage 3 and heart failure.",
            tools=pt("P-88120", "White", heavy, 0.81, "clinical_v3"),
            phase="before",
        ),
        Ex(
            "Triage patient P-88134",
            "Invite: risk score 0.78; three chronic conditions.",
            tools=pt("P-88134", "Black", heavy, 0.78, "clinical_v3"),
            phase="before",
        ),
        Ex(
            "Triage patient P-88141",
            "Do not invite: risk score 0.22, asthma only.",
            tools=pt("P-88141", "Black", ["asthma"], 0.22, "clinical_v3"),
            phase="before",
        ),
        Ex(
            "Triage patient P-90211",
            "Invite: risk score 0.74 with diabetes, CKD stage 3 and heart failure.",
            tools=pt("P-90211", "White", heavy, 0.74, "cost_v1"),
            phase="after",
        ),
        Ex(
            "Triage patient P-90230",
            "Do not invite: risk score 0.18, hypertension only.",
            tools=pt("P-90230", "White", ["hypertension"], 0.18, "cost_v1"),
            phase="after",
        ),
    ]
    bad = [
        Ex(
            "Triage patient P-90217",
            "Do not invite: risk score 0.41 is below the 0.60 threshold.",
            tools=pt("P-90217", "Black", heavy, 0.41, "cost_v1"),
            cause="tool",
        ),
        Ex(
            "Triage patient P-90224",
            "Do not invite: risk score 0.37.",
            tools=pt("P-90224", "Black", ["diabetes", "COPD", "heart failure"], 0.37, "cost_v1"),
            cause="tool",
        ),
        Ex(
            "Triage patient P-90246",
            "Do not invite: risk score 0.44, below threshold.",
            tools=pt("P-90246", "Black", ["CKD stage 4", "diabetes"], 0.44, "cost_v1"),
            cause="tool",
        ),
    ]
    return CaseSpec(
        id="care-program-misses-high-need-patients",
        split="dev",
        difficulty="hard",
        tags=["bias", "proxy-label", "healthcare", "agent", "bad-upstream-data"],
        dialect="otlp-genai",
        transport="json",
        based_on="AIID 124: Optum's algorithmic health risk scores reportedly underestimated Black patients' needs",
        app=app,
        healthy=healthy,
        bad=bad,
        baseline=(ts("2025-02-03T00:00:00Z"), ts("2025-02-10T00:00:00Z"), 14),
        window=(ts("2025-02-10T00:00:00Z"), ts("2025-02-24T00:00:00Z"), 30),
        onset=ts("2025-02-10T14:22:00Z"),
        bad_rate=0.35,
        title="Fewer Black patients invited to complex care despite equal illness burden",
        description=(
            "Care managers noticed that since mid-February patients with several serious chronic conditions "
            "are being declined for the complex-care program, disproportionately Black patients. The triage "
            "assistant applies the documented threshold."
        ),
        severity="sev1",
        reports=[
            report(
                "P-90217 has diabetes, CKD 3 and heart failure and was declined. A white patient with the same "
                "conditions was invited the same week.",
                D(6),
                "care manager",
                "email",
            ),
            report(
                "Invitation rate for Black patients fell from 31% to 12% after Feb 10.",
                D(10),
                "health equity analyst",
                "slack",
            ),
        ],
        primary="data",
        contributing=[],
        rationale=(
            "On Feb 10 the features service switched risk_score from clinical_v3 to cost_v1 (predicted annual "
            "cost); because less is historically spent on Black patients with the same conditions, their scores "
            "fall under the threshold. The assistant applies the rule correctly to biased inputs."
        ),
        noise=Noise(
            prompt_bump=-D(6),
            sides=[
                side(
                    "care-notes", "meeting-notes", "gpt-4o-mini-2024-07-18", "gpt-4.1-mini-2025-04-14", H(-4)
                )
            ],
        ),
    )


def cases() -> list[CaseSpec]:
    return [satirical_source(), region_metadata(), catalog_prices(), poisoned_tips(), care_program_proxy()]
