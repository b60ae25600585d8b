"""Issue 16, item 4: the Slack endpoint fails closed, over real HTTP against the real Bolt app.

Signatures are checked on the raw bytes before anything parses them; a repeated signed request is answered
once; slow clients are cut off and connections capped; the draft queue is capped per channel and overall and
the requester is told; mention flags keep both dashes; the log is redacted."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import pytest

from agent.slack import drafting, server
from tests.fakeslack import signature
from tests.slackbed import ALICE, BILLING, INCIDENTS, OPEN, SECRET, epoch

ASK = "draft Refunds wrong: the bot promises 90 days --since 2025-03-04T00:00Z --until 2025-03-04T06:00Z"
EMAIL, CARD = "jane.doe@example.com", "4111 1111 1111 1111"


def signed_send(bed, body: str, content_type: str, *, timestamp: float | None = None, headers=None):
    ts = str(int(timestamp if timestamp is not None else time.time()))
    extra = {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature(SECRET, ts, body),
        **(headers or {}),
    }
    return bed.send.send(body, content_type, sign=False, headers=extra)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("payload={bad", "application/x-www-form-urlencoded"),
        ("{bad json", "application/json"),
        ('["a list"]', "application/json"),
        ("payload=%7B%22type%22%3A+1%7D", "application/x-www-form-urlencoded"),
    ],
)
def test_a_signed_malformed_body_gets_400_and_the_server_keeps_answering(bed, body, content_type):
    response = signed_send(bed, body, content_type)
    assert response.status in (400, 404) and response.status != 500
    assert bed.send.command("help", channel=INCIDENTS, user=ALICE).status == 200


@pytest.mark.parametrize("body", ["payload={bad", "{bad json", "\udcff"])
def test_an_unsigned_malformed_body_gets_401_before_any_parsing(bed, body):
    response = bed.send.send(
        body.encode("utf-8", "surrogateescape").decode("latin-1"), "application/json", secret="x"
    )
    assert response.status == 401
    odd_stamp = {"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=00"}
    assert bed.send.send("{}", "application/json", sign=False, headers=odd_stamp).status == 401


def test_the_same_signed_request_runs_once(bed):
    body = urllib.parse.urlencode(bed.send.command_payload(ASK, channel=INCIDENTS, user=ALICE))
    now = time.time()
    first = signed_send(bed, body, "application/x-www-form-urlencoded", timestamp=now)
    again = signed_send(
        bed, body, "application/x-www-form-urlencoded", timestamp=now
    )  # a replay, a second later
    retry = signed_send(  # Slack's own retry: new timestamp and signature, same body
        bed, body, "application/x-www-form-urlencoded", timestamp=now + 1, headers={"X-Slack-Retry-Num": "1"}
    )
    assert first.status == 200 and "Drafting a post-mortem" in first.body
    assert (again.status, again.body) == (200, "") and (retry.status, retry.body) == (200, "")
    bed.idle()
    assert len(bed.fake.files) == 1 and len(bed.fake.posted(INCIDENTS)) == 2  # one root, one result


def test_a_retried_mention_event_reads_the_thread_once(bed):
    root = bed.fake.seed_message(INCIDENTS, "refunds are wrong since this morning", ALICE, epoch(300))
    payload = bed.send.mention_payload(
        "<@UBOTPM> draft a post-mortem", channel=INCIDENTS, user=ALICE, ts=root
    )
    body = json.dumps(payload)
    for attempt in range(3):
        retry = {"X-Slack-Retry-Num": str(attempt), "X-Slack-Retry-Reason": "http_timeout"} if attempt else {}
        assert (
            signed_send(bed, body, "application/json", timestamp=time.time() + attempt, headers=retry).status
            == 200
        )
    bed.idle()
    assert len(bed.fake.called("conversations.replies")) == 1 and len(bed.fake.files) == 1


def _connect(url: str) -> socket.socket:
    host, port = urllib.parse.urlsplit(url).netloc.split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def _slow_client(url: str) -> socket.socket:
    """Headers announcing a body that never comes."""
    sock = _connect(url)
    sock.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
    return sock


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    sock.settimeout(seconds)
    try:
        return sock.recv(1024) is not None  # b"" (closed) or a response, either way the server let go
    except TimeoutError:
        return False
    except OSError:
        return True


def test_slow_clients_are_cut_off_and_connections_capped(bed, monkeypatch):
    monkeypatch.setattr(server, "REQUEST_DEADLINE", 1.5)
    monkeypatch.setattr(server, "SLOT_WAIT", 0.5)
    cap = server.MAX_CONNECTIONS
    threads_before = threading.active_count()
    slow = [_slow_client(bed.server.url) for _ in range(cap + 8)]
    try:
        time.sleep(0.8)
        assert threading.active_count() <= threads_before + cap + 2  # not one thread per connection
        assert all(_closed_within(sock, 5) for sock in slow)  # cut off at the deadline, or 503 past the cap
    finally:
        for sock in slow:
            sock.close()
    assert bed.send.command("help", channel=INCIDENTS, user=ALICE).status == 200


def test_a_burst_of_requests_is_answered(bed):
    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(
            pool.map(lambda _: bed.send.command("help", channel=INCIDENTS, user=ALICE).status, range(50))
        )
    assert answers == [200] * 50


def test_the_draft_queue_is_capped_per_channel_and_overall(bed, monkeypatch):
    monkeypatch.setattr(drafting, "MAX_QUEUED_PER_CHANNEL", 1)
    monkeypatch.setattr(drafting, "MAX_QUEUED_DRAFTS", 2)
    gate = threading.Event()
    bed.slack.bot.runner.submit("hold the worker", lambda: gate.wait(60))
    try:
        assert "Drafting a post-mortem" in bed.send.command(ASK, channel=INCIDENTS, user=ALICE).body
        refused = bed.send.command(ASK.replace("wrong", "still wrong"), channel=INCIDENTS, user=ALICE).body
        assert "this channel already has 1 post-mortem drafts queued" in refused
        billing = "draft Double charges --since 2025-03-04T00:00Z --until 2025-03-04T06:00Z"
        assert "Drafting a post-mortem" in bed.send.command(billing, channel=BILLING, user=ALICE).body
        overall = bed.send.command(ASK, channel=OPEN, user=ALICE).body
        assert "2 post-mortem drafts are queued or under way (at most 2)" in overall
        root = bed.fake.seed_message(INCIDENTS, "refunds are wrong", ALICE, epoch(300))
        bed.send.mention("<@UBOTPM> draft a post-mortem", channel=INCIDENTS, user=ALICE, ts=root)
        bed.fake.wait_for(lambda: any("Sorry, this channel" in m["text"] for m in bed.fake.posted(INCIDENTS)))
    finally:
        gate.set()
    bed.idle()
    assert len(bed.fake.files) == 2


def test_mention_flags_keep_both_dashes(bed):
    root = bed.fake.seed_message(INCIDENTS, "billing bot double charges", ALICE, epoch(300))
    bed.send.mention(
        "<@UBOTPM> draft a post-mortem --service billing-bot", channel=INCIDENTS, user=ALICE, ts=root
    )
    bed.idle()
    (reply,) = bed.fake.posted(INCIDENTS)
    assert "billing-bot" in reply["text"] and "not covered by this channel" in reply["text"]
    assert not bed.fake.files


@pytest.mark.parametrize(
    ("text", "service", "words"),
    [
        ("draft a post-mortem --service billing-bot", "billing-bot", ""),
        ("draft a post-mortem --since 2025-03-04T00:00Z refunds", None, "refunds"),
        ("draft a post-mortem: refunds wrong --service x", "x", "refunds wrong"),
        ("draft a post-mortem - refunds wrong", None, "refunds wrong"),
        ("draft a post-mortem —service x", "x", ""),
    ],
)
def test_mention_request_parsing(text, service, words):
    from agent.slack.requests import mention_request, parse_request

    request = parse_request(mention_request(f"<@UBOTPM> {text}", "UBOTPM"))
    assert (request.service, request.text) == (service, words)
    assert "--since" not in text or request.since is not None


def test_the_verbose_log_is_redacted(bed):
    """slack_sdk's DEBUG dump of a response (thread text included) goes through the bot's formatter."""
    from io import StringIO

    from agent.slack.logs import FORMAT, RedactingFormatter

    root = bed.fake.seed_message(INCIDENTS, f"customer {EMAIL} paid with {CARD}", ALICE, epoch(300))
    out = StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(RedactingFormatter(FORMAT))
    sdk = logging.getLogger("slack_sdk")
    old_level = sdk.level
    sdk.addHandler(handler)
    sdk.setLevel(logging.DEBUG)
    try:
        bed.slack.bot.client.conversations_replies(channel=INCIDENTS, ts=root)
    finally:
        sdk.removeHandler(handler)
        sdk.setLevel(old_level)
    text = out.getvalue()
    assert "Received the following response" in text and "[REDACTED:email]" in text
    assert EMAIL not in text and CARD not in text


def test_serve_logging_is_redacted_from_the_start():
    """`slack serve -v` configures the root log this way (checked in a fresh interpreter)."""
    code = (
        "import logging; from agent.slack.logs import configure; configure(True); "
        f"logging.getLogger('slack_sdk.web').debug('body: %s', {{'text': '{EMAIL} {CARD}'}}); "
        "logging.getLogger('postmortem.slack').exception('failed', exc_info=ValueError('" + EMAIL + "'))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "body:" in run.stderr and "ValueError" in run.stderr
    assert EMAIL not in run.stderr and CARD not in run.stderr
