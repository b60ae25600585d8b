"""The one YAML loader for untrusted text (post-mortem front matter, incident files, the Slack config).

`yaml.safe_load` builds no objects from tags, but an alias bomb (`b: [*a, *a, ...]` nine levels deep, a few
hundred bytes) expands to a billion values as soon as anything walks the result, and deep nesting ends in a
RecursionError. This loader composes the node graph first (linear in the text), measures what it expands to
with each alias counted every time it is used, and constructs Python values only when that stays within
retrieval.limits. Problems are yaml.YAMLError subclasses, so callers report them like any other YAML error.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from retrieval.limits import MAX_NESTING, MAX_YAML_VALUES


class YAMLTooLarge(yaml.YAMLError):
    """The document expands past a bound; `problem` says which, `problem_mark` where it starts."""

    def __init__(self, problem: str, mark: Any = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.problem_mark = mark


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _measure(node: Node, depth: int, sizes: dict[int, int], open_nodes: set[int]) -> int:
    """How many values `node` expands to; YAMLTooLarge past a bound. Memoised per node, so linear."""
    key = id(node)
    if key in sizes:
        return sizes[key]
    if depth > MAX_NESTING:
        raise YAMLTooLarge(f"nested deeper than {MAX_NESTING} levels", node.start_mark)
    if key in open_nodes:
        raise YAMLTooLarge("an alias refers to a value that contains it", node.start_mark)
    open_nodes.add(key)
    total = 1
    for child in _children(node):
        total += _measure(child, depth + 1, sizes, open_nodes)
        if total > MAX_YAML_VALUES:
            raise YAMLTooLarge(
                f"expands to more than {MAX_YAML_VALUES:,} values (aliases repeat what they point to)",
                node.start_mark,
            )
    open_nodes.discard(key)
    sizes[key] = total
    return total


def load_yaml(text: str) -> Any:
    """The single YAML document in `text` (None when empty), safe tags only, bounded as described above."""
    loader = yaml.SafeLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except RecursionError:
            raise YAMLTooLarge(f"nested deeper than {MAX_NESTING} levels") from None
        if node is None:
            return None
        _measure(node, 1, {}, set())
        return loader.construct_document(node)
    finally:
        loader.dispose()
