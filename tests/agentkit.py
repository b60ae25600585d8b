"""Helpers for the agent's tests: a demo store built once, copies of it per test, and citation checks."""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import tempfile
from pathlib import Path

from agent.drafter import citations
from agent.models import Draft, Incident
from retrieval.samples import load_demo
from retrieval.store import TraceStore

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / ".postmortem" / "cache"  # where the session `embedder` fixture keeps its ONNX graph


# A built demo store is cached between test sessions (embedding it is most of the suite's cost), keyed by
# everything that decides its content: the demo files and the ingest, render, store and embedder code.
_KEY_SOURCES = (
    "retrieval/samples/demo/traces",
    "retrieval/samples/demo/postmortems",
    "retrieval/ingest",
    "retrieval/embeddings",
    "retrieval/store.py",
    "retrieval/render.py",
    "retrieval/keyword.py",
    "retrieval/redact.py",
    "retrieval/trace.py",
)


def _demo_key() -> str:
    digest = hashlib.sha256()
    for source in _KEY_SOURCES:
        root = REPO / source
        files = sorted(root.rglob("*")) if root.is_dir() else [root]
        for path in files:
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(REPO)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def build_demo_store(path: Path, embedder) -> Path:
    """A store at `path` holding the bundled demo (traces + past post-mortems), copied from the cache."""
    cached = CACHE / f"demo-store-{_demo_key()}"
    if not cached.exists():
        staging = Path(tempfile.mkdtemp(prefix="staging-demo-", dir=CACHE))
        store = TraceStore(path=staging / "chroma", embedder=embedder)
        try:
            loaded = load_demo(store)
            assert not loaded.errors, loaded.errors
        finally:
            store.close()
        with contextlib.suppress(OSError):  # another session cached it first
            (staging / "chroma").rename(cached)
        for old in CACHE.glob("demo-store-*"):  # stores built from older code or data
            if old != cached and old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
        shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(cached, path)
    return path


def copy_store(source: Path, home: Path, embedder) -> TraceStore:
    """An open copy of a built store at `home`/chroma (where POSTMORTEM_HOME=home expects it)."""
    target = home / "chroma"
    shutil.copytree(source, target)
    return TraceStore(path=target, embedder=embedder)


def resolves(ref: str, store: TraceStore, incident: Incident) -> bool:
    """Whether an evidence id names a real object: a stored span or one of its documents, a report of the
    incident, or a stored past post-mortem."""
    kind, _, rest = ref.partition(":")
    if kind == "span":
        return store.get_span(rest) is not None
    if kind == "doc":
        span_id, _, index = rest.rpartition(":")
        span = store.get_span(span_id)
        return span is not None and index.isdigit() and int(index) < len(span.documents)
    if kind == "report":
        return rest.isdigit() and 1 <= int(rest) <= len(incident.reports)
    if kind == "pm":
        return bool(store.get_postmortem(rest))
    return False


def all_citations(draft: Draft) -> list[str]:
    """Every id the draft cites: in its Markdown, sentences, action items and classification."""
    refs = citations(draft.markdown)
    refs += [ref for section in draft.sections for sentence in section.sentences for ref in sentence.cites]
    refs += [ref for item in draft.action_items for ref in item.evidence]
    refs += [ref for layer in draft.classification.layers for ref in layer.evidence]
    if draft.decisive_evidence:
        refs.append(draft.decisive_evidence)
    return list(dict.fromkeys(refs))
