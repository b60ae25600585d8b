"""Between the HTTP handlers and the store: a bounded queue and one writer thread.

Handlers `offer` what a request brought; past QUEUE_RECORDS records waiting the offer is refused (the handler
answers 503 with Retry-After, and the sender retries). The writer takes up to BATCH_RECORDS at a time (or what
came within FLUSH_SECONDS) and stores them with the store's keyword stage only, so they are searchable at once
and the store's writer lock is held for one batch; then, while no request waits, it writes one slice of
VECTOR_SLICE vectors (the lock held for that slice only), so `postmortem ingest` in another process gets the
lock between slices. `close` stores everything still queued; vectors not yet written stay queued on disk for
the next writer (`postmortem store embed`, the next ingest or receiver run).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from retrieval.otlp_http.intake import Intake
from retrieval.trace import Span, SpanContent

# Records (spans and GenAI events) accepted but not stored yet: about 20 SDK batches of 512; at a few KB per
# span this holds memory under ~100 MB, and at the keyword stage's speed it is about a second of work.
QUEUE_RECORDS = 10_000
BATCH_RECORDS = 512  # stored per lock hold: the SDK's export batch
FLUSH_SECONDS = 0.2  # a lone small request is stored within this, so it is searchable at once
VECTOR_SLICE = 64  # vectors written per lock hold (about 0.2-1 s of embedding on one core)
RETRY_SECONDS = (
    1.0  # after a failed store, waits of 1, 2, 3... s (at most 30) before the batch is tried again
)
CLOSE_RETRIES = 3  # tries of a failing batch once stopping; then it is counted in store_failures and dropped
_log = logging.getLogger("postmortem.receiver")


class WriterStats(BaseModel):
    """Counts since the receiver started."""

    spans_stored: int = 0
    spans_skipped: int = 0  # already stored (a retried export)
    content_events: int = 0
    content_attached: int = 0
    vectors_written: int = 0
    store_failures: int = (
        0  # records accepted and never stored: the store still failed when the receiver stopped
    )


class BatchWriter:
    """The bounded queue and its writer thread over a TraceStore."""

    def __init__(
        self, store: Any, on_event: Callable[[str], None] | None = None, capacity: int = QUEUE_RECORDS
    ):
        self.store = store
        self.capacity = capacity
        self.stats = WriterStats()
        self.on_event = on_event or _log.warning
        self._queue: deque[Intake] = deque()
        self._queued = 0
        self._cond = threading.Condition()
        self._closing = False
        self._busy = False
        self._thread = threading.Thread(target=self._run, name="otlp-writer", daemon=True)
        self._thread.start()

    @property
    def queued(self) -> int:
        """Records accepted and not stored yet."""
        return self._queued

    def offer(self, intake: Intake) -> bool:
        """Queue a request's records; False when the queue is full or closing (answer 503)."""
        if not intake.size:
            return not self._closing
        with self._cond:
            if self._closing or (self._queued and self._queued + intake.size > self.capacity):
                return False
            self._queue.append(intake)
            self._queued += intake.size
            self._cond.notify()
        return True

    def idle(self) -> bool:
        """Nothing queued and nothing being stored (tests and the benchmark wait for it)."""
        with self._cond:
            return not self._queued and not self._busy

    def close(self, timeout: float | None = None) -> None:
        """Refuse new records, store those queued, stop the thread."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join(timeout)

    def _take(self) -> list[Intake]:
        """Up to BATCH_RECORDS records, waiting FLUSH_SECONDS for more once the first arrived."""
        with self._cond:
            if not self._queue and not self._closing and not self._vectors_waiting():
                self._cond.wait()  # idle: nothing to store, no vector to write
            deadline = time.monotonic() + FLUSH_SECONDS
            while not self._closing and self._queued < BATCH_RECORDS and self._queue:
                left = deadline - time.monotonic()
                if left <= 0 or not self._cond.wait(timeout=left):
                    break
            taken: list[Intake] = []
            size = 0
            while self._queue and (not taken or size + self._queue[0].size <= BATCH_RECORDS):
                item = self._queue.popleft()
                taken.append(item)
                size += item.size
            self._busy = bool(taken)
            return taken

    def _vectors_waiting(self) -> bool:
        try:
            return bool(self.store.vectors_pending())
        except Exception:  # noqa: BLE001 - a closed store: nothing to do
            return False

    def _run(self) -> None:
        failures = 0
        while True:
            taken = self._take()
            if taken:
                stored = self._store(taken)
                failures = 0 if stored else failures + 1
                with self._cond:
                    if stored or (self._closing and failures > CLOSE_RETRIES):
                        self._queued -= sum(item.size for item in taken)
                        self.stats.store_failures += 0 if stored else sum(item.size for item in taken)
                    else:  # kept, in order, for the next try; the queue fills and senders get 503
                        self._queue.extendleft(reversed(taken))
                    self._busy = False
                if not stored:
                    time.sleep(min(RETRY_SECONDS * failures, 30.0))
                continue
            if self._closing and not self._queue:
                return
            self._vector_slice()

    def _store(self, taken: list[Intake]) -> bool:
        """Store a batch; False when the store failed (said once per failure, the batch to be tried again;
        what a failed try stored is skipped on the next)."""
        spans: list[Span] = [s for item in taken for s in item.spans]
        contents: list[SpanContent] = [c for item in taken for c in item.contents]
        try:
            if spans:
                result = self.store.add_spans(spans, batch_size=BATCH_RECORDS, wait=False, vectors=False)
                self.stats.spans_stored += result.added
                self.stats.spans_skipped += result.skipped
            if contents:
                content = self.store.add_span_content(
                    contents, batch_size=BATCH_RECORDS, wait=False, vectors=False
                )
                self.stats.content_events += content.events
                self.stats.content_attached += content.attached
        except Exception as exc:  # noqa: BLE001 - the store failed: say so, keep serving (what was stored stays)
            self.on_event(
                f"storing {len(spans)} spans and {len(contents)} events failed ({type(exc).__name__}: {exc}); "
                "trying again"
            )
            return False
        return True

    def _vector_slice(self) -> None:
        if not self._vectors_waiting():
            return
        try:
            self.stats.vectors_written += self.store.embed_pending(
                batch_size=VECTOR_SLICE, limit=VECTOR_SLICE
            )
        except Exception as exc:  # noqa: BLE001 - vectors are retried by the next writer; keyword search works
            self.on_event(
                f"writing vectors failed ({type(exc).__name__}: {exc}); `postmortem store embed` retries"
            )
            time.sleep(1.0)
