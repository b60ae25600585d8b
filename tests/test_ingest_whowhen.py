"""Multi-agent failure logs in the Who&When shape: detected, read as one span per history entry (turn N is
history[N]), agents and hand-offs named, attributed by the run analysis, re-ingested without duplicates, and bad
logs refused in one line naming the place.

The fixtures (tests/fixtures/whowhen/) are written for these tests in the benchmark's two shapes: an AG2 group
chat whose agents are in `name`, and a Magentic-One log whose agents are only in `role`. In each, one agent
states a figure that contradicts what it was just shown (the terminal printed 11, the page read 342 m), and the
later turns repeat it: the mistake is unambiguous by construction.
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

from agent.models import Incident, Report
from agent.runs.attribute import attribute_run
from agent.runs.turns import build_run
from retrieval.ingest import detect_format, iter_file
from retrieval.trace import IngestError, Span
from tests.conftest import FIXTURES

WHOWHEN = FIXTURES / "whowhen"
ALGORITHM = WHOWHEN / "Algorithm-Generated" / "rainfall_days.json"
HAND = WHOWHEN / "Hand-Crafted" / "tower_deck.json"


def raw(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def spans_of(path: Path) -> list[Span]:
    records = list(iter_file(path))
    assert all(isinstance(r, Span) for r in records), records
    return records  # type: ignore[return-value]


@pytest.mark.parametrize("path", [ALGORITHM, HAND], ids=["algorithm", "hand"])
def test_every_history_entry_is_the_turn_of_its_index(path: Path) -> None:
    history = raw(path)["history"]
    assert detect_format(path) == "whowhen-json"
    spans = spans_of(path)
    run = build_run(spans)
    assert len(run.turns) == len(history) == len(spans) - 1  # + the run's root
    for i, (turn, entry) in enumerate(zip(run.turns, history, strict=True)):
        span = next(s for s in spans if s.span_id == turn.span_id)
        assert turn.index == i and span.source == f"{path}#history[{i}]"
        assert turn.text == entry["content"]
    root = next(s for s in spans if s.parent_span_id is None)
    assert root.input_value == raw(path)["question"] and run.task


def test_detected_by_its_labels_when_a_long_prompt_comes_first(tmp_path: Path) -> None:
    log = raw(ALGORITHM)
    first = {"system_prompt": {"Python_Expert": "You write code. " * 6000}}  # ~96 KB before the history
    path = tmp_path / "log.json"
    path.write_text(json.dumps({**first, **{k: v for k, v in log.items() if k != "system_prompt"}}))
    assert path.read_text().index('"history"') > 1 << 16
    assert detect_format(path) == "whowhen-json"
    assert len(build_run(spans_of(path)).turns) == len(log["history"])


def test_agents_from_name_and_the_system_prompts() -> None:
    run = build_run(spans_of(ALGORITHM))
    assert [t.agent for t in run.turns] == [e["name"] for e in raw(ALGORITHM)["history"]]
    assert all(t.acts for t in run.turns)  # named agents speaking as "user" in the chat still act
    assert run.executes(run.turns[2])  # the terminal printed what the expert's code computed
    prompts = {s.agent_name: s.system_instructions for s in spans_of(ALGORITHM) if s.agent_name}
    assert prompts["Python_Expert"] == raw(ALGORITHM)["system_prompt"]["Python_Expert"]
    assert prompts["Computer_terminal"] is None


def test_agents_and_handoffs_from_role() -> None:
    run = build_run(spans_of(HAND))
    agents = [t.agent for t in run.turns]
    assert agents == ["human", "Orchestrator", "Orchestrator", "WebSurfer", "Orchestrator", "Orchestrator"]
    assert [t.handoff_to for t in run.turns] == [None, None, "WebSurfer", None, None, None]
    assert run.turns[0].role == "user" and all(t.acts for t in run.turns[1:])
    assert run.task == raw(HAND)["question"]


@pytest.mark.parametrize("path", [ALGORITHM, HAND], ids=["algorithm", "hand"])
def test_the_run_analysis_names_the_labelled_agent_and_step(path: Path) -> None:
    log = raw(path)
    run = build_run(spans_of(path))
    expected = log.get("ground_truth") or log.get("groundtruth")
    incident = Incident(
        title="wrong answer",
        description=f"Task given to the agents: {log['question']} The final answer was wrong.",
        trace_ids=[run.trace_id],
        reports=[Report(text=f"Expected answer: {expected}. The run's final answer was different.")],
    )
    attribution = attribute_run(run, incident)
    assert attribution is not None
    assert (attribution.agent, attribution.step) == (log["mistake_agent"], int(log["mistake_step"]))


def test_ids_come_from_the_content(tmp_path: Path) -> None:
    first, again = spans_of(HAND), spans_of(HAND)
    assert [(s.trace_id, s.span_id) for s in first] == [(s.trace_id, s.span_id) for s in again]
    packed = tmp_path / "tower.json.gz"
    packed.write_bytes(gzip.compress(HAND.read_bytes()))
    assert {s.trace_id for s in spans_of(packed)} == {first[0].trace_id}  # the content, not the file name
    changed = raw(HAND)
    changed["history"][4]["content"] = changed["history"][4]["content"].replace("324", "342")
    other = tmp_path / "tower_fixed.json"
    other.write_text(json.dumps(changed))
    assert {s.trace_id for s in spans_of(other)}.isdisjoint({first[0].trace_id})
    assert len({s.span_id for s in first} | {s.span_id for s in spans_of(ALGORITHM)}) == 14


def test_a_row_exported_from_a_table_reads_the_same(tmp_path: Path) -> None:
    """A dataset row written back as JSON has every column: `name: null` on role-only turns, a null prompt for
    the agents of other logs."""
    log = raw(HAND)
    for entry in log["history"]:
        entry["name"] = None
    log["system_prompt"] = {"WebSurfer": "You browse the web.", "Python_Expert": None}
    path = tmp_path / "row.json"
    path.write_text(json.dumps(log))
    run, before = build_run(spans_of(path)), build_run(spans_of(HAND))
    assert [(t.agent, t.handoff_to, t.role) for t in run.turns] == [
        (t.agent, t.handoff_to, t.role) for t in before.turns
    ]
    prompts = {s.agent_name: s.system_instructions for s in spans_of(path) if s.agent_name}
    assert prompts["WebSurfer"] == "You browse the web." and prompts["Orchestrator"] is None


def _bad(tmp_path: Path, change) -> Path:
    log = raw(ALGORITHM)
    change(log)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(log))
    return path


def _set_turn(i: int, key: str, value) -> object:
    return lambda log: log["history"][i].__setitem__(key, value)


@pytest.mark.parametrize(
    ("change", "where", "message"),
    [
        (_set_turn(3, "content", ["a", "list"]), "history[3]", "content is not a string"),
        (lambda log: log["history"][2].pop("content"), "history[2]", "content is missing"),
        (_set_turn(1, "role", 7), "history[1]", "role is not a string"),
        (_set_turn(4, "name", {"x": 1}), "history[4]", "name is not a string"),
        (lambda log: log["history"].__setitem__(0, "hello"), "history[0]", "not an object"),
        (lambda log: log.__setitem__("history", {"0": {}}), "history", "not a list of turns"),
        (lambda log: log.__setitem__("history", []), "history", "empty (a run has at least one turn)"),
        (lambda log: log.__setitem__("system_prompt", "be nice"), "system_prompt", "not an object"),
        (
            lambda log: log["system_prompt"].__setitem__("Python_Expert", 3),
            "system_prompt.Python_Expert",
            "not a string",
        ),
        (lambda log: log.__setitem__("mistake_step", "three"), "mistake_step", "not a turn index ('three')"),
        (lambda log: log.__setitem__("mistake_step", 6), "mistake_step", "6 is not a turn of this log"),
    ],
)
def test_bad_logs_are_one_line_naming_the_place(tmp_path: Path, change, where: str, message: str) -> None:
    path = _bad(tmp_path, change)
    records = list(iter_file(path, "whowhen-json"))
    assert len(records) == 1 and isinstance(records[0], IngestError)
    assert str(records[0]).startswith(f"{path}:{where}: {message}")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b'{"history": [{"content": "hi", "role": "human"}', "invalid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"question": "q"}', "history: missing"),
        (b'{"history": [{"content": "\xff\xfe", "role": "human"}]}', "not UTF-8 text"),
        (b'{"history": ' + b"[" * 200 + b"]" * 200 + b"}", "log is nested deeper than 120 levels"),
    ],
)
def test_unreadable_files_are_one_line(tmp_path: Path, text: bytes, message: str) -> None:
    path = tmp_path / "log.json"
    path.write_bytes(text)
    records = list(iter_file(path, "whowhen-json"))
    assert len(records) == 1 and isinstance(records[0], IngestError)
    assert message in str(records[0]) and str(records[0]).startswith(str(path))


def test_ingest_twice_stores_once_and_a_bad_log_loses_nothing(tmp_path: Path) -> None:
    """Through `postmortem ingest`: the folder's two logs are stored, the same again adds nothing, a bad log is
    named in one line with exit 2 and what was stored stays."""
    from tests.test_cli_ingest import invoke, open_store, settings_env

    folder = tmp_path / "logs"
    shutil.copytree(WHOWHEN, folder)
    expected = len(spans_of(ALGORITHM)) + len(spans_of(HAND))
    bad = _bad(tmp_path, _set_turn(3, "content", 42))
    with settings_env(tmp_path / "home"):
        first = invoke("ingest", str(folder), "--json")
        assert first.exit_code == 0, first.output
        assert json.loads(first.stdout)["spans_added"] == expected
        again = invoke("ingest", str(folder), "--json")
        assert again.exit_code == 0, again.output
        assert json.loads(again.stdout)["spans_added"] == 0
        broken = invoke("ingest", str(bad), "--json")
        assert broken.exit_code == 2
        assert f"{bad}:history[3]: content is not a string" in broken.output
        assert "Traceback" not in broken.output
        store = open_store()
        try:
            assert store.count_spans() == expected
            turns = build_run(store.get_trace(spans_of(HAND)[0].trace_id)).turns
            assert [t.agent for t in turns][2:4] == ["Orchestrator", "WebSurfer"]
            assert turns[2].handoff_to == "WebSurfer"
        finally:
            store.close()
