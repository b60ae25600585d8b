"""The one table of thresholds and weights (agent/thresholds.py, agent/detector_thresholds.py) stays the one place.

A walk over the detectors' source: a numeric literal that decides something (a comparison, a weight, a count, a
module constant) must be a `T.<name>` entry of the table with its reason, not a number inline. Allowed inline: 0,
1, -1 and 2 (indexing, halving, "at least two"), slices and indexes, and the documented exemptions below (facts,
formatting for people, cache sizes). The modules another change is still moving into the table hold a fixed
number of literals that may only go down.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from agent.thresholds import T, Thresholds, is_budget, scaled, table

ROOT = Path(__file__).resolve().parent.parent
DETECTORS = ROOT / "agent" / "detectors"
ALLOWED = {0, 1, -1, 2}
# calls whose numeric arguments are not judgement: cache sizes, a detector's phase, text lengths of quotes,
# digits of rounding, array shapes
EXEMPT_CALLS = {
    "lru_cache": "a cache size",
    "detector": "the phase a detector runs in",
    "around": "characters of a quoted excerpt",
    "snippet": "characters of a quoted excerpt",
    "round": "digits of a reported figure",
}
# (module, enclosing function or assigned name) -> why its numbers are not thresholds
EXEMPT_PLACES = {
    ("common.py", "pct"): "a share written as a percentage",
    ("common.py", "human_delta"): "durations written for people (seconds, minutes, hours, days)",
    ("common.py", "span_quote"): "characters of a quoted excerpt",
    ("common.py", "request_quote"): "characters of a quoted excerpt",
    ("stats.py", "wilson"): "the 95% normal quantile and the Wilson formula's constant",
    ("bias.py", "_scores"): "a rating's notation: out of 10 or out of 100",
    ("bias.py", "_stems"): "a crude plural stemmer: words over 4 letters lose a final s",
    ("truncation.py", "CONTEXT_LIMITS"): "published context windows of model families",
    ("truncation.py", "_limit"): "the published context window of Claude models",
    ("base.py", "vectors"): "the embedding width of an empty matrix (MiniLM: 384)",
    ("registry.py", "run_detectors"): "phase numbers (phase 3 reads the findings of phases 1 and 2)",
    ("base.py", "MAX_EMBED_CHARS"): "MiniLM reads 256 tokens: longer text only costs tokenization time",
}
# modules still being moved into the table (issue 12): the count of their inline literals may only go down
PENDING = {
    "changes.py": 5,
    "langid.py": 5,
    "model_drift.py": 6,
    "onset.py": 9,
    "prompt_change.py": 3,
    "sampling.py": 7,
    "symptoms.py": 27,
    "text.py": 8,
    "tool_data.py": 10,
    "tool_errors.py": 4,
}


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _place(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> str:
    """The innermost function, or module-level assigned name, holding a node."""
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            return node.name
        if isinstance(node, ast.Assign | ast.AnnAssign) and node in getattr(parents.get(node), "body", []):
            target = node.targets[0] if isinstance(node, ast.Assign) else node.target
            if isinstance(parents.get(node), ast.Module) and isinstance(target, ast.Name):
                return target.id
    return ""


def _exempt_call(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    parent = parents.get(node)
    if isinstance(parent, ast.keyword):
        parent = parents.get(parent)
    if not isinstance(parent, ast.Call):
        return False
    func = parent.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
    return name in EXEMPT_CALLS


def inline_literals(path: Path) -> list[str]:
    """`file:line value` of every numeric literal in a module that is neither allowed nor exempt."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    parents = _parents(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or type(node.value) not in (int, float):
            continue
        value, at = node.value, node
        if isinstance(parents.get(node), ast.UnaryOp) and isinstance(parents[node].op, ast.USub):
            value, at = -value, parents[node]
        if value in ALLOWED or isinstance(parents.get(at), ast.Slice | ast.Subscript):
            continue
        if _exempt_call(at, parents) or (path.name, _place(at, parents)) in EXEMPT_PLACES:
            continue
        found.append(f"{path.name}:{node.lineno} {value!r}")
    return found


def test_no_unexplained_numbers_in_the_detectors():
    modules = sorted(DETECTORS.glob("*.py"))
    assert len(modules) > 20  # the walk found the detectors
    unexplained, pending = [], {}
    for path in modules:
        found = inline_literals(path)
        if path.name in PENDING:
            pending[path.name] = len(found)
            if len(found) > PENDING[path.name]:
                unexplained += found
        else:
            unexplained += found
    assert not unexplained, (
        "numbers inline in the detectors: move each into agent/detector_thresholds.py (or agent/thresholds.py) "
        "with a line on why and read it as T.<name>, or, if it is a fact or formatting, add a documented "
        "exemption to tests/test_thresholds_table.py:\n" + "\n".join(unexplained)
    )
    lowered = {name: n for name, n in pending.items() if n < PENDING[name]}
    assert not lowered, f"fewer inline numbers than PENDING allows: lower PENDING to {lowered}"


def test_the_walk_catches_an_inline_threshold(tmp_path):
    module = tmp_path / "new_detector.py"
    module.write_text(
        "import functools\n"
        "@functools.lru_cache(maxsize=4096)\n"
        "def f(xs, new):\n"
        "    if len(xs) >= 3 and xs[:5]:\n"
        "        return round(0.1 + 0.45 * new, 3)\n"
        "    return -1\n"
    )
    assert inline_literals(module) == [
        "new_detector.py:4 3",
        "new_detector.py:5 0.1",
        "new_detector.py:5 0.45",
    ]


def test_every_value_has_a_reason_and_is_read():
    sources = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "agent").rglob("*.py"))
    gaps = (DETECTORS / "telemetry_gaps.py").read_text(encoding="utf-8")
    unexplained = [name for name, _, why in table() if len(why.split()) < 4]
    unread = [
        name
        for name, _, _ in table()
        if not re.search(rf"\bT\.{name}\b", sources)
        and not (name.startswith("gap_") and f'"{name[4:]}"' in gaps)  # read as getattr(T, f"gap_{key}")
    ]
    assert not unexplained, f"values without a reason: {unexplained}"
    assert not unread, f"values nothing reads (remove them, or read them): {unread}"


def test_nothing_copies_a_value_at_import():
    """A module-level `X = T.name` would freeze the value and hide it from the sensitivity sweep."""
    copies = []
    for path in sorted((ROOT / "agent").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            value = getattr(node, "value", None) if isinstance(node, ast.Assign | ast.AnnAssign) else None
            if value is not None and re.search(r"\bT\.", ast.unparse(value)):
                copies.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not copies, f"values copied at import: {copies}"


def test_scaled_moves_one_value_and_restores_it():
    before = dict((name, value) for name, value, _ in table())
    with scaled("bias_min_group", 1.2), scaled("grounding_flip_overlap", 0.8):
        assert T.bias_min_group == 6 and isinstance(T.bias_min_group, int)  # a count moves to a count
        assert T.grounding_flip_overlap == pytest.approx(0.4)
    assert dict((name, value) for name, value, _ in table()) == before
    assert is_budget("bias_cap") and not is_budget("bias_min_group")
    assert Thresholds.model_fields["rate_z"].description
