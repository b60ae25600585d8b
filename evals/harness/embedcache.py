"""The eval runs' vector cache: the store's content-addressed `VectorCache` in a file under the cache dir.

Every eval run re-ingests the same case traces into fresh per-case stores, so the cross-run cache cannot live in
those stores; it is the same table and keying (embedder identity + text) as the store's own, kept in one file
shared by every run (or, with --no-cache, by the cases of one run only). `prime` embeds every case's texts ahead
of the cases, in large batches. The cache changes no result, only time.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.vector_cache import VectorCache, embedder_identity

__all__ = ["CachedEmbedder", "embedder_identity"]


class CachedEmbedder:
    """Wraps an embedder (`embed(texts)` or `__call__`), memoising its vectors in a VectorCache file."""

    def __init__(self, inner: Any, path: Path) -> None:
        self.inner = inner
        self.identity = embedder_identity(inner)
        self.cache = VectorCache(path, self.identity)

    @property
    def hits(self) -> int:
        return self.cache.hits

    @property
    def misses(self) -> int:
        return self.cache.misses

    @property
    def embed_s(self) -> float:
        return self.cache.embed_s

    def _inner_embed(self, texts: list[str]) -> np.ndarray:
        embed = getattr(self.inner, "embed", None)
        return np.asarray(embed(texts) if callable(embed) else self.inner(texts), dtype=np.float32)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self.cache.embed(texts, self._inner_embed)

    def prime(self, texts: Sequence[str], batch: int = 4096) -> int:
        """Embed the texts not cached yet, in large batches (the embedder sorts each by length, so one big
        batch pads less and calls the model fewer times than each case's small ones); returns how many."""
        todo = list(dict.fromkeys(texts))
        before = self.misses
        for start in range(0, len(todo), batch):
            self.cache.embed(todo[start : start + batch], self._inner_embed)
        return self.misses - before

    def __call__(self, input: Sequence[str]) -> list[np.ndarray]:
        return list(self.embed(input))

    def close(self) -> None:
        self.cache.close()
