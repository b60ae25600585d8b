"""Ingesters: OTLP JSON / JSON lines (GenAI current + legacy, OpenLLMetry, OpenInference attributes), Langfuse
observation exports, multi-agent group-chat logs in the Who&When shape, and past post-mortems in Markdown. Everything streams; bad records become IngestError
values (one line each) and the rest of the file is still read.

    for item in iter_file(Path("traces.jsonl")):
        if isinstance(item, IngestError): print(item)   # "traces.jsonl:line 7: truncated JSON"
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from pathlib import Path

from retrieval.ingest.detect import FORMATS, UnknownFormatError, detect_format
from retrieval.ingest.langfuse import iter_langfuse_json, iter_langfuse_jsonl
from retrieval.ingest.markdown import iter_markdown
from retrieval.ingest.otlp import decode_any_value, decode_attributes, iter_otlp_json, iter_otlp_jsonl
from retrieval.ingest.otlp_logs import NO_GENAI, iter_otlp_logs_json, iter_otlp_logs_jsonl
from retrieval.ingest.paths import INGESTIBLE_SUFFIXES, expand_paths
from retrieval.ingest.source import Progress
from retrieval.ingest.whowhen import iter_whowhen_json
from retrieval.trace import IngestError, PostmortemDoc, Span, SpanContent

__all__ = [
    "FORMATS",
    "INGESTIBLE_SUFFIXES",
    "IngestError",
    "Progress",
    "UnknownFormatError",
    "decode_any_value",
    "decode_attributes",
    "detect_format",
    "expand_paths",
    "iter_file",
]

_READERS = {
    "otlp-json": iter_otlp_json,
    "otlp-jsonl": iter_otlp_jsonl,
    "otlp-logs-json": iter_otlp_logs_json,
    "otlp-logs-jsonl": iter_otlp_logs_jsonl,
    "langfuse-json": iter_langfuse_json,
    "langfuse-jsonl": iter_langfuse_jsonl,
    "whowhen-json": iter_whowhen_json,
}


def iter_file(
    path: Path,
    fmt: str | None = None,
    *,
    default_service: str | None = None,
    progress: Progress | None = None,
) -> Iterator[Span | SpanContent | PostmortemDoc | IngestError]:
    """Stream the spans (or post-mortem chunks, or GenAI content from OTLP logs) of one file; problems come out as IngestError records.

    fmt: one of FORMATS, or None to detect it. default_service: the service of spans that record none
    (Langfuse has no service field; OTLP without `service.name`). progress: called with bytes read so far.
    """
    path = Path(path)
    if fmt is not None and fmt not in FORMATS:
        yield IngestError(
            path=str(path), message=f"unknown format {fmt!r} (expected one of {', '.join(FORMATS)})"
        )
        return
    try:
        fmt = fmt or detect_format(path)
        if fmt == "markdown":
            yield from iter_markdown(path)
            if progress is not None:
                progress(path.stat().st_size)
        else:
            yielded = False
            for record in _READERS[fmt](path, default_service=default_service, progress=progress):
                yielded = True
                yield record
            if not yielded:  # e.g. resourceSpans holding only nested arrays: say so, never a silent exit 0
                found = NO_GENAI if fmt.startswith("otlp-logs") else "no spans found"
                yield IngestError(path=str(path), message=f"{found} (read as {fmt})")
    except UnknownFormatError as exc:
        yield IngestError(path=str(path), message=exc.reason)
    except (EOFError, zlib.error):
        yield IngestError(path=str(path), message="compressed file is truncated or corrupt")
    except OSError as exc:
        yield IngestError(path=str(path), message=f"cannot read ({exc.strerror or exc})")
