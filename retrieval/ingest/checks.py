"""Data that parses but is wrong, caught across one ingest run and named rather than passed on in silence.

- the same span id twice (in one file or two): the first is kept, each repeat is counted and named;
- a span that ends before it starts: kept without its end (a negative duration would mislead every latency
  figure), counted and named.
Negative timestamps are refused by the parsers (IngestError kind "negative timestamp") and counted with these.
"""

from __future__ import annotations

from collections import Counter

from retrieval.trace import Span

DUPLICATE = "duplicate span id"
ENDS_BEFORE_START = "ends before it starts"
NEGATIVE_TIME = "negative timestamp"


class InputChecks:
    """One run's checks. Memory: one small int per span id seen (about 70 bytes; 1M spans ~ 70 MB)."""

    def __init__(self) -> None:
        self._seen: set[int] = set()
        self.counts: Counter[str] = Counter()

    def check(self, span: Span) -> tuple[Span | None, str | None]:
        """(the span to store or None to drop it, a one-line warning or None)."""
        where = span.source or "input"
        key = hash((span.trace_id, span.span_id))  # collisions: ~n^2/2^64, negligible
        if key in self._seen:
            self.counts[DUPLICATE] += 1
            return None, (
                f"{where}: span {span.span_id} of trace {span.trace_id} repeats a span id read before; "
                "the first one is kept"
            )
        self._seen.add(key)
        if span.end_time is not None and span.end_time < span.start_time:
            self.counts[ENDS_BEFORE_START] += 1
            ms = (span.end_time - span.start_time).total_seconds() * 1000
            fixed = span.model_copy(update={"end_time": None})
            return fixed, (
                f"{where}: span {span.span_id} ends before it starts ({ms:.0f} ms); stored without an end time"
            )
        return span, None
