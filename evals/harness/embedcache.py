"""A content-addressed cache of sentence vectors for eval runs.

Every run re-ingests the same case traces into fresh stores, so it embeds the same span texts again; embedding is
most of an eval's cost. Vectors are keyed by the embedder's identity (for MiniLM: the hash of its weights, through
the graph file name) and the text, so a changed model or text misses. The cache changes no result, only time.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def embedder_identity(embedder: Any) -> str:
    """A string that changes whenever the embedder would produce different vectors."""
    parts = [type(embedder).__module__, type(embedder).__name__]
    name = getattr(embedder, "name", None)
    if callable(name):
        parts.append(str(name()))
    graph = getattr(embedder, "graph_path", None)
    if graph is not None:
        parts.append(Path(graph).name)  # model-<weights sha>-g<builder version>.onnx
    else:
        get_config = getattr(embedder, "get_config", None)
        if callable(get_config):
            parts.append(json.dumps(get_config(), sort_keys=True, default=str))
    return "|".join(parts)


class CachedEmbedder:
    """Wraps an embedder (`embed(texts)` or `__call__`), memoising vectors in memory and in a SQLite file."""

    def __init__(self, inner: Any, path: Path | None = None) -> None:
        self.inner = inner
        self.identity = embedder_identity(inner)
        self._memory: dict[str, np.ndarray] = {}
        self._db: sqlite3.Connection | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path))
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, dim INTEGER, vec BLOB)"
            )
        self.hits = 0
        self.misses = 0
        self.embed_s = 0.0  # time spent in the wrapped embedder

    def _key(self, text: str) -> str:
        return hashlib.sha256(f"{self.identity}\0{text}".encode()).hexdigest()

    def _inner_embed(self, texts: list[str]) -> np.ndarray:
        started = time.perf_counter()
        embed = getattr(self.inner, "embed", None)
        out = embed(texts) if callable(embed) else self.inner(texts)
        self.embed_s += time.perf_counter() - started
        return np.asarray(out, dtype=np.float32)

    def _load(self, keys: Sequence[str]) -> None:
        missing = [k for k in dict.fromkeys(keys) if k not in self._memory]
        if self._db is None or not missing:
            return
        for start in range(0, len(missing), 500):
            chunk = missing[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for key, dim, blob in self._db.execute(
                f"SELECT key, dim, vec FROM vectors WHERE key IN ({marks})", chunk
            ):
                self._memory[key] = np.frombuffer(blob, dtype=np.float32, count=dim).copy()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        keys = [self._key(t) for t in texts]
        self._load(keys)
        todo = {k: t for k, t in zip(keys, texts, strict=True) if k not in self._memory}
        self.misses += len(todo)
        self.hits += len(texts) - len(todo)
        if todo:
            vectors = self._inner_embed(list(todo.values()))
            rows = []
            for key, vector in zip(todo, vectors, strict=True):
                self._memory[key] = vector
                rows.append((key, int(vector.shape[0]), vector.astype(np.float32).tobytes()))
            if self._db is not None:
                with self._db:
                    self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)", rows)
        if not texts:
            return self._inner_embed([])
        return np.stack([self._memory[k] for k in keys]).astype(np.float32, copy=False)

    def __call__(self, input: Sequence[str]) -> list[np.ndarray]:
        return list(self.embed(input))

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
