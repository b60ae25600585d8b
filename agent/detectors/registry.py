"""Every detector, in one explicit list, and `run_detectors`.

A new detector is a module in agent/detectors/ whose entry point carries `@detector(NAME, phase=...)`
(agent/detectors/base.py), plus one line in DETECTORS below; tests/test_layering.py fails on a marked detector
that is missing here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from agent.detectors import (
    bias,
    delivery,
    grounding,
    index_age,
    injection,
    input_shift,
    latent,
    matched_pairs,
    model_drift,
    prompt_change,
    retrieval,
    sampling,
    segments,
    stages,
    staleness,
    telemetry_gaps,
    tool_data,
    tool_errors,
    tool_fields,
    truncation,
)
from agent.detectors.base import Detector, DetectorContext
from agent.detectors.symptoms import compute_flags, weigh_by_flags
from agent.models import Finding

log = logging.getLogger(__name__)

DETECTORS: tuple[Detector, ...] = (
    bias.detect,
    delivery.detect,
    grounding.detect,
    index_age.detect,
    injection.detect,
    input_shift.detect,
    latent.detect,
    matched_pairs.detect,
    model_drift.detect,
    prompt_change.detect,
    retrieval.detect,
    sampling.detect,
    segments.detect,
    stages.detect,
    staleness.detect,
    telemetry_gaps.detect,
    tool_data.detect,
    tool_errors.detect,
    tool_fields.detect,
    truncation.detect,
)


@dataclass(frozen=True)
class _Entry:
    name: str
    func: Detector
    phase: int


_BY_NAME: dict[str, _Entry] = {
    f.detector_name: _Entry(f.detector_name, f, f.detector_phase)  # type: ignore[attr-defined]
    for f in DETECTORS
}


def detector_names() -> list[str]:
    return sorted(_BY_NAME)


def run_detectors(ctx: DetectorContext, names: list[str] | None = None) -> list[Finding]:
    """Run the named detectors (all by default) phase by phase; findings sorted by strength, strongest first. A
    detector that raises is skipped and recorded in `ctx.errors`."""
    unknown = sorted(set(names or []) - set(_BY_NAME))
    if unknown:
        raise ValueError(f"unknown detector(s): {', '.join(unknown)}; known: {', '.join(sorted(_BY_NAME))}")
    wanted = [_BY_NAME[n] for n in (names if names is not None else sorted(_BY_NAME))]
    findings: list[Finding] = []
    for entry in sorted(wanted, key=lambda e: (e.phase, e.name)):
        if entry.phase >= 2 and ctx.flags is None:
            ctx.flags = compute_flags(ctx, findings)
            findings = weigh_by_flags(ctx, findings)
        if entry.phase == 3:
            ctx.prior = list(findings)
        try:
            findings.extend(entry.func(ctx))
        except Exception as exc:  # one detector tripping on odd data must not sink the whole analysis
            log.exception("detector %s failed", entry.name)
            ctx.errors.append(f"{entry.name}: {type(exc).__name__}: {exc}")
    return sorted(findings, key=lambda f: (-f.strength, f.detector, f.title))
