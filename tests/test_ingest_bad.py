"""Bad input: one clear line naming the file and the line or record, the good records still read, no
exception escaping the ingest layer."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.ingest import UnknownFormatError, detect_format, expand_paths, iter_file
from retrieval.trace import IngestError, Span

FIXTURES = Path(__file__).parent / "fixtures"
BAD = FIXTURES / "bad"


def split(path: Path, **kwargs) -> tuple[list[Span], list[str]]:
    records = list(iter_file(path, **kwargs))
    errors = [str(r) for r in records if isinstance(r, IngestError)]
    for line in errors:
        assert "\n" not in line and "Traceback" not in line
    return [r for r in records if isinstance(r, Span)], errors


def test_truncated_json_lines_keeps_the_complete_lines():
    spans, errors = split(BAD / "truncated.jsonl")
    assert errors == [
        f"{BAD / 'truncated.jsonl'}:line 3: truncated JSON (the line ends at column 4719 in the middle of a record)"
    ]
    assert len(spans) == 8 and {s.source.rsplit(":", 1)[1] for s in spans} == {"1", "2"}


def test_invalid_json_names_the_line_and_keeps_what_came_before():
    spans, errors = split(BAD / "invalid_syntax.json")
    assert len(errors) == 1
    assert errors[0].startswith(
        f"{BAD / 'invalid_syntax.json'}:line 108: invalid JSON after resourceSpans[0].scopeSpans[0].spans[0]"
    )
    assert [s.span_id for s in spans] == ["ad2a1b7e4c3f2a10"]


def test_spans_with_missing_ids_are_skipped_one_line_each():
    spans, errors = split(BAD / "missing_ids.json")
    path = BAD / "missing_ids.json"
    assert errors == [
        f"{path}:resourceSpans[0].scopeSpans[0].spans[2]: span has no spanId",
        f"{path}:resourceSpans[0].scopeSpans[0].spans[5]: span has no traceId",
    ]
    assert len(spans) == 5 and "00f067aa0ba902b7" not in {s.span_id for s in spans}


def test_unknown_dialect_and_empty_file():
    path = BAD / "zipkin_unknown_dialect.json"
    with pytest.raises(UnknownFormatError) as caught:
        detect_format(path)
    assert str(caught.value).startswith(str(path))
    assert split(path) == (
        [],
        [
            f"{path}: unknown dialect (no OTLP resourceSpans or resourceLogs, no Langfuse observation fields, no Who&When history)"
        ],
    )
    assert split(BAD / "empty.json") == ([], [f"{BAD / 'empty.json'}: file is empty"])


def test_langfuse_bad_records():
    path = BAD / "langfuse_bad_records.jsonl"
    spans, errors = split(path)
    assert errors == [
        f"{path}:line 2: observation has no id",
        f"{path}:line 3: record is not a JSON object",
        f"{path}:line 4: startTime 'yesterday afternoon' is not an ISO-8601 time",
    ]
    assert len(spans) == 2


def test_bad_front_matter():
    path = BAD / "bad_front_matter.md"
    assert split(path) == (
        [],
        [f"{path}:line 5: invalid YAML front matter (expected ',' or ']', but got ':')"],
    )


def test_forced_format_mismatch_and_unknown_format(tmp_path):
    otlp = FIXTURES / "traces" / "otlp_genai_current.json"
    spans, errors = split(otlp, fmt="langfuse-json")  # the user forced the wrong reader
    assert spans == [] and errors and all(e.startswith(f"{otlp}:") for e in errors)
    assert split(otlp, fmt="csv") == (
        [],
        [
            f"{otlp}: unknown format 'csv' (expected one of otlp-json, otlp-jsonl, otlp-logs-json, otlp-logs-jsonl, langfuse-json, langfuse-jsonl, whowhen-json, markdown)"
        ],
    )
    not_otlp = tmp_path / "list.jsonl"
    not_otlp.write_text('{"resourceSpans": []}\n[1, 2]\n')
    assert split(not_otlp, fmt="otlp-jsonl") == (
        [],
        [f"{not_otlp}:line 2: not an OTLP ExportTraceServiceRequest (no resourceSpans)"],
    )


def test_missing_and_binary_files(tmp_path):
    missing = tmp_path / "nope.json"
    assert split(missing) == ([], [f"{missing}: no such file"])
    binary = tmp_path / "blob.json"
    binary.write_bytes(b"\x00\x01\x02garbage")
    assert split(binary) == ([], [f"{binary}: not JSON, JSON lines or Markdown"])
    cut = tmp_path / "cut.jsonl.gz"
    import gzip

    cut.write_bytes(gzip.compress((FIXTURES / "traces" / "otlp_genai_legacy.jsonl").read_bytes())[:-40])
    spans, errors = split(cut)
    assert errors and errors[-1].startswith(str(cut))


def test_expand_paths(tmp_path):
    files, errors = expand_paths(
        [FIXTURES / "traces", str(FIXTURES / "postmortems" / "*.md"), tmp_path / "none"]
    )
    names = [f.name for f in files]
    assert "otlp_genai_current.json" in names and "2023-08-21-prompt-injection-discount.md" in names
    traces = sorted(p.name for p in (FIXTURES / "traces").iterdir())
    assert len(traces) > 15
    assert sorted(names) == sorted([*traces, *(p.name for p in (FIXTURES / "postmortems").glob("*.md"))])
    assert len(names) == len(set(names))
    assert [str(e) for e in errors] == [f"{tmp_path / 'none'}: no such file or folder"]
    (tmp_path / "empty").mkdir()
    files, errors = expand_paths([tmp_path / "empty", str(tmp_path / "*.zzz")])
    assert files == [] and [e.message for e in errors] == [
        "folder holds no .json, .jsonl or .md files",
        "pattern matches no file",
    ]
