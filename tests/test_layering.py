"""The import graph runs one way: retrieval <- agent core <- the front ends (CLI, Slack) and evals.

A small walk over the source (every `import`, also those inside functions and under TYPE_CHECKING: a lazy import
is still an arrow). Layers, and what each may import besides itself:

  retrieval                  nothing of ours
  prompts                    nothing of ours (templates as files)
  core  (agent.* except agent.cli and agent.slack; agent.patterns included)   retrieval, prompts
  slack (agent.slack)        core, retrieval, prompts            (never the CLI)
  evals                      core, retrieval, prompts            (never the CLI or Slack)
  cli   (agent.cli)          everything: it is the top (`postmortem slack serve`, `postmortem eval`)

Inside the core, subpackages (agent.detectors, agent.drafter, agent.llm, ...) and top-level modules (agent.api,
agent.verifier, ...) import each other without a circle.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import agent.detectors as detectors_pkg
from agent.detectors import DETECTORS

ROOT = Path(__file__).resolve().parent.parent
OURS = ("agent", "retrieval", "evals", "prompts")
ALLOWED = {
    "retrieval": set(),
    "prompts": set(),
    "core": {"retrieval", "prompts"},
    "slack": {"core", "retrieval", "prompts"},
    "evals": {"core", "retrieval", "prompts"},
    "cli": {"core", "retrieval", "prompts", "slack", "evals"},
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[str, int]]:
    """(imported module, line) for every import of one of our packages, relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package[: len(package) - node.level + 1], *([base] if base else [])])
            found.append((base, node.lineno))
            # `from agent.detectors import bias` imports the module agent.detectors.bias
            found += [(f"{base}.{alias.name}", node.lineno) for alias in node.names]
    return [(name, line) for name, line in found if name.split(".")[0] in OURS]


def _sources() -> list[Path]:
    paths: list[Path] = []
    for top in OURS:
        paths += [p for p in (ROOT / top).rglob("*.py") if not {"cases", "sealed"} & set(p.parts)]
    return sorted(paths)


def _layer(module: str) -> str:
    if module == "agent.cli" or module.startswith("agent.cli."):
        return "cli"
    if module == "agent.slack" or module.startswith("agent.slack."):
        return "slack"
    top = module.split(".")[0]
    return "core" if top == "agent" else top


def _unit(module: str) -> str:
    """The node of the cycle check: a subpackage of agent, one of agent's top-level modules, or a top package."""
    parts = module.split(".")
    if parts[0] != "agent" or len(parts) == 1:
        return parts[0]
    return f"agent.{parts[1]}"


def _edges() -> list[tuple[str, str, str]]:
    """(importer, imported, where) over the whole source; only names that are real modules or packages."""
    edges = []
    for path in _sources():
        importer = _module_name(path)
        for imported, line in _imports(path):
            target = ROOT.joinpath(*imported.split("."))
            if target.is_dir() or target.with_suffix(".py").is_file():
                edges.append((importer, imported, f"{path.relative_to(ROOT)}:{line}"))
    return edges


def test_the_walk_sees_the_arrows_that_exist():
    # guards the guard: a walk that found nothing would pass every rule below
    edges = {(_layer(a), _layer(b)) for a, b, _ in _edges()}
    assert {("core", "retrieval"), ("cli", "core"), ("slack", "core"), ("evals", "core")} <= edges


def test_no_import_runs_back_up_the_layers():
    back = [
        f"{where}: {importer} ({_layer(importer)}) imports {imported} ({_layer(imported)})"
        for importer, imported, where in _edges()
        if _layer(imported) != _layer(importer) and _layer(imported) not in ALLOWED[_layer(importer)]
    ]
    assert not back, "imports against the layering:\n" + "\n".join(back)


def test_no_import_circle_between_packages():
    graph: dict[str, set[str]] = defaultdict(set)
    where: dict[tuple[str, str], str] = {}
    for importer, imported, at in _edges():
        a, b = _unit(importer), _unit(imported)
        if a != b:
            graph[a].add(b)
            where.setdefault((a, b), at)
    circles = []
    for start in sorted(graph):
        # a circle through `start`: a path from one of its targets back to it
        stack, seen = [(b, [start, b]) for b in sorted(graph[start])], set()
        while stack:
            node, path = stack.pop()
            if node == start:
                circles.append(" -> ".join(path) + f"  (first arrow at {where[(path[0], path[1])]})")
                break
            if node in seen:
                continue
            seen.add(node)
            stack += [(b, [*path, b]) for b in sorted(graph[node])]
    assert not circles, "import circles:\n" + "\n".join(circles)


def test_every_marked_detector_is_in_the_explicit_list():
    marked = []
    for path in sorted(Path(detectors_pkg.__file__).parent.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and any(
                isinstance(d, ast.Call) and getattr(d.func, "id", None) == "detector"
                for d in node.decorator_list
            ):
                marked.append(f"agent.detectors.{path.stem}.{node.name}")
    listed = {f"{f.__module__}.{f.__name__}" for f in DETECTORS}
    assert len(marked) >= 10, marked  # the walk found the detectors
    assert set(marked) == listed, f"marked but not listed: {set(marked) - listed}"


def test_functions_fit_in_a_head():
    """No function of the agent, retrieval or the eval harness runs past 80 lines (the case generators'
    scenario functions are declarations of data, and exempt)."""
    long = []
    for path in _sources():
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("evals/generator/"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > 80:
                    long.append(f"{rel}:{node.lineno} {node.name} ({length} lines)")
    assert not long, "functions over 80 lines:\n" + "\n".join(long)
