"""Expanding the PATH arguments of a command: files, folders (recursively) and glob patterns."""

from __future__ import annotations

import glob
from collections.abc import Iterable
from pathlib import Path

from retrieval.trace import IngestError, Skipped

INGESTIBLE_SUFFIXES = {".json", ".jsonl", ".ndjson", ".md", ".markdown", ".mdx"}
_NOT_READ = "not a format ingest reads: .json, .jsonl, .ndjson (optionally .gz) traces and .md post-mortems"


def _ingestible(path: Path) -> bool:
    suffixes = [s.lower() for s in path.suffixes if s.lower() not in (".gz", ".gzip")]
    return bool(suffixes) and suffixes[-1] in INGESTIBLE_SUFFIXES


def expand_paths(
    args: Iterable[str | Path], skipped: list[Skipped] | None = None
) -> tuple[list[Path], list[IngestError]]:
    """Files named, files under folders (ingestible suffixes, hidden ones skipped), glob matches; sorted,
    without duplicates. A path that matches nothing is an IngestError naming it. `skipped`, when given,
    receives the files found in folders that are not read (another format), each with why."""
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
            visible = sorted(
                p
                for p in path.rglob("*")
                if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            found = [p for p in visible if _ingestible(p)]
            if skipped is not None:
                skipped.extend(Skipped(path=str(p), reason=_NOT_READ) for p in visible if not _ingestible(p))
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
