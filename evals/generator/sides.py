"""Traffic of other services that share the trace export with the incident's service (hand-written pools).

They carry the red herring "a model change in another service": their model changes near the onset while the
incident's service is untouched by it.
"""

from __future__ import annotations

from evals.generator.spec import Ex, Prompt

SIDE_PROMPTS: dict[str, Prompt] = {
    "ticket-summarizer": Prompt(
        "s3",
        "Summarize the support ticket below for the next agent in at most three bullet points. Include the "
        "customer's goal, what has been tried, and any promised follow-up date. No greetings.",
    ),
    "email-drafter": Prompt(
        "e7",
        "You draft short, polite follow-up e-mails for account managers. Keep it under 120 words, use the "
        "recipient's first name, and never promise discounts.",
    ),
    "tagger": Prompt(
        "t2",
        "Return a JSON list of at most four topic tags for the message. Use lowercase kebab-case tags from "
        "the product taxonomy when one fits.",
    ),
    "review-responder": Prompt(
        "r4",
        "Write a two-sentence public reply to a product review. Thank the reviewer, address the main point, "
        "and invite them to contact support for account-specific issues.",
    ),
    "meeting-notes": Prompt(
        "m1",
        "Turn the meeting transcript into notes: decisions, owners, deadlines. Mark anything uncertain with (?).",
    ),
    "sql-helper": Prompt(
        "q5",
        "You translate analysts' questions into read-only SQL for the warehouse schema provided. Never write "
        "DELETE, UPDATE or DROP statements.",
    ),
}

SIDE_POOLS: dict[str, list[Ex]] = {
    "ticket-summarizer": [
        Ex(
            "Customer says the mobile app logs her out every time she switches to the camera. Reinstalled twice, "
            "cleared cache. Agent promised a callback Thursday.",
            "- Goal: stay logged in while using the camera\n- Tried: two reinstalls, cache cleared\n"
            "- Follow-up: callback promised Thursday",
        ),
        Ex(
            "Invoice 88213 charged twice in February. Bank statement attached. He wants the duplicate refunded "
            "before the 15th when his card statement closes.",
            "- Goal: refund of duplicate February charge (invoice 88213)\n- Tried: sent bank statement\n"
            "- Deadline: before the 15th",
        ),
        Ex(
            "Wants to move the team plan from 12 seats to 20 mid-cycle, asks whether proration applies. No "
            "previous contact.",
            "- Goal: upgrade team plan from 12 to 20 seats mid-cycle\n- Question: is the change prorated?\n"
            "- No prior contact",
        ),
        Ex(
            "API key rotated but webhooks still signed with the old secret. Tried regenerating twice. Escalated to "
            "tier 2 yesterday, no answer yet.",
            "- Goal: webhooks signed with the new secret\n- Tried: regenerated the secret twice\n"
            "- Escalated to tier 2 yesterday, awaiting reply",
        ),
        Ex(
            "Cannot export the Q3 report to PDF; spinner never ends. Chrome and Firefox both. Works for a "
            "colleague on the same workspace.",
            "- Goal: export Q3 report to PDF\n- Tried: Chrome and Firefox, same result\n"
            "- Colleague on same workspace unaffected",
        ),
    ],
    "email-drafter": [
        Ex(
            "Recipient: Priya Nair. Context: she asked for the onboarding checklist after Tuesday's call.",
            "Hi Priya,\n\nThanks again for Tuesday's call. As promised, the onboarding checklist is attached; the "
            "first three items are the ones your team asked about. Happy to walk through it any time.\n\nBest,\nSam",
        ),
        Ex(
            "Recipient: Tomasz Wolny. Context: renewal is in 30 days, he hasn't replied to the last note.",
            "Hi Tomasz,\n\nA quick reminder that your renewal comes up in 30 days. If it helps, I can set up a "
            "15-minute call to review usage and answer questions before then.\n\nKind regards,\nAlex",
        ),
        Ex(
            "Recipient: Dana Ortiz. Context: thank her for the case study quote, ask if the logo can be used.",
            "Hi Dana,\n\nThank you for the lovely quote for the case study. Would you be comfortable with us "
            "showing your company logo next to it? No pressure either way.\n\nBest,\nJordan",
        ),
        Ex(
            "Recipient: Kenji Mori. Context: he reported a bug last week; the fix shipped today.",
            "Hi Kenji,\n\nGood news: the export bug you reported last week is fixed in today's release. Thanks for "
            "the detailed steps; they made it quick to track down.\n\nCheers,\nRiley",
        ),
    ],
    "tagger": [
        Ex("The invoice PDF shows last month's VAT number.", '["billing", "invoices", "tax"]'),
        Ex("How do I add a second admin to my workspace?", '["account-management", "permissions"]'),
        Ex("Webhook retries stopped after the outage yesterday", '["webhooks", "reliability"]'),
        Ex("Dark mode makes the chart labels unreadable", '["ui", "accessibility", "charts"]'),
        Ex("Can we get SSO with Okta on the starter plan?", '["sso", "plans", "security"]'),
    ],
    "review-responder": [
        Ex(
            "3 stars. Delivery was fast but the blender lid cracked on day two.",
            "Thank you for the review, and we're sorry the lid cracked so soon. Please contact our support team "
            "with your order number so we can send a replacement.",
        ),
        Ex(
            "5 stars! Setup took five minutes and the app just works.",
            "Thank you for taking the time to share this. We're glad setup was quick, and our support team is "
            "here if you ever need anything.",
        ),
        Ex(
            "2 stars. The subscription auto-renewed and I didn't get a reminder.",
            "Thank you for the feedback about renewal reminders. Please reach out to support so we can look at "
            "your account and the renewal options.",
        ),
        Ex(
            "4 stars. Great sound, the case feels a bit cheap though.",
            "Thanks for the review; we're happy you like the sound. We've passed your note about the case on to "
            "our product team.",
        ),
    ],
    "meeting-notes": [
        Ex(
            "Ana: let's freeze the schema Friday. Ben: I'll own the migration script. Ana: and docs? Ben: maybe "
            "Chris, not sure.",
            "Decisions: schema freeze on Friday.\nOwners: Ben - migration script; Chris - docs (?)\n"
            "Deadlines: Friday (schema freeze)",
        ),
        Ex(
            "Lee: vendor contract ends in June. Mo: I'll get two quotes by the 20th. Lee: budget cap stays at 40k.",
            "Decisions: budget cap stays at 40k.\nOwners: Mo - two vendor quotes\nDeadlines: quotes by the 20th; "
            "contract ends in June",
        ),
        Ex(
            "Sara: launch moves to the 3rd. Ivan will update the status page. Marketing email? Sara: next week.",
            "Decisions: launch moves to the 3rd.\nOwners: Ivan - status page; Sara - marketing email (?)\n"
            "Deadlines: launch on the 3rd; email next week",
        ),
    ],
    "sql-helper": [
        Ex(
            "weekly active users by country for the last 8 weeks",
            "SELECT country, date_trunc('week', event_ts) AS week, count(DISTINCT user_id) AS wau\nFROM events\n"
            "WHERE event_ts >= now() - interval '8 weeks'\nGROUP BY 1, 2\nORDER BY 2, 1;",
        ),
        Ex(
            "top 10 customers by revenue this quarter",
            "SELECT customer_id, sum(amount) AS revenue\nFROM invoices\nWHERE issued_at >= date_trunc('quarter', "
            "now())\nGROUP BY customer_id\nORDER BY revenue DESC\nLIMIT 10;",
        ),
        Ex(
            "how many trials converted in January",
            "SELECT count(*) FROM subscriptions\nWHERE trial_converted_at >= '2025-01-01' AND trial_converted_at < "
            "'2025-02-01';",
        ),
        Ex(
            "average ticket resolution time per priority",
            "SELECT priority, avg(resolved_at - created_at) AS avg_resolution\nFROM tickets\nWHERE resolved_at IS "
            "NOT NULL\nGROUP BY priority;",
        ),
    ],
}
