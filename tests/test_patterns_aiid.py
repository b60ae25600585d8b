"""The AI Incident Database CSV as past post-mortems, and `postmortem import aiid` into a real store."""

from __future__ import annotations

import csv
import json
import os
import subprocess
from pathlib import Path

import pytest

from agent.errors import UserError
from retrieval.aiid import CITE_URL, aiid_number, iter_aiid, read_aiid
from retrieval.trace import IngestError, PostmortemDoc
from tests.test_patterns_corpus import AIID_DIR, CACHE, REPO, invoke

HEADER = [
    "_id", "incident_id", "date", "reports", "Alleged deployer of AI system", "Alleged developer of AI system",
    "Alleged harmed or nearly harmed parties", "description", "title",
]  # fmt: skip
GOOD_ROWS = [
    ["o1", "1", "2015-05-19", "[2,3,4]", '["youtube"]', '["youtube"]', '["children"]',
     "YouTube's content filtering and recommendation algorithms exposed children to disturbing videos.",
     "YouTube Kids App Presents Inappropriate Content"],
    ["o2", "23", "2017-11-08", "[242]", '["navya","keolis-north-america"]', '["navya"]', '["bus-passengers"]',
     "A self-driving public shuttle was involved in a collision with a delivery truck\non its first day.",
     "Las Vegas Self-Driving Bus Involved in Accident"],
    ["o3", "4", "2018-03-18", "[629]", "[]", '["uber"]', '["pedestrians"]',
     "An Uber autonomous vehicle in autonomous mode struck and killed a pedestrian.", "Uber AV Killed Pedestrian"],
]  # fmt: skip


def write_csv(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_rows_become_postmortems_with_metadata_and_credit(tmp_path):
    docs, errors = read_aiid(write_csv(tmp_path / "incidents.csv", GOOD_ROWS))
    assert errors == []
    assert [d.id for d in docs] == ["aiid-1", "aiid-23", "aiid-4"]
    shuttle = docs[1]
    assert shuttle.title == "Las Vegas Self-Driving Bus Involved in Accident"
    assert shuttle.date == "2017-11-08" and shuttle.service == "navya"
    assert shuttle.text.startswith("A self-driving public shuttle") and "first day" in shuttle.text
    assert shuttle.tags == ["aiid"] and shuttle.source == CITE_URL.format(n=23)
    meta = shuttle.metadata
    assert meta["source"] == "aiid" and meta["license"] == "CC BY-SA 4.0"
    assert meta["deployers"] == ["navya", "keolis-north-america"] and meta["developers"] == ["navya"]
    assert meta["harmed_parties"] == ["bus-passengers"] and meta["reports"] == 1
    assert docs[2].service is None  # no deployer listed
    assert aiid_number("aiid-23") == 23 and aiid_number("PM-7") is None


def test_bad_rows_are_reported_by_line_and_the_rest_is_read(tmp_path):
    rows = [
        GOOD_ROWS[0],
        ["x", "seven", "2020-01-01", "[]", "[]", "[]", "[]", "d", "t"],
        GOOD_ROWS[1],  # spans two lines (a newline inside the description)
        ["x", "9", "01/02/2020", "[]", "[]", "[]", "[]", "d", "t"],
        ["x", "10", "2020-01-01", "[]", "not json", "[]", "[]", "d", "t"],
        ["x", "1", "2020-01-01", "[]", "[]", "[]", "[]", "again", "dup"],
        ["x", "11", "2020-01-01", "[]", "[]", "[]", "[]", "", ""],
    ]
    items = list(iter_aiid(write_csv(tmp_path / "mixed.csv", rows)))
    docs = [i for i in items if isinstance(i, PostmortemDoc)]
    errors = [str(i) for i in items if isinstance(i, IngestError)]
    assert [d.id for d in docs] == ["aiid-1", "aiid-23"]
    path = tmp_path / "mixed.csv"
    assert errors == [
        f"{path}:line 3: incident_id 'seven' is not a number",
        f"{path}:line 6: date '01/02/2020' is not YYYY-MM-DD",
        f"{path}:line 7: column 'Alleged deployer of AI system' is not a JSON list",
        f"{path}:line 8: duplicate incident_id 1 (first on line 2)",
        f"{path}:line 9: incident 11 has neither title nor description",
    ]


def test_a_file_that_is_not_aiid_is_one_error(tmp_path):
    other = write_csv(tmp_path / "other.csv", [["1", "2"]], header=["a", "b"])
    assert [str(e) for e in iter_aiid(other)] == [
        f"{other}:line 1: not an AIID incidents file (missing columns: incident_id, date, title, description)"
    ]
    missing = list(iter_aiid(tmp_path / "nope.csv"))
    assert len(missing) == 1 and "cannot read" in str(missing[0])


def test_import_stores_incidents_once_and_patterns_reads_them(tmp_home, embedder, monkeypatch):
    monkeypatch.setenv("POSTMORTEM_CACHE_DIR", str(CACHE))
    path = write_csv(tmp_home.parent / "incidents.csv", GOOD_ROWS)
    first = invoke("import", "aiid", str(path), "--json")
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout)
    assert (summary["read"], summary["added"], summary["skipped"], summary["errors"]) == (3, 3, 0, 0)
    assert "CC BY-SA 4.0" in summary["credit"]
    again = invoke("import", "aiid", str(path), "--json")
    assert json.loads(again.stdout)["added"] == 0 and json.loads(again.stdout)["skipped"] == 3

    from agent.settings import get_settings
    from agent.store_factory import open_store

    store = open_store(get_settings())
    try:
        stored = {d.id: d for d in store.list_postmortems()}
        vectors = store.postmortem_vectors()
    finally:
        store.close()
    assert set(stored) == {"aiid-1", "aiid-4", "aiid-23"}
    assert stored["aiid-23"].metadata["deployers"] == ["navya", "keolis-north-america"]
    # The vectors patterns reuses are the embedder's for "title\ndescription".
    expected = embedder.embed([f"{stored['aiid-4'].title}\n{stored['aiid-4'].text}"])[0]
    assert float(vectors["aiid-4"] @ expected) > 0.999


def test_import_with_bad_rows_stores_the_rest_and_exits_2(tmp_home, monkeypatch):
    monkeypatch.setenv("POSTMORTEM_CACHE_DIR", str(CACHE))
    path = write_csv(
        tmp_home.parent / "bad.csv", [GOOD_ROWS[2], ["x", "q", "", "[]", "[]", "[]", "[]", "d", "t"]]
    )
    result = invoke("import", "aiid", str(path))
    assert result.exit_code == 2
    assert f"{path}:line 3: incident_id 'q' is not a number" in result.output.replace("\n", "")
    assert "1 added" in result.output


def test_import_of_a_missing_file_is_a_user_error(tmp_home):
    result = invoke("import", "aiid", str(tmp_home / "missing.csv"))
    assert isinstance(result.exception, UserError) and "no such file" in str(result.exception)


def test_console_entry_prints_one_line_and_exit_2_for_a_wrong_file(tmp_path):
    other = write_csv(tmp_path / "other.csv", [["1"]], header=["a"])
    env = {**os.environ, "POSTMORTEM_HOME": str(tmp_path / "home"), "POSTMORTEM_CACHE_DIR": str(CACHE)}
    run = subprocess.run(
        [str(REPO / ".venv" / "bin" / "postmortem"), "import", "aiid", str(other)],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert run.returncode == 2
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "not an AIID incidents file" in lines[0] and "Traceback" not in run.stderr


@pytest.mark.skipif(AIID_DIR is None, reason="shared/data/aiid is not beside the checkout")
def test_the_shipped_snapshot_reads_whole():
    docs, errors = read_aiid(AIID_DIR / "incidents.csv")
    assert errors == [] and len(docs) == 1367
    assert len({d.id for d in docs}) == 1367 and all(d.text for d in docs)
