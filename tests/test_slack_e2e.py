"""End to end: the real Bolt app over HTTP on 127.0.0.1, signed requests, the fake Slack Web API, a real
store and the real agent. A slash command and a thread mention each end with a cited draft in the right
thread; the review buttons approve (publish), regenerate and reject."""

from __future__ import annotations

import re

from agent.drafter import citations
from agent.slack.blocks import APPROVE, REGENERATE, REJECT
from tests.slackbed import ALICE, BAD_ANSWER, BOB, INCIDENTS, epoch

TITLE = "Support bot promises 90-day refunds"
ASK = (
    f"draft {TITLE}: it tells customers any item can be returned within 90 days for a full refund "
    "--since 2025-03-04T00:00Z --until 2025-03-04T06:00Z"
)


def review_message(bed, channel, thread_ts):
    """The bot's reply carrying the review buttons in a thread."""
    for message in bed.fake.thread(channel, thread_ts):
        if any(b.get("type") == "actions" for b in message.get("blocks") or []):
            return message
    return None


def button_value(message, action_id):
    for block in message["blocks"]:
        for element in block.get("elements") or []:
            if element.get("action_id") == action_id:
                return element["value"]
    raise AssertionError(f"no {action_id} button")


def test_slash_command_drafts_into_a_new_thread(bed):
    gate = bed.fake.hold("chat.postMessage")  # Slack is slow: the acknowledgement must not wait for it
    response = bed.send.command(ASK, channel=INCIDENTS, user=ALICE)
    assert response.status == 200
    assert "Drafting a post-mortem" in response.body
    assert not bed.fake.called("chat.postMessage")  # answered before any work reached Slack
    gate.set()
    bed.idle()

    posted = bed.fake.posted(INCIDENTS)
    root = next(m for m in posted if "thread_ts" not in m)
    assert "ready for review" in root["text"]
    first = bed.fake.called("chat.postMessage")[0].params  # the thread root, first a progress line
    assert first["channel"] == INCIDENTS and "(requested by <@U0ALICE>)" in first["text"]
    review = review_message(bed, INCIDENTS, root["ts"])
    assert review is not None and review["thread_ts"] == root["ts"]
    summary = "\n".join(b["text"]["text"] for b in review["blocks"] if b["type"] == "section")
    assert TITLE in summary and re.search(r"`span:[0-9a-f]{16}`", summary)
    assert "primary layer" in review["text"]

    (attached,) = bed.fake.files
    assert attached.channel == INCIDENTS and attached.thread_ts == root["ts"]
    markdown = attached.content.decode()
    assert markdown.startswith(f"# Post-mortem (draft): {TITLE}")
    refs = citations(markdown)
    assert len(refs) >= 5
    spans = [ref.split(":")[1] for ref in refs if ref.startswith(("span:", "doc:"))]
    assert spans and all(bed.in_worker(lambda store: [store.get_span(s) for s in spans]))  # all resolve
    # every message went to the requesting channel, into the one thread
    assert {c.params.get("channel") for c in bed.fake.called("chat.postMessage")} == {INCIDENTS}
    assert {c.params.get("thread_ts") for c in bed.fake.called("chat.postMessage")} == {None, root["ts"]}


def seed_thread(bed, channel=INCIDENTS):
    fake = bed.fake
    root = fake.seed_message(
        channel, "Customers say the support bot promises 90-day refunds :rotating_light:", BOB, epoch(300)
    )
    fake.seed_message(channel, f'Ticket #4411 quotes it: "{BAD_ANSWER}"', BOB, epoch(310), thread_ts=root)
    fake.seed_message(
        channel, "Policy is 30 days, this started this morning", ALICE, epoch(320), thread_ts=root
    )
    ask = fake.seed_message(channel, "<@UBOTPM> draft a post-mortem", ALICE, epoch(330), thread_ts=root)
    return root, ask


def test_mention_in_a_thread_reads_it_and_replies_there(bed):
    root, ask = seed_thread(bed)
    response = bed.send.mention(
        "<@UBOTPM> draft a post-mortem", channel=INCIDENTS, user=ALICE, ts=ask, thread_ts=root
    )
    assert response.status == 200
    bed.idle()

    (read,) = bed.fake.called("conversations.replies")
    assert read.params["channel"] == INCIDENTS and read.params["ts"] == root
    review = review_message(bed, INCIDENTS, root)
    assert review is not None
    (attached,) = bed.fake.files
    assert attached.thread_ts == root and attached.channel == INCIDENTS
    markdown = attached.content.decode()
    # the thread's first message is the title; its messages are the reports, cited
    assert "Customers say the support bot promises 90-day refunds" in markdown.splitlines()[0]
    assert "[report:1]" in markdown and "[report:2]" in markdown
    assert "draft a post-mortem" not in markdown  # the request itself is not a report
    assert all(m.get("thread_ts") == root for m in bed.fake.posted(INCIDENTS))


def start_review(bed):
    bed.send.command(ASK, channel=INCIDENTS, user=ALICE)
    bed.idle()
    root = next(m for m in bed.fake.posted(INCIDENTS) if "thread_ts" not in m)
    review = review_message(bed, INCIDENTS, root["ts"])
    return root, review


def test_approve_publishes_to_the_store(bed):
    root, review = start_review(bed)
    thread_id = button_value(review, APPROVE)
    assert bed.send.action(APPROVE, thread_id, channel=INCIDENTS, user=BOB, message=review).status == 200
    bed.idle()
    updated = next(m for m in bed.fake.posted(INCIDENTS) if m["ts"] == review["ts"])
    assert not any(b["type"] == "actions" for b in updated["blocks"])  # buttons gone
    assert "Approved by <@U0BOB>" in updated["text"]
    pm_id = re.search(r"`pm:([^`]+)`", updated["text"]).group(1)
    published = bed.in_worker(lambda store: store.get_postmortem(pm_id))
    assert published and published[0].title == TITLE and published[0].service == "support-bot"
    assert any(
        "Approved by" in (m.get("text") or "") and m.get("thread_ts") == root["ts"] for m in bed.fake.posted()
    )
    # a second click finds nothing to approve, and says so to the clicker only
    bed.send.action(APPROVE, thread_id, channel=INCIDENTS, user=ALICE, message=review)
    bed.idle()
    (note,) = bed.fake.ephemeral
    assert note["user"] == ALICE and "not awaiting review" in note["text"]


def test_reject_and_regenerate(bed):
    root, review = start_review(bed)
    first = button_value(review, REGENERATE)
    bed.send.action(REGENERATE, first, channel=INCIDENTS, user=ALICE, message=review)
    bed.idle()
    old = next(m for m in bed.fake.posted(INCIDENTS) if m["ts"] == review["ts"])
    assert "asked for a new draft" in old["text"] and not any(b["type"] == "actions" for b in old["blocks"])
    reviews = [
        m
        for m in bed.fake.thread(INCIDENTS, root["ts"])
        if any(b["type"] == "actions" for b in m.get("blocks") or [])
    ]
    assert len(reviews) == 1 and reviews[0]["ts"] != review["ts"]
    second = button_value(reviews[0], REJECT)
    assert second != first
    assert len(bed.fake.files) == 2 and {f.thread_ts for f in bed.fake.files} == {root["ts"]}

    bed.send.action(REJECT, second, channel=INCIDENTS, user=ALICE, message=reviews[0])
    bed.idle()
    rejected = next(m for m in bed.fake.posted(INCIDENTS) if m["ts"] == reviews[0]["ts"])
    assert "Rejected by <@U0ALICE>" in rejected["text"]
    # clicking an old button again: nothing happens but a note to the clicker
    bed.send.action(APPROVE, first, channel=INCIDENTS, user=ALICE, message=review)
    bed.idle()
    assert any("not awaiting review" in e["text"] for e in bed.fake.ephemeral)
