"""A prompt or template version change, with the unified diff of the instructions."""

from __future__ import annotations

import difflib
import hashlib
import re
from collections import Counter, defaultdict

from agent.detectors.base import DetectorContext, detector
from agent.detectors.changes import Change, change_evidence, find_changes, score_change
from agent.detectors.common import make, pct, quote, system_text, when
from agent.detectors.symptoms import report_texts
from agent.detectors.text import content_tokens, sentences, snippet
from agent.models import Finding, span_ref
from agent.thresholds import T
from retrieval.trace import Span

NAME = "prompt_change"
CONSTRAINT = re.compile(
    r"\b(?:only|never|must|do not|don't|always|refuse|decline|cite|unless|forbidden|not allowed|if you don't know)\b",
    re.IGNORECASE,
)


def route_of(span: Span) -> str:
    """The prompt route of an LLM call: its template id, else its span name."""
    if span.prompt_template and span.prompt_template.id:
        return span.prompt_template.id
    return span.name


def routes(spans: list[Span]) -> dict[str, str]:
    """Span id -> prompt route, for calls that may have lost their template attributes (telemetry drops optional
    attributes): a call without a template id takes the template of calls with the same span name in its service
    whose instructions share the most units with its own (at least half of them); else its span name. Without
    this, the calls that lost the attribute form a route of their own, and a prompt change shows only in the calls
    that kept it, dated by the first of them that did."""
    units: dict[tuple[str | None, str, str], set[str]] = defaultdict(set)
    for span in spans:
        if span.prompt_template and span.prompt_template.id:
            units[(span.service, span.name, span.prompt_template.id)] |= set(_units(system_text(span)))
    out: dict[str, str] = {}
    for span in spans:
        route = route_of(span)
        if route == span.name:
            own = set(_units(system_text(span)))
            best, share = None, 0.0
            for (service, name, template), known in units.items():
                if service == span.service and name == span.name and own:
                    overlap = len(own & known) / len(own)
                    if overlap > share:
                        best, share = template, overlap
            if best is not None and share >= T.prompt_route_overlap:
                route = best
        out[span.span_id] = route
    return out


def call_routes(ctx: DetectorContext) -> dict[str, str]:
    """`routes` over the case's LLM calls (baseline and window), computed once per analysis."""
    if "prompt_change.routes" not in ctx.memo:
        ctx.memo["prompt_change.routes"] = routes([*ctx.baseline_llm_spans, *ctx.llm_spans])
    return ctx.memo["prompt_change.routes"]  # type: ignore[return-value]


def route_in(ctx: DetectorContext, span: Span) -> str:
    """The prompt route of one LLM call of the case (see `routes`)."""
    return call_routes(ctx).get(span.span_id) or route_of(span)


def _version(span: Span) -> str | None:
    return span.prompt_template.version if span.prompt_template and span.prompt_template.version else None


def _units(text: str) -> list[str]:
    """Instruction units (sentences and lines) with digits masked."""
    return [re.sub(r"\d+", "#", u) for u in sentences(text, min_chars=1)]


def static_units(spans: list[Span]) -> set[str]:
    """Units present in (nearly) every call over the stretch of time they were used: the instructions.
    Request data stuffed into the prompt (retrieved context, user fields) comes and goes, and is left out."""
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    count: Counter[str] = Counter()
    for i, span in enumerate(spans):
        for unit in set(_units(system_text(span))):
            first.setdefault(unit, i)
            last[unit] = i
            count[unit] += 1
    return {u for u, n in count.items() if n >= 3 and n >= 0.9 * (last[u] - first[u] + 1)}


def instructions_key(text: str, static: set[str]) -> str:
    kept = [u for u in _units(text) if u in static]
    return hashlib.sha1("\n".join(kept).encode()).hexdigest()[:10] if kept else ""


@detector(NAME)
def detect(ctx: DetectorContext) -> list[Finding]:
    groups: dict[tuple[str | None, str], list[Span]] = defaultdict(list)
    for span in [*ctx.baseline_llm_spans, *ctx.llm_spans]:
        groups[(span.service, route_in(ctx, span))].append(span)
    findings = []
    for (service, route), spans in groups.items():
        items = _keyed(spans)
        for change in find_changes(items, group=f"{service}/{route}"):
            findings.append(_finding(ctx, change, service, route))
    return findings


def _keyed(spans: list[Span]) -> list[tuple[Span, str]]:
    """Key each call by its version and the hash of its static instruction units."""
    spans = sorted(spans, key=lambda s: s.start_time)
    static = static_units(spans)
    keyed = [(span, _version(span), instructions_key(system_text(span), static)) for span in spans]
    # a call that lost its version attribute (telemetry drops optional attributes) ran the version other calls
    # with the same instructions recorded: without that, the two kinds of record would look like alternating values
    seen: dict[str, Counter[str]] = defaultdict(Counter)
    for _, version, text_key in keyed:
        if version and text_key:
            seen[text_key][version] += 1
    items = []
    for span, version, text_key in keyed:
        if not version and seen.get(text_key):
            version = seen[text_key].most_common(1)[0][0]
        if version or text_key:
            items.append((span, f"{version or '?'}|{text_key}"))
    return items


def _static_text(text: str, static: set[str]) -> str:
    return "\n".join(
        u for u, masked in zip(sentences(text, min_chars=1), _units(text), strict=True) if masked in static
    )


def _label(key: str, spans: list[Span]) -> str:
    version = key.split("|", 1)[0]
    return f"version {version}" if version != "?" else f"instructions {key.split('|', 1)[1][:7]}"


def prompt_diff(old: str, new: str) -> tuple[str, list[str], list[str]]:
    """(unified diff, removed lines, added lines); one-line prompts are split into sentences first."""

    def lines(text: str) -> list[str]:
        raw = [ln.strip() for ln in text.splitlines() if ln.strip()]
        return sentences(text, min_chars=1) if len(raw) <= 1 else raw

    a, b = lines(old), lines(new)
    diff = "\n".join(difflib.unified_diff(a, b, "instructions (before)", "instructions (after)", lineterm=""))
    removed = [ln for ln in a if ln not in b]
    added = [ln for ln in b if ln not in a]
    return diff, removed, added


def _related_terms(ctx: DetectorContext, removed: list[str], added: list[str]) -> list[str]:
    """Words the edit changed (in the removed or the added lines, not both: a rephrase changes little) that the
    incident's description or reports also use: whether the edit is about what went wrong."""
    changed = content_tokens(" ".join(removed)) ^ content_tokens(" ".join(added))
    reported = content_tokens(" ".join(report_texts(ctx)))
    # the words of an instruction's force (only, never, must...) say how strictly, not what about: not a topic
    return sorted(t for t in changed & reported if not CONSTRAINT.fullmatch(t))


def _closer_than_what_stayed(ctx: DetectorContext, changed: list[str], stayed: list[str]) -> float | None:
    """Whether the edit is about what the reports describe in other words: the changed lines' closest meaning to a
    report or the description (cosine of sentence embeddings) beats that of every instruction that stayed by a
    margin. The unchanged instructions are the null: they share the prompt's topic with the reports, so only an
    edit closer than they are is about the failure. The changed lines' closeness when so, else None (and None
    without an embedder or without unchanged instructions to compare with)."""
    reports = report_texts(ctx)
    if not changed or not stayed or not reports:
        return None
    vecs = ctx.vectors([*changed, *stayed, *reports])
    if vecs is None:
        return None
    n, m = len(changed), len(changed) + len(stayed)
    to_reports = vecs[:m] @ vecs[m:].T
    edit, kept = float(to_reports[:n].max()), float(to_reports[n:].max())
    return round(edit, 3) if edit > kept + T.prompt_related_margin else None


def _finding(ctx: DetectorContext, change: Change, service: str | None, route: str) -> Finding:
    old_label, new_label = _label(change.old or "", change.old_spans), _label(change.new, change.new_spans)
    # each side's instructions are the units static among its own calls: in a partial rollout or an A/B test the
    # versions interleave, and a unit new in one arm is static there though not over the two arms' stretch
    by_time = sorted([*change.old_spans, *change.new_spans], key=lambda s: s.start_time)
    static_old = static_units(change.old_spans) or static_units(by_time)
    static_new = static_units(change.new_spans) or static_units(by_time)
    old_text = _static_text(system_text(change.last_old), static_old) if change.last_old else ""
    new_text = _static_text(system_text(change.first_new), static_new)
    diff, removed, added = prompt_diff(old_text, new_text) if (old_text or new_text) else ("", [], [])
    score = score_change(ctx, change)
    strength = score.strength
    if any(CONSTRAINT.search(line) for line in removed):
        strength *= 1.15  # a guard instruction went away
    related = _related_terms(ctx, removed, added)
    old_units = set(sentences(old_text, min_chars=1))
    stayed = [u for u in sentences(new_text, min_chars=1) if u in old_units]
    closeness = _closer_than_what_stayed(ctx, [*removed, *added], stayed)
    if (removed or added) and not related and closeness is None:
        strength *= T.prompt_change_unrelated  # the edit is about something nobody reported going wrong
    if old_label == new_label:
        new_label += " (edited without a version bump)"
    title = f"Prompt {route} changed from {old_label} to {new_label}"
    data = score.as_data()
    detail = (
        f"From {when(change.first_new.start_time)} the {route} calls used {new_label} "
        f"({change.n_new} calls; before: {old_label}, {change.n_old} calls). Bad-output rate "
        f"{pct(data['flag_rate_before'])} before vs {pct(data['flag_rate_after'])} after."
    )
    quotes = []
    if removed and change.last_old:
        detail += f' Removed: "{snippet(removed[0], 200)}".'
        quotes.append(quote(span_ref(change.last_old.span_id), snippet(removed[0], 200), "system"))
    if added:
        detail += f' Added: "{snippet(added[0], 200)}".'
        quotes.append(quote(span_ref(change.first_new.span_id), snippet(added[0], 200), "system"))
    if related:
        detail += f" The reports use its changed words: {', '.join(related[:6])}."
    elif closeness is not None:
        detail += (
            f" The reports describe it in other words: its changed lines are closer in meaning to them (cosine "
            f"{closeness:.2f}) than any instruction that stayed."
        )
    elif removed or added:
        detail += (
            " Nothing it changed is what the reports describe, so it keeps "
            f"{T.prompt_change_unrelated:.0%} of its weight."
        )
    evidence = change_evidence(change, score)
    return make(
        NAME,
        title,
        strength=strength,
        layer_hint="prompt",
        evidence=evidence,
        detail=detail,
        onset=change.first_new.start_time,
        quotes=quotes,
        change=True,
        kind="prompt_changed",
        service=service,
        route=route,
        old=old_label,
        new=new_label,
        diff=diff,
        removed=removed,
        added=added,
        related_terms=related,
        related_by_meaning=closeness,
        **data,
    )
