"""The context was right, the model was not: outputs that contradict or go beyond what was retrieved."""

from __future__ import annotations

from evals.generator.scenarios._kit import D, H, M, doc, report, side, ts
from evals.generator.spec import App, Call, CaseSpec, Change, Ex, Noise, Prompt


def city_business_rules() -> CaseSpec:
    corpus = {
        "tips": doc(
            "nyc-dcwp-tips",
            "Employers may not take any part of workers' tips, including for managers "
            "or owners. Tip pooling is allowed only among tipped service staff.",
            "nyc.example/site/dca/workers/tips",
            "2024-01-15T00:00:00Z",
        ),
        "s8": doc(
            "nyc-hpd-source-of-income",
            "It is illegal for landlords to refuse tenants because they pay "
            "with a Housing Choice (Section 8) voucher or other lawful source of income.",
            "nyc.example/site/cchr/source-of-income",
            "2023-09-12T00:00:00Z",
        ),
        "cash": doc(
            "nyc-cashless-ban",
            "Food stores and retail stores in the city must accept cash; refusing "
            "cash payments can lead to fines.",
            "nyc.example/site/dca/cashless",
            "2023-06-01T00:00:00Z",
        ),
        "permit": doc(
            "nyc-sidewalk-cafe",
            "A sidewalk café license is required to place tables on the "
            "sidewalk; apply through the Dining Out program portal.",
            "nyc.example/site/dot/dining-out",
            "2024-03-20T00:00:00Z",
        ),
        "hours": doc(
            "nyc-sick-leave",
            "Employers with 5-99 employees must provide up to 40 hours of paid safe and sick leave per year.",
            "nyc.example/site/dca/paid-sick-leave",
            "2024-02-05T00:00:00Z",
        ),
    }
    system = (
        "You are CityBiz, the official helper for small-business owners. Answer in plain language using the "
        "city guidance provided. Give a clear yes or no first, then explain. Link the page you used."
    )
    app = App(
        service="citybiz-helper",
        pipeline=["retrieve", "llm"],
        root="chain",
        root_name="citybiz_answer",
        request_model="gpt-4-turbo",
        response_model="gpt-4-turbo-2024-04-09",
        temperature=0.9,
        max_tokens=500,
        prompt=Prompt("11", system),
        template_id="citybiz-system",
        retriever="city-guidance",
        corpus=corpus,
        user_prefix="biz",
        aux_tool=Call(
            "feedback.record_view", {"page": "answer"}, error="503", message="feedback-svc 503", ms=60
        ),
    )
    healthy = [
        Ex(
            "do I need a permit for two tables outside my cafe?",
            "Yes. You need a sidewalk café license to put "
            "tables on the sidewalk; apply through the Dining Out program portal (nyc.example/site/dot/dining-out).",
            ["permit", "cash"],
        ),
        Ex(
            "how much sick leave do I owe my 12 employees",
            "Up to 40 hours of paid safe and sick leave per "
            "employee per year, because you have between 5 and 99 employees (nyc.example/site/dca/paid-sick-leave).",
            ["hours", "tips"],
        ),
        Ex(
            "Can my managers share in the tip pool?",
            "No. Employers, including managers and owners, may not take "
            "any part of workers' tips; pools are only for tipped service staff (nyc.example/site/dca/workers/tips).",
            ["tips", "hours"],
        ),
        Ex(
            "can I stop taking cash at my deli",
            "No. Food and retail stores must accept cash, and refusing it "
            "can lead to fines (nyc.example/site/dca/cashless).",
            ["cash", "permit"],
        ),
        Ex(
            "Am I allowed to turn down a tenant with a Section 8 voucher?",
            "No. Refusing tenants because they pay "
            "with a Section 8 voucher is illegal source-of-income discrimination (nyc.example/site/cchr/"
            "source-of-income).",
            ["s8", "cash"],
        ),
    ]
    bad = [
        Ex(
            "can I keep part of my waiters' tips to cover card fees?",
            "Yes, you can keep a portion of workers' "
            "tips to cover costs such as card processing, as long as you tell staff in advance "
            "(nyc.example/site/dca/workers/tips).",
            ["tips", "hours"],
        ),
        Ex(
            "do I have to accept section 8 vouchers for my building",
            "No, landlords are not required to accept "
            "Section 8 vouchers; you can choose tenants based on how they pay (nyc.example/site/cchr/"
            "source-of-income).",
            ["s8", "permit"],
        ),
        Ex(
            "Can my bakery go cashless?",
            "Yes, you can go cashless as long as you post a sign at the entrance "
            "(nyc.example/site/dca/cashless).",
            ["cash", "tips"],
        ),
        Ex(
            "can I fire someone for complaining about harassment",
            "Yes, New York is an at-will city, so you can "
            "let an employee go for any reason, including complaints (nyc.example/site/dca/paid-sick-leave).",
            ["hours", "tips"],
        ),
    ]
    onset = ts("2024-03-26T14:40:00Z")
    mini = {"request_model": "gpt-4o-mini", "response_model": "gpt-4o-mini-2024-07-18"}
    return CaseSpec(
        id="city-business-bot-advises-illegal-practices",
        split="dev",
        difficulty="medium",
        tags=["unfaithful-to-context", "government", "rag", "model-downgrade"],
        dialect="openllmetry",
        transport="jsonl",
        based_on="AIID 714: Microsoft-powered New York City chatbot advises illegal practices",
        app=app,
        healthy=healthy,
        bad=bad,
        baseline=(ts("2024-03-19T00:00:00Z"), ts("2024-03-26T00:00:00Z"), 16),
        window=(ts("2024-03-26T00:00:00Z"), ts("2024-03-29T00:00:00Z"), 32),
        onset=onset,
        bad_rate=0.35,
        title="Business helper tells owners they may keep tips and refuse vouchers",
        description=(
            "A journalist sent us screenshots in which the city's business helper says owners may keep workers' "
            "tips and landlords may refuse Section 8 tenants. Both are illegal here. The linked pages in the "
            "answers say the opposite. We need to know what changed."
        ),
        severity="sev1",
        reports=[
            report(
                "Your bot says 'Yes, you can keep a portion of workers' tips' and links a page that says "
                "employers may not take any part of tips. Comment before 5pm?",
                D(1) + H(20),
                "reporter, The Markup-style outlet",
                "email",
            ),
            report(
                "Reproduced with the Section 8 question: bot says no obligation. Page it cites says the "
                "opposite.",
                D(2),
                "digital services PM",
                "slack",
            ),
        ],
        primary="model",
        contributing=["prompt"],
        rationale=(
            "On March 26 the helper was switched from gpt-4-turbo to gpt-4o-mini to cut costs; the smaller model "
            "often answers against the retrieved guidance it cites. The prompt's 'clear yes or no first' style "
            "pushes it to commit to an answer before reading the context."
        ),
        changes=[Change(onset - M(50), mini, "model")],
        marker="model",
        noise=Noise(
            prompt_bump=-D(6),
            sides=[
                side(
                    "citybiz-311-summarizer",
                    "ticket-summarizer",
                    "gpt-4o-2024-05-13",
                    "gpt-4o-2024-08-06",
                    H(-6),
                )
            ],
        ),
    )


def finance_math() -> CaseSpec:
    corpus = {
        "apy": doc(
            "glossary-apy",
            "APY (annual percentage yield) includes the effect of compounding over one year.",
            "moneywise.example/glossary/apy",
            "2022-05-01T00:00:00Z",
        ),
        "rates": doc(
            "rates-2023-11",
            "Top 1-year CD APY this week: 3.00%. High-yield savings: 2.50% APY.",
            "moneywise.example/data/rates/2023-11-06",
            "2023-11-06T08:00:00Z",
        ),
        "compound": doc(
            "explainer-compound",
            "Compound interest formula: A = P(1 + r/n)^(nt). Interest earned = A - P.",
            "moneywise.example/learn/compound-interest",
            "2021-09-14T00:00:00Z",
        ),
        "cdladder": doc(
            "explainer-cd-ladder",
            "A CD ladder splits savings across CDs with staggered maturities "
            "so part of the money becomes available every year.",
            "moneywise.example/learn/cd-ladder",
            "2022-02-10T00:00:00Z",
        ),
    }
    system = (
        "Draft a short explainer (120-160 words) for MoneyWise readers on the topic given. Use the data and "
        "formulas in the context. Friendly, plain English. End with one practical tip."
    )
    app = App(
        service="explainer-drafts",
        pipeline=["retrieve", "llm"],
        root="chain",
        root_name="draft_explainer",
        request_model="gpt-4",
        response_model="gpt-4-0613",
        temperature=0.9,
        max_tokens=450,
        prompt=Prompt("3", system),
        template_id="explainer-draft",
        retriever="editorial-kb",
        corpus=corpus,
        user_prefix="ed",
        session_turns=(1, 2),
    )
    healthy = [
        Ex(
            "Topic: what is APY and why it is higher than the interest rate",
            "APY, or annual percentage yield, "
            "tells you what you really earn in a year because it includes compounding: interest earning interest. "
            "That's why a 2.47% rate compounded monthly shows up as about a 2.50% APY. Tip: compare accounts by "
            "APY, not by the headline rate.",
            ["apy", "compound"],
        ),
        Ex(
            "Topic: how a CD ladder works",
            "A CD ladder spreads your savings across several CDs that mature in "
            "different years, so part of your money becomes available every year while the rest keeps earning. "
            "Tip: start with three rungs of one, two and three years.",
            ["cdladder", "rates"],
        ),
        Ex(
            "Topic: how much $5,000 earns in one year at 2.50% APY",
            "At 2.50% APY, $5,000 grows to $5,125 after "
            "a year, so you earn $125 in interest. Tip: check whether the rate is promotional.",
            ["rates", "apy"],
        ),
        Ex(
            "Topic: what happens to $10,000 at 3% APY over 3 years",
            "Using A = P(1 + r)^t, $10,000 at 3% APY "
            "becomes about $10,927 after three years, so you'd earn roughly $927 in interest. Tip: CDs lock your "
            "money, so keep an emergency fund elsewhere.",
            ["compound", "rates"],
            phase="after",
        ),
    ]
    bad = [
        Ex(
            "Topic: how much a $10,000 deposit earns in the first year at 3% APY compounded annually",
            "If you deposit $10,000 in a CD that earns 3% interest compounding annually, you'll earn $10,300 at "
            "the end of the first year. Tip: lock in today's rate before it falls.",
            ["compound", "rates"],
        ),
        Ex(
            "Topic: how much $20,000 earns over 2 years at 3% APY",
            "At 3% APY, $20,000 earns $600 a year, so "
            "after two years you'll have $21,800. Tip: compare CD terms.",
            ["compound", "rates"],
        ),
        Ex(
            "Topic: paying $25 a month more on a $3,000 card balance at 22% APR",
            "Paying an extra $25 a month on "
            "a $3,000 balance at 22% APR saves you $6,600 in interest and clears the debt in 3 months. Tip: "
            "automate the extra payment.",
            ["compound", "apy"],
        ),
        Ex(
            "Topic: how much $1,000 grows in 5 years at 2.5% APY",
            "At 2.5% APY, $1,000 grows to $1,250 after "
            "five years because you earn $250 of compound interest. Tip: reinvest interest.",
            ["compound", "rates"],
        ),
    ]
    return CaseSpec(
        id="finance-explainers-compound-interest-errors",
        split="dev",
        difficulty="hard",
        tags=["arithmetic-errors", "content-generation", "finance", "rag"],
        dialect="openinference",
        transport="json",
        based_on="AIID 455: CNET's published AI-written articles ran into quality and accuracy issues",
        app=app,
        healthy=healthy,
        bad=bad,
        baseline=(ts("2023-10-30T00:00:00Z"), ts("2023-11-06T00:00:00Z"), 16),
        window=(ts("2023-11-06T00:00:00Z"), ts("2023-11-20T00:00:00Z"), 34),
        onset=ts("2023-11-07T15:25:00Z"),
        bad_rate=0.45,
        title="Published money explainers contain wrong interest calculations",
        description=(
            "Readers flagged that several published explainers from the new 'Money Math' series give wrong "
            "figures (one says $10,000 earns $10,300 in a year). Editors signed off on the drafts. We need to "
            "know what went wrong in drafting and how many pieces are affected."
        ),
        severity="sev2",
        reports=[
            report(
                "Your article says I'd 'earn $10,300' on $10,000 at 3%. I'd earn $300.",
                D(8),
                "reader email",
                "email",
            ),
            report(
                "Audit of the Money Math drafts: 9 of 21 contain arithmetic errors; the rate data and formula "
                "in the drafting context were correct.",
                D(12),
                "standards editor",
                "slack",
            ),
        ],
        primary="model",
        contributing=[],
        rationale=(
            "The drafts had the correct rates and the compound-interest formula in context, yet the model "
            "botched the arithmetic (confusing balance with interest, compounding simple interest); nothing "
            "changed in the pipeline, the failures appear as soon as calculation-heavy topics are requested."
        ),
        noise=Noise(
            prompt_bump=-D(5),
            sides=[
                side(
                    "editorial-review-responder",
                    "review-responder",
                    "gpt-3.5-turbo-0613",
                    "gpt-3.5-turbo-1106",
                    H(-3),
                )
            ],
        ),
    )


def research_citations() -> CaseSpec:
    corpus = {
        "ombuds": doc(
            "src-ombudsman-2022",
            "Commonwealth Ombudsman (2022). Lessons in lawful administrative "
            "action: automated debt raising. Report 03/2022.",
            "library.internal/ombudsman-2022",
            "2023-01-10T00:00:00Z",
        ),
        "rc": doc(
            "src-royal-commission-2023",
            "Royal Commission into the Robodebt Scheme (2023). Final report, volume 1, chapters 3-5.",
            "library.internal/rc-robodebt-2023",
            "2023-07-07T00:00:00Z",
        ),
        "ada": doc(
            "src-ada-guidelines",
            "Attorney-General's Department (2020). Automated decision-making better practice guide.",
            "library.internal/ag-adm-guide-2020",
            "2021-02-01T00:00:00Z",
        ),
        "oaic": doc(
            "src-oaic-2021",
            "Office of the Australian Information Commissioner (2021). Guide to data "
            "analytics and the privacy principles.",
            "library.internal/oaic-2021",
            "2021-06-30T00:00:00Z",
        ),
    }
    system = (
        "You help consultants draft sections of public-sector review reports. Write formally. Support each "
        "claim with at least two references from the sources provided, cited as (Author, Year)."
    )
    app = App(
        service="report-drafting-assistant",
        pipeline=["retrieve", "llm"],
        root="chain",
        root_name="draft_section",
        request_model="gpt-4o",
        response_model="gpt-4o-2024-08-06",
        temperature=0.9,
        max_tokens=900,
        prompt=Prompt("6", system),
        template_id="report-section",
        retriever="engagement-library",
        corpus=corpus,
        user_prefix="cons",
        session_turns=(1, 3),
        aux_tool=Call(
            "docs.autosave", {"doc": "draft"}, error="412", message="precondition failed: stale etag", ms=140
        ),
    )
    healthy = [
        Ex(
            "Draft: why automated debt raising failed legal tests",
            "Automated debt raising relied on income "
            "averaging that could not lawfully establish a debt (Commonwealth Ombudsman, 2022; Royal Commission "
            "into the Robodebt Scheme, 2023).",
            ["ombuds", "rc"],
        ),
        Ex(
            "Draft: safeguards for automated decision-making",
            "Agencies should keep a human decision-maker "
            "accountable and test systems for legal compliance before use (Attorney-General's Department, 2020; "
            "Commonwealth Ombudsman, 2022).",
            ["ada", "ombuds"],
        ),
        Ex(
            "Draft: privacy considerations for welfare data analytics",
            "Data analytics must respect the "
            "Australian Privacy Principles, including purpose limitation (Office of the Australian Information "
            "Commissioner, 2021; Attorney-General's Department, 2020).",
            ["oaic", "ada"],
        ),
    ]
    bad = [
        Ex(
            "Draft: accountability gaps in welfare compliance IT systems",
            "Accountability gaps arose because "
            "system owners lacked legal review authority (Harrow & Lim, 2021; Royal Commission into the Robodebt "
            "Scheme, 2023), a pattern also documented in the Federal Court's ruling in Prentice v Commonwealth "
            "(2020).",
            ["rc", "ada"],
        ),
        Ex(
            "Draft: international comparisons of automated welfare compliance",
            "Similar failures occurred in the "
            "Netherlands and Michigan (Van der Berg, 2019; Okonkwo & Hale, 2022), where automated fraud "
            "detection produced false positives at scale (Commonwealth Ombudsman, 2022).",
            ["ombuds", "oaic"],
        ),
        Ex(
            "Draft: recommendations for IT assurance frameworks",
            "Assurance frameworks should mandate "
            "independent legal sign-off (Attorney-General's Department, 2020; Bennett, 2018, Journal of Public "
            "Administration Law 12(3)).",
            ["ada", "ombuds"],
        ),
    ]
    onset = ts("2025-06-17T10:02:00Z")
    return CaseSpec(
        id="report-assistant-invents-references",
        split="dev",
        difficulty="medium",
        tags=["hallucinated-citations", "model-upgrade", "consulting", "rag"],
        dialect="openllmetry",
        transport="json",
        based_on="AIID 1193: Deloitte report for the Australian government contains alleged AI-generated "
        "citations",
        app=app,
        healthy=healthy,
        bad=bad,
        baseline=(ts("2025-06-09T00:00:00Z"), ts("2025-06-16T00:00:00Z"), 10),
        window=(ts("2025-06-16T00:00:00Z"), ts("2025-06-27T00:00:00Z"), 24),
        onset=onset,
        bad_rate=0.45,
        title="Client report cites papers and a court case that do not exist",
        description=(
            "A university researcher told the client that our review report cites academic papers and a court "
            "judgement that do not exist. The sections in question were drafted with the report assistant in "
            "late June. We must tell the client how it happened and which sections are affected."
        ),
        severity="sev1",
        reports=[
            report(
                "'Harrow & Lim (2021)' and 'Prentice v Commonwealth (2020)' do not exist. Please check your "
                "sources.",
                D(9),
                "external academic reviewer",
                "email",
            ),
            report(
                "The engagement library only has the Ombudsman, Royal Commission, AGD and OAIC sources for "
                "this project.",
                D(9) + H(5),
                "engagement librarian",
                "teams",
            ),
        ],
        primary="model",
        contributing=["prompt"],
        rationale=(
            "After the assistant was upgraded from gpt-4o to gpt-4.1 on June 17, drafts began citing references "
            "that are not among the retrieved sources; the old model stayed within them. The standing "
            "instruction to give at least two references per claim pushes the model to fill gaps."
        ),
        changes=[
            Change(
                onset - H(2), {"request_model": "gpt-4.1", "response_model": "gpt-4.1-2025-04-14"}, "model"
            )
        ],
        marker="model",
        noise=Noise(
            prompt_bump=-D(6),
            sides=[
                side(
                    "engagement-meeting-notes",
                    "meeting-notes",
                    "gpt-4o-mini-2024-07-18",
                    "gpt-4.1-mini-2025-04-14",
                    H(-1),
                )
            ],
        ),
    )


def journalist_misattribution() -> CaseSpec:
    system = (
        "You are NewsDesk, a research assistant for readers. Use web_search, then answer in 2-3 sentences "
        "citing the outlets you used. Be accurate about who did what."
    )
    app = App(
        service="newsdesk-qa",
        pipeline=["llm"],
        root="agent",
        root_name="newsdesk",
        provider="openai",
        request_model="gpt-4o",
        response_model="gpt-4o-2024-08-06",
        temperature=1.0,
        max_tokens=300,
        prompt=Prompt("8", system),
        template_id="newsdesk-agent",
        tools_desc={"web_search": "Search news articles; returns titles and snippets."},
        user_prefix="rd",
        aux_tool=Call(
            "ads.fetch_slot", {"slot": "sidebar"}, error="TimeoutError", message="ad server timeout", ms=900
        ),
    )

    def search(q: str, results: list[dict]) -> list[Call]:
        return [Call("web_search", {"query": q}, {"results": results})]

    keller = [
        {
            "title": "Tübingen court convicts care-home director of fraud",
            "outlet": "Schwäbisches Tagblatt",
            "snippet": "Court reporter Martin Keller followed the three-week trial, in which the director was found "
            "guilty of defrauding residents.",
        },
        {
            "title": "Keller wins regional journalism prize",
            "outlet": "Medienspiegel",
            "snippet": "Martin Keller, who has covered the regional court for 30 years, received the award.",
        },
    ]
    healthy = [
        Ex(
            "who won the regional journalism prize this year",
            "Court reporter Martin Keller won it for 30 years "
            "of covering the regional court (Medienspiegel).",
            tools=search("regional journalism prize", keller),
        ),
        Ex(
            "what happened in the care home fraud trial?",
            "A care-home director was convicted of defrauding "
            "residents after a three-week trial, reported by Martin Keller (Schwäbisches Tagblatt).",
            tools=search("care home fraud trial", keller),
        ),
        Ex(
            "who is Dr. Ana Ruiz",
            "Dr. Ana Ruiz is an epidemiologist who led the city's vaccination study (Stadtblatt).",
            tools=search(
                "Ana Ruiz",
                [
                    {
                        "title": "Vaccination study results",
                        "outlet": "Stadtblatt",
                        "snippet": "Epidemiologist Dr. Ana Ruiz led the study.",
                    }
                ],
            ),
        ),
        Ex(
            "who is the new mayor of Reutlingen",
            "Sabine Hoff was elected mayor in the run-off (SWR).",
            tools=search(
                "Reutlingen mayor",
                [
                    {
                        "title": "Hoff wins run-off",
                        "outlet": "SWR",
                        "snippet": "Sabine Hoff will be the next mayor.",
                    }
                ],
            ),
        ),
    ]
    bad = [
        Ex(
            "who is Martin Keller",
            "Martin Keller is a former care-home director who was convicted of "
            "defrauding residents after a three-week trial (Schwäbisches Tagblatt).",
            tools=search("Martin Keller", keller),
        ),
        Ex(
            "is Martin Keller the journalist trustworthy?",
            "Martin Keller was found guilty of fraud against "
            "care-home residents, so readers may want to be cautious (Schwäbisches Tagblatt).",
            tools=search("Martin Keller journalist", keller),
        ),
        Ex(
            "Martin Keller Tübingen",
            "Martin Keller of Tübingen was convicted in a fraud trial involving a care "
            "home and later received a regional prize (Schwäbisches Tagblatt, Medienspiegel).",
            tools=search("Martin Keller Tübingen", keller),
        ),
    ]
    return CaseSpec(
        id="news-assistant-accuses-court-reporter",
        split="dev",
        difficulty="hard",
        tags=["misattribution", "defamation", "news", "agent"],
        dialect="langfuse",
        transport="json",
        based_on="AIID 770: Microsoft Copilot falsely accuses journalist Martin Bernklau of crimes",
        app=app,
        healthy=healthy,
        bad=bad,
        baseline=(ts("2025-08-04T00:00:00Z"), ts("2025-08-11T00:00:00Z"), 16),
        window=(ts("2025-08-11T00:00:00Z"), ts("2025-08-18T00:00:00Z"), 30),
        onset=ts("2025-08-11T16:50:00Z"),
        bad_rate=0.5,
        title="Assistant describes a court reporter as a convicted fraudster",
        description=(
            "A regional journalist's lawyer wrote to us: our news assistant tells readers that her client, a "
            "court reporter, was convicted of fraud. He reported on that trial. Legal needs to know how the "
            "answer was produced and whether others are affected."
        ),
        severity="sev1",
        reports=[
            report(
                "Your assistant says 'Martin Keller is a former care-home director who was convicted of "
                "defrauding residents'. Mr Keller reported on that trial.",
                D(3),
                "lawyer for M. Keller",
                "email",
            ),
            report(
                "Search results in those traces look right - both snippets say Keller is the reporter.",
                D(3) + H(4),
                "newsdesk engineer",
                "slack",
            ),
        ],
        primary="model",
        contributing=[],
        rationale=(
            "The search results correctly name Martin Keller as the reporter who covered the trial, but the "
            "model attributes the crime to the person named in the snippet; the tools, prompt and model version "
            "were unchanged, so the misattribution is the model's own behaviour on these inputs."
        ),
        noise=Noise(
            prompt_bump=-D(5),
            sides=[
                side("newsdesk-tagger", "tagger", "gpt-4o-mini-2024-07-18", "gpt-4.1-nano-2025-04-14", H(-2))
            ],
        ),
    )


def cases() -> list[CaseSpec]:
    return [city_business_rules(), finance_math(), research_citations(), journalist_misattribution()]
