"""From a corpus (and its sentence vectors) to the patterns report: clusters with labels, layer mix and trend,
recurring factors and action items, top services and deployers. Every pattern lists the incidents behind it.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from agent.patterns.cluster import Clustering, centrality, cluster
from agent.patterns.corpus import natural_key
from agent.patterns.factors import (
    Embed,
    action_patterns,
    factor_patterns,
    lexicon_factors,
    never_closed,
    recurring,
)
from agent.patterns.label import cluster_terms, label_of
from agent.patterns.schema import LAYER_ORDER, Cluster, CorpusItem, Filters, PatternsReport, Tally, Timing
from retrieval.aiid import CREDIT

RECENT_MONTHS = 12
RISING = 1.5  # recent share at least this many times the earlier share
MIN_TREND = 4  # incidents a cluster needs (dated) before a trend is named
TOP = 10


def vectors_for(items: Sequence[CorpusItem], stored: Mapping[str, np.ndarray], embed: Embed) -> np.ndarray:
    """One vector per item: the store's when it has one, else embedded now from the item's text."""
    missing = [i for i, item in enumerate(items) if item.id not in stored]
    fresh = np.asarray(embed([items[i].text for i in missing])) if missing else None
    rows: list[np.ndarray] = []
    j = 0
    for i, item in enumerate(items):
        if item.id in stored:
            rows.append(np.asarray(stored[item.id], dtype=np.float32))
        else:
            assert fresh is not None and missing[j] == i
            rows.append(fresh[j].astype(np.float32))
            j += 1
    return np.vstack(rows) if rows else np.zeros((0, 1), dtype=np.float32)


def _month_index(date: str) -> int:
    return int(date[:4]) * 12 + int(date[5:7]) - 1


def _month_name(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _tally(pairs: Sequence[tuple[str, str]], top: int = TOP) -> list[Tally]:
    """(name, incident id) pairs -> the names with most distinct incidents, each citing them."""
    by_name: dict[str, set[str]] = {}
    for name, incident in pairs:
        by_name.setdefault(name, set()).add(incident)
    ranked = sorted(by_name.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:top]
    return [Tally(name=n, count=len(ids), incidents=sorted(ids, key=natural_key)) for n, ids in ranked]


class _Timeline:
    """Periods (months, or years for long spans) and the recent window used for trends."""

    def __init__(self, items: Sequence[CorpusItem]) -> None:
        months = sorted(_month_index(i.date) for i in items if i.date and len(i.date) >= 7)
        self.dated = bool(months)
        if not months:
            self.unit, self.periods, self.recent_from, self.window = "year", [], 0, ""
            return
        first, last = months[0], months[-1]
        self.unit = "year" if last - first > 36 else "month"
        if self.unit == "year":
            self.periods = [str(y) for y in range(first // 12, last // 12 + 1)]
        else:
            self.periods = [_month_name(m) for m in range(first, last + 1)]
        span = last - first + 1
        self.recent_from = last - RECENT_MONTHS + 1 if span >= 2 * RECENT_MONTHS else first + span // 2
        self.window = f"{_month_name(self.recent_from)}..{_month_name(last)}"

    def period(self, item: CorpusItem) -> str | None:
        if not item.date or len(item.date) < 7:
            return None
        return item.date[:4] if self.unit == "year" else item.date[:7]

    def recent(self, item: CorpusItem) -> bool | None:
        if not item.date or len(item.date) < 7:
            return None
        return _month_index(item.date) >= self.recent_from


def _trend(
    members: Sequence[CorpusItem], everyone: Sequence[CorpusItem], tl: _Timeline
) -> tuple[str, float, float]:
    def split(group: Sequence[CorpusItem]) -> tuple[int, int]:
        flags = [tl.recent(i) for i in group]
        return sum(f is True for f in flags), sum(f is False for f in flags)

    recent, earlier = split(members)
    all_recent, all_earlier = split(everyone)
    r_share = recent / all_recent if all_recent else 0.0
    e_share = earlier / all_earlier if all_earlier else 0.0
    if recent + earlier < MIN_TREND or not all_recent or not all_earlier:
        return "too few", round(r_share, 4), round(e_share, 4)
    if r_share >= RISING * e_share and recent >= 2:
        return "rising", round(r_share, 4), round(e_share, 4)
    if r_share * RISING <= e_share:
        return "falling", round(r_share, 4), round(e_share, 4)
    return "steady", round(r_share, 4), round(e_share, 4)


def _clusters(items: Sequence[CorpusItem], result: Clustering, tl: _Timeline) -> list[Cluster]:
    texts = [i.text for i in items]
    terms = cluster_terms(texts, result.labels.tolist())
    central = centrality(result.features, result.labels)
    members: dict[int, list[int]] = {}
    for row, c in enumerate(result.labels.tolist()):
        members.setdefault(c, []).append(row)
    # Largest first; ties by the first incident's id, so numbering is stable.
    order = sorted(members, key=lambda c: (-len(members[c]), natural_key(items[members[c][0]].id)))
    out: list[Cluster] = []
    for number, c in enumerate(order, start=1):
        rows = sorted(members[c], key=lambda r: (-round(float(central[r]), 6), natural_key(items[r].id)))
        group = [items[r] for r in rows]
        dates = sorted(i.date for i in group if i.date)
        periods = Counter(p for p in (tl.period(i) for i in group) if p)
        trend, r_share, e_share = _trend(group, items, tl)
        layers = Counter(i.layer for i in group)
        out.append(
            Cluster(
                id=number,
                label=label_of(terms.get(c, []), f"cluster {number}"),
                terms=terms.get(c, []),
                size=len(group),
                incidents=[i.id for i in group],
                examples=[i.title for i in group[:3]],
                layers={layer: layers[layer] for layer in LAYER_ORDER if layers[layer]},
                by_period={p: periods[p] for p in tl.periods if periods[p]},
                trend=trend,  # type: ignore[arg-type]
                recent_share=r_share,
                earlier_share=e_share,
                first=dates[0] if dates else None,
                last=dates[-1] if dates else None,
                services=_tally([(i.service, i.id) for i in group if i.service], top=3),
                factors=_tally([(f, i.id) for i in group for f in lexicon_factors(i.text)], top=3),
            )
        )
    return out


def analyze(
    items: Sequence[CorpusItem],
    vectors: np.ndarray,
    embed: Embed,
    *,
    k: int | None = None,
    filters: Filters | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[PatternsReport, Clustering]:
    """The patterns report over `items` (one vector per item), and the clustering behind it."""
    timing = Timing()
    started = clock()
    result = cluster([i.text for i in items], vectors, k=k) if items else None
    timing.cluster_s = round(clock() - started, 3)
    tl = _Timeline(items)
    started = clock()
    clusters = _clusters(items, result, tl) if result is not None else []
    timing.label_s = round(clock() - started, 3)
    started = clock()
    actions = action_patterns([a for i in items for a in i.actions], embed)
    dates = sorted(i.date for i in items if i.date)
    report = PatternsReport(
        filters=filters or Filters(),
        size=len(items),
        origins=dict(sorted(Counter(i.origin for i in items).items())),
        first=dates[0] if dates else None,
        last=dates[-1] if dates else None,
        method=result.method if result else "",
        k=result.k if result else 0,
        silhouette=result.silhouette if result else {},
        period_unit=tl.unit,  # type: ignore[arg-type]
        periods=tl.periods,
        recent_window=tl.window,
        clusters=clusters,
        layers=_tally([(i.layer, i.id) for i in items], top=len(LAYER_ORDER)),
        layer_sources=dict(sorted(Counter(i.layer_source for i in items).items())),
        months=sorted(_tally([(i.month, i.id) for i in items if i.month], top=10**6), key=lambda t: t.name),
        factors=factor_patterns(items, embed)[:TOP],
        recurring_actions=recurring(actions)[:TOP],
        open_actions=never_closed(actions)[: 2 * TOP],
        services=_tally([(i.service, i.id) for i in items if i.service]),
        deployers=_tally([(d, i.id) for i in items for d in i.deployers]),
        credits=[f"Incidents from the {CREDIT}."] if any(i.origin == "aiid" for i in items) else [],
    )
    timing.rest_s = round(clock() - started, 3)
    report.timing = timing
    return report, result if result is not None else Clustering(np.zeros(0, np.int64), 0, np.zeros((0, 1)))
