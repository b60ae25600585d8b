"""Run every detector over synthetic traffic, as the agent does, and pick findings out of the result."""

from __future__ import annotations

from agent.detectors import DetectorContext, correlate_onset, estimate_onset, flag_bad_outputs, run_detectors
from agent.models import Finding
from retrieval.trace import Span
from tests.spanfactory import incident


def analyse(
    window: list[Span], baseline: list[Span], embed=None, **kw
) -> tuple[DetectorContext, list[Finding]]:  # noqa: ANN001
    """(context, findings with onset correlation) for an incident built from `kw` (see spanfactory.incident)."""
    ctx = DetectorContext(incident(**kw), window, baseline, embed=embed)
    findings = run_detectors(ctx)
    assert not ctx.errors  # every detector ran through
    flagged = flag_bad_outputs(ctx, findings)
    return ctx, correlate_onset(ctx, findings, estimate_onset(ctx, flagged))


def by(findings: list[Finding], detector: str, kind: str | None = None) -> list[Finding]:
    return [f for f in findings if f.detector == detector and (kind is None or f.data.get("kind") == kind)]
