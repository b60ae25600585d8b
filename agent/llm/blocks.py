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


COMPACT_EXCERPT_CHARS = 240  # on a small budget (a small local model): more, shorter items
COMPACT_DETAIL_CHARS = 300


def finding_line(f: Finding, evidence_ids: Sequence[str] | None = None, *, compact: bool = False) -> str:
    """A finding as one JSON line; `evidence_ids` limits its evidence to what was sent."""
    return line(
        {
            "detector": f.detector,
            "title": clip(f.title, 150 if compact else 300),
            "layer_hint": f.layer_hint,
            "strength": round(f.strength, 2),
            "telemetry_gap": f.is_gap or None,
            "onset": f.onset.isoformat() if f.onset else None,
            "detail": clip(f.detail, COMPACT_DETAIL_CHARS if compact else DETAIL_CHARS),
            "evidence": list(evidence_ids if evidence_ids is not None else f.evidence),
        }
    )


def evidence_line(e: Evidence, limit: int = EXCERPT_CHARS, *, compact: bool = False) -> str:
    """An evidence item as one JSON line; compact leaves out the trace id (the span id names it already)."""
    return line(
        {
            "id": e.id,
            "kind": e.kind,
            "trace": None if compact else e.trace_id,
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


def classification_lines(
    c: Classification, rationale_chars: int = 600, max_ids: int | None = None
) -> list[str]:
    """The classification as rows; with `max_ids` (a small budget), layers left unknown without evidence are
    left out and each layer lists at most that many ids."""
    rows = [line({"primary": c.primary or "none singled out"})]
    for a in c.layers:
        if max_ids is not None and a.role == "unknown" and not a.evidence:
            continue
        rows.append(
            line(
                {
                    "layer": a.layer,
                    "role": a.role,
                    "confidence": a.confidence,
                    "rationale": clip(a.rationale, rationale_chars) if rationale_chars else None,
                    "evidence": a.evidence[:max_ids] if max_ids is not None else a.evidence,
                }
            )
        )
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
