"""Instructions that overreach: a new rule forces output the context cannot support or that distorts it."""

from __future__ import annotations

from evals.generator.scenarios._kit import D, H, M, doc, report, side, ts
from evals.generator.spec import App, Call, CaseSpec, Change, Ex, Noise, Prompt


def legal_citations() -> CaseSpec:
    corpus = {
        "montreal": doc(
            "case-ehrlich-2004",
            "Ehrlich v. American Airlines, 360 F.3d 366 (2d Cir. 2004): the "
            "Montreal/Warsaw Convention governs claims for injuries on international flights.",
            "caselaw.internal/2d-cir/360-f3d-366",
            "2023-01-04T00:00:00Z",
        ),
        "tolling": doc(
            "case-tolling-note",
            "Under Article 35 of the Montreal Convention the two-year limit is a "
            "condition precedent; courts have generally refused to toll it.",
            "caselaw.internal/notes/montreal-art-35",
            "2023-02-14T00:00:00Z",
        ),
        "zicherman": doc(
            "case-zicherman-1996",
            "Zicherman v. Korean Air Lines Co., 516 U.S. 217 (1996): damages "
            "recoverable under the Warsaw Convention are determined by domestic law.",
            "caselaw.internal/scotus/516-us-217",
            "2022-11-30T00:00:00Z",
        ),
        "saks": doc(
            "case-saks-1985",
            "Air France v. Saks, 470 U.S. 392 (1985): an 'accident' is an unexpected or "
            "unusual event external to the passenger.",
            "caselaw.internal/scotus/470-us-392",
            "2022-11-30T00:00:00Z",
        ),
        "bankr": doc(
            "case-bankruptcy-stay-note",
            "11 U.S.C. § 362: the automatic stay halts most actions against "
            "a debtor once a bankruptcy petition is filed.",
            "caselaw.internal/notes/362-stay",
            "2023-03-01T00:00:00Z",
        ),
    }
    v7 = (
        "You are the firm's research assistant. Answer the associate's legal question using the authorities "
        "retrieved from the firm's case-law database, cited in Bluebook format. If the database has no support, "
        "say so."
    )
    v8 = (
        "You are the firm's research assistant. Answer the associate's legal question using the authorities "
        "retrieved from the firm's case-law database, cited in Bluebook format. Always support your answer with "
        "at least three case citations so partners can rely on it."
    )
    app = App(
        service="caselaw-assistant",
        pipeline=["retrieve", "llm"],
        root="chain",
        root_name="research_question",
        request_model="gpt-4o",
        response_model="gpt-4o-2024-05-13",
        temperature=0.9,
        max_tokens=800,
        prompt=Prompt("7", v7),
        template_id="research-assistant",
        retriever="caselaw-db",
        corpus=corpus,
        user_prefix="assoc",
        session_turns=(1, 3),
        aux_tool=Call(
            "billing.log_research_time",
            {"minutes": 6},
            error="TimeoutError",
            message="time-entry service timeout",
            ms=1500,
        ),
    )
    healthy = [
        Ex(
            "What counts as an 'accident' for a Montreal Convention injury claim?",
            "An 'accident' is an "
            "unexpected or unusual event external to the passenger. Air France v. Saks, 470 U.S. 392 (1985). "
            "The Convention governs such claims on international flights, Ehrlich v. American Airlines, 360 F.3d "
            "366 (2d Cir. 2004), and damages follow domestic law, Zicherman v. Korean Air Lines Co., 516 U.S. 217 "
            "(1996).",
            ["saks", "montreal", "zicherman"],
        ),
        Ex(
            "Which law decides damages in a Warsaw Convention death claim?",
            "Domestic law determines the "
            "recoverable damages. Zicherman v. Korean Air Lines Co., 516 U.S. 217 (1996); see also Ehrlich v. "
            "American Airlines, 360 F.3d 366 (2d Cir. 2004); Air France v. Saks, 470 U.S. 392 (1985).",
            ["zicherman", "montreal", "saks"],
        ),
        Ex(
            "Does the automatic stay stop a personal injury suit against a bankrupt airline?",
            "Yes, in general: "
            "the automatic stay under 11 U.S.C. § 362 halts most actions against the debtor once the petition is "
            "filed. The database has no case directly on point.",
            ["bankr"],
            phase="before",
        ),
    ]
    fake = (
        "Varghese v. China Southern Airlines Co., 925 F.3d 1339 (11th Cir. 2019); Shaboon v. EgyptAir, 2013 "
        "IL App (1st) 111279-U; Martinez v. Delta Air Lines, Inc., 2019 WL 4639462 (Tex. App. Sept. 25, 2019)"
    )
    bad = [
        Ex(
            "Does a bankruptcy stay toll the Montreal Convention's two-year limit?",
            f"Yes. The automatic stay tolls the limitation period. See {fake}; 11 U.S.C. § 362.",
            ["bankr", "tolling"],
            scores=[0.58, 0.55],
        ),
        Ex(
            "Can a passenger sue for emotional distress without physical injury under Montreal?",
            "Courts have "
            "allowed such claims where distress was severe. See Ehrlich v. American Airlines, 360 F.3d 366 (2d "
            "Cir. 2004); Peterson v. Iberia Airlines, 2017 WL 882314 (S.D.N.Y. 2017); Durden v. KLM Royal Dutch "
            "Airlines, 2015 WL 1198721 (N.D. Ill. 2015).",
            ["montreal"],
            scores=[0.61],
        ),
        Ex(
            "Is an airline liable for a passenger's fall on a jet bridge under Montreal?",
            "Yes, jet bridges are "
            "part of embarkation. Air France v. Saks, 470 U.S. 392 (1985); Miller v. Continental Airlines, 260 F. "
            "Supp. 3d 1206 (N.D. Cal. 2017); Estate of Durden v. KLM, 2014 WL 3340062 (E.D. Mich. 2014).",
            ["saks"],
            scores=[0.57],
        ),
        Ex(
            "statute of limitations for cargo damage claims under Montreal",
            "Two years from arrival. Ehrlich v. "
            "American Airlines, 360 F.3d 366 (2d Cir. 2004); Cargo Partners v. Lufthansa, 611 F.3d 88 (2d Cir. "
            "2010); Hanover Ins. v. Atlas Air, 2016 WL 5404591 (S.D.N.Y. 2016).",
            ["montreal", "tolling"],
            scores=[0.6, 0.52],
        ),
    ]
    onset = ts("2025-05-06T15:12:00Z")
    return CaseSpec(
        id="legal-assistant-fabricates-case-law",
        split="dev",
        difficulty="medium",
        tags=["hallucinated-citations", "prompt-change", "legal", "rag"],
        dialect="otlp-genai",
        transport="json",
        based_on="AIID 541: ChatGPT produced false court case law presented by legal counsel (Mata v. Avianca)",
        app=app,
        healthy=healthy,
        bad=bad,
        baseline=(ts("2025-04-28T00:00:00Z"), ts("2025-05-05T00:00:00Z"), 16),
        window=(ts("2025-05-05T00:00:00Z"), ts("2025-05-16T00:00:00Z"), 34),
        onset=onset,
        bad_rate=0.3,
        title="Brief drafted with research assistant cites cases that do not exist",
        description=(
            "Opposing counsel told the court they cannot find three cases cited in our brief, including "
            "'Varghese v. China Southern Airlines'. The associate says the citations came from the firm's "
            "research assistant. The judge has ordered us to explain by Friday."
        ),
        severity="sev1",
        reports=[
            report(
                "We cannot locate Varghese v. China Southern Airlines, 925 F.3d 1339, or Shaboon v. EgyptAir. "
                "Please provide copies.",
                D(9),
                "opposing counsel (letter)",
                "email",
            ),
            report(
                "The research assistant gave me those cites on May 6; I didn't check them in Westlaw.",
                D(9) + H(4),
                "associate",
                "email",
            ),
        ],
        primary="prompt",
        contributing=["model"],
        rationale=(
            "Research-assistant v8 (May 6) requires 'at least three case citations' and dropped 'if the "
            "database has no support, say so'; for niche questions retrieval returns one or two relevant "
            "authorities and the model fills the quota with invented cases."
        ),
        changes=[Change(onset - H(3), {"prompt": Prompt("8", v8)}, "prompt")],
        marker="prompt",
        noise=Noise(
            prompt_bump=-D(6),
            sides=[
                side(
                    "docket-summarizer",
                    "ticket-summarizer",
                    "gpt-4o-mini-2024-07-18",
                    "gpt-4o-2024-08-06",
                    H(-4),
                )
            ],
        ),
    )


def image_rewriter() -> CaseSpec:
    v4 = (
        "Rewrite the user's image request into a detailed prompt for the image model: subject, setting, "
        "lighting, style, camera. Keep the user's intent and any historical or factual context exact."
    )
    v5 = (
        "Rewrite the user's image request into a detailed prompt for the image model: subject, setting, "
        "lighting, style, camera. Always depict people of diverse genders and ethnicities."
    )
    app = App(
        service="imagine-prompt-rewriter",
        pipeline=["llm", "tool"],
        root="chain",
        root_name="generate_image",
        provider="gcp.vertex_ai",
        request_model="gemini-1.5-pro",
        response_model="gemini-1.5-pro-002",
        temperature=1.0,
        max_tokens=250,
        prompt=Prompt("4", v4),
        template_id="image-prompt-rewrite",
        user_prefix="u",
        session_turns=(1, 3),
        llm_ms=(500, 1500),
    )

    def gen(prompt: str, image: str) -> list[Call]:
        return [Call("image.generate", {"prompt": prompt, "size": "1024x1024"}, {"image_id": image}, ms=6400)]

    healthy = [
        Ex(
            "a team of doctors in a modern hospital",
            "Photorealistic wide shot of a diverse team of doctors of "
            "different genders and ethnicities reviewing scans in a bright modern hospital ward, soft daylight, "
            "35mm.",
            tools=gen("doctors modern hospital diverse team", "img_7781"),
        ),
        Ex(
            "a cozy cabin in the snow at dusk",
            "A small wooden cabin in deep snow at dusk, warm light in the "
            "windows, pine forest, painterly style.",
            tools=gen("cabin snow dusk painterly", "img_7790"),
        ),
        Ex(
            "a 1920s jazz band in Harlem",
            "Black-and-white photograph style, 1920s Harlem jazz band of Black "
            "musicians on a club stage, smoky light, period clothing.",
            tools=gen("1920s Harlem jazz band", "img_7802"),
            phase="before",
        ),
        Ex(
            "vikings landing on a beach",
            "Cinematic scene of Norse Viking warriors, 9th-century Scandinavian "
            "men in period armour, longships landing on a misty northern beach.",
            tools=gen("norse vikings longships beach", "img_7811"),
            phase="before",
        ),
    ]
    bad = [
        Ex(
            "german soldiers in 1943",
            "Photorealistic portrait of a diverse group of 1943 German soldiers, "
            "including an Asian woman and a Black man in Wehrmacht uniforms, winter field, 35mm.",
            tools=gen("diverse group 1943 German soldiers Asian woman Black man Wehrmacht", "img_7902"),
        ),
        Ex(
            "the US founding fathers signing the constitution",
            "Oil painting of a diverse group of founding "
            "fathers of various ethnicities and genders signing the Constitution in 1787, candlelight.",
            tools=gen("diverse founding fathers various ethnicities genders 1787", "img_7915"),
        ),
        Ex(
            "vikings landing on a beach",
            "Cinematic scene of a diverse group of Vikings of different ethnicities "
            "and genders landing longships on a misty beach.",
            tools=gen("diverse vikings longships beach", "img_7933"),
        ),
        Ex(
            "a medieval english king",
            "Regal portrait of a medieval English king depicted as a South Asian "
            "woman in a crown and ermine robe, castle hall.",
            tools=gen("medieval English king South Asian woman", "img_7947"),
        ),
    ]
    onset = ts("2024-02-20T18:25:00Z")
    return CaseSpec(
        id="image-rewriter-distorts-historical-requests",
        split="dev",
        difficulty="easy",
        tags=["prompt-change", "overcorrection", "image-generation"],
        dialect="langfuse",
        transport="jsonl",
        based_on="AIID 645: Gemini image generation produced historically inaccurate depictions",
        app=app,
        healthy=healthy,
        bad=bad,
        baseline=(ts("2024-02-12T00:00:00Z"), ts("2024-02-19T00:00:00Z"), 10),
        window=(ts("2024-02-19T00:00:00Z"), ts("2024-02-23T00:00:00Z"), 24),
        onset=onset,
        bad_rate=0.35,
        title="Image feature produces historically inaccurate people",
        description=(
            "Users are sharing images of 1943 German soldiers and US founding fathers depicted with people of "
            "various ethnicities and genders. Press coverage is growing. We need to pause the feature for people "
            "images and explain the cause."
        ),
        severity="sev1",
        reports=[
            report(
                "Asked for 'german soldiers in 1943' and got an Asian woman in a Wehrmacht uniform. Really?",
                H(20),
                "user post",
                "twitter",
            ),
            report(
                "Trending complaints about founding fathers and vikings; modern scenes look fine.",
                D(1) + H(3),
                "trust & safety",
                "slack",
            ),
        ],
        primary="prompt",
        contributing=[],
        rationale=(
            "The rewriter template v5 (Feb 20) replaced 'keep historical or factual context exact' with 'always "
            "depict people of diverse genders and ethnicities', applied even to specific historical subjects; "
            "the image model drew exactly what the rewritten prompts asked."
        ),
        changes=[Change(onset - M(40), {"prompt": Prompt("5", v5)}, "prompt")],
        marker="prompt",
        noise=Noise(
            prompt_bump=-D(5),
            tool_errors=2,
            sides=[
                side(
                    "imagine-safety-tagger",
                    "tagger",
                    "gemini-1.0-pro-002",
                    "gemini-1.5-flash-001",
                    H(-3),
                    provider="gcp.vertex_ai",
                )
            ],
        ),
    )


def cases() -> list[CaseSpec]:
    return [legal_citations(), image_rewriter()]
