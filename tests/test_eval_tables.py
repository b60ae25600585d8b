"""`postmortem eval`'s console tables: case ids stay whole and lines stay within the width, at 80 columns too."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from rich.console import Console

from agent.cli.eval_tables import CASE_COLUMNS, print_cases
from evals.harness.baselines import MajorityBaseline
from evals.harness.dataset import Gold
from evals.harness.report import CaseRecord, EvalReport
from evals.harness.scorers import CaseScore

LONG = "wellness-bot-gives-diet-advice-after-router-change"  # 50 characters, the longest real case id
IDS = [LONG, "dispute-assistant-wrong-answers-on-fallback-model", "air-canada-bereavement-fare", "x"]


def _case(case_id: str, i: int, *, error: str | None = None) -> CaseRecord:
    gold = Gold(primary="data", contributing=["prompt", "system"])
    agent = CaseScore(
        primary_pred=None if error else "prompt",
        primary_gold="data",
        primary_correct=False,
        contributing_pred=["model"],
        key_recall=0.5,
        citations_total=120 + i,
        citations_valid=118,
        onset_error_min=163.5,
        decisive_exact=True,
        section_completeness=1.0,
    )
    keyword = CaseScore(primary_pred="system", primary_gold="data", primary_correct=False)
    return CaseRecord(
        id=case_id,
        split="dev",
        gold=gold,
        agent=agent,
        majority=keyword,
        keyword=keyword,
        draft_s=12.34,
        error=error,
    )


def _report(ids: list[str]) -> EvalReport:
    cases = [_case(case_id, i, error="boom" if i == 1 else None) for i, case_id in enumerate(ids)]
    return EvalReport(
        created=datetime(2026, 1, 1, tzinfo=UTC),
        split="dev",
        majority=MajorityBaseline(primary="data"),
        metrics={},
        cases=cases,
    )


def _render(report: EvalReport, width: int) -> list[str]:
    console = Console(width=width, record=True, color_system=None, file=open("/dev/null", "w"))  # noqa: SIM115
    print_cases(report, console)
    return console.export_text().splitlines()


def _line_with(lines: list[str], case_id: str) -> str:
    """The one line showing `case_id` whole, as a word of its own (not a prefix of a longer id)."""
    found = [line for line in lines if case_id in line.replace("│", " ").split()]
    assert len(found) == 1, (case_id, found)
    return found[0]


@pytest.mark.parametrize("width", [80, 100, 120, 160, 200])
def test_every_case_id_is_whole_on_a_line_and_no_line_is_wider(width):
    lines = _render(_report(IDS), width)
    for case_id in IDS:
        _line_with(lines, case_id)
    assert max(len(line) for line in lines) <= width
    assert sum("error" in line for line in lines) == 1  # the failed case says so, once


def test_at_80_columns_each_case_has_its_id_line_then_every_figure():
    lines = _render(_report(IDS), 80)
    start = lines.index(LONG)  # the id alone on its line
    end = lines.index(IDS[1])
    assert end - start >= 3  # the figures wrap onto two or more lines of their own
    figures = " ".join(lines[start + 1 : end])
    for column in CASE_COLUMNS:
        assert f"{column.label or column.header} " in figures
    assert (
        "cites 118/120" in figures
        and "onset err 163.5" in figures
        and "contrib prompt,system / model" in figures
    )
    assert all(line.startswith("  ") for line in lines[start + 1 : end])


def test_wide_terminal_shows_the_full_table_and_narrower_ones_say_what_they_leave_out():
    wide = _render(_report(IDS), 200)
    header = next(line for line in wide if "case" in line and "gold" in line)
    for column in CASE_COLUMNS:
        assert column.header in header
    assert not any("not shown" in line for line in wide)
    row = _line_with(wide, LONG)
    assert "prompt ✗" in row and "118/120" in row and "163.5" in row and "12.3" in row

    mid = _render(_report(IDS), 120)
    header = next(line for line in mid if "case" in line and "gold" in line)
    note = next(line for line in mid if line.startswith("not shown at this width: "))
    left_out = note.removeprefix("not shown at this width: ").split(" (")[0].split(", ")
    assert left_out and all(h not in header for h in left_out if h != "s")
    for kept in ("gold", "agent", "key rec", "cites"):
        assert kept in header


def test_an_id_wider_than_the_terminal_is_still_printed_whole():
    very_long = "an-incident-id-" + "z" * 90
    lines = _render(_report([very_long, "b"]), 80)
    assert very_long in lines
