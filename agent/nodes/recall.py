"""Node `recall`: similar past post-mortems, by searching the store with the incident's words."""

from __future__ import annotations

import numpy as np
from langgraph.runtime import Runtime

from agent.state import AgentContext, AgentState, SimilarIncident
from agent.textcues import text_prior

SEARCH_K = 8
KEEP = 3
EMBED_CHARS = 700  # enough for the gist; longer text only costs embedding time
MIN_SIMILARITY = 0.3  # cosine between the incident's words and the post-mortem chunk


def similar_incidents(store, query: str, embed=None, exclude: str | None = None) -> list[SimilarIncident]:
    """The best-matching past post-mortems, one entry per post-mortem.

    The store ranks by fused ranks, which say nothing absolute; the score kept here is the cosine between
    the incident's words and the best chunk (fused score when no embedder is available)."""
    if not query.strip():
        return []
    hits = [hit for hit in store.search_postmortems(query, k=SEARCH_K) if hit.doc.id != exclude]
    if not hits:
        return []
    if embed is not None:
        texts = [query[:EMBED_CHARS], *(f"{h.doc.title}. {h.doc.text}"[:EMBED_CHARS] for h in hits)]
        vectors = np.asarray(embed(texts), dtype=np.float32)
        scores = [float(v) for v in vectors[1:] @ vectors[0]]
    else:
        top = max(hit.score for hit in hits) or 1.0
        scores = [hit.score / top for hit in hits]
    best: dict[str, SimilarIncident] = {}
    for hit, score in zip(hits, scores, strict=True):
        doc = hit.doc
        if score < MIN_SIMILARITY or (doc.id in best and best[doc.id].score >= score):
            continue
        best[doc.id] = SimilarIncident(
            id=doc.id,
            title=doc.title,
            score=round(score, 4),
            date=doc.date,
            service=doc.service,
            layers=list(doc.layers),
            primary_layer=doc.primary_layer or (doc.layers[0] if doc.layers else None),
            excerpt=" ".join(doc.text.split())[:240],
        )
    return sorted(best.values(), key=lambda s: s.score, reverse=True)[:KEEP]


def recall(state: AgentState, runtime: Runtime[AgentContext]) -> dict:
    incident = state["incident"]
    ctx = runtime.context
    similar = similar_incidents(ctx.store, state["scope"].query, ctx.embed(), exclude=incident.id)
    return {"similar": similar, "text_prior": text_prior(incident)}
