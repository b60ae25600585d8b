"""Opening input files: gzip transparently, and a byte counter for progress bars."""

from __future__ import annotations

import gzip
import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

Progress = Callable[[int], None]  # called with the number of bytes of the file read so far

_GZIP_MAGIC = b"\x1f\x8b"


class _Counting(io.RawIOBase):
    """A raw reader that reports how many bytes of the underlying file were consumed."""

    def __init__(self, raw: BinaryIO, progress: Progress | None) -> None:
        self._raw = raw
        self._progress = progress
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        data = self._raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.consumed += n
        if self._progress is not None and n:
            self._progress(self.consumed)
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


@contextmanager
def opened(path: Path, progress: Progress | None = None) -> Iterator[io.BufferedIOBase]:
    """A buffered binary stream of the file's content (decompressed if gzip); closes everything after."""
    with _Counting(open(path, "rb"), progress) as counting:
        buffered = io.BufferedReader(counting, buffer_size=1 << 16)
        if buffered.peek(2)[:2] == _GZIP_MAGIC:
            with gzip.GzipFile(fileobj=buffered, mode="rb") as unzipped:
                yield io.BufferedReader(unzipped, buffer_size=1 << 16)  # type: ignore[arg-type]
        else:
            yield buffered


def head_text(path: Path, size: int = 1 << 16) -> str:
    """The first `size` bytes of the (decompressed) content as text, undecodable bytes replaced."""
    with opened(path) as fp:
        data = fp.read(size)
    text = data.decode("utf-8", errors="replace")
    return text.lstrip("\ufeff")
