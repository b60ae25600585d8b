"""The background worker: requests are acknowledged at once and their work runs here, one job at a time
(drafting is CPU-bound, and the store it reads is opened in, and used only from, this thread)."""

from __future__ import annotations

import logging
import queue
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

log = logging.getLogger("postmortem.slack")


@dataclass
class Job:
    name: str
    run: Callable[[], None]
    on_error: Callable[[BaseException], None] | None = None
    key: str | None = None  # the slot it holds (the channel of a draft), see JobRunner.reserve


class JobRunner:
    def __init__(self, name: str = "postmortem-slack-worker") -> None:
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._cond = threading.Condition()
        self._pending = 0
        self._by_key: Counter[str] = Counter()
        self._stopped = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    @property
    def pending(self) -> int:
        """Jobs queued or running."""
        with self._cond:
            return self._pending

    def reserve(self, key: str, per_key: int, overall: int) -> tuple[int, int] | None:
        """Hold a slot under `key` for a job about to be submitted, unless `key` already has `per_key` or all
        keys together `overall`: None when held, else (under key, overall) as they are. Check and hold are one
        step, so requests arriving together cannot all pass the check."""
        with self._cond:
            here, total = self._by_key[key], sum(self._by_key.values())
            if here >= per_key or total >= overall:
                return here, total
            self._by_key[key] += 1
            return None

    def release(self, key: str) -> None:
        """Give back a slot held by reserve() whose job was not submitted after all."""
        with self._cond:
            self._release(key)

    def _release(self, key: str) -> None:
        self._by_key[key] -= 1
        if self._by_key[key] <= 0:
            del self._by_key[key]

    def submit(
        self,
        name: str,
        run: Callable[[], None],
        on_error: Callable[[BaseException], None] | None = None,
        key: str | None = None,
    ) -> int:
        """Queue a job; returns how many jobs are ahead of it. key: the slot reserve() held for it, given
        back when the job ends."""
        with self._cond:
            if self._stopped:
                if key is not None:
                    self._release(key)
                raise RuntimeError("the worker is stopped")
            ahead = self._pending
            self._pending += 1
        self._queue.put(Job(name, run, on_error, key))
        return ahead

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no job is queued or running; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout=timeout)

    def stop(self, timeout: float | None = None) -> None:
        """Let the queued jobs finish, then end the worker."""
        with self._cond:
            self._stopped = True
        self._queue.put(None)
        self._thread.join(timeout)

    def _loop(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            try:
                job.run()
            except Exception as exc:  # noqa: BLE001 - a job must never kill the worker
                log.exception("job %s failed", job.name)
                if job.on_error is not None:
                    try:
                        job.on_error(exc)
                    except Exception:  # noqa: BLE001
                        log.exception("could not report the failure of job %s", job.name)
            finally:
                with self._cond:
                    self._pending -= 1
                    if job.key is not None:
                        self._release(job.key)
                    self._cond.notify_all()


class CountingExecutor(ThreadPoolExecutor):
    """Bolt's listener executor, counting the listeners not yet finished (so shutdown and tests can wait)."""

    def __init__(self, max_workers: int = 8) -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix="postmortem-slack-listener")
        self._cond = threading.Condition()
        self._running = 0

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[override]
        with self._cond:
            self._running += 1
        future = super().submit(fn, *args, **kwargs)
        future.add_done_callback(self._done)
        return future

    def _done(self, _future: Future) -> None:
        with self._cond:
            self._running -= 1
            self._cond.notify_all()

    def wait_idle(self, timeout: float | None = None) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._running == 0, timeout=timeout)
