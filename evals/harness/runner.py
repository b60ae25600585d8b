"""The solver: per case, a fresh store in a tmp dir, ingest the case's traces, draft, record latency and tokens.

One embedder instance is shared by every case of a run (loading it is the expensive part); stores are never
shared, so no case sees another case's traces.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, Field

from agent.models import Draft, Incident
from agent.settings import Settings
from evals.harness.dataset import Sample
from evals.harness.scorers import CaseFacts
from retrieval.trace import IngestError, PostmortemDoc, Span

# How agent.detectors reports a detector that raised (it logs and carries on without it); the handler sits on the
# package's logger, so it hears whichever module of the package runs the detectors.
DETECTOR_LOGGER = "agent.detectors"
DETECTOR_FAILED = "detector %s failed"


class CaseRun(BaseModel):
    """What the solver produced for one case."""

    case_id: str
    draft: Draft | None = None
    status: str | None = None
    facts: CaseFacts = Field(default_factory=CaseFacts)
    spans: int = 0
    ingest_errors: list[str] = Field(default_factory=list)
    ingest_s: float = 0.0
    draft_s: float = 0.0
    tokens_in: int | None = None
    tokens_out: int | None = None
    cost_usd: float | None = None
    tool_calls: int | None = None  # the LLM investigation's tool calls (None: no investigation)
    offline: Draft | None = None  # with a provider: the offline agent's draft of the same case
    error: str | None = None

    @property
    def tokens(self) -> int | None:
        if self.tokens_in is None and self.tokens_out is None:
            return None
        return (self.tokens_in or 0) + (self.tokens_out or 0)


class Solver(Protocol):
    def __call__(self, sample: Sample) -> CaseRun: ...


def read_case_traces(sample: Sample) -> tuple[list[Span], list[PostmortemDoc], list[str]]:
    """Every span and past post-mortem in the case's trace files, and the ingest errors, one line each."""
    from retrieval.ingest import iter_file

    spans: list[Span] = []
    docs: list[PostmortemDoc] = []
    errors: list[str] = []
    for path in sample.trace_files:
        for record in iter_file(path):
            if isinstance(record, Span):
                spans.append(record)
            elif isinstance(record, PostmortemDoc):
                docs.append(record)
            elif isinstance(record, IngestError):
                errors.append(str(record))
    return spans, docs, errors


def case_facts(incident: Incident, spans: Sequence[Span], docs: Sequence[PostmortemDoc]) -> CaseFacts:
    """What a citation of this case may resolve to, built from the ingested records (not from the agent)."""
    return CaseFacts(
        spans={s.span_id: s.trace_id for s in spans},
        documents={s.span_id: len(s.documents) for s in spans if s.documents},
        reports=len(incident.reports),
        postmortems={d.id for d in docs},
    )


def _first_int(usage: dict[str, Any], *keys: str) -> int | None:
    for key in keys:
        value = usage.get(key)
        if isinstance(value, int | float):
            return int(value)
    return None


def usage_figures(usage: dict[str, Any]) -> tuple[int | None, int | None, float | None]:
    """(tokens in, tokens out, cost) from a draft's usage, whatever the provider called them."""
    tokens_in = _first_int(usage, "input_tokens", "prompt_tokens", "tokens_in")
    tokens_out = _first_int(usage, "output_tokens", "completion_tokens", "tokens_out")
    cost = next(
        (float(usage[k]) for k in ("cost_usd", "cost") if isinstance(usage.get(k), int | float)), None
    )
    return tokens_in, tokens_out, cost


class AgentSolver:
    """Ingest + draft with the real agent, store and embedder."""

    def __init__(
        self,
        *,
        embedder: Any,
        settings: Settings,
        provider: str | None = None,
        workdir: Path | None = None,
        compare_offline: bool = False,
    ) -> None:
        self.embedder = embedder
        self.settings = settings
        self.provider = None if provider in (None, "offline") else provider
        self.workdir = workdir
        self.compare_offline = compare_offline and self.provider is not None
        self._read: dict[str, tuple[list[Span], list[PostmortemDoc], list[str]]] = {}  # primed, not yet run

    def prime(self, samples: Sequence[Sample]) -> int:
        """Embed the vector texts of these cases' records ahead of them, when the embedder caches them
        (`CachedEmbedder.prime`); returns how many texts were embedded. The records read are kept for the
        cases' own runs (each case file is parsed once): prime a few cases at a time (`run_eval`)."""
        from retrieval.render import postmortem_vector_parts, span_vector_parts

        prime = getattr(self.embedder, "prime", None)
        if not callable(prime):
            return 0
        texts: dict[str, None] = {}
        for sample in samples:
            try:
                spans, docs, errors = read_case_traces(sample)
            except Exception:  # noqa: BLE001 - the case itself reports it when it runs
                continue
            self._read[sample.id] = (spans, docs, errors)
            parts = [*map(span_vector_parts, spans), *map(postmortem_vector_parts, docs)]
            texts.update((text, None) for groups in parts for group in groups for text in group)
        return int(prime(list(texts)))

    def __call__(self, sample: Sample) -> CaseRun:
        try:
            spans, docs, errors = self._read.pop(sample.id, None) or read_case_traces(sample)
        except Exception as exc:  # an unreadable case is scored as failed, like any other broken case
            return CaseRun(case_id=sample.id, error=f"{type(exc).__name__}: {exc}".splitlines()[0][:300])
        run = self.solve(sample.id, sample.incident, spans, docs)
        run.ingest_errors = errors
        return run

    def solve(
        self, case_id: str, incident: Incident, spans: Sequence[Span], docs: Sequence[PostmortemDoc] = ()
    ) -> CaseRun:
        """Ingest these records into a fresh store and draft the incident (the robustness suite hands in
        perturbed records). A detector that raises fails the case: its verdict would be silently partial."""
        from agent.api import draft_incident
        from retrieval.store import TraceStore

        run = CaseRun(case_id=case_id)
        tmp = Path(tempfile.mkdtemp(prefix=f"eval-{case_id[:40]}-", dir=self.workdir))
        store = None
        try:
            started = time.perf_counter()
            store = TraceStore(path=tmp / "chroma", embedder=self.embedder)
            if spans:
                store.add_spans(spans)
            if docs:
                store.add_postmortems(docs)
            run.spans = len(spans)
            run.facts = case_facts(incident, spans, docs)
            run.ingest_s = round(time.perf_counter() - started, 4)

            settings = self.settings.model_copy(update={"home": tmp / "home"})
            if (
                self.compare_offline
            ):  # the offline agent on the same store: its figures go beside the provider's
                offline = draft_incident(incident, settings=settings, provider="offline", store=store)
                run.offline = offline.draft
            started = time.perf_counter()
            with detector_failures() as failed:
                result = draft_incident(incident, settings=settings, provider=self.provider, store=store)
            run.draft_s = round(time.perf_counter() - started, 4)
            run.draft = result.draft
            run.status = str(result.status)
            run.tokens_in, run.tokens_out, run.cost_usd = usage_figures(result.draft.usage)
            log = result.draft.investigation
            run.tool_calls = len(log.calls) if log is not None else None
            if failed:
                run.error = f"detector raised: {failed[0]}"[:300]
        except Exception as exc:  # one broken case must not stop the run; it is scored as failed
            run.error = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        finally:
            _close(store)
            shutil.rmtree(tmp, ignore_errors=True)
        return run


@contextlib.contextmanager
def detector_failures() -> Iterator[list[str]]:
    """Collect the detectors that raised while drafting. The agent keeps going without them (right for a user);
    an eval must not, or a crash reads as a quiet drop in a metric."""
    failed: list[str] = []

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.msg == DETECTOR_FAILED:
                exc = record.exc_info[1] if record.exc_info else None
                name = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
                failed.append(f"{name}: {type(exc).__name__}: {exc}" if exc else str(name))

    handler = _Collect(level=logging.ERROR)
    logger = logging.getLogger(DETECTOR_LOGGER)
    logger.addHandler(handler)
    try:
        yield failed
    finally:
        logger.removeHandler(handler)


def _close(store: Any) -> None:
    if store is not None:
        with contextlib.suppress(Exception):  # closing a tmp store must never fail a case
            store.close()  # gives back the Chroma client's fds: a run over every case would hold ~7 per case


ProgressFn = Callable[[Sample, CaseRun], None]


PRIME_CASES = 16  # cases primed together: large embedding batches, a bounded number of cases' records held


def run_eval(
    samples: Sequence[Sample], solver: Solver, *, progress: ProgressFn | None = None, prime: bool = True
) -> list[CaseRun]:
    """Solve every sample in order; each case's failure is recorded, never raised. With prime (and a solver
    that can), every PRIME_CASES cases' texts are embedded together before those cases run."""
    runs: list[CaseRun] = []
    primer = getattr(solver, "prime", None) if prime else None
    for start in range(0, len(samples), PRIME_CASES):
        chunk = samples[start : start + PRIME_CASES]
        if callable(primer):
            primer(chunk)
        for sample in chunk:
            run = solver(sample)
            runs.append(run)
            if progress is not None:
                progress(sample, run)
    return runs
