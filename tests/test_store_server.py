"""A real `chroma run` server on 127.0.0.1 for the store tests (started once per session, killed after)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMA = Path(sys.executable).parent / "chroma"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_heartbeat(url: str, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"chroma server exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"chroma server at {url} did not answer its heartbeat within {timeout:.0f}s")


@contextlib.contextmanager
def chroma_run(data: Path) -> Iterator[str]:
    """A `chroma run` on a free loopback port with its data (and server.log) in `data`; yields its URL, stops it.
    Skips the test when the chroma CLI is missing."""
    if not CHROMA.exists():
        pytest.skip("the chroma CLI is not installed in this environment")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with open(data / "server.log", "wb") as log:
        proc = subprocess.Popen(
            [str(CHROMA), "run", "--path", str(data / "db"), "--host", "127.0.0.1", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
        )
        try:
            wait_heartbeat(url, proc)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory) -> Iterator[str]:
    """The URL of a fresh `chroma run` server (its data in a temporary folder)."""
    with chroma_run(tmp_path_factory.mktemp("chroma-server")) as url:
        yield url


@pytest.mark.server
def test_server_heartbeat_and_unreachable_url(chroma_server, embedder, tmp_path):
    """The fixture's server answers; a URL where nothing listens is a StoreUnavailable naming it."""
    from retrieval.store import StoreUnavailable, TraceStore

    store = TraceStore(url=chroma_server, embedder=embedder, keyword_dir=tmp_path)
    assert store.count_spans() >= 0
    store.close()
    dead = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(StoreUnavailable, match=dead.split("//")[1]):
        TraceStore(url=dead, embedder=embedder, keyword_dir=tmp_path)
