"""ARCHITECTURE.md stays true: every path it names exists, every symbol it names in a module is defined there, and
its table of nodes is the graph's."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from agent.graph import build_graph

REPO = Path(__file__).resolve().parent.parent
MAP = (REPO / "ARCHITECTURE.md").read_text(encoding="utf-8")
PATH = re.compile(r"`((?:agent|retrieval|evals|prompts|tests|benchmarks)/[\w/.<>-]*)`")
SYMBOL = re.compile(r"`((?:agent|retrieval)/[\w/]+\.py)` `(\w+)")  # `agent/verifier.py` `MAX_REVISIONS`
SYMBOL_BEFORE = re.compile(
    r"`(\w+)(?:\(\))?`\s+(?:in|from|\()\s*`((?:agent|retrieval)/[\w/]+\.py)`"
)  # `X` in `path`


def _defined(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def test_every_path_the_map_names_exists():
    named = [p for p in PATH.findall(MAP) if "<" not in p]  # `agent/nodes/<node>.py` is a pattern
    assert len(named) >= 40, named  # the map names its modules
    missing = [p for p in named if not (REPO / p).exists()]
    assert not missing, f"ARCHITECTURE.md names paths that do not exist: {missing}"


def test_every_symbol_the_map_places_in_a_module_is_defined_there():
    pairs = SYMBOL.findall(MAP) + [(path, name) for name, path in SYMBOL_BEFORE.findall(MAP)]
    assert len(pairs) >= 8, pairs
    wrong = [f"{name} in {path}" for path, name in pairs if name not in _defined(REPO / path)]
    assert not wrong, f"ARCHITECTURE.md places symbols where they are not defined: {wrong}"


def test_the_node_table_is_the_graph():
    rows = set(re.findall(r"^\| (\w+) \| `agent/nodes/(\w+)\.py` \|", MAP, flags=re.M))
    assert all(node == module for node, module in rows)  # node modules carry their node's name
    assert {node for node, _ in rows} == set(build_graph().nodes) - {"__start__"}
