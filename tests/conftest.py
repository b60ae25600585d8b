"""Shared fixtures. Area-specific fixtures live in the area's own test modules."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def tmp_home(tmp_path, monkeypatch) -> Path:
    """A fresh POSTMORTEM_HOME for one test; the settings cache is cleared around it."""
    from agent.settings import get_settings

    home = tmp_path / "home"
    monkeypatch.setenv("POSTMORTEM_HOME", str(home))
    get_settings.cache_clear()
    yield home
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def embedder():
    """A ready MiniLM embedder; its ONNX graph is cached under .postmortem/cache (built once, ~2 s)."""
    from retrieval.embeddings import MiniLMEmbedder

    emb = MiniLMEmbedder(cache_dir=Path(__file__).resolve().parents[1] / ".postmortem" / "cache")
    emb.embed(["warm up"])
    return emb


@pytest.fixture(scope="module")
def store_dir(embedder):
    """The Slack test bed's small store (two services), built once per module."""
    from tests.slackbed import build_store

    return build_store(embedder)


@pytest.fixture
def bed(tmp_home, store_dir, monkeypatch):
    """The real Bolt app served on 127.0.0.1 against the fake Slack, on a copy of `store_dir`."""
    from tests.agentkit import CACHE
    from tests.slackbed import start_bed

    monkeypatch.setenv("POSTMORTEM_CACHE_DIR", str(CACHE))
    bed = start_bed(tmp_home, store_dir, monkeypatch)
    yield bed
    bed.close()
