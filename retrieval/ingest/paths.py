"""Expanding the PATH arguments of a command: files, folders (recursively) and glob patterns."""

from __future__ import annotations

import glob
from collections.abc import Iterable
from pathlib import Path

from retrieval.trace import IngestError

INGESTIBLE_SUFFIXES = {".json", ".jsonl", ".ndjson", ".md", ".markdown", ".mdx"}


def _ingestible(path: Path) -> bool:
    suffixes = [s.lower() for s in path.suffixes if s.lower() not in (".gz", ".gzip")]
    return bool(suffixes) and suffixes[-1] in INGESTIBLE_SUFFIXES


def expand_paths(args: Iterable[str | Path]) -> tuple[list[Path], list[IngestError]]:
    """Files named, files under folders (ingestible suffixes, hidden ones skipped), glob matches; sorted,
    without duplicates. A path that matches nothing is an IngestError naming it."""
    files: list[Path] = []
    errors: list[IngestError] = []
    seen: set[Path] = set()

    def add(path: Path) -> None:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            files.append(path)

    for arg in args:
        text = str(arg)
        path = Path(text)
        if path.is_file():
            add(path)
        elif path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and _ingestible(p)
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not found:
                errors.append(IngestError(path=text, message="folder holds no .json, .jsonl or .md files"))
            for p in found:
                add(p)
        elif glob.has_magic(text):
            matches = sorted(Path(m) for m in glob.glob(text, recursive=True) if Path(m).is_file())
            if not matches:
                errors.append(IngestError(path=text, message="pattern matches no file"))
            for p in matches:
                add(p)
        else:
            errors.append(IngestError(path=text, message="no such file or folder"))
    return files, errors
