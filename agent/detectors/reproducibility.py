"""How often the failure recurs among similar requests in the window, with a Wilson 95% interval.

Similar = the request's text is close in embedding space to a flagged request (cosine >= T.repro_similar); without an
embedder, the same route (prompt template id, else span name)."""

from __future__ import annotations

from agent.detectors.base import DetectorContext, evenly
from agent.detectors.stats import wilson
from agent.models import Reproducibility, span_ref
from agent.thresholds import T
from retrieval.trace import Span


def reproducibility(ctx: DetectorContext, flagged: list[str]) -> Reproducibility:
    wanted = set(flagged)
    bad = [a for a in ctx.answers if a.span_id in wanted]
    if not bad:
        return Reproducibility(note="no flagged outputs in the window: nothing to reproduce")
    similar, how = _similar(ctx, ctx.answers, bad)
    k, n = sum(a.span_id in wanted for a in similar), len(similar)
    lo, hi = wilson(k, n)
    return Reproducibility(
        similar_requests=n,
        flagged=k,
        rate=round(k / n, 4),
        ci_low=round(lo, 4),
        ci_high=round(hi, 4),
        note=f"{k} of {n} similar requests in the window were flagged ({how})",
        evidence=[span_ref(a.span_id) for a in bad[:5]],
    )


def _similar(ctx: DetectorContext, answers: list[Span], bad: list[Span]) -> tuple[list[Span], str]:
    """Requests similar to a flagged one. With many requests, an even sample of them is compared (to at
    most T.repro_flagged_cap flagged ones) and the note says so; the rate is estimated on the sample."""
    if ctx.embed is not None:
        pool = evenly(answers, T.repro_cap)
        anchors = evenly(bad, T.repro_flagged_cap)
        vecs = ctx.vectors([ctx.request_text(a) or a.output_text for a in [*pool, *anchors]])
        if vecs is not None and len(vecs):
            sims = vecs[: len(pool)] @ vecs[len(pool) :].T
            near = sims.max(axis=1) >= T.repro_similar
            bad_ids = {b.span_id for b in bad}
            chosen = [a for a, keep in zip(pool, near, strict=True) if keep or a.span_id in bad_ids]
            how = f"similar = request text cosine >= {T.repro_similar} to a flagged request"
            if len(pool) < len(answers):
                how += f"; an even sample of {len(pool)} of {len(answers)} window requests"
            return chosen, how
    routes = {_route(b) for b in bad}
    return [a for a in answers if _route(a) in routes], "similar = same route (prompt template or span name)"


def _route(span: Span) -> str:
    if span.prompt_template and span.prompt_template.id:
        return f"template:{span.prompt_template.id}"
    return f"name:{span.name}"
