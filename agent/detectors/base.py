"""The detector context (the spans of an incident and its baseline) and the `@detector` mark.

The list of detectors and `run_detectors` live in agent/detectors/registry.py.

Detectors run in two phases. Phase 1 detectors judge outputs (unsupported answers, obeyed injections, ignored tool
errors...) and report the bad outputs they saw in `data["bad_span_ids"]`. Between the phases the symptom flags are
computed (`flag_bad_outputs`), so phase 2 detectors (changes: model, prompt, sampling, retrieval, inputs) can ask
whether their signal co-occurs with, or precedes, the bad outputs. Phase 3 detectors (latent conditions) read
the findings of phases 1 and 2 in `ctx.prior`.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property

import numpy as np

from agent.models import Finding, Incident
from agent.thresholds import T
from retrieval.trace import Document, Span, SpanKind

log = logging.getLogger(__name__)

Embed = Callable[[list[str]], np.ndarray]
Detector = Callable[["DetectorContext"], list[Finding]]

MAX_EMBED_CHARS = 1200  # MiniLM reads 256 tokens; longer text only costs tokenization time


@dataclass
class DetectorContext:
    incident: Incident
    spans: list[Span]  # spans of the incident's traces in the window (all kinds), any order
    baseline: list[Span]  # same service, before the window (may be empty)
    embed: Embed | None = None  # L2-normalised sentence embeddings, or None (lexical fallbacks)
    # filled by run_detectors / flag_bad_outputs: flagged span ids over window AND baseline
    flags: set[str] | None = None
    # filled by run_detectors before phase 3: the findings of phases 1 and 2 (phase 3 reads them)
    prior: list[Finding] = field(default_factory=list)
    _vectors: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    _requests: dict[str, tuple[Span, str]] = field(default_factory=dict, repr=False)
    _delivered: dict[str, str] = field(default_factory=dict, repr=False)
    _flag_key: tuple[int, int] = (0, 0)
    _flag_traces: set[str] = field(default_factory=set, repr=False)
    memo: dict[str, object] = field(default_factory=dict, repr=False)  # per-context caches of detectors
    errors: list[str] = field(
        default_factory=list
    )  # detectors that failed ("name: error"), for the draft's notes

    # ---------------------------------------------------------------- indexes
    @cached_property
    def by_id(self) -> dict[str, Span]:
        return {s.span_id: s for s in [*self.baseline, *self.spans]}

    @cached_property
    def window_ids(self) -> frozenset[str]:
        return frozenset(s.span_id for s in self.spans)

    @cached_property
    def traces(self) -> dict[str, list[Span]]:
        """trace id -> its spans (window and baseline) in start order."""
        out: dict[str, list[Span]] = defaultdict(list)
        for span in [*self.baseline, *self.spans]:
            out[span.trace_id].append(span)
        for spans in out.values():
            spans.sort(key=lambda s: s.start_time)
        return dict(out)

    @cached_property
    def children(self) -> dict[str, list[Span]]:
        out: dict[str, list[Span]] = defaultdict(list)
        for span in self.by_id.values():
            if span.parent_span_id:
                out[span.parent_span_id].append(span)
        return dict(out)

    @cached_property
    def service(self) -> str | None:
        """The incident's service, if any span carries it (else scope is every span)."""
        wanted = self.incident.service
        if wanted and any(s.service == wanted for s in self.by_id.values()):
            return wanted
        return None

    @cached_property
    def incident_traces(self) -> frozenset[str]:
        """Traces that contain at least one span of the incident's service."""
        if self.service is None:
            return frozenset(self.traces)
        return frozenset(s.trace_id for s in self.by_id.values() if s.service == self.service)

    def in_scope(self, span: Span) -> bool:
        return self.service is None or span.service == self.service

    def scope_weight(self, span: Span) -> float:
        """1 in the incident's service, less in a trace that crosses into it, little elsewhere."""
        if self.in_scope(span):
            return 1.0
        return T.scope_crossing if span.trace_id in self.incident_traces else T.scope_elsewhere

    def is_window(self, span: Span) -> bool:
        return span.span_id in self.window_ids

    # ---------------------------------------------------------------- answers
    def _answers(self, spans: list[Span]) -> list[Span]:
        last: dict[str, Span] = {}
        silent: dict[str, Span] = {}  # LLM calls recorded without their content
        roots: dict[str, Span] = {}
        for span in sorted(spans, key=lambda s: s.start_time):
            if span.kind == SpanKind.llm and self.in_scope(span):
                if span.output_text.strip():
                    last[span.trace_id] = span
                else:
                    silent[span.trace_id] = span
            elif span.parent_span_id is None and (span.output_value or "").strip() and self.in_scope(span):
                roots.setdefault(span.trace_id, span)
        for trace_id, span in silent.items():
            last.setdefault(trace_id, span)
        # a trace answered without any model call (a cache, a fallback) is answered by its root span
        for trace_id, root in roots.items():
            if trace_id not in last and not any(
                s.kind == SpanKind.llm for s in self.traces.get(trace_id, [])
            ):
                last[trace_id] = root
        return sorted(last.values(), key=lambda s: s.start_time)

    @cached_property
    def answers(self) -> list[Span]:
        """One per window trace: its last in-scope LLM span with text output (else its last LLM span, when
        content was not captured; with no model call at all, the root span that delivered the answer)."""
        return self._answers(self.spans)

    def root_of(self, span: Span) -> Span:
        trace = self.traces.get(span.trace_id, [span])
        return next((s for s in trace if s.parent_span_id is None), trace[0])

    def delivered_text(self, answer: Span) -> str:
        """What the user received: the output of the last stage that took the model's answer as its input and
        ran after it (an output filter, a post-processor), else the root span's output when recorded, else the
        model's output."""
        cached = self._delivered.get(answer.span_id)
        if cached is None:
            stage = self.post_stage(answer)
            root = self.root_of(answer)
            if stage is not None:
                delivered = _unwrap(stage.output_value or "")
            else:
                delivered = (
                    _unwrap(root.output_value) if root.output_value and root.output_value.strip() else ""
                )
            cached = self._delivered[answer.span_id] = delivered or answer.output_text
        return cached

    def post_stage(self, answer: Span) -> Span | None:
        """The last non-model span of the answer's trace that started after the answer and whose input holds the
        answer's text: the stage between the model and the user (None when there is none)."""
        produced = " ".join(answer.output_text.split()).lower()
        if answer.kind != SpanKind.llm or len(produced) < T.post_stage_min_chars:
            return None
        found = None
        for s in self.traces.get(answer.trace_id, []):
            if (
                s.kind in (SpanKind.llm, SpanKind.retrieval, SpanKind.tool)
                or s.parent_span_id is None
                or s.start_time < answer.start_time
                or not (s.output_value or "").strip()
            ):
                continue
            if produced in " ".join(_unwrap(s.input_value or "").split()).lower():
                found = s
        return found

    @cached_property
    def baseline_answers(self) -> list[Span]:
        return self._answers(self.baseline)

    @cached_property
    def baseline_examples(self) -> list[Span]:
        """The baseline answers with each (request, delivered answer) pair once: the reference of what healthy
        answers look like (a field's range, the terms they use, whether they state figures of their own). A
        request answered identically again is the same example, not more evidence of variety: a rate counts every
        answer (`baseline_answers`), a profile of healthy answers counts examples."""
        seen: set[tuple[str, str]] = set()
        out = []
        for answer in self.baseline_answers:
            key = (self.request_text(answer), self.delivered_text(answer))
            if key not in seen:
                seen.add(key)
                out.append(answer)
        return out

    @cached_property
    def llm_spans(self) -> list[Span]:
        return sorted((s for s in self.spans if s.kind == SpanKind.llm), key=lambda s: s.start_time)

    @cached_property
    def baseline_llm_spans(self) -> list[Span]:
        return sorted((s for s in self.baseline if s.kind == SpanKind.llm), key=lambda s: s.start_time)

    def answer_of(self, trace_id: str) -> Span | None:
        return self._answer_index.get(trace_id)

    @cached_property
    def _answer_index(self) -> dict[str, Span]:
        return {s.trace_id: s for s in [*self.baseline_answers, *self.answers]}

    def request_text(self, span: Span) -> str:
        """What the user asked in this span's trace (see `request_source`)."""
        return self.request_source(span)[1]

    def request_source(self, span: Span) -> tuple[Span, str]:
        """(span holding it, text) of the user's request: the trace root's input, else the retrieval query,
        else the last user message (which may carry stuffed context)."""
        cached = self._requests.get(span.trace_id)
        if cached is None:
            cached = _request_source(self.traces.get(span.trace_id, []), span)
            self._requests[span.trace_id] = cached
        return cached

    def before(self, span: Span, kind: SpanKind | None = None) -> list[Span]:
        """Spans of the same trace that started no later than `span` (optionally of one kind)."""
        return [
            s
            for s in self.traces.get(span.trace_id, [])
            if s.start_time <= span.start_time
            and s.span_id != span.span_id
            and (kind is None or s.kind == kind)
        ]

    def documents_for(self, span: Span) -> list[tuple[str, int, Document]]:
        """(retrieval span id, index, document) in the context of an LLM span: its own and its trace's."""
        out = [(span.span_id, i, d) for i, d in enumerate(span.documents)]
        for s in self.traces.get(span.trace_id, []):
            if (
                s.span_id != span.span_id
                and s.documents
                and s.start_time <= (span.end_time or span.start_time)
            ):
                out.extend((s.span_id, i, d) for i, d in enumerate(s.documents))
        return out

    # ---------------------------------------------------------------- time
    @cached_property
    def window_start(self) -> datetime | None:
        if self.incident.window_start:
            return self.incident.window_start
        return min((s.start_time for s in self.spans), default=None)

    @cached_property
    def window_end(self) -> datetime | None:
        if self.incident.window_end:
            return self.incident.window_end
        return max((s.start_time for s in self.spans), default=None)

    @cached_property
    def horizon(self) -> timedelta:
        """A natural time scale for 'near': a tenth of the window, at least 30 minutes."""
        if self.window_start and self.window_end and self.window_end > self.window_start:
            return max(
                timedelta(minutes=T.horizon_min_minutes),
                (self.window_end - self.window_start) / T.horizon_fraction,
            )
        return timedelta(hours=1)

    # ---------------------------------------------------------------- flags
    def is_flagged(self, span: Span) -> bool:
        """Whether the trace's answer was judged bad (False before flags are computed)."""
        if not self.flags:
            return False
        return span.trace_id in self.flagged_traces()

    def flagged_traces(self) -> set[str]:
        """Trace ids whose answer is flagged (empty before flags are computed)."""
        if not self.flags:
            return set()
        if self._flag_key != (id(self.flags), len(self.flags)):
            self._flag_key = (id(self.flags), len(self.flags))
            self._flag_traces = {self.by_id[i].trace_id for i in self.flags if i in self.by_id}
        return self._flag_traces

    # ---------------------------------------------------------------- embeddings
    def vectors(self, texts: list[str]) -> np.ndarray | None:
        """Embeddings of `texts` (deduplicated, cached per context), or None without an embedder."""
        if self.embed is None:
            return None
        keys = [t[:MAX_EMBED_CHARS] for t in texts]
        missing = list(dict.fromkeys(k for k in keys if k not in self._vectors))
        if missing:
            try:
                vecs = np.asarray(self.embed(missing), dtype=np.float32)
            except Exception as exc:  # an embedder failure degrades to the lexical fallbacks
                log.warning("embedding failed, using lexical fallbacks: %s", exc)
                self.embed = None
                return None
            for key, vec in zip(missing, vecs, strict=True):
                self._vectors[key] = vec
        if not keys:
            return np.zeros((0, 384), dtype=np.float32)
        return np.stack([self._vectors[k] for k in keys])


def evenly(spans: list[Span], cap: int) -> list[Span]:
    """At most `cap` spans spread evenly over the list (deterministic: the same list gives the same sample,
    so detectors sampling the same answers share cached embeddings)."""
    if len(spans) <= cap:
        return spans
    step = len(spans) / cap
    return [spans[int(i * step)] for i in range(cap)]


def _request_source(trace: list[Span], span: Span) -> tuple[Span, str]:
    for s in trace:
        if s.parent_span_id is None and s.input_value and s.input_value.strip():
            return s, _unwrap(s.input_value)
    for s in trace:
        if s.retrieval_query and s.retrieval_query.strip():
            return s, s.retrieval_query
    return span, span.user_text


def unwrap(value: str) -> str:
    """The text in a recorded input or output (see `_unwrap`)."""
    return _unwrap(value)


_TEXT_KEYS = ("question", "query", "input", "message", "text", "prompt", "content")


def _unwrap(value: str) -> str:
    """A JSON input ({"question": "..."}, a JSON string, a recorded call {"args": [...], "kwargs": {...}}) -> the
    text in it; plain text as is."""
    text = value.strip()
    if not text.startswith(("{", "[", '"')):
        return text
    try:
        data = json.loads(text)
    except ValueError:
        return text
    if isinstance(data, str):
        return data
    if isinstance(data, dict):
        kwargs = data.get("kwargs") if isinstance(data.get("kwargs"), dict) else {}
        for holder in (data, kwargs):
            for key in _TEXT_KEYS:
                if isinstance(holder.get(key), str) and holder[key].strip():
                    return holder[key]
        # a function call recorded with its arguments (OpenLLMetry's entity input): its longest text argument
        args = data.get("args") if isinstance(data.get("args"), list) else []
        texts = [a for a in [*args, *kwargs.values()] if isinstance(a, str) and a.strip()]
        if texts:
            return max(texts, key=len)
        data = data.get("messages", data)
    if isinstance(data, list):
        users = [m.get("content") for m in data if isinstance(m, dict) and m.get("role") == "user"]
        if users and isinstance(users[-1], str):
            return users[-1]
    return text


# -------------------------------------------------------------------- the detector mark
def detector(name: str, *, phase: int = 2) -> Callable[[Detector], Detector]:
    """Mark a function as the detector `name` of `phase`; agent/detectors/registry.py lists every one. Phase 1
    judges outputs; phase 2 looks for changes and causes; phase 3 reads the findings of both (`ctx.prior`) for the
    conditions that let a cause do harm."""

    def wrap(func: Detector) -> Detector:
        func.detector_name = name  # type: ignore[attr-defined]
        func.detector_phase = phase  # type: ignore[attr-defined]
        return func

    return wrap
