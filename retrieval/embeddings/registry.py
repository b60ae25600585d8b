"""Pick the embedder from one setting: "minilm" (offline, default) or "openai:<model>"."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction

from retrieval.embeddings.minilm import MiniLMEmbedder

SPECS = ('"minilm"', '"openai:<model>" (e.g. openai:text-embedding-3-small)')


def get_embedding_function(
    spec: str = "minilm", cache_dir: Path | None = None
) -> EmbeddingFunction[Documents]:
    """Return the embedding function named by `spec`; ValueError if the spec is unknown or unusable."""
    kind, _, model = spec.strip().partition(":")
    kind = kind.lower()
    if kind == "minilm" and not model:
        return MiniLMEmbedder(cache_dir=cache_dir)
    if kind == "openai":
        if not model.strip():
            raise ValueError(f"embedder {spec!r}: name the model, e.g. openai:text-embedding-3-small")
        if not os.environ.get("OPENAI_API_KEY"):
            raise ValueError(f"embedder {spec!r} needs the OPENAI_API_KEY environment variable")
        from chromadb.utils.embedding_functions import OpenAIEmbeddingFunction

        return OpenAIEmbeddingFunction(model_name=model.strip(), api_key_env_var="OPENAI_API_KEY")
    raise ValueError(f"unknown embedder {spec!r}: expected one of {', '.join(SPECS)}")


def embed_texts(embedder: EmbeddingFunction[Documents], texts: list[str]) -> np.ndarray:
    """Vectors for `texts` as a float32 array from any embedding function (its `.embed` when it has one)."""
    embed = getattr(embedder, "embed", None)
    out = embed(list(texts)) if callable(embed) else embedder(list(texts))
    return np.asarray(out, dtype=np.float32)
