"""The CLI as a newcomer meets it: `postmortem --help` tells the story in a line per command, every command
and option explains itself, usage mistakes exit 2 in one line, and shell completion works."""

from __future__ import annotations

import click
import pytest
import typer
from typer.testing import CliRunner

from agent.cli.main import app
from tests.slackbed import run_cli

EXPECTED = {
    "ingest",
    "search",
    "trace",
    "audit",
    "draft",
    "review",
    "demo",
    "replay",
    "eval",
    "slack",
    "doctor",
}
SKIP_PARAMS = {"help", "install_completion", "show_completion"}


def walk(command: click.Command, path: tuple[str, ...] = ()):
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from walk(sub, (*path, name))


def test_top_level_help_names_every_area_in_a_line_or_two(capsys, monkeypatch):
    result = run_cli(capsys, monkeypatch, "--help")
    assert result.code == 0
    listed = {
        line.split()[1] for line in result.out.splitlines() if line.startswith("│ ") and len(line.split()) > 2
    }
    assert listed >= EXPECTED, EXPECTED - listed
    assert "Offline by default" in result.out
    assert len(result.out.splitlines()) < 60


def test_every_command_and_option_has_help():
    root = typer.main.get_command(app)
    missing = []
    for path, command in walk(root):
        if path and not (command.help or command.short_help):
            missing.append(" ".join(path))
        first = (command.help or "").strip().splitlines()[0] if command.help else ""
        if path and len(first) > 160:
            missing.append(f"{' '.join(path)}: first help line longer than 160 characters")
        for param in command.params:
            if param.name in SKIP_PARAMS:
                continue
            if isinstance(param, click.Option) and not param.help:
                missing.append(f"{' '.join(path)} {param.opts[0]}")
    assert not missing, "commands/options without help: " + ", ".join(missing)


@pytest.mark.parametrize(
    "path", [("slack", "serve"), ("slack", "config"), ("doctor",), ("draft",), ("review",)]
)
def test_subcommand_help_exits_0(path, capsys, monkeypatch):
    result = run_cli(capsys, monkeypatch, *path, "--help")
    assert result.code == 0 and "Usage: postmortem " + " ".join(path) in result.out


@pytest.mark.parametrize(
    "args",
    [("draft", "--format", "xml"), ("frobnicate",), ("slack", "serve", "--port", "http")],
)
def test_usage_mistakes_exit_2_without_traceback(args, capsys, monkeypatch):
    result = run_cli(capsys, monkeypatch, *args)
    assert result.code == 2 and "Traceback" not in result.err and result.err.strip()


def test_shell_completion_completes_commands_and_options(monkeypatch):
    # typer detects the parent shell for --show-completion unless told not to; under make or CI the parent
    # may be no shell at all, so the test names the shell and turns detection off.
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")

    def complete(words: str, cword: int) -> list[str]:
        env = {"_POSTMORTEM_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
        return CliRunner().invoke(app, [], env=env, prog_name="postmortem").output.split()

    assert complete("postmortem do", 1) == ["doctor"]
    assert "--socket" in complete("postmortem slack serve --", 3)
    script = CliRunner().invoke(app, ["--show-completion", "bash"], prog_name="postmortem").output
    assert "_POSTMORTEM_COMPLETE=complete_bash" in script


def test_a_bad_setting_is_one_line_naming_the_variable(capsys, monkeypatch, tmp_home):
    monkeypatch.setenv("POSTMORTEM_PROVIDER", "gpt")
    result = run_cli(capsys, monkeypatch, "search", "refund")
    assert result.code == 2 and "Traceback" not in result.err
    assert "POSTMORTEM_PROVIDER is not valid" in result.err and "postmortem doctor" in result.err


def test_python_dash_m_runs_the_same_cli():
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "agent.cli", "no-such-command"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2 and "no-such-command" in done.stderr and "Traceback" not in done.stderr
