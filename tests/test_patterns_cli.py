"""`postmortem patterns` end to end on a real store: formats, filters, groupings, errors, `patterns eval`, and
the Slack digest posted to a local fake of the Slack Web API."""

from __future__ import annotations

import csv
import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from agent.errors import Failure, UserError
from retrieval.aiid import CITE_URL
from retrieval.ingest.markdown import iter_markdown
from retrieval.trace import PostmortemDoc
from tests.fakeslack import FakeSlack
from tests.test_patterns_cluster import topic_items
from tests.test_patterns_corpus import CACHE, invoke, write_postmortems


def aiid_docs() -> tuple[list[PostmortemDoc], dict[str, str]]:
    """The three-topic incidents as AIID imports (ids aiid-<n>), and their topic as a human label."""
    items, truth = topic_items()
    docs = [
        PostmortemDoc(
            id=f"aiid-{100 + n}",
            title=item.title,
            date=item.date,
            service=item.service,
            tags=["aiid"],
            text=item.text.split("\n", 1)[1],
            source=CITE_URL.format(n=100 + n),
            metadata={"source": "aiid", "deployers": [item.service, "acme"]},
        )
        for n, item in enumerate(items)
    ]
    return docs, {d.id: t for d, t in zip(docs, truth, strict=True)}


@pytest.fixture(scope="module")
def home(tmp_path_factory, embedder) -> Path:
    """A store with the 24 topic incidents (as AIID imports) and three Markdown post-mortems."""
    from retrieval.store import TraceStore

    root = tmp_path_factory.mktemp("patterns")
    home = root / "home"
    store = TraceStore(path=home / "chroma", embedder=embedder)
    try:
        docs, _ = aiid_docs()
        store.add_postmortems(docs)
        for path in write_postmortems(root / "md"):
            store.add_postmortems([c for c in iter_markdown(path) if isinstance(c, PostmortemDoc)])
    finally:
        store.close()
    return home


@pytest.fixture
def env(home, monkeypatch):
    from agent.settings import get_settings

    monkeypatch.setenv("POSTMORTEM_HOME", str(home))
    monkeypatch.setenv("POSTMORTEM_CACHE_DIR", str(CACHE))
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def run_json(*args: str) -> dict:
    result = invoke("patterns", "--format", "json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_json_contract_and_every_incident_cited_once(env):
    report = run_json()
    assert report["size"] == 27 and report["origins"] == {"aiid": 24, "markdown": 3}
    ids = [i for c in report["clusters"] for i in c["incidents"]]
    assert sorted(ids) == sorted(set(ids)) and len(ids) == 27
    for c in report["clusters"]:
        assert {"id", "label", "size", "incidents", "layers"} <= set(c)
        assert c["size"] == len(c["incidents"]) == sum(c["layers"].values())
        assert c["label"] and c["trend"] in {"rising", "falling", "steady", "too few"}
    assert report["k"] == len(report["clusters"]) and report["silhouette"]
    recurring = {a["text"].lower(): a for a in report["recurring_actions"]}
    pin = next(a for t, a in recurring.items() if "pin" in t)
    assert pin["incidents"] == ["PM-A", "pm-c"] and pin["open"] == 2
    assert any("pin" in a["text"].lower() for a in report["open_actions"])
    stated = [f for f in report["factors"] if f["kind"] == "stated"]
    assert stated and stated[0]["incidents"] == ["PM-A", "PM-B"]  # "re-index job exits 0" in both
    assert report["services"][0]["name"] == "support-bot"
    assert {d["name"] for d in report["deployers"]} >= {"acme"}
    assert report["credits"] and "CC BY-SA 4.0" in report["credits"][0]


def test_same_store_same_clusters_on_every_run(env):
    first, second = run_json("--k", "3"), run_json("--k", "3")
    assert first["clusters"] == second["clusters"]


def test_filters_narrow_the_corpus(env):
    report = run_json("--since", "2025-03", "--until", "2025-06-30", "--service", "support-bot")
    assert report["size"] == 0 and report["clusters"] == []
    report = run_json("--since", "2025-03", "--until", "2025-06-30")
    assert report["size"] == 12 and report["filters"]["since"] == "2025-03"
    assert report["first"] >= "2025-03-01" and report["last"] <= "2025-06-30"


def test_markdown_report_cites_incidents(env, tmp_path):
    out = tmp_path / "report.md"
    result = invoke("patterns", "--out", str(out), "--k", "3")
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    for heading in ("## Clusters", "## Layer mix", "## Recurring contributing factors",
                    "## Action items that keep coming back", "## Action items never closed", "## Credits"):  # fmt: skip
        assert heading in text
    report = run_json("--k", "3")
    for cluster in report["clusters"]:
        assert f"### {cluster['id']}. {cluster['label']}" in text
        assert ", ".join(cluster["incidents"]) in text  # every incident behind the cluster


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def test_html_report_is_self_contained_with_charts(env, tmp_path):
    out = tmp_path / "report.html"
    result = invoke("patterns", "--format", "html", "--out", str(out), "--k", "3")
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    parser = _Tags()
    parser.feed(html)
    tags = [t for t, _ in parser.tags]
    assert "script" not in tags and "link" not in tags and "img" not in tags and "iframe" not in tags
    assert not any("src" in attrs for _, attrs in parser.tags)
    assert tags.count("svg") >= 2 + 3  # timeline, layer mix, one sparkline per cluster
    assert "<title>Incidents per month, by cluster</title>" in html and "Layer mix of each cluster" in html
    rects = [a for t, a in parser.tags if t == "rect" and "fill" in a]
    assert len(rects) > 10
    for cluster in run_json("--k", "3")["clusters"]:
        assert cluster["label"].split(" · ")[0] in html


def test_by_layer_and_by_month(env):
    table = invoke("patterns", "--by", "layer")
    assert table.exit_code == 0, table.output
    assert "Incidents by layer" in table.output and "data" in table.output
    report = run_json("--by", "month")
    assert report["by"] == "month"
    months = [g["name"] for g in report["groups"]]
    assert months == sorted(months) and sum(g["count"] for g in report["groups"]) == 26  # pm-c is undated
    markdown = invoke("patterns", "--by", "layer", "--format", "markdown")
    assert markdown.exit_code == 0 and "## Incidents by layer" in markdown.stdout
    assert "| data |" in markdown.stdout and "PM-A" in markdown.stdout


def test_terminal_table_lists_clusters(env):
    result = invoke("patterns", "--k", "3")
    assert result.exit_code == 0, result.output
    assert "Clusters (k = 3)" in result.output and "Recurring contributing factors" in result.output
    assert "aiid-" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "2025/01"], "--since '2025/01': use YYYY, YYYY-MM or YYYY-MM-DD"),
        (["--since", "2025", "--until", "2024"], "--since 2025 is after --until 2024"),
        (["--out", "report.txt"], "tables go to the terminal"),
        (["--labels", "/nonexistent/mit.csv"], "cannot read"),
    ],
)
def test_user_mistakes_are_one_line_errors(env, args, message):
    result = invoke("patterns", *args)
    assert isinstance(result.exception, UserError), result.output
    assert message in str(result.exception) and "\n" not in str(result.exception)


def test_an_empty_store_says_what_to_do(tmp_home, monkeypatch):
    monkeypatch.setenv("POSTMORTEM_CACHE_DIR", str(CACHE))
    result = invoke("patterns")
    assert isinstance(result.exception, UserError) and "postmortem import aiid" in str(result.exception)


def write_labels(path: Path, labels: dict[str, str]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Namespace", "Incident ID", "Risk Domain", "Risk Subdomain"])
        for doc_id, label in labels.items():
            writer.writerow(["MIT", doc_id.removeprefix("aiid-"), "d", label])
    return path


def test_eval_prints_ours_beside_the_baseline(env, tmp_path):
    _, truth = aiid_docs()
    labels = write_labels(tmp_path / "mit.csv", truth)
    result = invoke("patterns", "eval", "--labels", str(labels), "--k", "3", "--json")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    q = figures["quality"]
    assert q["labelled"] == 24 and q["classes"] == 3 and figures["incidents"] == 27
    assert q["ours"]["k"] == q["baseline"]["k"] == 3
    assert q["ours"]["nmi"] > 0.9 and q["ours"]["purity"] > 0.95
    assert "TF-IDF" in q["baseline"]["method"]
    table = invoke("patterns", "eval", "--labels", str(labels), "--k", "3")
    assert table.exit_code == 0 and "NMI" in table.output and "baseline" in table.output


def test_eval_from_the_csv_directly(env, tmp_path):
    from tests.test_patterns_aiid import GOOD_ROWS, write_csv

    path = write_csv(tmp_path / "incidents.csv", GOOD_ROWS)
    labels = write_labels(
        tmp_path / "mit.csv", {"aiid-1": "toxic", "aiid-23": "robustness", "aiid-4": "robustness"}
    )
    result = invoke("patterns", "eval", "--aiid", str(path), "--labels", str(labels), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["quality"]["labelled"] == 3


def test_eval_without_labelled_incidents_is_a_user_error(env, tmp_path):
    labels = write_labels(tmp_path / "mit.csv", {"aiid-999999": "x"})
    result = invoke("patterns", "eval", "--labels", str(labels))
    assert isinstance(result.exception, UserError) and "no corpus incident has a human label" in str(
        result.exception
    )


@pytest.fixture
def slack(env):
    fake = FakeSlack(channels={"C0PATTERNS"}).start()
    env.setenv("SLACK_BOT_TOKEN", fake.token)
    env.setenv("SLACK_API_URL", fake.api_url)
    from agent.settings import get_settings

    get_settings.cache_clear()
    yield fake
    fake.stop()


def test_digest_is_posted_to_slack_with_citations(slack):
    result = invoke("patterns", "--k", "3", "--format", "json", "--post-to-slack", "C0PATTERNS")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    posted = slack.posted("C0PATTERNS")
    assert len(posted) == 1
    blocks = json.dumps(posted[0]["blocks"], ensure_ascii=False)
    top = report["clusters"][0]
    assert top["label"] in blocks and top["incidents"][0] in blocks
    assert "Action items never closed" in blocks and "CC BY-SA 4.0" in blocks
    assert posted[0]["text"].startswith("Incident patterns: 27 incidents")


def test_slack_refusal_is_a_failure(slack):
    result = invoke("patterns", "--k", "3", "--post-to-slack", "C0NOTJOINED")
    assert isinstance(result.exception, Failure) and "not_in_channel" in str(result.exception)


def test_slack_without_token_is_a_user_error(env):
    env.delenv("SLACK_BOT_TOKEN", raising=False)
    result = invoke("patterns", "--post-to-slack", "C1")
    assert isinstance(result.exception, UserError) and "SLACK_BOT_TOKEN" in str(result.exception)
