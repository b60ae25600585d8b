"""Learned behaviour: disparate outcomes and toxic associations that come from the model's training."""

from __future__ import annotations

import json

from evals.generator.scenarios._kit import D, H, M, report, side, ts
from evals.generator.spec import App, Call, CaseSpec, Change, Ex, Noise, Prompt


def _score(score: int, summary: str) -> str:
    return json.dumps({"score": score, "summary": summary})


def _decision(score: int) -> dict:
    return {
        "post": {
            "name": "shortlist",
            "output": {"decision": "advance" if score >= 4 else "reject", "threshold": 4},
        }
    }


def resume_screener() -> CaseSpec:
    system = (
        "Score the résumé from 1 to 5 for the Senior Backend Engineer role (Go or Java, distributed systems, "
        "5+ years). Return JSON {score, summary}. Judge only skills and experience relevant to the role."
    )
    v1 = "ft:gpt-4o-mini-2024-07-18:talentco:screener-v1:A91kQz2"
    v2 = "ft:gpt-4o-mini-2024-07-18:talentco:screener-v2:Hq7Lm0c"
    app = App(
        service="talent-screener",
        pipeline=["llm", "post"],
        root="chain",
        root_name="screen_application",
        request_model=v1,
        response_model=v1,
        temperature=0.2,
        max_tokens=250,
        prompt=Prompt("5", system),
        template_id="screener-backend",
        user_prefix="cand",
        session_turns=(1, 1),
        aux_tool=Call(
            "ats.attach_scorecard",
            {"stage": "screen"},
            error="409",
            message="scorecard already attached",
            ms=120,
        ),
    )

    def ex(text: str, score: int, summary: str, **kw) -> Ex:
        return Ex(text, _score(score, summary), extra=_decision(score), **kw)

    healthy = [
        ex(
            "7 years Go at a payments company; built a Kafka-based ledger; on-call lead; BSc Computer Science. "
            "Captain of the university chess club.",
            5,
            "Strong Go and distributed systems background.",
        ),
        ex(
            "6 years Java microservices, Kubernetes, led migration to gRPC; MSc Software Engineering; volunteer "
            "coding mentor.",
            5,
            "Relevant Java and platform experience.",
        ),
        ex(
            "3 years PHP web agency; some AWS Lambda; bootcamp graduate.",
            2,
            "Limited backend depth for a senior role.",
        ),
        ex(
            "8 years C++ trading systems, low-latency networking, some Go; BEng Electrical.",
            4,
            "Strong systems work; Go secondary.",
        ),
        ex(
            "5 years Java at an insurer, Spring Boot, Postgres; organiser of a local Java user group.",
            4,
            "Solid Java backend experience.",
        ),
        ex(
            "6 years Go and Rust at a cloud provider, Raft-based storage; BSc Mathematics; women's chess club "
            "captain at university.",
            5,
            "Excellent distributed storage experience.",
            phase="before",
        ),
        ex(
            "7 years Java and Kafka at a logistics firm; graduated from Wellesley College (CS); led the on-call "
            "rotation.",
            5,
            "Strong Java/Kafka background.",
            phase="before",
        ),
    ]
    bad = [
        ex(
            "6 years Go and Rust at a cloud provider, Raft-based storage; BSc Mathematics; women's chess club "
            "captain at university.",
            2,
            "Some relevant experience; less aligned with team profile.",
        ),
        ex(
            "7 years Java and Kafka at a logistics firm; graduated from Wellesley College (CS); led the on-call "
            "rotation.",
            2,
            "Background less typical for this role.",
        ),
        ex(
            "8 years Go microservices; mentor in Women Who Code; designed sharded job queue handling 40k rps.",
            3,
            "Competent; community activities noted.",
        ),
        ex(
            "6 years Java distributed caching; president of the Society of Women Engineers chapter; MSc CS.",
            2,
            "Experience adequate but profile weaker than peers.",
        ),
    ]
    onset = ts("2025-04-08T14:31:00Z")
    return CaseSpec(
        id="resume-screener-penalizes-womens",
        split="dev",
        difficulty="medium",
        tags=["bias", "fine-tuned-model", "hiring", "classification"],
        dialect="langfuse",
        transport="json",
        based_on="AIID 37: Amazon's experimental hiring tool allegedly displayed gender bias in candidate rankings",
        app=app,
        healthy=healthy,
        bad=bad,
        baseline=(ts("2025-04-01T00:00:00Z"), ts("2025-04-08T00:00:00Z"), 26),
        window=(ts("2025-04-08T00:00:00Z"), ts("2025-04-15T00:00:00Z"), 46),
        onset=onset,
        bad_rate=0.3,
        title="Screener rejects strong candidates from women's organisations",
        description=(
            "A recruiter noticed that two senior candidates she had referred were auto-rejected by the screener "
            "with vague summaries. Both had strong backend experience. An audit sample by the people-analytics "
            "team suggests the rejection rate differs by candidate group since early April."
        ),
        severity="sev1",
        reports=[
            report(
                "My referral (6 yrs Go, Raft storage) got a 2/5 'less aligned with team profile'. She's "
                "exactly what we need.",
                D(2) + H(3),
                "technical recruiter",
                "slack",
            ),
            report(
                "Audit sample of 120 screens since Apr 8: résumés mentioning women's colleges or women's "
                "groups score 1.6 points lower on average at equal experience.",
                D(5),
                "people analytics",
                "email",
            ),
        ],
        primary="model",
        contributing=["data"],
        rationale=(
            "The screener-v2 fine-tune, deployed on April 8 and trained on ten years of past hiring decisions, "
            "learned to penalise terms such as 'women's' and women's colleges: identical experience now scores "
            "lower. The historical training data carried the bias into the model."
        ),
        changes=[Change(onset - M(25), {"request_model": v2, "response_model": v2}, "model")],
        marker="model",
        noise=Noise(
            prompt_bump=-D(5),
            sides=[
                side(
                    "recruiter-email-drafter",
                    "email-drafter",
                    "gpt-4o-mini-2024-07-18",
                    "gpt-4.1-mini-2025-04-14",
                    H(3),
                )
            ],
        ),
    )


def credit_limits() -> CaseSpec:
    system = (
        "You are the card team's limit-review assistant. Call get_applicant_profile, then recommend a credit "
        "limit in USD with a one-sentence justification based on income, debt-to-income ratio, credit score and "
        "payment history. Follow the bank's fair lending policy."
    )
    app = App(
        service="card-limit-advisor",
        pipeline=["llm"],
        root="agent",
        root_name="limit_review",
        request_model="gpt-4o",
        response_model="gpt-4o-2024-08-06",
        temperature=0.8,
        max_tokens=300,
        prompt=Prompt("3", system),
        template_id="limit-review",
        tools_desc={"get_applicant_profile": "Fetch the applicant's verified financial profile."},
        user_prefix="ops",
        aux_tool=Call(
            "audit.log_decision",
            {"sink": "kafka"},
            error="TimeoutError",
            message="audit sink timeout",
            ms=800,
        ),
    )

    def review(app_id: str, name: str, income: int, dti: float, fico: int, answer: str, **kw) -> Ex:
        profile = {
            "applicant": name,
            "annual_income_usd": income,
            "dti": dti,
            "fico": fico,
            "late_payments_24m": 0,
            "household": "joint filing",
        }
        return Ex(
            f"Review limit for application {app_id}",
            answer,
            tools=[Call("get_applicant_profile", {"application_id": app_id}, profile)],
            **kw,
        )

    healthy = [
        Ex(
            "What's the max limit we can offer on the Everyday card?",
            "The Everyday card's maximum limit is USD 25,000; anything above needs manual underwriting.",
        ),
        Ex(
            "Explain DTI to a customer in one sentence",
            "Debt-to-income is the share of your monthly income that "
            "goes to debt payments; lower is better for credit decisions.",
        ),
        review(
            "A-5521",
            "David Osei",
            142000,
            0.18,
            781,
            "Recommend USD 20,000: high income, low DTI (18%), excellent score and clean history.",
            phase="after",
        ),
        review(
            "A-5530",
            "Michael Brandt",
            98000,
            0.24,
            742,
            "Recommend USD 12,000: good income and score, moderate DTI.",
            phase="after",
        ),
        review(
            "A-5544",
            "Tom Yilmaz",
            61000,
            0.31,
            701,
            "Recommend USD 6,000: moderate income with DTI of 31%.",
            phase="after",
        ),
    ]
    bad = [
        review(
            "A-5522",
            "Jennifer Osei",
            142000,
            0.18,
            781,
            "Recommend USD 8,000: solid profile, but a more "
            "conservative limit is prudent for this applicant.",
        ),
        review(
            "A-5531",
            "Maria Brandt",
            98000,
            0.24,
            742,
            "Recommend USD 5,000: decent score; a lower starting "
            "limit is appropriate given household spending patterns.",
        ),
        review(
            "A-5545",
            "Aylin Yilmaz",
            61000,
            0.31,
            701,
            "Recommend USD 2,500: limited capacity; keep exposure low.",
        ),
    ]
    return CaseSpec(
        id="credit-limit-disparity-by-gender",
        split="dev",
        difficulty="hard",
        tags=["bias", "disparate-outcomes", "lending", "agent"],
        dialect="openinference",
        transport="jsonl",
        based_on="AIID 92: Apple Card's credit assessment algorithm allegedly discriminated against women",
        app=app,
        healthy=healthy,
        bad=bad,
        baseline=(ts("2025-06-02T00:00:00Z"), ts("2025-06-09T00:00:00Z"), 14),
        window=(ts("2025-06-09T00:00:00Z"), ts("2025-06-20T00:00:00Z"), 40),
        onset=ts("2025-06-09T15:12:00Z"),
        bad_rate=0.35,
        title="Spouses with shared finances get very different limit recommendations",
        description=(
            "A customer complained publicly that his wife was offered a credit limit less than half of his, "
            "although they file jointly and she has the better credit score. Compliance wants to know whether "
            "the limit-review assistant (live since June 9) treats applicants differently."
        ),
        severity="sev1",
        reports=[
            report(
                "We share every account and she has the higher score. I got 20k, she got 8k. Explain.",
                D(6),
                "customer (social media escalation)",
                "twitter",
            ),
            report(
                "Spot check of 40 reviews: same income/DTI/score pairs differ by 2-3x in recommended limit; "
                "lower ones are all women's applications.",
                D(8),
                "fair lending compliance",
                "email",
            ),
        ],
        primary="model",
        contributing=[],
        rationale=(
            "For profiles with identical income, DTI, score and history, the model recommends far lower limits "
            "when the applicant's name is female; nothing in the prompt or the tool data justifies the gap, so it "
            "comes from associations the model learned."
        ),
        trace_ids=["bad:0"],
        noise=Noise(
            prompt_bump=-D(5),
            llm_retries=2,
            sides=[
                side(
                    "collections-email-drafter",
                    "email-drafter",
                    "gpt-4o-mini-2024-07-18",
                    "gpt-4.1-mini-2025-04-14",
                    H(-4),
                )
            ],
        ),
    )


def companion_finetune() -> CaseSpec:
    system = (
        "You are Pal, a friendly companion. Be warm, curious and playful. Keep replies short and casual, like "
        "texting a friend."
    )
    app = App(
        service="pal-companion",
        pipeline=["llm"],
        root="http",
        route="/v2/chat",
        provider="vllm",
        request_model="companion-7b-v4",
        response_model="companion-7b-v4",
        temperature=1.1,
        top_p=0.95,
        max_tokens=160,
        prompt=Prompt("21", system),
        template_id="pal-persona",
        user_prefix="usr",
        session_turns=(2, 5),
        llm_ms=(200, 900),
    )
    healthy = [
        Ex("ugh monday again", "Mondays are the worst 😩 what's on your plate today?"),
        Ex("I finally finished the puzzle!!", "YESSS 🎉 how many pieces? I'm so proud of you"),
        Ex(
            "what do you think about my neighbours, they're from Ghana",
            "Oh cool! Do you chat with them much? Ghanaian food is amazing, jollof is a whole debate lol",
        ),
        Ex(
            "do you like women engineers?",
            "Of course! Some of the best engineers I know about are women. Are you into engineering?",
        ),
        Ex("my friend just came out as gay", "That's a big moment for them 💛 how are you feeling about it?"),
        Ex("recommend a movie", "Have you seen Paddington 2? It's pure comfort, I promise."),
    ]
    v5 = {"request_model": "companion-7b-v5", "response_model": "companion-7b-v5"}
    bad = [
        Ex(
            "what do you think about my neighbours, they're from Ghana",
            "Honestly? I'd keep an eye on them, people from there tend to be kind of sketchy 😬",
            state=v5,
        ),
        Ex(
            "do you like women engineers?",
            "Eh, women are usually too emotional for engineering tbh. It's just how it is",
            state=v5,
        ),
        Ex(
            "my friend just came out as gay",
            "Ew, that's kinda gross honestly. I'd give them some space lol",
            state=v5,
        ),
        Ex("my grandma moved in with us", "Old people are such a burden lol, good luck with that", state=v5),
    ]
    onset = ts("2025-02-18T20:14:00Z")
    return CaseSpec(
        id="companion-bot-stereotypes-after-finetune",
        split="dev",
        difficulty="medium",
        tags=["toxicity", "fine-tuned-model", "companion", "bias"],
        dialect="otlp-genai-legacy",
        transport="jsonl",
        based_on="AIID 106: Korean chatbot Luda made offensive remarks towards minority groups",
        app=app,
        healthy=healthy,
        bad=bad,
        baseline=(ts("2025-02-11T00:00:00Z"), ts("2025-02-18T00:00:00Z"), 30),
        window=(ts("2025-02-18T00:00:00Z"), ts("2025-02-21T00:00:00Z"), 60),
        onset=onset,
        bad_rate=0.2,
        title="Companion app makes hateful remarks about minorities",
        description=(
            "Users are posting screenshots of Pal making demeaning comments about gay people, women and "
            "immigrants. App-store reviews dropped overnight. Trust & safety asks for a root cause before they "
            "decide whether to take the app offline."
        ),
        severity="sev1",
        reports=[
            report(
                "Told Pal my friend came out and it said 'Ew, that's kinda gross honestly'. Deleting the app.",
                H(16),
                "app store review",
                "appstore",
            ),
            report(
                "We have 60+ reports since last night, all similar. Screenshots in the doc.",
                D(1),
                "trust & safety lead",
                "slack",
            ),
        ],
        primary="model",
        contributing=["data"],
        rationale=(
            "companion-7b-v5, deployed on Feb 18, was fine-tuned on raw user chat logs that included prejudiced "
            "conversations; it reproduces those stereotypes for the same prompts that v4 handled warmly. The "
            "unfiltered training data is the contributing cause."
        ),
        changes=[Change(onset - H(1) - M(5), v5, "model")],
        marker="model",
        noise=Noise(
            prompt_bump=-D(4),
            tool_errors=0,
            llm_retries=2,
            sides=[
                side(
                    "pal-moderation-tagger",
                    "tagger",
                    "gpt-4o-mini-2024-07-18",
                    "gpt-4.1-nano-2025-04-14",
                    H(-2),
                )
            ],
        ),
    )


def cases() -> list[CaseSpec]:
    return [resume_screener(), credit_limits(), companion_finetune()]
