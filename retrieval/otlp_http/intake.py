"""A decoded export request through the file ingest's path: the OTLP readers' span and log-record parsers, the
run checks, then redaction; what cannot be read is counted as rejected, with the first problems named."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retrieval.ingest.checks import InputChecks
from retrieval.ingest.otlp import request_spans
from retrieval.ingest.otlp_logs import request_contents
from retrieval.otlp_http.payload import TRACES, Signal
from retrieval.redact import Redactor
from retrieval.trace import IngestError, Span, SpanContent

MAX_NAMED = 3  # problems named in a partial-success message; the rest are counted


@dataclass
class Intake:
    """What one request brought: records to store, the rejected count, the first problems, check warnings."""

    spans: list[Span] = field(default_factory=list)
    contents: list[SpanContent] = field(default_factory=list)
    rejected: int = 0
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.spans) + len(self.contents)

    def refuse(self, error: IngestError) -> None:
        self.rejected += 1
        if len(self.problems) < MAX_NAMED:
            where = f"{error.location}: " if error.location else ""
            self.problems.append(f"{where}{error.message}")

    def error_message(self) -> str:
        """The partial-success message: the first problems, and how many more."""
        if not self.rejected:
            return ""
        more = self.rejected - len(self.problems)
        return "; ".join(self.problems) + (f" (and {more} more)" if more > 0 else "")


def take_in(request: dict[str, Any], signal: Signal, source: str, redactor: Redactor | None) -> Intake:
    """Parse, check and redact the records of one decoded request (an OTLP/JSON dict)."""
    out = Intake()
    where = Path(source)
    if signal == TRACES:
        checks = InputChecks()  # per request: the store skips spans stored before
        for record in request_spans(where, request["resourceSpans"], "request", source, None):
            if isinstance(record, IngestError):
                out.refuse(record)
                continue
            span, warning = checks.check(record)
            if warning:
                out.warnings.append(warning)
            if span is not None:
                out.spans.append(redactor.span(span) if redactor else span)
        return out
    for record in request_contents(where, request["resourceLogs"], "request", source):
        if isinstance(record, IngestError):
            out.refuse(record)
        else:
            out.contents.append(redactor.content(record) if redactor else record)
    return out
