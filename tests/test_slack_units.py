"""The Slack bot's parts without a server: request parsing, the access config, what `safe()` lets through,
the blocks of a result message, and the service-scoped store view (on a real store)."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime

import pytest

from agent.models import Classification, Draft, Incident, LayerAssessment
from agent.slack.blocks import REVIEW_BLOCK, ZWSP, decided_blocks, result_blocks, safe, safe_file
from agent.slack.config import ChannelRule, ConfigError, SlackConfig, load_config, pick_service
from agent.slack.requests import (
    RequestError,
    build_incident,
    mention_request,
    parse_request,
    plain,
    split_title,
    thread_reports,
)
from agent.slack.scoped import ScopedStore
from retrieval.store import TraceStore
from retrieval.trace import PostmortemDoc
from tests.slackbed import BILLING_MARKER, INJECTED, build_store, scenario_spans

NOW = datetime(2025, 3, 4, 12, tzinfo=UTC)


def test_parse_request_flags_quotes_durations_and_dashes():
    r = parse_request(
        'Refunds wrong: bot says 90 days --since 6h --service "support bot" --trace ABC123 --severity sev2',
        now=NOW,
    )
    assert r.text == "Refunds wrong: bot says 90 days" and r.service == "support bot" and r.severity == "sev2"
    assert r.since == datetime(2025, 3, 4, 6, tzinfo=UTC) and r.trace_ids == ["abc123"]
    dashed = parse_request("Refund bot — wrong —since 2025-03-04T01:00Z —until=2025-03-04T02:00Z", now=NOW)
    assert dashed.text == "Refund bot — wrong" and dashed.until == datetime(2025, 3, 4, 2, tzinfo=UTC)
    assert parse_request("bot doesn't answer", now=NOW).text == "bot doesn't answer"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("x --since", "--since needs a value"),
        ("x --since --service a", "--since needs a value"),
        ("x --since 2025-03-04T02:00Z --until 2025-03-04T01:00Z", "--until must be after --since"),
        ("x --since tomorrow", "not an ISO-8601 time"),
        ("x --channel C0OTHER", "unknown option --channel"),
    ],
)
def test_parse_request_errors(text, error):
    with pytest.raises(RequestError, match=error):
        parse_request(text, now=NOW)


def test_mention_requests():
    assert mention_request("<@UBOT> draft a post-mortem", "UBOT") == ""
    assert mention_request("<@UBOT> Draft a postmortem for the refund mess --service x", "UBOT") == (
        "the refund mess --service x"
    )
    assert mention_request("<@UBOT> could you write the post-mortem --since 2h", "UBOT") == "--since 2h"
    assert mention_request("<@UBOT> hello", "UBOT") is None


def test_plain_and_titles():
    text = "hey <@U123> see <#C1|ops>, <https://x.io|the doc> <!here> <!subteam^S1|@oncall> &lt;b&gt;"
    assert plain(text) == "hey @U123 see #ops, the doc (https://x.io) @here @oncall <b>"
    assert split_title("Support bot promises 90-day refunds: it tells customers") == (
        "Support bot promises 90-day refunds"
    )
    assert split_title("No separator here at all") == "No separator here at all"


def test_thread_reports_skip_bots_and_the_request():
    messages = [
        {"user": "U1", "text": "Bot promises <!channel> 90 days", "ts": "1741060800.000100"},
        {"user": "UBOT", "bot_id": "B1", "text": "drafting…", "ts": "1741060801.000100"},
        {"user": "U2", "text": "<@UBOT> draft a post-mortem", "ts": "1741060802.000100"},
        {"user": "U2", "subtype": "channel_join", "text": "joined", "ts": "1741060803.000100"},
        {"user": "U3", "text": "still happening", "ts": "1741060804.000100"},
    ]
    reports = thread_reports(messages, bot_user="UBOT")
    assert [(r.author, r.text) for r in reports] == [
        ("U1", "Bot promises @channel 90 days"),
        ("U3", "still happening"),
    ]
    assert reports[0].timestamp == datetime(2025, 3, 4, 4, 0, 0, 100, tzinfo=UTC)
    incident = build_incident(parse_request(""), service="svc", reports=reports)
    assert incident.title == "Bot promises @channel 90 days" and incident.service == "svc"
    with pytest.raises(RequestError, match="say what the incident is"):
        build_incident(parse_request("--service svc"), service="svc")


def test_access_rules_and_services():
    config = SlackConfig(
        channels={
            "C0ONE": ChannelRule(services=["a"]),
            "C0TWO": ChannelRule(services=["a", "b"], users=["U0X"]),
            "C0ALL": ChannelRule(services=["*"], review=False),
        },
        allowed_users=["U0X", "U0Y"],
    )
    assert not config.access("C0NOPE", "U0X").allowed
    assert not config.access("C0ONE", "U0Z").allowed  # not on the global list
    assert not config.access("C0TWO", "U0Y").allowed  # the channel's own list wins
    one = config.access("C0ONE", "U0Y")
    assert one.allowed and one.services == ["a"] and one.review
    assert pick_service(one, None) == "a"
    with pytest.raises(ValueError, match="not covered by this channel"):
        pick_service(one, "b")
    with pytest.raises(ValueError, match="several services"):
        pick_service(config.access("C0TWO", "U0X"), None)
    every = config.access("C0ALL", "U0X")
    assert every.services is None and not every.review and pick_service(every, "zzz") == "zzz"


def test_config_file_errors_name_file_and_place(tmp_path):
    path = tmp_path / "slack.yaml"
    path.write_text("channels:\n  C0ONE:\n    services: [a]\n    colour: red\n")
    with pytest.raises(ConfigError, match=r"slack.yaml: `channels.C0ONE.colour`: Extra inputs"):
        load_config(path)
    path.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(path)


def test_safe_neutralises_markup_and_redacts():
    out = safe(f"{INJECTED} & mail jane.doe@example.com, @everyone")
    assert "<" not in out and ">" not in out and "&lt;!channel&gt;" in out and "&amp;" in out
    assert "jane.doe@example.com" not in out and "[REDACTED:email]" in out
    assert f"@{ZWSP}everyone" in out
    assert len(safe("x" * 10_000, 100)) == 100
    file_text = safe_file("see <!here> and <@U0BOSS>, key sk-abcdefghijklmnopqrstuvwxyz123456")
    assert "<!here>" not in file_text and "<@U0BOSS>" not in file_text and "sk-abcdefghij" not in file_text


def _draft(title: str, summary: str, notes: list[str]) -> Draft:
    layers = [LayerAssessment(layer="prompt", role="primary", confidence="likely", rationale="r")]
    return Draft(
        incident=Incident(id="inc-1", title=title),
        classification=Classification(primary="prompt", layers=layers),
        evidence=[],
        notes=notes,
        markdown=f"# t\n\n## Summary\n\n{summary}\n\n## Timeline\n\n- x\n",
    )


def test_result_blocks_keep_content_inert_and_buttons_bound_to_the_draft():
    draft = _draft(f"Outage {INJECTED}", f"Said {INJECTED} [span:0123456789abcdef] [report:1]", [INJECTED])
    blocks = result_blocks(draft, thread_id="ab" * 16, awaiting_review=True, filename="x.md")
    dumped = json.dumps(blocks)
    assert "<!channel>" not in dumped and "<@U0BOSS>" not in dumped and "<#C0GENERAL" not in dumped
    assert "`span:0123456789abcdef`" in dumped and "`report:1`" in dumped
    (actions,) = [b for b in blocks if b.get("block_id") == REVIEW_BLOCK]
    assert {e["value"] for e in actions["elements"]} == {"ab" * 16}
    decided = decided_blocks(blocks, "Approved")
    assert (
        not any(b["type"] == "actions" for b in decided) and decided[-1]["elements"][0]["text"] == "Approved"
    )


def test_scoped_store_hides_other_services(tmp_path, embedder):
    shutil.copytree(build_store(embedder), tmp_path / "chroma")
    store = TraceStore(path=tmp_path / "chroma", embedder=embedder)
    try:
        view = ScopedStore(store, ["support-bot"])
        billing = next(s for s in scenario_spans() if s.service == "billing-bot")
        assert store.get_trace(billing.trace_id) and not view.get_trace(billing.trace_id)
        assert store.get_span(billing.span_id) and view.get_span(billing.span_id) is None
        assert not view.query_spans(service="billing-bot")
        assert {s.service for s in view.query_spans()} == {"support-bot"}
        assert store.search_spans(BILLING_MARKER, k=5)[0].span.service == "billing-bot"
        assert all(h.span.service == "support-bot" for h in view.search_spans(BILLING_MARKER, k=5))
        assert view.count_spans() == store.count_spans()  # everything else passes through
        store.add_postmortems(
            [
                PostmortemDoc(
                    id="pm-billing",
                    title="Double charges",
                    service="billing-bot",
                    text="Invoices charged twice.",
                ),
                PostmortemDoc(
                    id="pm-general", title="Refund promises", text="The bot promised refunds it should not."
                ),
            ]
        )
        assert {h.doc.id for h in store.search_postmortems("charged refunds", k=5)} == {
            "pm-billing",
            "pm-general",
        }
        assert [h.doc.id for h in view.search_postmortems("charged refunds", k=5)] == ["pm-general"]
        assert not view.get_postmortem("pm-billing") and view.get_postmortem("pm-general")
    finally:
        store.close()
