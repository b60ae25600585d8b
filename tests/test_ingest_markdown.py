"""Past post-mortems: front matter, chunking by `##` section, and their problems."""

from __future__ import annotations

from pathlib import Path

from retrieval.ingest import detect_format, iter_file
from retrieval.ingest.markdown import MAX_CHUNK_CHARS
from retrieval.trace import IngestError, PostmortemDoc

PMS = Path(__file__).parent / "fixtures" / "postmortems"


def chunks(path: Path) -> list[PostmortemDoc]:
    records = list(iter_file(path))
    assert all(isinstance(r, PostmortemDoc) for r in records), records
    return records  # type: ignore[return-value]


def test_front_matter_fields_and_sections():
    path = PMS / "2024-11-14-refund-bot-stale-index.md"
    assert detect_format(path) == "markdown"
    docs = chunks(path)
    assert [d.section for d in docs] == [
        "Summary",
        "Impact",
        "Detection",
        "Timeline",
        "Root cause",
        "Contributing factors",
        "Action items",
    ]
    assert [d.chunk_index for d in docs] == list(range(7))
    first = docs[0]
    assert first.id == "PM-2024-031"
    assert first.title == "Refund assistant quoted the retired 14-day refund window"
    assert (first.date, first.service) == ("2024-11-14", "support-bot")  # a YAML date becomes ISO text
    assert (first.layers, first.primary_layer) == (["data", "system"], "data")
    assert first.tags == ["stale-retrieval", "rag", "refunds", "help-center"]
    assert first.metadata == {"severity": "sev2", "owner": "support-platform"}
    assert first.text.startswith("Summary\n\nBetween 09:40 and 15:05 UTC")
    assert first.source == f"{path}:14"
    root = docs[4]
    assert "`updated_at` 2023-03-09" in root.text and root.source == f"{path}:39"


def test_primary_layer_key_and_list_tags():
    docs = chunks(PMS / "2025-02-03-json-mode-model-update.md")
    assert (docs[0].layers, docs[0].primary_layer) == (["model", "system"], "model")
    assert docs[0].tags == ["model-drift", "tool-calls", "alias-not-pinned"]


def test_without_front_matter_id_is_the_stem_and_title_the_heading():
    docs = chunks(PMS / "2023-08-21-prompt-injection-discount.md")
    assert docs[0].id == "2023-08-21-prompt-injection-discount"
    assert docs[0].title == "Shopping assistant granted a 100% discount after a prompt injection"
    assert [d.section for d in docs] == ["Overview", "Summary", "Root cause", "Action items"]
    assert (
        docs[0].text
        == "Overview\n\nReported by the fraud team on 21 August 2023. No front matter: this post-mortem predates the template."
    )
    assert (docs[0].date, docs[0].layers, docs[0].primary_layer) == (None, [], None)


def test_long_sections_split_and_fences_kept(tmp_path):
    paragraph = "The re-index job timed out in the embedding step and exited 0. " * 12
    long_section = "\n\n".join([paragraph] * 6)
    body = f"# T\n\n## Timeline\n\n{long_section}\n\n## Fix\n\n```\n## not a heading\n```\nDone.\n"
    target = tmp_path / "long.md"
    target.write_text("---\nid: PM-1\nlayers: data, prompt\n---\n" + body)
    docs = chunks(target)
    timeline = [d for d in docs if d.section == "Timeline"]
    assert len(timeline) > 1 and all(len(d.text) <= MAX_CHUNK_CHARS + len("Timeline\n\n") for d in timeline)
    assert "".join(d.text.removeprefix("Timeline\n\n") for d in timeline).count("exited 0") == 72
    fix = [d for d in docs if d.section == "Fix"]
    assert len(fix) == 1 and "## not a heading" in fix[0].text
    assert docs[0].layers == ["data", "prompt"]
    assert [d.chunk_index for d in docs] == list(range(len(docs)))


def test_front_matter_problems_name_the_line(tmp_path):
    unclosed = tmp_path / "unclosed.md"
    unclosed.write_text("---\nid: x\n# Title\n\n## A\n\ntext\n")
    [error] = list(iter_file(unclosed))
    assert isinstance(error, IngestError)
    assert str(error) == f"{unclosed}:line 1: front matter opened with '---' is never closed"
    not_mapping = tmp_path / "list.md"
    not_mapping.write_text("---\n- a\n- b\n---\n# T\n")
    [error] = list(iter_file(not_mapping))
    assert error.location == "line 2" and "not a mapping" in error.message
    empty = tmp_path / "empty.md"
    empty.write_text("---\nid: x\n---\n\n")
    [error] = list(iter_file(empty))
    assert error.message == "post-mortem has no text"
