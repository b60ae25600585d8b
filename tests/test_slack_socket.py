"""Socket Mode (`slack serve --socket`): the same app, connected out to the fake Slack over a real WebSocket
(slack_sdk's built-in client), needing no signing secret; a slash command and a mention end in the thread."""

from __future__ import annotations

import pytest
from slack_bolt.adapter.socket_mode import SocketModeHandler

from agent.settings import Settings
from agent.slack.app import build
from tests.agentkit import CACHE
from tests.fakeslack import FakeSlack, SlackSender
from tests.slackbed import ALICE, BOB, INCIDENTS, build_store, default_config, epoch

ASK = "draft Refunds wrong: the bot promises 90 days --since 2025-03-04T00:00Z --until 2025-03-04T06:00Z"


@pytest.fixture
def socket_bot(tmp_home, embedder, monkeypatch):
    import shutil

    shutil.copytree(build_store(embedder), tmp_home / "chroma")
    fake = FakeSlack(channels={INCIDENTS}).start()
    monkeypatch.setenv("POSTMORTEM_CACHE_DIR", str(CACHE))
    monkeypatch.setenv("SLACK_BOT_TOKEN", fake.token)
    monkeypatch.setenv("SLACK_APP_TOKEN", fake.app_token)
    monkeypatch.setenv("SLACK_API_URL", fake.api_url)
    monkeypatch.delenv("SLACK_SIGNING_SECRET", raising=False)
    slack = build(Settings(home=tmp_home), default_config(), socket=True)
    handler = SocketModeHandler(slack.app, fake.app_token)
    handler.connect()
    fake.socket.wait_connected()
    yield fake, slack
    handler.close()
    slack.close()
    fake.stop()


def test_slash_command_and_mention_over_socket_mode(socket_bot):
    fake, slack = socket_bot
    payloads = SlackSender(url="", secret="", fake=fake)
    envelope = fake.socket.push(
        "slash_commands", payloads.command_payload(ASK, channel=INCIDENTS, user=ALICE)
    )
    ack = fake.socket.ack_for(envelope)
    assert "Drafting a post-mortem" in ack["payload"]["text"]
    assert slack.bot.wait_idle(120)
    (attached,) = fake.files
    root = next(m for m in fake.posted(INCIDENTS) if "thread_ts" not in m)
    assert attached.thread_ts == root["ts"] and "[span:" in attached.content.decode()

    thread = fake.seed_message(INCIDENTS, "Bot promises 90-day refunds on final sale", BOB, epoch(300))
    ask = fake.seed_message(INCIDENTS, "<@UBOTPM> draft a post-mortem", ALICE, epoch(301), thread_ts=thread)
    event = payloads.mention_payload(
        "<@UBOTPM> draft a post-mortem", channel=INCIDENTS, user=ALICE, ts=ask, thread_ts=thread
    )
    fake.socket.ack_for(fake.socket.push("events_api", event, accepts_response_payload=False))
    assert slack.bot.wait_idle(120)
    assert fake.files[-1].thread_ts == thread and "[report:1]" in fake.files[-1].content.decode()
