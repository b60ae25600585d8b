"""`postmortem draft`, `review` and `demo` through the real entry point (in-process, and one subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from retrieval.samples import DEMO_INCIDENT
from tests.agentkit import CACHE, REPO, build_demo_store, citations

CHROMA_FILES = "chroma"


def cli(capsys, *args: str) -> tuple[int, str, str]:
    """Run `postmortem ARGS` in this process; (exit code, stdout, stderr)."""
    from agent.cli.main import run

    argv = sys.argv
    sys.argv = ["postmortem", *args]
    try:
        run()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = argv
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def built(tmp_path_factory, embedder):
    return build_demo_store(tmp_path_factory.mktemp("cli-demo") / "chroma", embedder)


@pytest.fixture
def home(tmp_home, monkeypatch, built):
    import shutil

    monkeypatch.setenv("POSTMORTEM_CACHE_DIR", str(CACHE))
    shutil.copytree(built, tmp_home / CHROMA_FILES)
    return tmp_home


def test_bad_incident_files_give_one_line_and_exit_2(tmp_home, tmp_path, capsys):
    bad_time = tmp_path / "bad-time.yaml"
    bad_time.write_text("title: Refunds\nservice: bot\nwindow_start: yesterday\n")
    code, _, err = cli(capsys, "draft", str(bad_time))
    assert code == 2 and "bad-time.yaml" in err and "window_start" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1

    bad_yaml = tmp_path / "broken.yaml"
    bad_yaml.write_text("title: Refunds\nreports:\n  - text: [unclosed\n")
    code, _, err = cli(capsys, "draft", str(bad_yaml))
    assert code == 2 and "broken.yaml" in err and "line" in err

    reversed_window = tmp_path / "reversed.json"
    reversed_window.write_text(
        json.dumps(
            {"title": "x", "window_start": "2025-05-12T10:00:00Z", "window_end": "2025-05-12T09:00:00Z"}
        )
    )
    code, _, err = cli(capsys, "draft", str(reversed_window))
    assert code == 2 and "reversed.json" in err and "window_end" in err

    code, _, err = cli(capsys, "draft", str(tmp_path / "missing.yaml"))
    assert code == 2 and "missing.yaml" in err and "no such file" in err
    code, _, err = cli(capsys, "draft", "--title", "x", "--since", "noon")
    assert code == 2 and "--since" in err
    code, _, err = cli(capsys, "draft")
    assert code == 2 and "--title" in err
    code, _, err = cli(capsys, "draft", str(DEMO_INCIDENT), "--provider", "nosuch")
    assert code == 2 and "--provider" in err
    code, _, err = cli(capsys, "review", "no-such-thread", "--approve")
    assert code == 2 and "no-such-thread" in err
    code, _, err = cli(capsys, "review", "t", "--approve", "--reject")
    assert code == 2 and "exactly one" in err


def test_the_console_script_exits_2_without_traceback(tmp_path):
    bad = tmp_path / "incident.yaml"
    bad.write_text("title: [\n")
    env = {**os.environ, "POSTMORTEM_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        [str(REPO / ".venv" / "bin" / "postmortem"), "draft", str(bad)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 2
    assert "incident.yaml" in done.stderr and "Traceback" not in done.stderr


def test_draft_json_to_file_and_flags_built_incident(home, tmp_path, capsys):
    out = tmp_path / "draft.json"
    code, _, err = cli(capsys, "draft", str(DEMO_INCIDENT), "--format", "json", "--out", str(out))
    assert code == 0, err
    payload = json.loads(out.read_text())
    assert payload["status"] == "done" and payload["thread_id"]
    assert payload["classification"]["primary"] == "data"
    ids = {e["id"] for e in payload["evidence"]}
    assert set(citations(payload["markdown"])) <= ids
    assert "primary layer: data" in err

    code, md, err = cli(
        capsys,
        "draft",
        "--title",
        "Refund answers wrong",
        "--service",
        "support-assistant",
        "--since",
        "2025-05-12T06:00:00Z",
        "--until",
        "2025-05-12T18:00:00Z",
        "--report",
        "2025-05-12T15:00:00Z|the bot promised a 90-day refund",
    )
    assert code == 0, err
    assert md.startswith("# Post-mortem (draft): Refund answers wrong")
    assert "[report:1]" in md and "[span:" in md


def test_review_from_the_command_line(home, tmp_path, capsys):
    code, md, err = cli(capsys, "draft", "--title", "Nothing recorded", "--service", "ghost", "--review")
    assert code == 0, err
    thread = next(line.split()[-1] for line in err.splitlines() if "thread" in line)
    assert "postmortem review" in err and md.startswith("# Post-mortem")
    code, out, _ = cli(capsys, "review")
    assert thread in out.split()
    edited = tmp_path / "edited.md"
    edited.write_text(md.replace("## Summary", "## Summary\n\nChecked by a human.", 1))
    code, final, err = cli(capsys, "review", thread, "--edit", str(edited))
    assert code == 0, err
    assert "published" in err
    assert "Checked by a human." in final
    code, _, err = cli(capsys, "review", thread, "--reject")
    assert code == 2 and "not awaiting review" in err


def test_demo_command_on_a_prepared_home(home, capsys):
    code, md, err = cli(capsys, "demo")
    assert code == 0, err
    assert "0 spans added" in err  # the demo store was already there: nothing embedded twice
    assert md.startswith("# Post-mortem (draft): Support assistant promises 90-day refunds")
    assert "## Failure-layer analysis" in md and "[doc:" in md
