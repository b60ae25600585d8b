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
