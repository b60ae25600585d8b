"""Stale or changed retrieved documents: a document whose content or date changed between retrievals (an older
version coming back is a stale index), and documents that sit in the context of the bad answers while older than
a newer version of themselves or than a change date the incident mentions."""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

from agent.detectors.base import DetectorContext, detector
from agent.detectors.changes import Change, find_changes, score_change
from agent.detectors.common import make, pct, system_text, when
from agent.detectors.prompt_change import instructions_key, route_in, static_units
from agent.detectors.retrieval import source_key
from agent.detectors.stats import Association, associate
from agent.models import Finding, doc_ref, span_ref
from agent.thresholds import T
from retrieval.trace import Document, Span

NAME = "stale_documents"
_MONTHS = [
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
]  # fmt: skip
_ISO = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})")
_MDY = re.compile(
    r"\b(" + "|".join(m[:3] for m in _MONTHS) + r")[a-z]*\.? (\d{1,2})(?:st|nd|rd|th)?(?:,? (\d{4}))?", re.I
)
_DMY = re.compile(
    r"\b(\d{1,2})(?:st|nd|rd|th)? (" + "|".join(m[:3] for m in _MONTHS) + r")[a-z]*\.?(?:,? (\d{4}))?", re.I
)


def parse_date(value: str | None) -> date | None:
    if not value:
        return None
    m = _ISO.search(str(value))
    if not m:
        return None
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def mentioned_dates(ctx: DetectorContext) -> list[date]:
    """Dates written in the incident's description and reports (a policy change, a release...)."""
    year = (ctx.window_start or datetime.now(UTC)).year
    texts = [ctx.incident.description, *(r.text for r in ctx.incident.reports)]
    out = []
    for text in texts:
        for y, mo, d in _ISO.findall(text or ""):
            out.append((int(y), int(mo), int(d)))
        for mon, d, y in _MDY.findall(text or ""):
            out.append((int(y or year), _MONTHS.index(_full(mon)) + 1, int(d)))
        for d, mon, y in _DMY.findall(text or ""):
            out.append((int(y or year), _MONTHS.index(_full(mon)) + 1, int(d)))
    dates = []
    for y, mo, d in out:
        try:
            dates.append(date(y, mo, d))
        except ValueError:
            continue
    return dates


def config_change_dates(ctx: DetectorContext, slack_days: int = 1) -> set[date]:
    """Dates (give or take `slack_days`) on which the served model or the instructions of the incident's own
    LLM calls changed."""
    routes: dict[str, list[Span]] = defaultdict(list)
    for span in sorted((s for s in [*ctx.baseline_llm_spans, *ctx.llm_spans] if ctx.in_scope(s)), key=_start):
        routes[route_in(ctx, span)].append(span)
    out: set[date] = set()
    for spans in routes.values():
        static = static_units(spans)
        items_model = [(s, s.model or "") for s in spans if s.model]
        items_prompt = [(s, k) for s in spans if (k := _prompt_key(s, static))]
        for items in (items_model, items_prompt):
            for change in find_changes(items):
                day = change.first_new.start_time.date()
                out |= {day + timedelta(days=d) for d in range(-slack_days, slack_days + 1)}
    return out


def _start(span: Span) -> datetime:
    return span.start_time


def _prompt_key(span: Span, static: set[str]) -> str:
    version = span.prompt_template.version if span.prompt_template and span.prompt_template.version else ""
    text_key = instructions_key(system_text(span), static)
    return f"{version}|{text_key}" if version or text_key else ""


# path segments that mark a copy as kept for the record, not for answering
_ARCHIVED = re.compile(
    r"(?:^|/)(?:archives?|old|deprecated|legacy|obsolete|outdated|superseded)(?:/|$)", re.I
)
# what tells copies of one document apart: years, dates, version numbers, "old"/"draft" markers
_VERSION_MARK = re.compile(
    r"(?:(?<=[-_. ])|^)(?:(?:19|20)\d{2}(?:[-_.]?\d{2}){0,2}|v\d+(?:[._]\d+)*|old|copy|draft|final|latest|new)"
    r"(?=[-_. ]|$)",
    re.I,
)


def family_of(key: str) -> str:
    """The document a source is a copy of: its file name without extension and version marks.

    "kb/archive/refund-policy-2023.md" and "kb/policies/refund-policy.md" are both "refund-policy".
    """
    stem = key.rstrip("/").rsplit("/", 1)[-1].rsplit(".", 1)[0].lower()
    bare = _VERSION_MARK.sub("", stem)
    return re.sub(r"[-_. ]+", "-", bare).strip("-") or stem


def archived(key: str) -> str | None:
    """The path segment that marks this source as archived, if any."""
    m = _ARCHIVED.search(key)
    return m.group(0).strip("/") if m else None


def _full(mon: str) -> str:
    return next(m for m in _MONTHS if m.startswith(mon.lower()[:3]))


def _docs(ctx: DetectorContext) -> list[tuple[Span, int, Document, str, str]]:
    """(span, index, document, key, version): dated documents are tracked per source by date, undated ones
    per id by content (chunks of one file share its date but not its content)."""
    out = []
    for span in [*ctx.baseline, *ctx.spans]:
        if span.documents and ctx.in_scope(span):
            for i, d in enumerate(span.documents):
                if d.updated_at:
                    key, version = source_key(d.source, d.id), str(d.updated_at)
                else:
                    key = d.id or d.source
                    version = hashlib.sha1((d.content or "").encode()).hexdigest()[:8]
                if key:
                    out.append((span, i, d, key, version))
    return out


@detector(NAME)
def detect(ctx: DetectorContext) -> list[Finding]:
    docs = _docs(ctx)
    if not docs:
        return []
    by_key: dict[str, list[tuple[Span, int, Document]]] = defaultdict(list)
    versions: dict[str, list[tuple[Span, str]]] = defaultdict(list)
    for span, i, d, key, version in docs:
        by_key[key].append((span, i, d))
        versions[key].append((span, version))
    findings, reported = [], set()
    for key, rows in by_key.items():
        items = versions[key]
        for change in find_changes(items, group=key):
            findings.append(_change_finding(ctx, key, rows, change))
            reported.add(key)
    findings += _implicated(ctx, by_key, reported)
    return findings


def _index_of(rows: list[tuple[Span, int, Document]], span: Span) -> tuple[int, Document]:
    return next((i, d) for s, i, d in rows if s.span_id == span.span_id)


def _change_finding(ctx: DetectorContext, key: str, rows: list, change: Change) -> Finding:
    new_i, new_doc = _index_of(rows, change.first_new)
    old_date, new_date = parse_date(change.old), parse_date(new_doc.updated_at)
    rolled_back = bool(old_date and new_date and new_date < old_date)
    score = score_change(ctx, change)
    data = score.as_data()
    if rolled_back:
        title = f"An older version of {key} (updated {new_date}) replaced the newer one (updated {old_date})"
        kind = "stale_version"
    elif old_date != new_date and new_date:
        title = f"Retrieved document {key} changed (updated {old_date or 'unknown'} -> {new_date})"
        kind = "document_updated"
    else:
        title = f"Content of retrieved document {key} changed"
        kind = "content_changed"
    evidence = [doc_ref(change.first_new.span_id, new_i)]
    if change.last_old:
        evidence.append(doc_ref(change.last_old.span_id, _index_of(rows, change.last_old)[0]))
    if score.example is not None:
        evidence.append(span_ref(score.example.span_id))
    return make(
        NAME,
        title,
        strength=score.strength * (T.stale_rollback_boost if rolled_back else 1.0),
        layer_hint="data",
        evidence=evidence,
        detail=(
            f"From {when(change.first_new.start_time)} retrievals returned this version of {key} "
            f"({change.n_new} times; the previous version {change.n_old} times). Bad-output rate "
            f"{pct(data['flag_rate_before'])} before vs {pct(data['flag_rate_after'])} after."
        ),
        onset=change.first_new.start_time,
        change=True,
        kind=kind,
        source=key,
        old_updated_at=str(old_date) if old_date else None,
        new_updated_at=str(new_date) if new_date else None,
        **data,
    )


def _implicated(ctx: DetectorContext, by_key: dict[str, list], reported: set[str]) -> list[Finding]:
    """Documents in the context of the bad answers (not already reported as changed), with why each looks stale."""
    if not ctx.flags:
        return []
    changes = mentioned_dates(ctx)
    explained = config_change_dates(ctx)
    # the incident's own days are when it happened, not a change that could have made a document stale; a date
    # after them (when it was reported, a change still to come) cannot have made the context stale before it
    if ctx.window_start:
        changes = [c for c in changes if c < ctx.window_start.date()]
    # a mentioned date on which the service's own prompt or model changed dates that change, not the data
    changes = [c for c in changes if c not in explained]
    newest, families = _newest_versions(by_key)
    candidates = _bad_context_candidates(ctx, by_key, reported)
    # documents that merely share the topic of the bad answers ride along with the one that drives them:
    # keep those nearly as specific to bad answers as the most specific one
    best = max((a.with_flag / a.with_n for _, _, a in candidates), default=0.0)
    findings = []
    for key, win_rows, assoc in candidates:
        bad_rows = [(s, i, d) for s, i, d in win_rows if ctx.is_flagged(s)]
        s, i, d = bad_rows[0]
        updated = parse_date(d.updated_at)
        reasons = _stale_reasons(key, updated, newest, families, changes)
        peers = [x for t in {r[0].trace_id for r in bad_rows} for _, _, o in ctx.documents_for(ctx.answer_of(t))
                 if o.source != d.source and (x := parse_date(o.updated_at))]  # fmt: skip
        if reasons:
            strength = T.stale_base + T.stale_gain * assoc.score
        else:
            strength = T.stale_unexplained_base + T.stale_unexplained_gain * assoc.score
        if (
            reasons
            and updated
            and peers
            and (sorted(peers)[len(peers) // 2] - updated).days > T.stale_peer_days
        ):
            # supports, never alone
            reasons.append("it is much older than the documents retrieved alongside it")
            strength *= T.stale_peer_boost
        if assoc.with_flag / assoc.with_n < T.stale_specific_share * best:
            strength *= T.stale_rider_factor
        findings.append(_implicated_finding(key, s.span_id, i, updated, reasons, strength, assoc))
    return findings


def _newest_versions(by_key: dict[str, list]) -> tuple[dict[str, date], dict[str, tuple[date, str]]]:
    """The newest update of each document, and the newest copy of each document family (a dated or archived
    copy of one document under another path)."""
    newest: dict[str, date] = {}
    for key, rows in by_key.items():
        dates = [x for _, _, d in rows if (x := parse_date(d.updated_at))]
        if dates:
            newest[key] = max(dates)
    families: dict[str, tuple[date, str]] = {}
    for key, day in newest.items():
        fam = family_of(key)
        if fam not in families or day > families[fam][0]:
            families[fam] = (day, key)
    return newest, families


def _bad_context_candidates(ctx: DetectorContext, by_key: dict[str, list], reported: set[str]) -> list[tuple]:
    """(key, window rows, association) of the documents whose presence in context goes with bad answers."""
    candidates = []
    for key, rows in by_key.items():
        if key in reported:
            continue
        win_rows = [(s, i, d) for s, i, d in rows if ctx.is_window(s)]
        assoc = associate(ctx, ctx.answers, {s.trace_id for s, _, _ in win_rows})
        if assoc.with_flag >= T.stale_min_flagged and assoc.score >= T.stale_min_association:
            candidates.append((key, win_rows, assoc))
    return candidates


def _stale_reasons(
    key: str,
    updated: date | None,
    newest: dict[str, date],
    families: dict[str, tuple[date, str]],
    changes: list[date],
) -> list[str]:
    """Why the copy in context looks stale: a newer version or copy, an archive path, a later mentioned change."""
    reasons = []
    if updated and newest.get(key) and newest[key] > updated:
        reasons.append(f"a newer version (updated {newest[key]}) exists")
    elif updated and (sibling := families.get(family_of(key))) and sibling[0] > updated and sibling[1] != key:
        reasons.append(f"a newer copy of the same document exists ({sibling[1]}, updated {sibling[0]})")
    if archived(key):
        reasons.append(f"its path marks it as {archived(key)}")
    later = [c for c in changes if updated and c > updated]
    if later:
        reasons.append(f"it predates {max(later)}, a date the incident mentions")
    return reasons


def _implicated_finding(
    key: str,
    span_id: str,
    index: int,
    updated: date | None,
    reasons: list[str],
    strength: float,
    assoc: Association,
) -> Finding:
    return make(
        NAME,
        f"Document {key}"
        + (f" (updated {updated})" if updated else "")
        + f" was in the context of {assoc.with_flag} bad answers"
        + (": " + "; ".join(reasons) if reasons else ""),
        strength=strength,
        layer_hint="data",
        evidence=[doc_ref(span_id, index)],
        detail=(
            f"Answers with {key} in context were flagged {pct(assoc.with_flag / assoc.with_n)} of the time, "
            f"others {pct(assoc.without_flag / assoc.without_n) if assoc.without_n else 'n/a'}."
        ),
        kind="stale_in_context" if reasons else "in_bad_context",
        source=key,
        updated_at=str(updated) if updated else None,
        stale_reasons=reasons,
        **assoc.as_data(),
    )
