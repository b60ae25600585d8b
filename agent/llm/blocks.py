"""Untrusted content, rendered for a prompt: one JSON object per line, inside delimited data blocks.

JSON escaping keeps every item on one line, and the block boundary is a digest of the whole payload, so text in a
trace cannot close a block early: to forge the end line it would have to contain the digest of itself.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Any

from agent.models import Classification, Evidence, Finding, Incident
from retrieval.trace import PostmortemDoc

EXCERPT_CHARS = 500  # per evidence item
DETAIL_CHARS = 900  # per finding
DESCRIPTION_CHARS = 3000
SIMILAR_SUMMARY_CHARS = 300


def clip(text: str | None, limit: int) -> str:
    text = text or ""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def line(obj: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in obj.items() if v not in (None, "", [], {})}, ensure_ascii=False)


def finding_line(f: Finding, evidence_ids: Sequence[str] | None = None) -> str:
    """A finding as one JSON line; `evidence_ids` limits its evidence to what was sent."""
    return line(
        {
            "detector": f.detector,
            "title": clip(f.title, 300),
            "layer_hint": f.layer_hint,
            "strength": round(f.strength, 2),
            "telemetry_gap": f.is_gap or None,
            "onset": f.onset.isoformat() if f.onset else None,
            "detail": clip(f.detail, DETAIL_CHARS),
            "evidence": list(evidence_ids if evidence_ids is not None else f.evidence),
        }
    )


def evidence_line(e: Evidence, limit: int = EXCERPT_CHARS) -> str:
    return line(
        {
            "id": e.id,
            "kind": e.kind,
            "trace": e.trace_id,
            "time": e.timestamp.isoformat() if e.timestamp else None,
            "label": clip(e.label, 200),
            "excerpt": clip(e.excerpt, limit),
        }
    )


def incident_lines(incident: Incident) -> list[str]:
    return [
        line(
            {
                "title": clip(incident.title, 300),
                "service": incident.service,
                "severity": incident.severity,
                "window_start": incident.window_start.isoformat() if incident.window_start else None,
                "window_end": incident.window_end.isoformat() if incident.window_end else None,
                "description": clip(incident.description, DESCRIPTION_CHARS),
                "reports": len(incident.reports) or None,
            }
        )
    ]


def similar_lines(similar: Iterable[PostmortemDoc]) -> list[str]:
    return [
        line(
            {
                "id": f"pm:{doc.id}",
                "title": clip(doc.title, 200),
                "service": doc.service,
                "primary_layer": doc.primary_layer or (doc.layers[0] if doc.layers else None),
                "layers": doc.layers,
                "summary": clip(doc.text, SIMILAR_SUMMARY_CHARS),
            }
        )
        for doc in similar
    ]


def classification_lines(c: Classification) -> list[str]:
    rows = [line({"primary": c.primary or "none singled out"})]
    rows += [
        line(
            {
                "layer": a.layer,
                "role": a.role,
                "confidence": a.confidence,
                "rationale": clip(a.rationale, 600),
                "evidence": a.evidence,
            }
        )
        for a in c.layers
    ]
    return rows


def boundary_for(*payloads: Iterable[str]) -> str:
    digest = hashlib.sha256()
    for payload in payloads:
        for row in payload:
            digest.update(row.encode("utf-8", "replace"))
            digest.update(b"\n")
    return digest.hexdigest()[:16]


def block(kind: str, rows: Sequence[str], boundary: str) -> str:
    body = "\n".join(rows) if rows else "(none)"
    return f"<<<DATA kind={kind} boundary={boundary}>>>\n{body}\n<<<END DATA boundary={boundary}>>>"
