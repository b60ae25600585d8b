"""What the investigation's tools read: bounded, read-only look-ups over the store and the run's workspace.

Each function returns a `Looked` (rows for the model, the evidence ids the rows offer) or raises `ToolError`
with one line the model can act on (a bad argument, an unknown id). Every row is a small dict; the caller renders
it as a delimited data block.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from agent.detectors.changes import find_changes
from agent.detectors.prompt_change import prompt_diff
from agent.investigate.state import InvestigationContext
from agent.llm.blocks import clip
from agent.models import doc_ref, span_ref
from agent.runs.provenance import trace_claims
from agent.runs.turns import build_run
from retrieval.trace import Span, SpanKind

TEXT_CHARS = 240  # per row of a listing
FULL_CHARS = 1500  # one span's or document's text
MAX_ROWS = 20
MAX_TURNS = 40
MAX_VALUES = 12
# list_changes and compare_attribute look this far back before the window, beyond the detectors' baseline (a
# baseline of a few hours can start after the change that caused the incident)
HISTORY = timedelta(days=7)
MAX_HISTORY_SPANS = 5000
# OpenTelemetry resource/span attributes that name a deploy or a search index (semantic conventions, not cases)
DEPLOY_KEYS = ("service.version", "deployment.id", "vcs.ref.head.revision")
INDEX_KEYS = ("db.collection.name", "db.namespace")


class ToolError(Exception):
    """A tool call the model can correct: bad arguments, an unknown id or name."""


@dataclass
class Looked:
    rows: list[dict[str, Any]]
    ids: list[str] = field(default_factory=list)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _flagged_traces(ctx: InvestigationContext) -> set[str]:
    return {t for t in (ctx.catalog.trace_of(span_ref(s)) for s in ctx.flagged) if t}


def span_row(ctx: InvestigationContext, span: Span, bad: set[str]) -> dict[str, Any]:
    template = span.prompt_template
    return {
        "id": span_ref(span.span_id),
        "trace": span.trace_id,
        "time": _iso(span.start_time),
        "service": span.service,
        "kind": span.kind.value,
        "name": clip(span.name, 80),
        "model": span.response_model or span.request_model,
        "prompt_version": template.version if template else None,
        "status": span.status.code if span.status.code != "unset" else None,
        "bad_output": span.span_id in ctx.flagged or None,
        "in_bad_trace": (span.trace_id in bad) or None,
        "text": clip(_excerpt(ctx, span), TEXT_CHARS),
    }


def _excerpt(ctx: InvestigationContext, span: Span) -> str:
    record = ctx.catalog.evidence(span_ref(span.span_id))
    return record.excerpt if record is not None else span.name


def history(ctx: InvestigationContext) -> list[Span]:
    """The service's spans before the window (HISTORY back, at most MAX_HISTORY_SPANS), the baseline included."""
    if ctx.history is None:
        start = ctx.incident.window_start
        older: list[Span] = []
        if start is not None and ctx.service:
            older = ctx.store.query_spans(
                service=ctx.service, start=start - HISTORY, end=start, limit=MAX_HISTORY_SPANS
            )
        window = {s.span_id for s in ctx.spans}
        merged = {s.span_id: s for s in [*older, *ctx.baseline] if s.span_id not in window}
        ctx.history = sorted(merged.values(), key=lambda s: s.start_time)
        ctx.catalog.add_spans(ctx.history)
    return ctx.history


def _time(value: str, name: str) -> datetime | None:
    if not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ToolError(f"{name} must be an ISO time such as 2025-03-04T10:00:00Z, got {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def search_spans(ctx: InvestigationContext, args: Any) -> Looked:
    kind = args.kind
    if kind and kind not in {k.value for k in SpanKind}:
        raise ToolError(f"kind must be one of: {', '.join(k.value for k in SpanKind)}")
    limit = min(args.limit or 10, MAX_ROWS)
    service = args.service or ctx.service
    start, end = _time(args.start, "start"), _time(args.end, "end")
    kind = kind or None
    if args.text:
        hits = ctx.store.search_spans(
            args.text, k=limit * 2, service=service, start=start, end=end, kind=kind
        )
        spans = [hit.span for hit in hits]
    else:
        spans = ctx.store.query_spans(service=service, start=start, end=end, kind=kind, limit=limit * 20)
    if args.errors_only:
        spans = [s for s in spans if s.status.code == "error"]
    if args.bad_only:
        spans = [s for s in spans if s.span_id in set(ctx.flagged)]
    ctx.catalog.add_spans(spans)
    bad = _flagged_traces(ctx)
    rows = [span_row(ctx, s, bad) for s in spans[:limit]]
    return Looked(rows=rows or [{"result": "no span matched"}], ids=[r["id"] for r in rows])


def _trace_spans(ctx: InvestigationContext, trace_id: str) -> list[Span]:
    trace_id = trace_id.strip().lower()
    spans = [s for s in ctx.spans if s.trace_id == trace_id] or ctx.store.get_trace(trace_id)
    if not spans:
        raise ToolError(f"no trace {trace_id!r} in the store (use a trace id from a search result)")
    ctx.catalog.add_spans(spans)
    return spans


def get_trace(ctx: InvestigationContext, args: Any) -> Looked:
    run = build_run(_trace_spans(ctx, args.trace_id))
    rows: list[dict[str, Any]] = [
        {"trace": run.trace_id, "task": clip(run.task, TEXT_CHARS), "turns": len(run.turns)}
    ]
    for turn in run.turns[:MAX_TURNS]:
        rows.append(
            {
                "step": turn.index,
                "id": span_ref(turn.span_id),
                "agent": turn.agent,
                "role": turn.role,
                "text": clip(turn.text, TEXT_CHARS),
                "calls": [clip(c, 120) for c in turn.calls[:3]],
                "error": turn.error,
            }
        )
    return Looked(rows=rows, ids=[r["id"] for r in rows[1:]])


def get_span(ctx: InvestigationContext, args: Any) -> Looked:
    ref = args.id if args.id.startswith("span:") else span_ref(args.id)
    span = ctx.catalog.span(ref.removeprefix("span:"))
    if span is None:
        raise ToolError(f"no span {ref} (use an id from a search or trace result)")
    row = span_row(ctx, span, _flagged_traces(ctx))
    row["text"] = clip(ctx.catalog.full_text(ref), FULL_CHARS)
    docs = [doc_ref(span.span_id, i) for i in range(len(span.documents))]
    if docs:
        row["documents"] = docs
    return Looked(rows=[row], ids=[ref, *docs])


def get_document(ctx: InvestigationContext, args: Any) -> Looked:
    ref = args.id.strip()
    span_id, _, index = ref.removeprefix("doc:").rpartition(":")
    span = ctx.catalog.span(span_id) if ref.startswith("doc:") and span_id else None
    if span is None or not index.isdigit() or int(index) >= len(span.documents):
        raise ToolError(f"no document {ref!r} (document ids look like doc:<span id>:<n>)")
    doc = span.documents[int(index)]
    dates = {
        k: str(v)
        for k, v in doc.metadata.items()
        if any(w in k.lower() for w in ("date", "updated", "modified", "created", "valid", "effective"))
    }
    row = {
        "id": ref,
        "document": doc.id,
        "source": doc.source,
        "dates": dates or None,
        "retrieved_at": _iso(span.start_time),
        "retrieved_by": span_ref(span.span_id),
        "text": clip(doc.content, FULL_CHARS),
    }
    return Looked(rows=[row], ids=[ref, span_ref(span.span_id)])


def attribute_of(span: Span, name: str) -> str | None:
    """A span's value for an attribute name: a known field, else the span's or its resource's attribute."""
    template = span.prompt_template
    known = {
        "request_model": span.request_model,
        "response_model": span.response_model,
        "model": span.response_model or span.request_model,
        "prompt_version": template.version if template else None,
        "temperature": span.sampling.temperature,
        "top_p": span.sampling.top_p,
        "max_tokens": span.sampling.max_tokens,
        "finish_reason": ",".join(span.finish_reasons) or None,
        "status": span.status.code,
        "tool": span.tool.name if span.tool else None,
        "system_prompt": _digest(span.system_instructions),
    }
    value = known[name] if name in known else span.attributes.get(name, span.resource.get(name))
    return None if value is None else str(value)


def _digest(text: str | None) -> str | None:
    return f"text#{hashlib.sha256(text.encode()).hexdigest()[:8]}" if text else None


def compare_attribute(ctx: InvestigationContext, args: Any) -> Looked:
    name = args.attribute.strip()
    bad = _flagged_traces(ctx)
    base: Counter[str] = Counter()
    window: Counter[str] = Counter()
    window_bad: Counter[str] = Counter()
    example: dict[str, str] = {}
    before = history(ctx)
    for span in before:
        value = attribute_of(span, name)
        if value is not None:
            base[value] += 1
            example.setdefault(value, span_ref(span.span_id))
    for span in ctx.spans:
        value = attribute_of(span, name)
        if value is None:
            continue
        window[value] += 1
        window_bad[value] += span.trace_id in bad
        example.setdefault(value, span_ref(span.span_id))
    if not base and not window:
        raise ToolError(
            f"no span records {name!r} (try: model, prompt_version, temperature, service.version)"
        )
    rows = [
        {"value": value, "before_window": base[value], "window": window[value], "window_in_bad_traces": window_bad[value],
         "example": example.get(value)}
        for value in sorted(set(base) | set(window), key=lambda v: -(base[v] + window[v]))[:MAX_VALUES]
    ]  # fmt: skip
    summary = {"attribute": name, "before_window_spans": len(before), "window_spans": len(ctx.spans),
               "bad_traces": len(bad)}  # fmt: skip
    return Looked(rows=[summary, *rows], ids=[r["example"] for r in rows if r["example"]])


CHANGE_GROUPS = ("response_model", "request_model", "prompt_version", "system_prompt", "temperature")


def list_changes(ctx: InvestigationContext, args: Any) -> Looked:
    spans = sorted([*history(ctx), *ctx.spans], key=lambda s: s.start_time)
    llm = [s for s in spans if s.kind == SpanKind.llm]
    retrieval = [s for s in spans if s.kind == SpanKind.retrieval]
    bad = _flagged_traces(ctx)
    groups = [(g, llm) for g in CHANGE_GROUPS] + [(k, spans) for k in DEPLOY_KEYS]
    groups += [(k, retrieval) for k in INDEX_KEYS]
    rows: list[dict[str, Any]] = [{"onset": _iso(ctx.onset), "bad_traces": len(bad)}]
    for name, pool in groups:
        items = [(s, v) for s in pool if (v := attribute_of(s, name)) is not None]
        for change in find_changes(items, name):
            rows.append(
                {
                    "what": name,
                    "old": change.old,
                    "new": change.new,
                    "first_seen": _iso(change.first_new.start_time),
                    "first_span": span_ref(change.first_new.span_id),
                    "last_old_span": span_ref(change.last_old.span_id) if change.last_old else None,
                    "calls_old": change.n_old,
                    "calls_new": change.n_new,
                    "bad_share_old": _share(change.old_spans, bad),
                    "bad_share_new": _share(change.new_spans, bad),
                }
            )
    if len(rows) == 1:
        rows.append({"result": "no persistent change in model, prompt, sampling, deploy or index"})
    ids = [r[k] for r in rows for k in ("first_span", "last_old_span") if r.get(k)]
    return Looked(rows=rows[: MAX_ROWS + 1], ids=ids)


def _share(spans: list[Span], bad: set[str]) -> float | None:
    return round(sum(s.trace_id in bad for s in spans) / len(spans), 2) if spans else None


def _prompt_text(span: Span) -> str:
    template = span.prompt_template
    return (template.template if template and template.template else None) or span.system_instructions or ""


def diff_prompts(ctx: InvestigationContext, args: Any) -> Looked:
    by_version: dict[str, Span] = {}
    for span in [*history(ctx), *ctx.spans]:
        version = attribute_of(span, "prompt_version")
        if version and _prompt_text(span):
            by_version.setdefault(version, span)
    missing = [v for v in (args.version_a, args.version_b) if v not in by_version]
    if missing:
        known = ", ".join(sorted(by_version)) or "none recorded"
        raise ToolError(f"unknown prompt version(s) {', '.join(missing)}; versions with text: {known}")
    old, new = by_version[args.version_a], by_version[args.version_b]
    _, removed, added = prompt_diff(_prompt_text(old), _prompt_text(new))
    row = {
        "a": args.version_a,
        "b": args.version_b,
        "a_span": span_ref(old.span_id),
        "b_span": span_ref(new.span_id),
        "removed": [clip(x, 200) for x in removed[:10]],
        "added": [clip(x, 200) for x in added[:10]],
    }
    return Looked(rows=[row], ids=[row["a_span"], row["b_span"]])


def read_detector(ctx: InvestigationContext, args: Any) -> Looked:
    found = [f for f in ctx.findings if f.detector == args.name]
    if not found:
        names = ", ".join(sorted({f.detector for f in ctx.findings})) or "none"
        raise ToolError(f"detector {args.name!r} reported nothing; detectors with findings: {names}")
    rows = [
        {"lead": f.title, "layer_hint": f.layer_hint, "strength": round(f.strength, 2),
         "detail": clip(f.detail, 600), "evidence": f.evidence[:8]}
        for f in found[:5]
    ]  # fmt: skip
    return Looked(rows=rows, ids=[ref for f in found[:5] for ref in f.evidence[:8] if ctx.catalog.has(ref)])


def trace_claim(ctx: InvestigationContext, args: Any) -> Looked:
    run = build_run(_trace_spans(ctx, args.trace_id))
    final = run.final
    if final is None:
        raise ToolError(f"trace {args.trace_id} has no answer to trace claims from")
    reported = " ".join([ctx.incident.description, *(r.text for r in ctx.incident.reports)])
    origins = trace_claims(run, final, reported)
    if args.claim:
        wanted = args.claim.lower()
        origins = [o for o in origins if wanted in o.claim.text.lower() or wanted in o.claim.value.lower()]
    rows: list[dict[str, Any]] = [
        {"trace": run.trace_id, "answer": span_ref(final.span_id), "claims": len(origins)}
    ]
    for origin in origins[:MAX_ROWS]:
        entered, responsible = run.turns[origin.origin], run.turns[origin.responsible]
        rows.append(
            {
                "claim": clip(origin.claim.text, 120),
                "entered_at_step": origin.origin,
                "entered_in": span_ref(entered.span_id),
                "how": origin.how,
                "responsible": f"{responsible.agent} (step {responsible.index})",
                "responsible_span": span_ref(responsible.span_id),
                "carried_by_steps": origin.carriers[:8],
                "confirmed_by_reports": origin.confirmed or None,
            }
        )
    ids = [rows[0]["answer"]] + [r[k] for r in rows[1:] for k in ("entered_in", "responsible_span")]
    return Looked(rows=rows, ids=list(dict.fromkeys(ids)))
