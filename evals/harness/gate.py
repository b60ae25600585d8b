"""The regression gate: the offline agent's test-split metrics against the figures recorded in evals/gate.json.

Raising a figure is a commit; lowering one needs a reason in the commit message (and in `reason` below).
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from evals.harness.metrics import Metrics

GATE_FILE = Path(__file__).resolve().parent.parent / "gate.json"
# The metrics the gate holds: higher-is-better ones get a floor, lower-is-better ones a ceiling.
FLOORS = (
    "primary_accuracy",
    "contributing_macro_f1",
    "key_evidence_recall",
    "key_evidence_precision",
    "citation_validity",
    "onset_coverage",
    "decisive_exact",
    "decisive_in_trace",
    "section_completeness",
)
CEILINGS = ("onset_median_abs_min",)


class Gate(BaseModel):
    split: str = "test"
    provider: str = "offline"
    min: dict[str, float] = Field(default_factory=dict)
    max: dict[str, float] = Field(default_factory=dict)
    max_errors: int = 0
    cases: int | None = None  # how many cases the figures were measured on
    recorded: str | None = None  # when and at which commit
    reason: str = ""


class GateError(ValueError):
    """A gate file that cannot be read: names the file."""


def load_gate(path: Path = GATE_FILE) -> Gate:
    try:
        return Gate.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GateError(f"{path}: no such gate file") from None
    except (ValidationError, ValueError) as exc:
        raise GateError(f"{path}: not a gate file ({str(exc).splitlines()[0]})") from None


def check_gate(metrics: Metrics, gate: Gate) -> list[str]:
    """One line per figure that fell below its floor or rose above its ceiling (empty: the gate holds)."""
    problems: list[str] = []
    for name, floor in gate.min.items():
        value = getattr(metrics, name, None)
        if value is None or value < floor - 1e-9:
            problems.append(f"{name} = {value} is below the recorded {floor}")
    for name, ceiling in gate.max.items():
        value = getattr(metrics, name, None)
        if value is None or value > ceiling + 1e-9:
            problems.append(f"{name} = {value} is above the recorded {ceiling}")
    if metrics.errors > gate.max_errors:
        problems.append(f"{metrics.errors} cases failed to draft (at most {gate.max_errors} allowed)")
    if gate.cases is not None and metrics.n < gate.cases:
        problems.append(f"only {metrics.n} cases ran; the figures were recorded on {gate.cases}")
    return problems


def gate_from_metrics(metrics: Metrics, *, split: str, commit: str | None, reason: str) -> Gate:
    """The figures to record: floors rounded down to 2 decimals, ceilings (minutes) up to the whole minute."""
    floors = {n: math.floor(v * 100) / 100 for n in FLOORS if (v := getattr(metrics, n)) is not None}
    ceilings = {n: float(max(1, math.ceil(v))) for n in CEILINGS if (v := getattr(metrics, n)) is not None}
    when = datetime.now(UTC).strftime("%Y-%m-%d")
    return Gate(
        split=split,
        min=floors,
        max=ceilings,
        max_errors=metrics.errors,
        cases=metrics.n,
        recorded=f"{when} at {commit or 'unknown commit'}",
        reason=reason,
    )


def write_gate(gate: Gate, path: Path = GATE_FILE) -> Path:
    path.write_text(json.dumps(gate.model_dump(), indent=2) + "\n", encoding="utf-8")
    return path
