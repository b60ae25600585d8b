"""Langfuse observation exports: a JSON array (UI export) or JSON lines, one observation per record.

Langfuse has no service field: the v3 SDK (OpenTelemetry based) keeps resource attributes in
`metadata.resourceAttributes`, which is where the service name lives.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from evals.generator.ir import GSpan
from evals.generator.writers.common import all_messages, openai_message

TYPES = {
    "llm": "GENERATION",
    "retrieval": "RETRIEVER",
    "rerank": "SPAN",
    "tool": "TOOL",
    "agent": "AGENT",
    "guardrail": "GUARDRAIL",
    "embedding": "EMBEDDING",
}


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _maybe_json(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def observation(span: GSpan, versions: dict[str, str]) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "resourceAttributes": {
            "service.name": span.service,
            "service.version": versions.get(span.service, "1.0.0"),
        }
    }
    obs: dict[str, Any] = {
        "id": span.span_id,
        "traceId": span.trace_id,
        "parentObservationId": span.parent_id,
        "type": TYPES.get(span.kind, "SPAN"),
        "name": span.name,
        "startTime": iso(span.start),
        "endTime": iso(span.end),
        "level": "ERROR" if span.is_error else "DEFAULT",
        "statusMessage": span.status_message,
        "environment": "production",
    }
    if span.parent_id is None or span.kind == "llm":
        obs |= {"sessionId": span.session_id, "userId": span.user_id}
    if span.kind == "llm":
        meta |= {"provider": span.provider, "requested_model": span.request_model}
        params = {"temperature": span.temperature, "max_tokens": span.max_tokens}
        if span.top_p is not None:
            params["top_p"] = span.top_p
        obs |= {
            "name": "chat-completion",
            "model": span.response_model or span.request_model,
            "modelParameters": {k: v for k, v in params.items() if v is not None},
            "completionStartTime": iso(span.start),
            "usage": {
                "input": span.input_tokens,
                "output": span.output_tokens,
                "total": (span.input_tokens or 0) + (span.output_tokens or 0),
                "unit": "TOKENS",
            }
            if not span.is_error
            else None,
        }
        if span.capture_content and not span.is_error:
            obs["input"] = [openai_message(m) for m in all_messages(span)]
            out = span.output_messages[0] if span.output_messages else None
            obs["output"] = openai_message(out) if out else None
            meta["finish_reason"] = span.finish_reason
        if span.template_id:
            obs |= {"promptName": span.template_id, "promptVersion": _version_number(span.template_version)}
        if span.is_error:
            meta["error.type"] = span.error_type
    elif span.kind in ("retrieval", "rerank"):
        obs["input"] = {"query": span.query}
        obs["output"] = {
            "documents": [
                {"id": d.id, "content": d.content, "score": d.score, "metadata": d.metadata}
                for d in span.documents
            ]
        }
    elif span.kind == "tool":
        obs["name"] = span.tool_name or span.name
        obs["input"] = _maybe_json(span.tool_args)
        obs["output"] = _maybe_json(span.tool_result)
        meta["tool_call_id"] = span.tool_call_id
        if span.is_error:
            meta["error.type"] = span.error_type
    else:
        obs["input"] = span.input_value
        obs["output"] = span.output_value
        if span.parent_id is None:
            obs["name"] = span.name
    meta |= {k: v for k, v in span.attrs.items()}
    obs["metadata"] = meta
    return {k: v for k, v in obs.items() if v is not None}


def _version_number(version: str | None) -> int | str | None:
    if version is None:
        return None
    digits = "".join(ch for ch in version if ch.isdigit())
    return int(digits) if digits and version.lstrip("v").isdigit() else version


def write_langfuse(spans: list[GSpan], out_dir: Path, transport: str, versions: dict[str, str]) -> list[Path]:
    spans = sorted(spans, key=lambda s: (s.start, s.span_id))
    out_dir.mkdir(parents=True, exist_ok=True)
    records = [observation(s, versions) for s in spans]
    if transport == "jsonl":
        path = out_dir / "langfuse-observations.jsonl"
        with path.open("w", encoding="utf-8") as fp:
            for record in records:
                fp.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
        return [path]
    path = out_dir / "langfuse-export.json"
    path.write_text(json.dumps(records, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    return [path]
