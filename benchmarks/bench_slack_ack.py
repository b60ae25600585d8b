"""Slack acknowledgement latency: Slack gives a bot 3 s to answer, whatever the work behind the request.

Baseline: `/postmortem help` (signature check, dispatch, an immediate answer), measured in the same run.
Measured: `/postmortem draft ...` while earlier drafts keep the worker busy, so the acknowledgement must not
wait for them; and the time until the first draft's file reaches the (fake) Slack. Real Bolt app over HTTP on
127.0.0.1, fake Slack Web API, an empty store (each draft still runs the whole agent).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

from agent.settings import Settings
from agent.slack.app import build
from agent.slack.config import ChannelRule, SlackConfig
from agent.slack.server import SlackHTTPServer
from tests.fakeslack import FakeSlack, SlackSender

CHANNEL, USER, SECRET = "C0BENCH", "U0BENCH", "bench-signing-secret"
CACHE = Path(__file__).resolve().parents[1] / ".postmortem" / "cache"


def _timed(send, text: str) -> float:
    started = time.perf_counter()
    response = send.command(text, channel=CHANNEL, user=USER)
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status == 200, response
    return elapsed


def _summary(name: str, values: list[float], base: float | None = None) -> None:
    p50, p95 = statistics.median(values), sorted(values)[max(0, int(len(values) * 0.95) - 1)]
    ratio = f" · {p50 / base:.1f}x baseline p50" if base else ""
    print(
        f"{name:<34} n={len(values):<3} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  max {max(values):7.1f} ms{ratio}"
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        fake = FakeSlack(channels={CHANNEL}).start()
        os.environ.update(
            {"SLACK_BOT_TOKEN": fake.token, "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": fake.api_url}
        )
        settings = Settings(home=Path(tmp), cache_dir=CACHE)
        config = SlackConfig(channels={CHANNEL: ChannelRule(services=["bench-svc"])}, review=False)
        slack = build(settings, config)
        server = SlackHTTPServer(slack.app, signing_secret=SECRET, port=0).start()
        send = SlackSender(server.url, SECRET, fake=fake)
        try:
            for _ in range(3):  # warm up the listener threads
                _timed(send, "help")
            baseline = [_timed(send, "help") for _ in range(30)]
            started = time.perf_counter()
            drafts = [
                _timed(send, f"draft Bench incident {i}: answers are wrong --since 2h") for i in range(6)
            ]
            fake.wait_for(lambda: fake.files, timeout=600, what="the first draft")
            first_file = time.perf_counter() - started
            base = statistics.median(baseline)
            _summary("help (baseline)", baseline)
            _summary("draft, worker busy (ack)", drafts, base)
            print(f"{'first draft file in Slack':<34} {first_file:.1f} s (empty store; includes opening it)")
            print(f"target: every acknowledgement < 3000 ms -> {'met' if max(drafts) < 3000 else 'MISSED'}")
            slack.bot.wait_idle(600)
        finally:
            server.shutdown()
            slack.close()
            fake.stop()


if __name__ == "__main__":
    main()
