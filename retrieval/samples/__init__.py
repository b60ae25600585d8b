"""The bundled demo: a support assistant's traces (OTLP JSON, GenAI semantic conventions), the incident
file, and past post-mortems. `load_demo(store)` puts them in a store (idempotent)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from retrieval.ingest import expand_paths, iter_file
from retrieval.trace import IngestError, PostmortemDoc, Span

DEMO_DIR = Path(__file__).parent / "demo"
DEMO_INCIDENT = DEMO_DIR / "incident.yaml"
BATCH = 512


class DemoLoad(BaseModel):
    spans_added: int = 0
    spans_skipped: int = 0
    postmortems_added: int = 0
    postmortems_skipped: int = 0
    errors: list[str] = []


def demo_files() -> list[Path]:
    files, _ = expand_paths([DEMO_DIR / "traces", DEMO_DIR / "postmortems"])
    return files


def load_demo(
    store,
    redact_span: Callable[[Span], Span] | None = None,
    redact_postmortem: Callable[[PostmortemDoc], PostmortemDoc] | None = None,
) -> DemoLoad:
    """Ingest the demo's traces and past post-mortems into `store`; already stored items are skipped."""
    result = DemoLoad()
    spans: list[Span] = []
    docs: list[PostmortemDoc] = []
    for path in demo_files():
        for item in iter_file(path):
            if isinstance(item, IngestError):
                result.errors.append(str(item))
            elif isinstance(item, Span):
                spans.append(redact_span(item) if redact_span else item)
            elif isinstance(item, PostmortemDoc):
                docs.append(redact_postmortem(item) if redact_postmortem else item)
    added = store.add_spans(spans, batch_size=BATCH)
    result.spans_added, result.spans_skipped = added.added, added.skipped
    added = store.add_postmortems(docs)
    result.postmortems_added, result.postmortems_skipped = added.added, added.skipped
    return result
