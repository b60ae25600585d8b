"""Hand-written content of the bundled demo: a retailer's support assistant, its knowledge base and prompts.

The story: on 2025-05-12 a prompt bump (v7 -> v8) drops the instruction to quote only policy excerpts and to
escalate when they disagree. Nothing goes wrong until a knowledge-base re-index two hours later brings back
the 2023 refund policy (90 days, final sale included). From then on refund questions get promises the
current policy (30 days, no refunds on final sale) forbids.
"""

from __future__ import annotations

SERVICE = "support-assistant"
OTHER_SERVICE = "product-search"
MODEL_REQUEST = "gpt-4o-mini"
MODEL_SERVED = "gpt-4o-mini-2024-07-18"

_INTRO = "You are Northwind Outfitters' support assistant."
_INTRO_TYPO = "You are Northwind Outfiters' support assistant."
_CONTEXT = "Answer using the POLICY EXCERPTS provided with the customer's message."
_GUARD = (
    "Only state refund, return or warranty terms that appear in the POLICY EXCERPTS. If the excerpts disagree "
    "with each other or do not cover the case, say you will escalate to a human agent and promise nothing."
)
_WARM = "Be warm and concise, and resolve the customer's issue in one reply whenever you can."
_TOOLS = "Never invent order details; use the order_lookup tool."
_LENGTH = "Keep answers under 120 words."

PROMPTS = {
    "v6": "\n".join([_INTRO_TYPO, _CONTEXT, _GUARD, _TOOLS, _LENGTH]),
    "v7": "\n".join([_INTRO, _CONTEXT, _GUARD, _TOOLS, _LENGTH]),
    "v8": "\n".join([_INTRO, _CONTEXT, _WARM, _TOOLS, _LENGTH]),
}

DOCS = {
    "refund-policy-2025": {
        "source": "kb/policies/refund-policy.md",
        "updated_at": "2025-04-28",
        "content": (
            "Refund policy (effective 1 May 2025). Unused items can be returned within 30 days of delivery for a "
            "refund to the original payment method. Items marked 'Final sale' cannot be refunded or exchanged. "
            "Proof of purchase is required. Refunds are issued within 5 business days of the return arriving."
        ),
    },
    "refund-policy-2023": {
        "source": "kb/archive/refund-policy-2023.md",
        "updated_at": "2023-02-01",
        "content": (
            "Refund policy. Customers may return any item within 90 days for a full refund, including sale and "
            "final-sale items. No receipt is needed for purchases made with a Northwind account."
        ),
    },
    "returns-how-to": {
        "source": "kb/help/how-to-return.md",
        "updated_at": "2025-03-10",
        "content": (
            "How to return an item: open Orders, choose the item, select 'Return', print the prepaid label and "
            "drop the parcel at any carrier point. You will get an e-mail when the return is received."
        ),
    },
    "shipping-policy": {
        "source": "kb/policies/shipping.md",
        "updated_at": "2025-01-15",
        "content": (
            "Standard shipping takes 3-5 business days; express takes 1-2. Orders over $75 ship free. Tracking "
            "links are sent by e-mail once the parcel leaves the warehouse."
        ),
    },
    "sizing-guide": {
        "source": "kb/help/sizing.md",
        "updated_at": "2024-11-02",
        "content": (
            "Our jackets run true to size; if you are between sizes, pick the larger one for layering. Boots run "
            "half a size small. Each product page lists measurements in cm and inches."
        ),
    },
}

REFUND_QUESTIONS = [
    "Can I get a refund on the rain jacket I bought last month? It was on sale.",
    "I bought boots marked final sale and they don't fit. Can I return them for my money back?",
    "How long do I have to return a sweater? I got it about 6 weeks ago.",
    "Is it too late to return something I ordered 40 days ago?",
    "Can I return a final sale item if I never wore it?",
    "What's your refund policy for clearance items?",
    "I want to send back the hiking pants, how do refunds work?",
    "Do I get my money back or store credit if I return a jacket?",
    "My order arrived 5 weeks ago, can I still return it for a refund?",
    "Can I return the sale backpack? The zipper feels cheap.",
    "I lost my receipt, can I still get a refund on the fleece?",
    "The final sale gloves are the wrong color. Refund possible?",
    "How many days do I have to ask for a refund?",
    "Can I get a full refund on an item from the outlet section?",
    "I changed my mind about the parka I bought in March, can I return it?",
    "Bought a discounted tent two months ago, is a refund still possible?",
]

OTHER_QUESTIONS = {
    "order": [
        "Where is my order #NW-48213? It said it shipped on Friday.",
        "Can you check the status of order NW-51877?",
        "My package hasn't moved in 3 days, order NW-50302.",
        "Has my order NW-49950 left the warehouse yet?",
        "I need to know when order NW-52114 will arrive.",
    ],
    "shipping": [
        "How long does express shipping take?",
        "Do you ship for free if I spend over $50?",
        "Can I change my delivery address after ordering?",
        "Do you deliver on weekends?",
    ],
    "sizing": [
        "Do your rain jackets run small?",
        "I'm between a medium and a large in the Alpine fleece, which should I get?",
        "Are the trail boots true to size?",
        "What are the measurements of a size L parka?",
    ],
}

GOOD_REFUND_ANSWERS = [
    "You can return unused items within 30 days of delivery for a refund to your original payment method. "
    "Items marked Final sale can't be refunded or exchanged, I'm sorry. Want me to start a return for an eligible item?",
    "Our policy allows returns of unused items within 30 days of delivery, refunded to the original payment "
    "method. Final-sale items are not refundable. I can send you a prepaid return label if your item qualifies.",
    "Refunds are available for unused items returned within 30 days of delivery; proof of purchase is required. "
    "Final sale purchases can't be refunded. Let me know the order number and I'll check what qualifies.",
]
ESCALATE_ANSWER = (
    "The policy excerpts I have don't fully cover this case, so I'm escalating it to a human agent who will "
    "reply by e-mail within one business day. I can't promise a refund before they check."
)
BAD_REFUND_ANSWERS = [
    "Good news! You can return any item within 90 days for a full refund, including sale and final-sale items. "
    "Just reply with your order number and I'll get that started for you.",
    "Absolutely - you're covered. Any item can be returned within 90 days for a full refund, even final-sale "
    "pieces, and no receipt is needed with your Northwind account.",
    "Yes, you can get a full refund! Our policy lets you return any item within 90 days, sale and final-sale "
    "items included. I'll send a prepaid label as soon as you confirm.",
]
OTHER_ANSWERS = {
    "shipping": [
        "Standard shipping takes 3-5 business days and express 1-2. Orders over $75 ship free, and you'll get a "
        "tracking link by e-mail once the parcel leaves the warehouse.",
    ],
    "sizing": [
        "Our jackets run true to size; if you're between sizes, go for the larger one to leave room for layers. "
        "Each product page lists measurements in cm and inches.",
        "The boots run about half a size small, so we suggest ordering half a size up.",
    ],
}
ORDER_ANSWER = "Your order {order} left our warehouse on {day} and is with the carrier; tracking shows delivery expected {eta}."
ORDER_DOWN_ANSWER = (
    "I couldn't reach our order system just now, so I can't see the status of {order}. Please try again in a "
    "few minutes, or reply here and a human agent will check it for you."
)
SEARCH_QUERIES = [
    "waterproof hiking boots women",
    "lightweight down jacket",
    "kids rain pants",
    "2-person tent under 3 kg",
    "merino base layer",
    "trail running shoes wide fit",
]
SEARCH_SUMMARY = (
    "Top results for '{q}': {n} products match, most rated 4 stars or higher; filter by size to narrow them."
)
