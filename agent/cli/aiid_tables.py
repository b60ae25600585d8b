"""The console output of `postmortem eval aiid`: one table per part of the sample (dev, test, all)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from evals.harness.aiid import AiidReport, SystemResult


def systems_table(title: str, results: Sequence[SystemResult]) -> Table:
    table = Table(title=title)
    table.add_column("system", no_wrap=True)
    table.add_column("accuracy", justify="right")
    table.add_column("correct", justify="right")
    layers = list(results[0].per_layer_recall) if results else []
    for layer in layers:
        table.add_column(f"{layer} rec", justify="right")
    table.add_column("abstained", justify="right")
    for s in results:
        recalls = [f"{v:.2f}" if v is not None else "-" for v in s.per_layer_recall.values()]
        table.add_row(s.system, f"{s.accuracy:.3f}", f"{s.correct}/{s.n}", *recalls, str(s.abstained))
    return table


def print_aiid_report(report: AiidReport, console: Console) -> None:
    """Dev and test tables (when the labels carry a split), then the whole sample, methods and spreads."""
    for split, results in report.by_split.items():
        counts = ", ".join(f"{k} {v}" for k, v in sorted(report.split_counts.get(split, {}).items()))
        console.print(
            systems_table(f"AIID {split} split: {results[0].n if results else 0} ({counts})", results)
        )
    console.print(systems_table(f"AIID, all {report.labelled} hand-labelled incidents", report.systems))
    for s in report.systems:
        console.print(f"{s.system}: {s.method}", highlight=False)
    counts = ", ".join(f"{k} {v}" for k, v in report.label_counts.items())
    strata = ", ".join(f"{k} {v}" for k, v in report.strata.items())
    console.print(f"hand labels: {counts}; strata: {strata}", highlight=False)
    console.print(
        "abstained = no cue matched and no layer was named (counted wrong); agent+fallback names "
        "'system' then (see agent.textcues.FALLBACK)",
        highlight=False,
    )
    for system, predicted in report.all_predicted.items():
        spread = ", ".join(f"{k} {v}" for k, v in sorted(predicted.items()))
        console.print(f"{system} over all {report.all_incidents} incidents: {spread}", highlight=False)
    console.print(f"Data: {report.credit}", highlight=False)
