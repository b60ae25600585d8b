"""The patterns corpus: Markdown post-mortems (action items, contributing factors, layers) and filters.

Also holds the builders the other test_patterns_* modules import: Markdown post-mortems with recurring
action items, and a CLI app with only this area's commands.
"""

from __future__ import annotations

import random
from pathlib import Path

import typer
from click.testing import Result
from typer.testing import CliRunner

from agent.patterns.corpus import build_corpus, bullets, natural_key, sections, to_item
from agent.patterns.schema import Filters
from agent.settings import Settings
from retrieval.ingest.markdown import iter_markdown
from retrieval.trace import PostmortemDoc
from tests.conftest import FIXTURES

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / ".postmortem" / "cache"
AIID_DIRS = (Settings().aiid_data_dir,)  # POSTMORTEM_AIID_DIR, default shared/data/aiid beside the checkout
AIID_DIR = next((d for d in AIID_DIRS if (d / "incidents.csv").is_file()), None)

PM_A = """---
id: PM-A
title: Refund bot quoted a retired policy from a stale index
date: 2024-11-14
service: support-bot
layers: [data, system]
---
# Refund bot quoted a retired policy

## Summary

The vector index kept serving the archived refund article after the nightly re-index job failed.

## Contributing factors

- The re-index job exited 0 although its embedding step timed out.
- Archived articles were indexed beside current ones.

## Action items

- [ ] Alert when the nightly re-index job fails
- [x] Add a regression eval for refund questions [span:abc123]
- [ ] **Pin the model version in the provider config** (model_pinning) — the alias moved [span:def456]
"""

PM_B = """---
id: PM-B
title: Shipping answers used last year's price list
date: 2025-01-20
service: support-bot
primary_layer: data
---
# Shipping answers used last year's price list

## Summary

Retrieval returned the 2024 price list: the re-index job had been failing silently for a week.

## Contributing factors

* The re-index job exits zero even when the embedding step times out
* Nobody compared retrieved documents' dates with the policy change

## Action items

1. Re-index job fails loudly (non-zero exit, page on two consecutive failures). Owner: platform.
2. Regression eval: refund-window questions must cite the current article. Owner: ml-quality.
"""

PM_C = """# Order tool calls broke after the provider moved the model alias

Reported by the on-call engineer; no front matter.

## Summary

The provider silently updated the model behind the alias and the tool arguments changed type.

## Action items

- [ ] pin model version
  in every production deployment
- [ ] Coerce numeric ids to strings in the tool adapter

Follow-up discussion happened in the incident channel.
"""


def write_postmortems(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in (("pm-a.md", PM_A), ("pm-b.md", PM_B), ("pm-c.md", PM_C)):
        path = folder / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def whole_docs(paths: list[Path]) -> list[PostmortemDoc]:
    """Each Markdown file as one document, the way TraceStore.list_postmortems joins its chunks."""
    from retrieval.store_records import join_chunks

    out = []
    for path in paths:
        chunks = [c for c in iter_markdown(path) if isinstance(c, PostmortemDoc)]
        out.append(join_chunks(chunks))
    return out


def cli_app() -> typer.Typer:
    """Only this area's commands, registered the way main.py registers them."""
    from agent.cli import patterns

    app = typer.Typer()
    patterns.register(app)
    return app


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli_app(), list(args), env={"COLUMNS": "200", **(env or {})})


def test_sections_and_bullets_parse_checkboxes_numbers_and_continuations():
    parts = dict(sections(PM_C))
    assert set(parts) == {None, "Summary", "Action items"}
    items = bullets(parts["Action items"])
    assert items == [
        ("pin model version in every production deployment", "open"),
        ("Coerce numeric ids to strings in the tool adapter", "open"),
    ]
    numbered = bullets(dict(sections(PM_B))["Action items"])
    assert numbered[0] == (
        "Re-index job fails loudly (non-zero exit, page on two consecutive failures)",
        "unknown",
    )


def test_items_carry_layers_factors_actions_and_origin(tmp_path):
    a, b, c = (to_item(d) for d in whole_docs(write_postmortems(tmp_path)))
    assert (a.layer, a.layer_source, a.origin) == ("data", "front-matter", "markdown")
    assert (b.layer, b.layer_source) == ("data", "front-matter")
    # No front matter: the agent's description classifier decides ("silently updated", "model" cues).
    assert c.layer_source == "classifier" and c.layer == "model"
    assert a.factors == [
        "The re-index job exited 0 although its embedding step timed out",
        "Archived articles were indexed beside current ones",
    ]
    # Citations, emphasis and the kind in parentheses of a drafted item are stripped; status kept.
    assert [(x.text, x.status) for x in a.actions] == [
        ("Alert when the nightly re-index job fails", "open"),
        ("Add a regression eval for refund questions", "done"),
        ("Pin the model version in the provider config", "open"),
    ]
    assert "Owner" not in b.actions[0].text
    # What is clustered leaves out the action items but keeps the summary and factors.
    assert "re-index job failed" in a.text and "Alert when" not in a.text


def test_filters_are_inclusive_and_undated_items_fail_date_filters(tmp_path):
    docs = whole_docs(write_postmortems(tmp_path))
    ids = lambda f: [i.id for i in build_corpus(docs, f)]  # noqa: E731
    assert ids(Filters()) == ["PM-A", "PM-B", "pm-c"]
    assert ids(Filters(since="2024-11-14")) == ["PM-A", "PM-B"]
    assert ids(Filters(since="2024-12")) == ["PM-B"]
    assert ids(Filters(until="2024")) == ["PM-A"]
    assert ids(Filters(until="2024-11-13")) == []
    assert ids(Filters(service="SUPPORT-BOT")) == ["PM-A", "PM-B"]


def test_corpus_order_is_natural_and_independent_of_input_order(tmp_path):
    docs = [PostmortemDoc(id=f"aiid-{n}", title=f"t{n}", text="x") for n in (10, 2, 33, 1)]
    shuffled = docs[:]
    random.Random(4).shuffle(shuffled)
    assert [i.id for i in build_corpus(shuffled)] == ["aiid-1", "aiid-2", "aiid-10", "aiid-33"]
    assert sorted(["b-2", "a-10", "a-9"], key=natural_key) == ["a-9", "a-10", "b-2"]


def test_published_draft_is_recognised_and_its_checklist_read():
    doc = PostmortemDoc(  # the shape agent.nodes.publish stores (joined back by the store)
        id="inc-7",
        title="Refusals after model update",
        tags=["drafted", "offline"],
        layers=["model"],
        primary_layer="model",
        text="## Summary\n\nRefusals rose.\n\n## Action items\n\n### Model\n\n"
        "- [ ] **Pin the model snapshot** (model_pinning) — alias moved [span:aa]\n",
        source="postmortem draft",
    )
    item = to_item(doc)
    assert item.origin == "agent" and item.layer == "model"
    assert [(a.text, a.status) for a in item.actions] == [("Pin the model snapshot", "open")]


def test_fixture_postmortems_parse(tmp_path):
    paths = sorted((FIXTURES / "postmortems").glob("*.md"))
    items = build_corpus(whole_docs(paths))
    assert len(items) == len(paths)
    by_id = {i.id: i for i in items}
    assert by_id["PM-2024-031"].factors and len(by_id["PM-2024-031"].actions) == 3
