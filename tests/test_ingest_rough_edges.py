"""Rough edges a new user met (issue 15, item 3): each is said plainly instead of stored or shown wrong."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime

import pytest

from retrieval.audit import audit_spans
from retrieval.ingest import detect_format, iter_file
from retrieval.ingest.detect import UnknownFormatError
from retrieval.render import span_excerpt
from retrieval.trace import (
    Document,
    IngestError,
    Message,
    PostmortemDoc,
    PromptTemplate,
    Skipped,
    Span,
    SpanKind,
    ToolCall,
)
from tests.conftest import FIXTURES

NOTES = "# Team notes\n\nSome notes, not a post-mortem.\n\n## Ideas\n\n- try the new index\n\n## Links\n\n- wiki\n"
T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def test_markdown_without_front_matter_or_postmortem_sections_is_skipped_and_said(tmp_path):
    notes = tmp_path / "notes.md"
    notes.write_text(NOTES)
    (record,) = list(iter_file(notes))
    assert isinstance(record, Skipped) and "post-mortem sections" in str(record)
    no_front = (
        FIXTURES / "postmortems" / "2023-08-21-prompt-injection-discount.md"
    )  # sections, no front matter
    assert all(isinstance(r, PostmortemDoc) for r in iter_file(no_front))


def test_folder_ingest_names_what_it_skipped(tmp_path, tmp_home, monkeypatch):
    from tests.test_cli_ingest import CACHE, invoke

    monkeypatch.setenv("POSTMORTEM_CACHE_DIR", str(CACHE))
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(FIXTURES / "traces" / "otlp_genai_current.json", folder / "traces.json")
    (folder / "data.csv").write_text("a,b\n1,2\n")
    (folder / "notes.md").write_text(NOTES)
    result = invoke("ingest", str(folder), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    skipped = " ".join(summary["skipped_files"])
    assert "data.csv" in skipped and "notes.md" in skipped and "traces.json" not in skipped
    assert summary["postmortem_chunks"] == 0 and summary["spans_added"] > 0


def _span(**fields) -> Span:
    return Span(trace_id="ab" * 16, span_id="cd" * 8, name="step", start_time=T0, **fields)


def test_excerpt_shows_the_tool_call_and_the_documents_not_raw_output_json():
    raw = json.dumps({"choices": [{"message": {"tool_calls": [{"function": {"name": "lookup_order"}}]}}]})
    call = ToolCall(id="c1", name="lookup_order", arguments='{"order_id": "A-1042"}')
    llm = _span(
        kind=SpanKind.llm,
        input_messages=[Message(role="user", content="Where is my order?")],
        output_messages=[Message(role="assistant", tool_calls=[call])],
        output_value=raw,
    )
    text = span_excerpt(llm)
    assert "lookup_order(" in text and "A-1042" in text and "choices" not in text
    docs = [Document(id="d1", content="Refunds are accepted within 30 days.")]
    retriever = _span(
        kind=SpanKind.retrieval,
        retrieval_query="refund window",
        documents=docs,
        output_value=json.dumps({"documents": [{"page_content": "Refunds are accepted within 30 days."}]}),
    )
    text = span_excerpt(retriever)
    assert "Refunds are accepted within 30 days." in text and "page_content" not in text


def test_trace_show_prints_the_template_text_and_variables_not_question_marks():
    from agent.cli.traces import span_fields

    template = PromptTemplate(template="Answer {question} from {context}", variables={"question": "refund?"})
    lines = "\n".join(span_fields(_span(kind=SpanKind.chain, prompt_template=template)))
    assert "?" not in lines.replace("refund?", "")
    assert "Answer {question} from {context}" in lines and "question=refund" in lines
    named = "\n".join(span_fields(_span(prompt_template=PromptTemplate(id="refund", version="3"))))
    assert "prompt template id refund version 3" in named


def test_audit_tells_server_defaults_from_an_instrumentation_gap():
    spans = [r for r in iter_file(FIXTURES / "traces" / "otlp_openai_v2_spans.json") if isinstance(r, Span)]
    assert sum(s.sampling.temperature is None for s in spans) == 1  # one call sent no sampling parameters
    service = audit_spans(spans).services[0]
    sampling = next(f for f in service.fields if f.field == "sampling")
    assert sampling.status == "ok" and not sampling.advice
    assert any("sent no sampling parameters" in note for note in service.notes)
    recorded_none = [
        s.model_copy(update={"sampling": s.sampling.model_copy(update={"temperature": None})}) for s in spans
    ]
    gap = next(f for f in audit_spans(recorded_none).services[0].fields if f.field == "sampling")
    assert gap.status == "missing" and gap.advice  # nothing recorded anywhere: still a gap, with advice


def test_console_span_exporter_output_says_what_to_export(tmp_path):
    """What the SDK's own ConsoleSpanExporter prints (pretty JSON objects one after another) is refused with the
    exporter to use instead, not as an "unknown dialect"."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

    path = tmp_path / "console.json"
    with path.open("w") as out:
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=out)))
        tracer = provider.get_tracer("tests")
        with (
            tracer.start_as_current_span("invoke_agent refund"),
            tracer.start_as_current_span("chat gpt-4.1-mini", attributes={"gen_ai.operation.name": "chat"}),
        ):
            pass
        provider.shutdown()
    assert '"trace_id": "0x' in path.read_text()  # the console exporter's own layout
    with pytest.raises(UnknownFormatError) as refused:
        detect_format(path)
    assert "ConsoleSpanExporter" in refused.value.reason and "OTLP" in refused.value.reason
    (error,) = list(iter_file(path))
    assert isinstance(error, IngestError) and "ConsoleSpanExporter" in error.message
