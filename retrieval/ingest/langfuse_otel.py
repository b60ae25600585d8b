"""The Langfuse SDK's own spans: `langfuse.observation.*` attributes onto Span fields.

The Langfuse Python SDK (v3 and later) is built on OpenTelemetry and sends its observations to the Langfuse
server as OTLP spans; pointed at a Collector (or exported to a file) they arrive here as OTLP. Each span carries
the observation's type, input, output, model, parameters and usage as attributes (JSON text), and its metadata
as `langfuse.observation.metadata.<key>` (each value JSON text). They are read into the observation shape that
Langfuse's exports have and mapped by the same code (`langfuse.observation_fields`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from retrieval.ingest.common import maybe_json
from retrieval.ingest.langfuse import observation_fields

_PREFIX = "langfuse.observation."
_METADATA = _PREFIX + "metadata"
_OBSERVATION_KEYS = {
    "type": "type",
    "input": "input",
    "output": "output",
    "model.name": "model",
    "model.parameters": "modelParameters",
    "usage_details": "usageDetails",
    "level": "level",
    "status_message": "statusMessage",
    "prompt.name": "promptName",
    "prompt.version": "promptVersion",
}


def is_langfuse_otel(attrs: Mapping[str, Any]) -> bool:
    return _PREFIX + "type" in attrs


def map_langfuse_otel(attrs: Mapping[str, Any], name: str) -> dict[str, Any]:
    """Span fields from a Langfuse SDK span's attributes (`name`: the span's name, the observation's)."""
    obs: dict[str, Any] = {"name": name}
    for key, field in _OBSERVATION_KEYS.items():
        if attrs.get(_PREFIX + key) is not None:
            obs[field] = attrs[_PREFIX + key]
    return observation_fields(obs, _metadata(attrs))


def _metadata(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """`langfuse.observation.metadata` (a JSON object) and `langfuse.observation.metadata.<key>` (JSON values)."""
    whole = maybe_json(attrs.get(_METADATA))
    metadata: dict[str, Any] = dict(whole) if isinstance(whole, Mapping) else {}
    start = _METADATA + "."
    for key, value in attrs.items():
        if key.startswith(start):
            metadata[key[len(start) :]] = _json_value(value)
    return metadata


def _json_value(value: Any) -> Any:
    """Each metadata value is JSON text (`"\"openai\""`, `"0.1"`); a value that is not is kept as is."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value
