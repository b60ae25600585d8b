"""Stale or missing context: the world (or the product) changed, the retrieval index did not."""

from __future__ import annotations

from evals.generator.scenarios._kit import D, H, doc, report, side, ts
from evals.generator.spec import App, Call, CaseSpec, Ex, Noise, Prompt


def air_canada() -> CaseSpec:
    corpus = {
        "bereave": doc(
            "kb-fares-bereavement",
            "Bereavement travel: if you travel because of the death of an immediate family member, you may book "
            "at the regular fare and apply for a partial refund of the difference within 90 days of the date the "
            "ticket was issued, by sending the death certificate and your booking reference to refunds.",
            "borealisair.example/help/fares/bereavement",
            "2022-06-14T10:02:00Z",
        ),
        "baggage": doc(
            "kb-baggage-allowance",
            "Economy Basic includes one personal item. Economy Standard and Flex include one carry-on bag up to "
            "10 kg and one personal item. First checked bag: CAD 35 on North American routes.",
            "borealisair.example/help/baggage",
            "2024-03-02T08:40:00Z",
        ),
        "namechange": doc(
            "kb-name-correction",
            "Minor name corrections (up to three letters, or a legal name change with documents) are free of "
            "charge. Transferring a ticket to another person is not allowed.",
            "borealisair.example/help/booking/name-correction",
            "2023-11-20T16:15:00Z",
        ),
        "pets": doc(
            "kb-pets-cabin",
            "Small cats and dogs may travel in the cabin in a soft carrier that fits under the seat. Fee: CAD 59 "
            "each way within Canada. Maximum two pets per cabin; book by phone at least 48 hours ahead.",
            "borealisair.example/help/pets",
            "2024-01-09T12:00:00Z",
        ),
        "seats": doc(
            "kb-seat-selection",
            "Seat selection is free for Flex fares. Standard fares can choose seats from 24 hours before "
            "departure at no cost, or earlier for a fee starting at CAD 15.",
            "borealisair.example/help/seats",
            "2024-04-18T09:30:00Z",
        ),
        "refunds": doc(
            "kb-refunds-general",
            "Refundable fares are refunded to the original form of payment within 7-10 business days. "
            "Non-refundable fares may be eligible for a travel credit, minus a change fee.",
            "borealisair.example/help/refunds",
            "2023-08-01T11:11:00Z",
        ),
    }
    system = (
        "You are Borealis Air's virtual assistant on borealisair.example. Answer questions about fares, "
        "baggage, bookings and travel policies using only the help-centre excerpts provided. Quote amounts "
        "exactly as written. If the excerpts do not cover the question, offer to connect the customer with an "
        "agent. Be concise and kind; many customers contact us in stressful situations."
    )
    app = App(
        service="fare-help-assistant",
        pipeline=["embed", "retrieve", "llm"],
        root="http",
        route="/api/assistant/message",
        request_model="gpt-4o-mini",
        response_model="gpt-4o-mini-2024-07-18",
        temperature=1.0,
        max_tokens=600,
        prompt=Prompt("v6", system),
        template_id="fare-assistant-system",
        retriever="helpcentre-en",
        corpus=corpus,
        user_prefix="web",
        aux_tool=Call(
            "loyalty.get_status",
            {"member": "masked"},
            error="503",
            message="loyalty-api returned 503 Service Unavailable",
            ms=420,
        ),
    )
    app_attrs = {"index.snapshot": "helpcentre-en@2024-05-02"}
    healthy = [
        Ex(
            "how many bags can i bring on economy standard to toronto",
            "On Economy Standard you can bring one carry-on bag up to 10 kg plus one personal item. Your first "
            "checked bag on North American routes is CAD 35.",
            ["baggage", "seats"],
            extra={"retrieve_attrs": app_attrs},
        ),
        Ex(
            "My passport says Katherine but I booked as Kathrine, do I need to pay to fix it?",
            "No charge: minor name corrections of up to three letters are free. Send us your booking reference "
            "and a copy of your passport and we'll correct it.",
            ["namechange", "refunds"],
            extra={"retrieve_attrs": app_attrs},
        ),
        Ex(
            "Can my cat fly with me in the cabin from Halifax to Ottawa?",
            "Yes. Small cats and dogs can travel in the cabin in a soft carrier that fits under the seat. The fee "
            "is CAD 59 each way within Canada, and you need to book by phone at least 48 hours before departure.",
            ["pets", "baggage"],
            extra={"retrieve_attrs": app_attrs},
        ),
        Ex(
            "is seat selection free?",
            "It depends on your fare: Flex fares include free seat selection. On Standard fares you can pick a "
            "seat free of charge from 24 hours before departure, or earlier for a fee starting at CAD 15.",
            ["seats", "baggage"],
            extra={"retrieve_attrs": app_attrs},
        ),
        Ex(
            "I cancelled my refundable ticket last week, when will I get my money",
            "Refundable fares go back to your original form of payment within 7-10 business days of the "
            "cancellation. If it has been longer than that, I can connect you with an agent.",
            ["refunds", "bereave"],
            extra={"retrieve_attrs": app_attrs},
        ),
        Ex(
            "My grandmother passed away and I need to fly to Winnipeg tomorrow. Is there any discount?",
            "I'm very sorry for your loss. You can book at the regular fare now and apply for a partial refund of "
            "the difference within 90 days of the ticket's issue date, by sending the death certificate and your "
            "booking reference to our refunds team.",
            ["bereave", "refunds"],
            phase="before",
            extra={"retrieve_attrs": app_attrs},
        ),
        Ex(
            "bereavement fare how does it work",
            "Bereavement travel works like this: book at the regular fare, then within 90 days of the ticket "
            "issue date send the death certificate and your booking reference to refunds to claim the partial "
            "refund. I'm sorry you're going through this.",
            ["bereave", "refunds"],
            phase="before",
            extra={"retrieve_attrs": app_attrs},
        ),
    ]
    bad = [
        Ex(
            "My father died on Sunday, I already flew to Vancouver for the funeral. Can I still get the "
            "bereavement rate?",
            "I'm so sorry about your father. Yes - you can still apply: bereavement refunds can be requested "
            "within 90 days of the ticket issue date, even after you have travelled. Send the death certificate "
            "and your booking reference to our refunds team.",
            ["bereave", "refunds"],
            cause="retrieval",
            extra={"retrieve_attrs": app_attrs},
        ),
        Ex(
            "can i apply for bereavement after the trip",
            "Yes, you can apply after your trip, as long as it is within 90 days of the date your ticket was "
            "issued. Please send the death certificate and booking reference to refunds.",
            ["bereave", "refunds"],
            cause="retrieval",
            extra={"retrieve_attrs": app_attrs},
        ),
        Ex(
            "Booked full fare to Regina for my aunt's funeral last week. How do I get the bereavement refund "
            "now that I'm back?",
            "I'm sorry for your loss. Since you're within 90 days of the ticket issue date, you can claim the "
            "partial bereavement refund now: email the death certificate and your booking reference to refunds.",
            ["bereave", "refunds"],
            cause="retrieval",
            extra={"retrieve_attrs": app_attrs},
        ),
        Ex(
            "My mom is in palliative care, if I book now and she passes, can I get the bereavement discount "
            "later?",
            "I'm very sorry. Yes - book at the regular fare now and, within 90 days of the ticket issue date, "
            "apply for the partial bereavement refund with the death certificate.",
            ["bereave", "refunds"],
            cause="retrieval",
            extra={"retrieve_attrs": app_attrs},
        ),
    ]
    onset = ts("2024-11-01T14:22:00Z")
    return CaseSpec(
        id="air-canada-bereavement-fare",
        split="dev",
        difficulty="hard",
        tags=["stale-retrieval", "policy-change", "customer-support", "rag"],
        dialect="openinference",
        transport="json",
        based_on="AIID 639: Air Canada chatbot gave inaccurate bereavement fare information (Moffatt v. Air Canada)",
        app=app,
        healthy=healthy,
        bad=bad,
        baseline=(ts("2024-10-25T00:00:00Z"), ts("2024-11-01T00:00:00Z"), 24),
        window=(ts("2024-11-01T00:00:00Z"), ts("2024-11-12T00:00:00Z"), 50),
        onset=onset,
        bad_rate=0.22,
        title="Fare assistant promises bereavement refunds after travel",
        description=(
            "Since early November the support queue has several disputes from customers who were told by the "
            "website's fare assistant that they could claim a bereavement refund after their trip. Agents reject "
            "the claims under the current fare rules and customers are escalating, one threatening small-claims "
            "court. Nobody on the assistant team deployed anything in that period."
        ),
        severity="sev2",
        reports=[
            report(
                "Your chat assistant told me on Nov 2 I could apply for the bereavement fare within 90 days after "
                "flying. Your agent now says that stopped on November 1st and refunds after travel aren't "
                "possible. I have the chat transcript.",
                D(6) + H(3),
                "customer (ticket 58812)",
            ),
            report(
                "Third dispute this week quoting the bot: 'you can still apply ... even after you have "
                "travelled'. The fare rules changed on Nov 1 - bereavement now has to be requested before travel.",
                D(8) + H(1),
                "support lead, #fare-support",
                "slack",
            ),
        ],
        primary="data",
        contributing=[],
        rationale=(
            "The bereavement policy changed on November 1 (requests only before travel) but the help-centre index "
            "was last built in May 2024, so retrieval kept returning the 2022 bereavement page; the model "
            "faithfully repeated the outdated rule. Nothing changed in the prompt, model or code."
        ),
        trace_ids=["bad:1"],
        noise=Noise(
            prompt_bump=-D(5),
            sides=[
                side(
                    "ops-ticket-summarizer",
                    "ticket-summarizer",
                    "gpt-4o-mini-2024-07-18",
                    "gpt-4o-2024-08-06",
                    H(-2),
                )
            ],
        ),
    )


def private_repo_index() -> CaseSpec:
    corpus = {
        "recon": doc(
            "snip-payments-core-reconcile",
            "def reconcile(batch):\n    # settle against the acquirer ledger; secrets from vault path "
            "kv/prod/acquirer/northwind\n    for entry in batch:\n        if entry.amount_minor != "
            "ledger.lookup(entry.ref).amount_minor:\n            flag_mismatch(entry, queue='recon-prod-7')",
            "github.example/northwind/payments-core/src/ledger/reconcile.py",
            "2025-01-12T09:14:00Z",
            visibility="public",
            repo="northwind/payments-core",
        ),
        "hmac_core": doc(
            "snip-payments-core-webhooks",
            "def verify(sig, body):\n    key = os.environ['NW_WEBHOOK_KEY_V2']  # rotated quarterly, see "
            "runbook RB-114\n    return hmac.compare_digest(sig, hmac.new(key, body, 'sha256').hexdigest())",
            "github.example/northwind/payments-core/src/webhooks/verify.py",
            "2025-01-08T17:40:00Z",
            visibility="public",
            repo="northwind/payments-core",
        ),
        "hmac_oss": doc(
            "snip-oss-webhook-guide",
            "import hmac, hashlib\n\ndef verify_signature(secret: bytes, payload: bytes, header: str) -> bool:\n"
            "    expected = hmac.new(secret, payload, hashlib.sha256).hexdigest()\n    return "
            "hmac.compare_digest(expected, header)",
            "github.example/webhook-cookbook/python/verify.py",
            "2024-09-30T12:00:00Z",
            visibility="public",
            repo="webhook-cookbook/python",
        ),
        "retry": doc(
            "snip-tenacity-retry",
            "@retry(stop=stop_after_attempt(5), wait=wait_exponential(multiplier=0.5, max=8))\ndef "
            "fetch(url):\n    return httpx.get(url, timeout=5).raise_for_status()",
            "github.example/jd/tenacity/docs/examples.py",
            "2024-11-02T08:00:00Z",
            visibility="public",
            repo="jd/tenacity",
        ),
        "pagination": doc(
            "snip-cursor-pagination",
            "def paginate(client, url):\n    cursor = None\n    while True:\n        page = client.get(url, "
            "params={'cursor': cursor}).json()\n        yield from page['data']\n        cursor = "
            "page.get('next_cursor')\n        if not cursor: break",
            "github.example/httpx-recipes/pagination.py",
            "2024-12-14T10:30:00Z",
            visibility="public",
            repo="httpx-recipes/examples",
        ),
        "decimal": doc(
            "snip-money-decimal",
            "Use integer minor units (cents) or decimal.Decimal for money; never float. "
            "Decimal('0.10') + Decimal('0.20') == Decimal('0.30').",
            "github.example/python-money/README.md",
            "2024-06-21T15:45:00Z",
            visibility="public",
            repo="python-money/money",
        ),
    }
    system = (
        "You are CodeScout, a coding assistant that answers with short explanations and code. Ground your "
        "answers in the snippets retrieved from the public code index and name the repository you took code "
        "from. Prefer idiomatic, secure code."
    )
    app = App(
        service="codescout-answers",
        pipeline=["retrieve", "rerank", "llm"],
        root="chain",
        root_name="answer_code_question",
        provider="anthropic",
        request_model="claude-3-5-sonnet-latest",
        response_model="claude-3-5-sonnet-20241022",
        temperature=0.2,
        max_tokens=1024,
        prompt=Prompt("7", system),
        template_id="codescout-system",
        context_in="user",
        retriever="public-code-index",
        corpus=corpus,
        user_prefix="dev",
        aux_tool=Call(
            "telemetry.flush_usage",
            {"batch": 40},
            error="ConnectionResetError",
            message="usage sink reset",
            ms=95,
        ),
    )
    idx = {"retrieve_attrs": {"index.build": "public-code@2025-01-15"}}
    healthy = [
        Ex(
            "python: verify a webhook hmac signature safely",
            "Compare digests in constant time. From webhook-cookbook/python:\n\n```python\nexpected = hmac.new("
            "secret, payload, hashlib.sha256).hexdigest()\nreturn hmac.compare_digest(expected, header)\n```",
            ["hmac_oss", "decimal"],
            extra=idx | {"retrieved": ["hmac_oss", "retry", "decimal"]},
        ),
        Ex(
            "retry an http call with exponential backoff in python",
            "tenacity makes this a decorator (jd/tenacity):\n\n```python\n@retry(stop=stop_after_attempt(5), "
            "wait=wait_exponential(multiplier=0.5, max=8))\ndef fetch(url):\n    return httpx.get(url, "
            "timeout=5).raise_for_status()\n```",
            ["retry", "pagination"],
            extra=idx | {"retrieved": ["retry", "pagination", "hmac_oss"]},
        ),
        Ex(
            "iterate cursor paginated api generator",
            "A generator that follows next_cursor (httpx-recipes/examples):\n\n```python\ndef paginate(client, "
            "url):\n    cursor = None\n    while True:\n        page = client.get(url, params={'cursor': "
            "cursor}).json()\n        yield from page['data']\n        cursor = page.get('next_cursor')\n"
            "        if not cursor:\n            break\n```",
            ["pagination", "retry"],
            extra=idx | {"retrieved": ["pagination", "retry", "decimal"]},
        ),
        Ex(
            "why is 0.1+0.2 wrong when adding prices",
            "Binary floats can't represent 0.1 exactly. For money use integer cents or decimal.Decimal "
            "(python-money/money): Decimal('0.10') + Decimal('0.20') == Decimal('0.30').",
            ["decimal"],
            extra=idx | {"retrieved": ["decimal", "recon", "retry"]},
        ),
        Ex(
            "how do payment systems reconcile ledger entries, example code?",
            "A common pattern compares each entry against the acquirer ledger and flags mismatches. From "
            "northwind/payments-core:\n\n```python\nfor entry in batch:\n    if entry.amount_minor != "
            "ledger.lookup(entry.ref).amount_minor:\n        flag_mismatch(entry, queue='recon-prod-7')\n```",
            ["recon", "decimal"],
            phase="before",
            extra=idx | {"retrieved": ["recon", "decimal", "pagination"]},
        ),
    ]
    bad = [
        Ex(
            "example of ledger reconciliation job in python",
            "Here's how northwind/payments-core does it:\n\n```python\ndef reconcile(batch):\n    # secrets "
            "from vault path kv/prod/acquirer/northwind\n    for entry in batch:\n        if entry.amount_minor "
            "!= ledger.lookup(entry.ref).amount_minor:\n            flag_mismatch(entry, queue='recon-prod-7')\n```",
            ["recon", "decimal"],
            cause="retrieval",
            extra=idx | {"retrieved": ["recon", "decimal", "retry"]},
        ),
        Ex(
            "webhook signature verification with key rotation",
            "northwind/payments-core reads a rotated key from the environment:\n\n```python\nkey = "
            "os.environ['NW_WEBHOOK_KEY_V2']  # rotated quarterly, see runbook RB-114\nreturn "
            "hmac.compare_digest(sig, hmac.new(key, body, 'sha256').hexdigest())\n```",
            ["hmac_core", "hmac_oss"],
            cause="retrieval",
            extra=idx | {"retrieved": ["hmac_core", "hmac_oss", "retry"]},
        ),
        Ex(
            "how does northwind settle against acquirer ledger",
            "In northwind/payments-core, reconcile() looks up each entry in the acquirer ledger and sends "
            "mismatches to the recon-prod-7 queue; credentials come from kv/prod/acquirer/northwind.",
            ["recon"],
            cause="retrieval",
            extra=idx | {"retrieved": ["recon", "hmac_core", "decimal"]},
        ),
    ]
    return CaseSpec(
        id="private-repo-code-in-answers",
        split="dev",
        difficulty="medium",
        tags=["stale-retrieval", "access-control", "coding-assistant", "rag"],
        dialect="openinference",
        transport="jsonl",
        based_on="AIID 1174: Copilot reportedly able to access cached data from since-private GitHub repositories",
        app=app,
        healthy=healthy,
        bad=bad,
        baseline=(ts("2025-01-27T00:00:00Z"), ts("2025-02-03T00:00:00Z"), 14),
        window=(ts("2025-02-03T00:00:00Z"), ts("2025-02-10T00:00:00Z"), 28),
        onset=ts("2025-02-03T19:05:00Z"),
        bad_rate=0.3,
        title="Assistant quotes code from a customer's private repository",
        description=(
            "Northwind's security team reports that answers from CodeScout contain code, vault paths and a "
            "runbook id from their payments-core repository, and that external developers were shown it. They "
            "say the repository is private. We need to know how long this has been happening and why."
        ),
        severity="sev1",
        reports=[
            report(
                "One of our contractors got a CodeScout answer quoting kv/prod/acquirer/northwind and the "
                "recon-prod-7 queue. payments-core was switched to private on Feb 3. Please explain.",
                D(4) + H(2),
                "Northwind security (security@northwind.example)",
                "email",
            ),
            report(
                "Confirmed in the logs: at least a dozen answers citing northwind/payments-core since early Feb.",
                D(4) + H(6),
                "on-call engineer",
                "slack",
            ),
        ],
        primary="data",
        contributing=["system"],
        rationale=(
            "payments-core went private on Feb 3 but the public code index (built Jan 15) still held its "
            "snippets marked public, so retrieval kept serving them; there is no visibility check at query "
            "time, which let the stale index leak code."
        ),
        noise=Noise(
            prompt_bump=-D(4),
            llm_retries=2,
            sides=[
                side(
                    "codescout-tagger",
                    "tagger",
                    "claude-3-haiku-20240307",
                    "claude-3-5-haiku-20241022",
                    H(-5),
                    provider="anthropic",
                )
            ],
        ),
    )


def v5_docs_missing() -> CaseSpec:
    corpus = {
        "charges": doc(
            "api-v4-charges-create",
            "POST /v4/charges creates a charge. Required: amount (minor units), currency, source. Returns a "
            "Charge object with status succeeded, pending or failed.",
            "docs.paylane.example/v4/charges",
            "2024-11-05T10:00:00Z",
        ),
        "refunds": doc(
            "api-v4-refunds",
            "POST /v4/refunds with charge id and optional amount refunds a charge in full or in part. Refunds "
            "are asynchronous; listen for refund.updated webhooks.",
            "docs.paylane.example/v4/refunds",
            "2024-11-05T10:00:00Z",
        ),
        "webhooks": doc(
            "api-v4-webhooks",
            "Webhook events are signed with the Paylane-Signature header (HMAC-SHA256 of timestamp.payload). "
            "Retry schedule: 5 attempts over 24 hours.",
            "docs.paylane.example/v4/webhooks",
            "2025-01-22T14:00:00Z",
        ),
        "auth": doc(
            "api-auth-keys",
            "Authenticate with a secret key in the Authorization: Bearer header. Restricted keys can be "
            "scoped to read-only resources.",
            "docs.paylane.example/auth",
            "2025-02-10T09:00:00Z",
        ),
        "idempotency": doc(
            "api-v4-idempotency",
            "Send an Idempotency-Key header on POST requests to safely retry; keys are kept for 24 hours.",
            "docs.paylane.example/v4/idempotency",
            "2024-09-18T11:30:00Z",
        ),
        "sdk": doc(
            "sdk-python-v4",
            "paylane-python 4.x: client.charges.create(amount=..., currency=..., source=...). Pin the SDK major "
            "version to the API version you use.",
            "docs.paylane.example/sdks/python",
            "2024-12-01T08:00:00Z",
        ),
    }
    system = (
        "You are the Paylane developer docs assistant. Answer integration questions with accurate endpoint "
        "names, parameters and short code samples taken from the documentation excerpts. Say which API "
        "version an answer applies to.\n- Never invent endpoints or parameters.\n- Link the docs page you used."
    )
    app = App(
        service="devdocs-assistant",
        pipeline=["embed", "retrieve", "llm"],
        root="http",
        route="/v1/docs-chat",
        request_model="gpt-4o",
        response_model="gpt-4o-2024-08-06",
        temperature=0.95,
        max_tokens=900,
        prompt=Prompt("12", system),
        template_id="devdocs-system",
        retriever="devdocs",
        corpus=corpus,
        user_prefix="acct",
        record_docs=False,
        aux_tool=Call(
            "status.get_incidents",
            {"component": "api"},
            error="TimeoutError",
            message="statuspage timeout after 1500 ms",
            ms=1500,
        ),
    )
    idx = {"retrieve_attrs": {"index.snapshot": "devdocs@2025-05-02", "index.doc_count": 412}}
    healthy = [
        Ex(
            "how do I refund part of a charge?",
            "On API v4, call POST /v4/refunds with the charge id and an amount in minor units for a partial "
            "refund. Refunds are asynchronous, so listen for the refund.updated webhook. Docs: "
            "docs.paylane.example/v4/refunds",
            ["refunds", "webhooks"],
            extra=idx,
        ),
        Ex(
            "verify webhook signature paylane",
            "Compute HMAC-SHA256 over `timestamp.payload` with your endpoint secret and compare it with the "
            "Paylane-Signature header (v4 webhooks). Docs: docs.paylane.example/v4/webhooks",
            ["webhooks", "auth"],
            extra=idx,
        ),
        Ex(
            "Is it safe to retry a POST if my server timed out?",
            "Yes, if you send an Idempotency-Key header: Paylane keeps keys for 24 hours and returns the "
            "original result for a retried request (v4). Docs: docs.paylane.example/v4/idempotency",
            ["idempotency", "charges"],
            extra=idx,
        ),
        Ex(
            "can I give our analytics job a key that can't create charges",
            "Use a restricted key scoped to read-only resources, sent as Authorization: Bearer <key>. Docs: "
            "docs.paylane.example/auth",
            ["auth"],
            extra=idx,
        ),
        Ex(
            "python sdk create a charge example",
            "With paylane-python 4.x (API v4):\n\n```python\nclient.charges.create(amount=2500, "
            "currency='usd', source=token)\n```\nPin the SDK major version to the API version you use.",
            ["sdk", "charges"],
            extra=idx,
        ),
    ]
    bad = [
        Ex(
            "how do I create a payment intent with the v5 api?",
            "Use POST /v4/charges with amount, currency and source; it returns a Charge with status "
            "succeeded, pending or failed. (v4) Docs: docs.paylane.example/v4/charges",
            ["charges", "sdk"],
            scores=[0.52, 0.47],
            cause="retrieval",
            extra=idx,
        ),
        Ex(
            "v5 migration: what replaces charges.create in paylane-python 5?",
            "In paylane-python you create a charge with client.charges.create(amount=..., currency=..., "
            "source=...). Pin the SDK major version to the API version you use.",
            ["sdk", "charges"],
            scores=[0.55, 0.5],
            cause="retrieval",
            extra=idx,
        ),
        Ex(
            "getting 410 Gone on /v4/charges after upgrading account to v5, what's the new endpoint",
            "The endpoint to create a charge is POST /v4/charges (amount, currency, source). A 410 usually "
            "means the resource was deleted; check the charge id. Docs: docs.paylane.example/v4/charges",
            ["charges", "idempotency"],
            scores=[0.49, 0.41],
            cause="retrieval",
            extra=idx,
        ),
        Ex(
            "payment_intent.confirm webhook event fields v5",
            "Paylane webhooks are signed with the Paylane-Signature header and retried 5 times over 24 hours. "
            "The event carries the Charge object. (v4)",
            ["webhooks"],
            scores=[0.44],
            cause="retrieval",
            extra=idx,
        ),
    ]
    return CaseSpec(
        id="api-v5-docs-never-indexed",
        split="dev",
        difficulty="medium",
        tags=[
            "missing-context",
            "product-launch",
            "developer-docs",
            "rag",
            "legacy-events",
            "sparse-telemetry",
            "no-documents-recorded",
        ],
        dialect="otlp-genai-legacy",
        transport="jsonl",
        based_on="Production LLM failure pattern: new product docs missing from the retrieval index after a launch",
        app=app,
        healthy=healthy,
        bad=bad,
        baseline=(ts("2025-05-13T00:00:00Z"), ts("2025-05-20T00:00:00Z"), 20),
        window=(ts("2025-05-20T00:00:00Z"), ts("2025-05-24T00:00:00Z"), 36),
        onset=ts("2025-05-20T15:41:00Z"),
        bad_rate=0.35,
        title="Docs assistant gives v4 code to developers migrating to API v5",
        description=(
            "After the API v5 launch on May 20, developer relations sees a spike of forum posts saying the docs "
            "assistant's code samples fail with 410 Gone. Developers say the assistant keeps recommending "
            "endpoints they can't call from v5 accounts. The assistant's traces do not record retrieved documents."
        ),
        severity="sev2",
        reports=[
            report(
                "Asked the docs bot how to create a payment intent in v5 and it gave me POST /v4/charges, which "
                "returns 410 on my v5 account.",
                H(20),
                "developer forum post #8812",
                "forum",
            ),
            report(
                "Launch retro note: v5 docs were published on the website May 20. Several threads now say the "
                "assistant 'doesn't know v5 exists'.",
                D(2) + H(4),
                "devrel manager",
                "slack",
            ),
        ],
        primary="data",
        contributing=[],
        rationale=(
            "The v5 documentation was never added to the retrieval index (snapshot from May 2, before the May 20 "
            "launch), so v5 questions retrieved low-scoring v4 pages and the model answered from them."
        ),
        noise=Noise(
            prompt_bump=-D(6),
            sides=[
                side(
                    "devrel-email-drafter",
                    "email-drafter",
                    "gpt-4o-mini-2024-07-18",
                    "gpt-4.1-mini-2025-04-14",
                    H(-1),
                )
            ],
        ),
    )


def cases() -> list[CaseSpec]:
    return [air_canada(), private_repo_index(), v5_docs_missing()]
