"""Detectors of the post-mortem agent: named units that turn an incident's spans into findings.

ctx = DetectorContext(incident, spans, baseline, embed)
findings = run_detectors(ctx)
flagged = flag_bad_outputs(ctx, findings)
found = how_found(ctx)                               # how the bad outputs were found (a finding, or None)
onset = estimate_onset(ctx, flagged)
findings = correlate_onset(ctx, findings, onset)      # the complete list, re-weighted
repro = reproducibility(ctx, flagged)
"""

from agent.detectors.base import DetectorContext
from agent.detectors.onset import correlate_onset, estimate_onset
from agent.detectors.registry import DETECTORS, detector_names, run_detectors
from agent.detectors.reproducibility import reproducibility
from agent.detectors.symptoms import flag_bad_outputs, how_found

__all__ = [
    "DETECTORS",
    "DetectorContext",
    "correlate_onset",
    "detector_names",
    "estimate_onset",
    "flag_bad_outputs",
    "how_found",
    "reproducibility",
    "run_detectors",
]
