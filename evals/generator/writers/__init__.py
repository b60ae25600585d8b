"""One writer per trace dialect; `write_traces` picks it from the case's dialect and transport."""

from __future__ import annotations

from pathlib import Path

from evals.generator.ir import GSpan
from evals.generator.writers import genai, legacy, openinference, openllmetry
from evals.generator.writers.langfuse import write_langfuse
from evals.generator.writers.otlp import write_otlp

DIALECTS = ("otlp-genai", "otlp-genai-legacy", "openllmetry", "openinference", "langfuse")


def write_traces(
    spans: list[GSpan],
    out_dir: Path,
    dialect: str,
    transport: str,
    versions: dict[str, str],
    *,
    workflows: dict[str, str] | None = None,
    legacy_events: bool = False,
) -> list[Path]:
    """Serialise every span of a case into out_dir; returns the files written."""
    if dialect == "langfuse":
        return write_langfuse(spans, out_dir, transport, versions)
    if dialect == "otlp-genai":
        return write_otlp(spans, out_dir, transport, genai.mapper, genai.scope, versions)
    if dialect == "otlp-genai-legacy":
        return write_otlp(
            spans, out_dir, transport, legacy.make_mapper(legacy_events), legacy.scope, versions
        )
    if dialect == "openllmetry":
        return write_otlp(
            spans, out_dir, transport, openllmetry.make_mapper(workflows or {}), openllmetry.scope, versions
        )
    if dialect == "openinference":
        return write_otlp(spans, out_dir, transport, openinference.mapper, openinference.scope, versions)
    raise ValueError(f"unknown dialect {dialect!r}; expected one of {', '.join(DIALECTS)}")
