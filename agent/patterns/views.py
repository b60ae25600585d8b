"""`--by layer|month`: the same patterns regrouped, each group with its incidents, clusters and layers."""

from __future__ import annotations

from collections import Counter
from typing import Literal

from pydantic import BaseModel, Field

from agent.patterns.corpus import natural_key
from agent.patterns.schema import LAYER_ORDER, CorpusItem, PatternsReport

By = Literal["cluster", "layer", "month"]


class Group(BaseModel):
    name: str
    count: int
    incidents: list[str]
    clusters: dict[str, int] = Field(default_factory=dict)  # "3. label" -> incidents, most first
    layers: dict[str, int] = Field(default_factory=dict)


def regroup(report: PatternsReport, items: list[CorpusItem], by: By) -> list[Group]:
    """Groups by layer (fixed order) or by month (oldest first); empty for by=cluster (the clusters are the view)."""
    if by == "cluster":
        return []
    cluster_of = {i: f"{c.id}. {c.label}" for c in report.clusters for i in c.incidents}
    members: dict[str, list[CorpusItem]] = {}
    for item in items:
        key = item.layer if by == "layer" else item.month
        if key:
            members.setdefault(key, []).append(item)
    names = [n for n in LAYER_ORDER if n in members] if by == "layer" else sorted(members)
    groups = []
    for name in names:
        group = members[name]
        clusters = Counter(cluster_of[i.id] for i in group if i.id in cluster_of)
        layers = Counter(i.layer for i in group)
        groups.append(
            Group(
                name=name,
                count=len(group),
                incidents=sorted((i.id for i in group), key=natural_key),
                clusters=dict(sorted(clusters.items(), key=lambda kv: (-kv[1], kv[0]))),
                layers={layer: layers[layer] for layer in LAYER_ORDER if layers[layer]},
            )
        )
    return groups
