"""Imports every detector module so that each registers itself (see base.detector)."""

from agent.detectors import (  # noqa: F401
    bias,
    delivery,
    grounding,
    injection,
    input_shift,
    latent,
    model_drift,
    prompt_change,
    retrieval,
    sampling,
    staleness,
    telemetry_gaps,
    tool_data,
    tool_errors,
    truncation,
)
