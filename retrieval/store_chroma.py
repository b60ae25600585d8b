"""Opening a store's Chroma side: the client (an embedded folder or a server) and its collections.

Each kind of record (spans, post-mortem chunks) has two: the records with their vectors and JSON, and the
searched one holding each distinct vector once (`vector_keys`). Spans with no text of their own have a third,
`spans_bare`, never searched by vector.

A collection remembers the embedder it was built with; opening it with another raises `EmbedderMismatch`.
Creating an embedded store writes, so it holds the folder's writer lock. The keyword index of a server store
lives on this machine, in a file named for the (credential-free) URL.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from retrieval.masking import mask_url
from retrieval.store_lock import WriterLock
from retrieval.store_records import POSTMORTEMS, SPANS, SPANS_BARE, VECTORS, EmbedderMismatch, embedder_id

_HNSW = {"space": "cosine"}  # larger HNSW batch/sync thresholds insert faster but hold ~50 MB more
# Spans with no text of their own are kept (with their JSON) in a collection never searched by vector: Chroma
# wants a vector per record, so each gets a 1-d placeholder, distinct per id (no pile of identical points).
_BARE_HNSW = {"space": "l2"}


@dataclass
class ChromaSide:
    """A Chroma client, the store's record collections (spans, post-mortem chunks), their searched ones, and
    the spans kept without a vector."""

    client: Any
    spans: Any
    postmortems: Any
    span_vectors: Any
    postmortem_vectors: Any
    bare_spans: Any  # spans without a vector (SPANS_BARE)


def keyword_file(keyword_dir: Path, url: str) -> Path:
    """Where a server store's keyword index lives on this machine."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", mask_url(url)).strip("-")[:60]  # no credentials in a file name
    digest = hashlib.sha1(url.encode()).hexdigest()[:8]
    return keyword_dir / f"{slug}-{digest}.sqlite3"


def open_collection(
    client: Any, name: str, embedder: Any, location: str, hnsw: dict[str, str] = _HNSW
) -> Any:
    """The named collection, created if missing; refused when it was built with another embedder."""
    config: Any = {"hnsw": hnsw}
    want = embedder_id(embedder)
    collection = client.get_or_create_collection(
        name, configuration=config, metadata={"embedder": want}, embedding_function=None
    )
    have = (collection.metadata or {}).get("embedder")
    if have and have != want:
        raise EmbedderMismatch(
            f"the store at {location} was built with embedder {have!r}, not {want!r}: "
            "use the same embedder, or another POSTMORTEM_HOME / Chroma server"
        )
    return collection


def collection_names(prefix: str) -> tuple[str, str, str, str]:
    """Spans, post-mortem chunks, and the searched collection (distinct vectors) of each."""
    return (prefix + SPANS, prefix + POSTMORTEMS, prefix + VECTORS + SPANS, prefix + VECTORS + POSTMORTEMS)


def _side(client: Any, prefix: str, embedder: Any, location: str) -> ChromaSide:
    collections = (open_collection(client, name, embedder, location) for name in collection_names(prefix))
    bare = open_collection(client, prefix + SPANS_BARE, embedder, location, _BARE_HNSW)
    return ChromaSide(client, *collections, bare)


def open_embedded(
    path: Path, prefix: str, embedder: Any, location: str, on_wait: Callable[[str], None]
) -> ChromaSide:
    """Open the folder's Chroma client and collections. Creating a store (or its collections) writes:
    two processes creating one at once would race, so creation holds the writer lock."""
    import chromadb

    names = (*collection_names(prefix), prefix + SPANS_BARE)
    client = None
    if (path / "chroma.sqlite3").is_file():
        client = chromadb.PersistentClient(path=str(path))
        if set(names) <= {c.name for c in client.list_collections()}:
            return _side(client, prefix, embedder, location)
    with WriterLock.for_path(path / "write.lock").hold(on_wait=on_wait):
        return _side(client or chromadb.PersistentClient(path=str(path)), prefix, embedder, location)


def open_server(url: str, prefix: str, embedder: Any, location: str) -> ChromaSide:
    """Connect to a Chroma server (checked with a heartbeat) and open the collections there."""
    import chromadb

    parsed = urlparse(url if "://" in url else f"http://{url}")
    ssl = parsed.scheme == "https"
    client = chromadb.HttpClient(
        host=parsed.hostname or "127.0.0.1", port=parsed.port or (443 if ssl else 8000), ssl=ssl
    )
    client.heartbeat()
    return _side(client, prefix, embedder, location)


def reopen_embedded(side: ChromaSide, path: Path, prefix: str, embedder: Any, location: str) -> ChromaSide:
    """A fresh client for a folder another process wrote since this client read its vector index."""
    import chromadb

    side.client.close()
    return _side(chromadb.PersistentClient(path=str(path)), prefix, embedder, location)
