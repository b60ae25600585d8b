"""`postmortem receive` as a process: it says where it listens, `postmortem ingest` writes the same store while it
runs (the receiver holds the writer lock one batch at a time), SIGTERM stores what was accepted and exits 0."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.errors import UserError
from agent.otlp_receiver import exposure_warning, receiver_config
from agent.settings import Settings
from tests.agentkit import CACHE
from tests.conftest import FIXTURES
from tests.otlpkit import post
from tests.test_cli_ingest import invoke, open_store, settings_env

SPANS = FIXTURES / "traces" / "otlp_openai_v2_spans.json"
OTHER = FIXTURES / "traces" / "otlp_genai_current.json"
LISTENING = re.compile(r"receiving OTLP/HTTP on http://([\d.]+):(\d+)")


def _start(home: Path, *args: str) -> tuple[subprocess.Popen, tuple[str, int]]:
    env = dict(os.environ, POSTMORTEM_HOME=str(home), POSTMORTEM_CACHE_DIR=str(CACHE), COLUMNS="200")
    proc = subprocess.Popen(
        [sys.executable, "-c", "from agent.cli.main import run; run()", "receive", "--port", "0", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    seen = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        seen.append(line)
        if found := LISTENING.search(line):
            return proc, (found[1], int(found[2]))
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError(f"the receiver did not start: {''.join(seen)}")


def test_receive_serves_beside_a_cli_ingest_and_stops_on_sigterm(tmp_path):
    home = tmp_path / "home"
    proc, address = _start(home, "--json")
    try:
        assert address[0] == "127.0.0.1"  # loopback unless --host says otherwise
        assert post(address, "/v1/traces", SPANS.read_bytes(), gzip_it=True).status == 200
        with settings_env(home):
            ingested = invoke("ingest", str(OTHER), "--json")  # another writer of the same store, meanwhile
            assert ingested.exit_code == 0, ingested.output
        assert post(address, "/v1/traces", b"{broken").status == 400
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    stats = json.loads(out)
    assert stats["answers"] == {"200": 1, "400": 1}
    assert stats["writer"]["spans_stored"] == stats["spans_accepted"] > 0
    assert "400 body is not valid JSON" in err  # each refusal is one line on stderr
    with settings_env(home):
        store = open_store()
        try:
            assert store.count_spans() == stats["spans_accepted"] + json.loads(ingested.stdout)["spans_added"]
        finally:
            store.close()


def test_a_taken_port_is_one_line_and_exit_2(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = dict(os.environ, POSTMORTEM_HOME=str(tmp_path / "home"), POSTMORTEM_CACHE_DIR=str(CACHE))
        done = subprocess.run(
            [sys.executable, "-c", "from agent.cli.main import run; run()", "receive", "--port", str(port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr and "Traceback" not in done.stderr


def test_token_setting_and_exposure_warning(monkeypatch):
    """--token wins over POSTMORTEM_RECEIVER_TOKEN, an empty --token is refused, and listening beyond loopback
    without a token is one warning line (loopback, or any token, says nothing)."""
    monkeypatch.setenv("POSTMORTEM_RECEIVER_TOKEN", "from-the-setting")
    settings = Settings()
    config = receiver_config(settings, "127.0.0.1", 4318, None)
    assert config.token is not None and config.token.get_secret_value() == "from-the-setting"
    assert receiver_config(settings, "127.0.0.1", 4318, "flag").token.get_secret_value() == "flag"
    with pytest.raises(UserError, match="--token is empty"):
        receiver_config(settings, "127.0.0.1", 4318, " ")
    monkeypatch.delenv("POSTMORTEM_RECEIVER_TOKEN")
    open_config = receiver_config(Settings(), "0.0.0.0", 4318, None)
    assert "without a token" in (exposure_warning(open_config) or "")
    assert exposure_warning(receiver_config(Settings(), "127.0.0.1", 4318, None)) is None
    assert exposure_warning(receiver_config(Settings(), "0.0.0.0", 4318, "t")) is None
