"""`postmortem slack serve | config | manifest`: clear one-line errors (exit 2) for missing credentials and
bad config, and the real `slack serve` process answering signed requests from the fake Slack."""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
import yaml

from agent.slack.config import load_config
from tests.agentkit import CACHE, REPO
from tests.fakeslack import FakeSlack, SlackSender
from tests.slackbed import ALICE, INCIDENTS, SECRET, build_store, run_cli

GOOD = f"channels:\n  {INCIDENTS}:\n    services: [support-bot]\nallowed_users: [{ALICE}]\n"


@pytest.fixture
def home(tmp_home, monkeypatch):
    tmp_home.mkdir(parents=True)
    monkeypatch.setenv("POSTMORTEM_CACHE_DIR", str(CACHE))
    monkeypatch.chdir(tmp_home.parent)
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_API_URL"):
        monkeypatch.delenv(name, raising=False)
    return tmp_home


def test_config_example_is_a_valid_config(home, capsys, monkeypatch):
    result = run_cli(capsys, monkeypatch, "slack", "config", "--example")
    assert result.code == 0
    (home / "slack.yaml").write_text(result.out)
    config = load_config(home / "slack.yaml")
    assert config.channels["C0123ABCD"].services == ["support-assistant"]
    shown = run_cli(capsys, monkeypatch, "slack", "config", "--json")
    assert shown.code == 0 and json.loads(shown.out)["channels"]["C0456EFGH"]["users"] == ["U0AAAA1111"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "slack.yaml: no such file"),
        ("channels: [C1, C2\n", "slack.yaml: line 2: invalid YAML"),
        ("channels:\n  C0ABC:\n    services: []\n", "`channels.C0ABC.services`"),
        ("channels: {}\n", "`channels`: list at least one channel"),
        ("channels:\n  C0ABC: {services: [a]}\nallowed_users: [alice]\n", "`allowed_users.0`"),
    ],
)
def test_bad_config_is_one_line_and_exit_2(home, capsys, monkeypatch, content, message):
    if content is not None:
        (home / "slack.yaml").write_text(content)
    result = run_cli(capsys, monkeypatch, "slack", "config")
    assert result.code == 2
    assert message in result.err and "Traceback" not in result.err
    assert len(result.err.strip().splitlines()) <= 2  # one line (maybe wrapped once)


def test_manifest(home, capsys, monkeypatch):
    result = run_cli(capsys, monkeypatch, "slack", "manifest", "--url", "https://pm.example.org/slack/events")
    manifest = yaml.safe_load(result.out)
    assert manifest["settings"]["event_subscriptions"]["request_url"] == "https://pm.example.org/slack/events"
    assert {"commands", "chat:write", "files:write", "app_mentions:read"} <= set(
        manifest["oauth_config"]["scopes"]["bot"]
    )
    assert manifest["features"]["slash_commands"][0]["command"] == "/postmortem"
    socket_mode = yaml.safe_load(run_cli(capsys, monkeypatch, "slack", "manifest", "--socket").out)
    assert socket_mode["settings"]["socket_mode_enabled"] is True
    assert "request_url" not in socket_mode["settings"]["interactivity"]
    bad = run_cli(capsys, monkeypatch, "slack", "manifest", "--url", "http://pm.example.org/slack/events")
    assert bad.code == 2 and "https://" in bad.err


def test_serve_says_which_credential_is_missing(home, capsys, monkeypatch):
    (home / "slack.yaml").write_text(GOOD)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1-2-3")
    http = run_cli(capsys, monkeypatch, "slack", "serve")
    assert http.code == 2 and "SLACK_SIGNING_SECRET" in http.err and "SLACK_APP_TOKEN" not in http.err
    socket_mode = run_cli(capsys, monkeypatch, "slack", "serve", "--socket")
    assert socket_mode.code == 2 and "SLACK_APP_TOKEN" in socket_mode.err
    (home / "slack.yaml").unlink()
    no_config = run_cli(capsys, monkeypatch, "slack", "serve")
    assert no_config.code == 2 and "slack.yaml: no such file" in no_config.err


def test_serve_refused_token_is_a_usage_error(home, capsys, monkeypatch):
    fake = FakeSlack().start()
    try:
        (home / "slack.yaml").write_text(GOOD)
        monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-wrong")
        monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
        monkeypatch.setenv("SLACK_API_URL", fake.api_url)
        result = run_cli(capsys, monkeypatch, "slack", "serve")
        assert result.code == 2 and "Slack refused SLACK_BOT_TOKEN (invalid_auth)" in result.err
    finally:
        fake.stop()
    unreachable = run_cli(capsys, monkeypatch, "slack", "serve")  # the fake is gone: a failure, exit 1
    assert unreachable.code == 1 and "cannot reach the Slack API" in unreachable.err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_line(proc: subprocess.Popen, needle: str, timeout: float) -> str:
    deadline, seen = time.monotonic() + timeout, ""
    # a selector, not select.select: by this point of a full run the process may hold more than 1,024 fds
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stderr, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if selector.select(0.5):
                line = proc.stderr.readline()
                seen += line
                if needle in line:
                    return seen
            if proc.poll() is not None:
                break
    raise AssertionError(f"no {needle!r} from `slack serve`; it said:\n{seen}")


def test_serve_process_answers_signed_requests_and_stops_cleanly(home, embedder):
    shutil.copytree(build_store(embedder), home / "chroma")
    (home / "slack.yaml").write_text(GOOD)
    fake = FakeSlack(channels={INCIDENTS}).start()
    port = _free_port()
    env = {
        **os.environ,
        "POSTMORTEM_HOME": str(home),
        "SLACK_BOT_TOKEN": fake.token,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": fake.api_url,
        "COLUMNS": "200",
    }
    cmd = [
        sys.executable,
        "-c",
        "import faulthandler, signal; faulthandler.register(signal.SIGUSR1); "
        "from agent.cli.main import run; run()",
        "slack",
        "serve",
        "--port",
        str(port),
    ]
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    )
    try:
        said = _wait_for_line(proc, "listening on", 120)
        assert f"http://127.0.0.1:{port}/slack/events" in said and "1 channel(s)" in said
        # keep reading its stderr: a full pipe would block the server's next log line (and the shutdown)
        said_after: list[str] = []
        drain = threading.Thread(
            target=lambda: said_after.extend(iter(proc.stderr.readline, "")), daemon=True
        )
        drain.start()
        send = SlackSender(f"http://127.0.0.1:{port}/slack/events", SECRET, fake=fake)
        assert send.command("help", channel=INCIDENTS, user=ALICE).body.startswith(
            "Usage: `/postmortem draft"
        )
        assert send.command("help", channel=INCIDENTS, user=ALICE, secret="forged").status == 401
        ask = "draft Refunds wrong: the bot promises 90 days --since 2025-03-04T00:00Z --until 2025-03-04T06:00Z"
        assert send.command(ask, channel=INCIDENTS, user=ALICE).status == 200
        fake.wait_for(lambda: fake.files, timeout=120, what="the draft file")
        proc.send_signal(signal.SIGTERM)  # what docker stop and systemd send; Ctrl-C takes the same path
        try:
            code = proc.wait(180)  # a hang detector, not a speed target: it finishes the draft under way
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGUSR1)  # faulthandler: where is it stuck?
            time.sleep(2)
            raise AssertionError(
                "`slack serve` did not stop; it said:\n" + "".join(said_after[-80:])
            ) from None
        assert code == 0, "".join(said_after[-40:])
        assert fake.files[0].channel == INCIDENTS
    finally:
        if proc.poll() is None:
            proc.kill()
        fake.stop()


def test_second_signal_stops_at_once_while_a_draft_is_under_way(capsys):
    """The first Ctrl-C or SIGTERM waits for the drafts under way; a second one (a real signal, raised in the
    wait) abandons them: exit 130 and one line, no traceback. Handlers are installed even if the parent
    started us with SIGINT ignored."""
    import typer

    from agent.cli.slack import close_or_abandon, stop_on_signals
    from agent.slack.jobs import JobRunner

    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    release, closing, cancelled = threading.Event(), threading.Event(), threading.Event()
    runner = JobRunner()
    runner.submit("a long draft", lambda: release.wait(30))

    class Bot:
        def close(self, timeout: float) -> None:
            closing.set()  # the graceful stop has begun: from here a signal is the second one
            runner.stop(timeout)

    def second_signal() -> None:
        # no timer racing the stop: signal once the bot is closing (never after the test gave up)
        if closing.wait(20) and not cancelled.is_set():
            os.kill(os.getpid(), signal.SIGTERM)

    sender = threading.Thread(target=second_signal, daemon=True)
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # as under `make test &` in a script
        stop_on_signals()
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        sender.start()
        with pytest.raises(typer.Exit) as stopped:
            close_or_abandon(Bot(), timeout=20)
    except KeyboardInterrupt:
        pytest.fail("the second signal escaped as a KeyboardInterrupt (a traceback for the user)")
    finally:
        cancelled.set()
        release.set()
        for sig, handler in saved.items():
            signal.signal(sig, handler)
    assert stopped.value.exit_code == 130
    assert "abandoned" in capsys.readouterr().err
    assert runner.wait_idle(10)
