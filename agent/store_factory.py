"""Build the trace store (and the redactor) from the settings: the one place the CLI and Slack open it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent.errors import Failure, UserError
from agent.settings import Settings

if TYPE_CHECKING:
    from retrieval.redact import Redactor
    from retrieval.store import TraceStore


# onnxruntime's buffers grow with rows x tokens^2: 2,048 padded tokens per batch (8 texts of 256 tokens) peak
# ~230 MB lower than 64 long texts, at the same speed; short texts still go 64 at a time, which is faster for them.
EMBED_BATCH_TOKENS = 2048


def make_embedder(settings: Settings) -> Any:
    """The embedding function named by settings.embedder (UserError if the setting is unusable)."""
    from retrieval.embeddings import MiniLMEmbedder, get_embedding_function

    try:
        embedder = get_embedding_function(settings.embedder, settings.cache_dir)
    except ValueError as exc:
        raise UserError(f"POSTMORTEM_EMBEDDER: {exc}") from None
    if isinstance(embedder, MiniLMEmbedder):
        embedder.max_batch_tokens = min(embedder.max_batch_tokens, EMBED_BATCH_TOKENS)
    return embedder


def open_store(settings: Settings) -> TraceStore:
    """The embedded store under settings.home, or the Chroma server at settings.chroma_url.

    Raises UserError for a bad embedder setting or a store built with another embedder, Failure when the
    server cannot be reached. With a server, the keyword index lives on this machine (per URL).
    """
    from retrieval.store import EmbedderMismatch, StoreUnavailable, TraceStore

    embedder = make_embedder(settings)
    try:
        if settings.chroma_url:
            return TraceStore(
                url=settings.chroma_url, embedder=embedder, keyword_dir=settings.home / "keyword"
            )
        return TraceStore(path=settings.chroma_path, embedder=embedder)
    except EmbedderMismatch as exc:
        raise UserError(str(exc)) from None
    except StoreUnavailable as exc:
        raise Failure(str(exc)) from None


def make_redactor(settings: Settings) -> Redactor | None:
    """The redactor to apply before storing, or None when redaction is off."""
    if not settings.redact:
        return None
    from retrieval.redact import Redactor

    try:
        return Redactor(settings.redact_kinds)
    except ValueError as exc:
        raise UserError(f"POSTMORTEM_REDACT_KINDS: {exc}") from None
