"""One writer at a time per store, across processes: an advisory lock file (flock) beside the store.

Two processes writing the same Chroma folder each keep their own copy of the vector index in memory and
persist it over the other's, so vectors of the other process become unreachable although their records
stay. Every write (ingest, publishing a post-mortem, `store embed`, `store check --repair`) therefore holds
this lock; a second writer waits for it, saying so once. Readers do not take it. The lock is re-entrant
within a process (nested writes of one store), and the kernel drops it when the holder dies, so a killed
ingest never leaves a stale lock behind.

The file also counts writes (`pid generation`): a process whose Chroma client may hold a copy of the vector
index read before another process wrote (it searched, then waited for the lock) is told to reopen the
client before writing (`on_stale`), so it never persists an outdated index over newer vectors.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar


class WriterLock:
    """An exclusive, re-entrant, cross-process lock on `path` (created if missing)."""

    _by_path: ClassVar[dict[Path, WriterLock]] = {}
    _registry = threading.Lock()

    @classmethod
    def for_path(cls, path: Path) -> WriterLock:
        """The process's one lock object for `path` (two objects would lock each other out in one process)."""
        key = path.resolve()
        with cls._registry:
            if key not in cls._by_path:
                cls._by_path[key] = cls(key)
            return cls._by_path[key]

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.RLock()
        self._depth = 0
        self._fd: int | None = None
        self._seen = self._read()[1]

    def _read(self) -> tuple[int, int]:
        """(pid of the last or current writer, writes so far) from the lock file; zeros when unknown."""
        with contextlib.suppress(OSError, ValueError):
            pid, _, generation = self.path.read_text().strip().partition(" ")
            return int(pid or 0), int(generation or 0)
        return 0, 0

    def _holder(self) -> str:
        pid = self._read()[0]
        return f" (process {pid})" if pid else ""

    def _stamp(self, fd: int, generation: int) -> None:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {generation}\n".encode(), 0)

    def _acquire(self, on_wait: Callable[[str], None] | None, on_stale: Callable[[], None] | None) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if on_wait is not None:
                    on_wait(
                        f"another process is writing to this store{self._holder()}: waiting for it to "
                        f"finish (lock {self.path})"
                    )
                fcntl.flock(fd, fcntl.LOCK_EX)
            pid, generation = self._read()
            if generation != self._seen and pid != os.getpid() and on_stale is not None:
                on_stale()
            self._seen = generation + 1
            self._stamp(fd, self._seen)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    @contextlib.contextmanager
    def hold(
        self, on_wait: Callable[[str], None] | None = None, on_stale: Callable[[], None] | None = None
    ) -> Iterator[None]:
        """Hold the lock for the block: on_wait(message) before waiting for another process; on_stale() when
        another process wrote since this one last held the lock (or looked)."""
        with self._local:
            if self._depth == 0:
                self._acquire(on_wait, on_stale)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._fd is not None:
                    fd, self._fd = self._fd, None
                    os.close(fd)  # closing releases the flock
