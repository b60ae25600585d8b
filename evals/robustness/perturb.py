"""The nuisance perturbations: each takes a case's parsed traces and a seeded Random and returns the perturbed
case. None of them touches the incident service's bad outputs or their causes, so none may move the verdict.

Every magnitude lives in the table `KNOBS` with a line on why."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from evals.generator.ids import IdGen
from evals.robustness.dialect import other_dialect, rewrite
from evals.robustness.model import (
    CaseTraces,
    clone_trace,
    llm_dialect,
    root_of,
    shift_span,
    trace_end,
    trace_start,
    traces_of,
)
from evals.robustness.services import SIDE_APPS, side_service
from retrieval.trace import Sampling, Span, SpanKind, Status, TokenUsage, ToolInfo

KNOBS: dict[str, tuple[Any, str]] = {
    "temperature": (
        (0.2, 0.9),
        "the range production apps set per request (features, A/B tests, user settings)",
    ),
    "top_p": ((0.8, 1.0), "likewise; below 0.8 is rare outside constrained decoding"),
    "side_services": ((1, 3), "how many other services ship changes in the same window of a shared store"),
    "prompt_edit_before": (
        (2, 48),
        "hours before the onset the harmless prompt edit lands: close enough to tempt",
    ),
    "burst_before": ((1, 24), "hours before the onset the unrelated tool-timeout burst happens"),
    "burst_size": ((6, 12), "requests in the timeout burst: a visible cluster, not a trend"),
    "background_factor": (3, "background traffic multiplied by this"),
    "baseline_keep": (0.25, "share of the baseline period kept, the part nearest the window"),
    "drop_share": (0.5, "share of spans that lose their optional attributes"),
    "shift_weeks": (
        (9, 39),
        "whole weeks (about 2 to 9 months) a case is moved in time, either way; whole "
        "weeks keep the weekday and daily rhythm, so only the calendar changes",
    ),
}

# Harmless prompt edits: wording and formatting, no rule added or removed.
HARMLESS_EDITS = (
    "Use short paragraphs where it helps readability.",
    "Write dates as 3 March 2025 rather than 03/03/2025.",
    "Greet the user only once per conversation.",
)
UNRELATED_TOOL = "profile.get_display_preferences"
OPTIONAL_ATTR = re.compile(
    r"(usage|token|prompt\.version|prompt_template\.version|promptversion|temperature|top_p|"
    r"invocation_parameters|modelparameters)",
    re.IGNORECASE,
)
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ][0-9:.]+(?:Z|[+-]\d{2}:?\d{2})?)?$")
MONTHS = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip
_MON = "|".join(m[:3] for m in MONTHS)
# dates written in prose: 2025-05-19, May 19(th)(, 2025), 19(th) May( 2025)
TEXT_DATE = re.compile(
    rf"\b(?P<iso>(?P<y>\d{{4}})-(?P<m>\d{{2}})-(?P<d>\d{{2}}))\b"
    rf"|\b(?P<mdy>(?P<mon1>{_MON})[a-z]*\.? (?P<d1>\d{{1,2}})(?:st|nd|rd|th)?(?:,? (?P<y1>\d{{4}}))?)\b"
    rf"|\b(?P<dmy>(?P<d2>\d{{1,2}})(?:st|nd|rd|th)? (?P<mon2>{_MON})[a-z]*\.?(?: (?P<y2>\d{{4}}))?)\b",
    re.IGNORECASE,
)


class Perturbation(BaseModel):
    name: str
    what: str


PerturbFn = Callable[[CaseTraces, random.Random, Path | None], CaseTraces]


# -- sampling ------------------------------------------------------------------------------------------------
def _set_sampling_attrs(attrs: dict[str, Any], temperature: float, top_p: float) -> dict[str, Any]:
    out = dict(attrs)
    for key, value in attrs.items():
        low = key.lower()
        if low.endswith("temperature"):
            out[key] = temperature
        elif low.endswith("top_p"):
            out[key] = top_p
        elif isinstance(value, dict) and ("temperature" in value or "top_p" in value):
            out[key] = {**value, "temperature": temperature, "top_p": top_p}
        elif isinstance(value, str) and low.endswith("invocation_parameters"):
            try:
                params = json.loads(value)
            except ValueError:
                continue
            if isinstance(params, dict):
                out[key] = json.dumps({**params, "temperature": temperature, "top_p": top_p})
    return out


def sampling_jitter(case: CaseTraces, rng: random.Random, _tmp: Path | None) -> CaseTraces:
    """Every request (trace) gets its own temperature and top_p; outputs untouched, so the bad rate is unchanged."""
    (t_lo, t_hi), (p_lo, p_hi) = KNOBS["temperature"][0], KNOBS["top_p"][0]
    out: list[Span] = []
    for trace in traces_of(case.spans).values():
        temperature, top_p = round(rng.uniform(t_lo, t_hi), 2), round(rng.uniform(p_lo, p_hi), 2)
        for span in trace:
            if span.kind == SpanKind.llm:
                sampling = span.sampling.model_copy(update={"temperature": temperature, "top_p": top_p})
                span = span.model_copy(
                    update={
                        "sampling": sampling,
                        "attributes": _set_sampling_attrs(span.attributes, temperature, top_p),
                    }
                )
            out.append(span)
    return case.with_spans(out)


# -- other services ------------------------------------------------------------------------------------------
def side_services(case: CaseTraces, rng: random.Random, _tmp: Path | None) -> CaseTraces:
    """1-3 other services in the same store, each with its own model change, prompt change and tool errors inside
    the window."""
    lo, hi = KNOBS["side_services"][0]
    taken = {s.service for s in case.spans}
    apps = [a for a in SIDE_APPS if a.name not in taken]
    ids = IdGen(f"robust-side:{case.case_id}")
    dialect = llm_dialect(case.spans, case.service)
    extra: list[Span] = []
    for app in rng.sample(apps, min(len(apps), rng.randint(lo, hi))):
        extra += side_service(
            app, rng, ids, start=case.earliest, window=(case.window_start, case.window_end), dialect=dialect
        )
    return case.with_spans([*case.spans, *extra])


# -- the incident's own service, before the onset -------------------------------------------------------------
def _edit_prompt(span: Span, edit: str) -> Span:
    update: dict[str, Any] = {}
    if span.system_instructions:
        update["system_instructions"] = f"{span.system_instructions.rstrip()} {edit}"
    messages = [
        m.model_copy(update={"content": f"{m.content.rstrip()} {edit}"})
        if m.role == "system" and m.content
        else m
        for m in span.input_messages
    ]
    if messages != span.input_messages:
        update["input_messages"] = messages
    if span.prompt_template is not None:
        version = f"{span.prompt_template.version or '1'}.1"
        template = span.prompt_template.template
        update["prompt_template"] = span.prompt_template.model_copy(
            update={"version": version, "template": f"{template.rstrip()} {edit}" if template else template}
        )
    return span.model_copy(update=update) if update else span


def _timeout_span(root: Span, ids: IdGen, at: datetime) -> Span:
    return Span(
        trace_id=root.trace_id,
        span_id=ids.span_id(),
        parent_span_id=root.span_id,
        service=root.service,
        name=f"execute_tool {UNRELATED_TOOL}",
        kind=SpanKind.tool,
        start_time=at,
        end_time=at + timedelta(seconds=30),
        operation="execute_tool",
        status=Status(code="error", message="upstream timed out after 30s", error_type="TimeoutError"),
        tool=ToolInfo(name=UNRELATED_TOOL, arguments='{"user": "current"}'),
        dialect=root.dialect,
        source="robustness:timeout-burst",
    )


def _same_prompt(trace: list[Span], calls: list[Span], at: datetime) -> bool:
    """Whether a trace's LLM calls ran with the prompt version and instructions their route had at `at`."""
    for span in trace:
        if span.kind != SpanKind.llm:
            continue
        current = [c for c in calls if c.name == span.name and c.start_time <= at]
        if current and (
            (current[-1].prompt_template and current[-1].prompt_template.version)
            != (span.prompt_template and span.prompt_template.version)
            or current[-1].system_instructions != span.system_instructions
        ):
            return False
    return True


def own_service_noise(case: CaseTraces, rng: random.Random, _tmp: Path | None) -> CaseTraces:
    """A harmless edit of the incident service's system prompt, and an unrelated tool-timeout burst in that service,
    both before the onset. The burst's requests are clones of healthy ones that ran with the prompt version in use
    at the burst, and like every request after the edit they run with the edited prompt (a deployed prompt applies
    to all later calls: old versions do not come back)."""
    anchor, earliest = case.anchor, case.earliest
    lo, hi = KNOBS["prompt_edit_before"][0]
    edit_at = max(earliest, anchor - timedelta(hours=rng.uniform(lo, hi)))
    edit = rng.choice(HARMLESS_EDITS)
    spans = list(case.spans)
    healthy = [
        t
        for t in traces_of(spans).values()
        if root_of(t).service == case.service and trace_end(t) < case.window_start
    ]
    if healthy:
        ids = IdGen(f"robust-burst:{case.case_id}")
        lo, hi = KNOBS["burst_before"][0]
        burst_at = max(earliest, anchor - timedelta(hours=rng.uniform(lo, hi)))
        size_lo, size_hi = KNOBS["burst_size"][0]
        calls = sorted(
            (s for s in case.spans if s.service == case.service and s.kind == SpanKind.llm),
            key=lambda s: s.start_time,
        )
        templates = [t for t in healthy if _same_prompt(t, calls, burst_at)] or healthy
        for i in range(rng.randint(size_lo, size_hi)):
            template = rng.choice(templates)
            at = burst_at + timedelta(minutes=2 * i + rng.uniform(0, 1.5))
            clone = clone_trace(template, ids, at - trace_start(template))
            root = root_of(clone)
            spans += [*clone, _timeout_span(root, ids, root.start_time + timedelta(milliseconds=20))]
    return case.with_spans(
        [
            _edit_prompt(s, edit)
            if s.service == case.service and s.kind == SpanKind.llm and s.start_time >= edit_at
            else s
            for s in spans
        ]
    )


# -- volume --------------------------------------------------------------------------------------------------
def background_3x(case: CaseTraces, rng: random.Random, _tmp: Path | None) -> CaseTraces:
    """Three times the background traffic: every trace before the window, and every other service's trace, gets
    two copies a few hours away (same period: baseline copies stay in the baseline, window copies in the window)."""
    ids = IdGen(f"robust-background:{case.case_id}")
    extra: list[Span] = []
    for trace in traces_of(case.spans).values():
        start, end = trace_start(trace), trace_end(trace)
        in_baseline = end < case.window_start
        if not in_baseline and root_of(trace).service == case.service:
            continue  # the incident service's own window traffic carries the bad outputs: left as it is
        lo, hi = (case.earliest, case.window_start) if in_baseline else (case.window_start, case.window_end)
        for _ in range(KNOBS["background_factor"][0] - 1):
            delta = timedelta(hours=rng.uniform(-6, 6))
            if not (lo <= start + delta and end + delta < hi):
                delta = -delta
            if lo <= start + delta and end + delta < hi:
                extra += clone_trace(trace, ids, delta)
    return case.with_spans([*case.spans, *extra])


def baseline_quarter(case: CaseTraces, _rng: random.Random, _tmp: Path | None) -> CaseTraces:
    """Only the quarter of the baseline period nearest the window is kept (whole traces)."""
    cut = case.window_start - (case.window_start - case.earliest) * KNOBS["baseline_keep"][0]
    kept = [s for t in traces_of(case.spans).values() if trace_start(t) >= cut for s in t]
    return case.with_spans(kept)


# -- telemetry gaps ------------------------------------------------------------------------------------------
def _drop_optional(span: Span) -> Span:
    attrs = {k: v for k, v in span.attributes.items() if not OPTIONAL_ATTR.search(k)}
    return span.model_copy(
        update={"usage": TokenUsage(), "prompt_template": None, "sampling": Sampling(), "attributes": attrs}
    )


def drop_optional(case: CaseTraces, rng: random.Random, _tmp: Path | None) -> CaseTraces:
    """Token usage, prompt version and sampling settings missing on a random half of the spans."""
    share = KNOBS["drop_share"][0]
    return case.with_spans([_drop_optional(s) if rng.random() < share else s for s in case.spans])


# -- representation ------------------------------------------------------------------------------------------
def other_dialect_rewrite(case: CaseTraces, rng: random.Random, tmp: Path | None) -> CaseTraces:
    """The whole case written in another dialect by the generator's writers, read back by the ingesters."""
    dialect = other_dialect(case.spans, case.service, rng.randrange(4))
    spans, errors = rewrite(case.spans, dialect, tmp)
    if errors:
        raise ValueError(f"{case.case_id}: re-written as {dialect}, {len(errors)} ingest errors: {errors[0]}")
    return case.with_spans(spans)


def _shift_value(value: Any, delta: timedelta) -> Any:
    if not isinstance(value, str) or not ISO_DATE.match(value.strip()):
        return value
    text = value.strip()
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return value
    shifted = when + delta
    if len(text) == 10:
        return shifted.date().isoformat()
    out = shifted.isoformat()
    return out.replace("+00:00", "Z") if text.endswith("Z") else out


def _shift_all(span: Span, delta: timedelta) -> Span:
    moved = shift_span(span, delta)
    docs = [
        d.model_copy(update={"metadata": {k: _shift_value(v, delta) for k, v in d.metadata.items()}})
        for d in span.documents
    ]
    attrs = {k: _shift_value(v, delta) for k, v in span.attributes.items()}
    return moved.model_copy(update={"documents": docs, "attributes": attrs})


def _shift_date(match: re.Match[str], delta: timedelta, year: int) -> str:
    """One date written in prose, moved by `delta` and written back in its own style (a year only if it had one;
    a date without one is read in the incident's year, as a reader would)."""
    g = match.groupdict()
    try:
        if g["iso"]:
            day = date(int(g["y"]), int(g["m"]), int(g["d"]))
        else:
            mon, d, y = (g["mon1"], g["d1"], g["y1"]) if g["mdy"] else (g["mon2"], g["d2"], g["y2"])
            day = date(
                int(y or year), next(i for i, m in enumerate(MONTHS, 1) if m.startswith(mon.lower())), int(d)
            )
    except ValueError:
        return match.group(0)
    moved = day + delta
    if g["iso"]:
        return moved.isoformat()
    month = MONTHS[moved.month - 1].capitalize()
    text = f"{month} {moved.day}" if g["mdy"] else f"{moved.day} {month}"
    has_year = g["y1"] if g["mdy"] else g["y2"]
    return f"{text}, {moved.year}" if has_year and g["mdy"] else f"{text} {moved.year}" if has_year else text


def _shift_text(text: str, delta: timedelta, year: int) -> str:
    return TEXT_DATE.sub(lambda m: _shift_date(m, delta, year), text) if text else text


def time_shift(case: CaseTraces, rng: random.Random, _tmp: Path | None) -> CaseTraces:
    """The case moved by whole weeks (2-9 months, either way): spans, document dates, timestamps in attributes,
    the incident window and the reports, with the dates their words give (a case moved in time tells the same
    story: "the guidance changed on May 19" moves with the guidance)."""
    lo, hi = KNOBS["shift_weeks"][0]
    delta = timedelta(weeks=rng.randint(lo, hi) * rng.choice((-1, 1)))
    incident = case.incident
    year = (incident.window_start or case.window_start).year
    reports = [
        r.model_copy(
            update={
                "timestamp": r.timestamp + delta if r.timestamp else None,
                "text": _shift_text(r.text, delta, year),
            }
        )
        for r in incident.reports
    ]
    incident = incident.model_copy(
        update={
            "window_start": incident.window_start + delta if incident.window_start else None,
            "window_end": incident.window_end + delta if incident.window_end else None,
            "reports": reports,
            "title": _shift_text(incident.title, delta, year),
            "description": _shift_text(incident.description, delta, year),
        }
    )
    return case.with_spans(
        [_shift_all(s, delta) for s in case.spans],
        incident=incident,
        onset=case.onset + delta if case.onset else None,
    )


PERTURBATIONS: dict[str, tuple[PerturbFn, Perturbation]] = {
    fn.__name__: (fn, Perturbation(name=fn.__name__, what=(fn.__doc__ or "").split("\n")[0]))
    for fn in (
        sampling_jitter,
        side_services,
        own_service_noise,
        background_3x,
        baseline_quarter,
        drop_optional,
        other_dialect_rewrite,
        time_shift,
    )
}
# Short column labels for the printed table.
LABELS = {
    "sampling_jitter": "sampling",
    "side_services": "side svc",
    "own_service_noise": "own noise",
    "background_3x": "3x bg",
    "baseline_quarter": "1/4 base",
    "drop_optional": "attrs",
    "other_dialect_rewrite": "dialect",
    "time_shift": "shifted",
}


def apply(name: str, case: CaseTraces, tmp: Path | None = None) -> CaseTraces:
    """Apply one perturbation, seeded by its name and the case id (the same case always gets the same change)."""
    from evals.generator.ids import seeded

    fn, _ = PERTURBATIONS[name]
    return fn(case, seeded("robustness", name, case.case_id), tmp)
