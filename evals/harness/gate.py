"""The regression gate (evals/gate.json): floors for the offline agent on the dev split and on the robustness suite.

The sealed test split is never gated on: CI scores it and prints the figures, and no change is chosen by them.
Raising a floor is a commit; lowering one is refused unless asked for with a reason, which is kept in the file's
`lowered` list next to the figures it lowered.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evals.harness.metrics import Metrics

GATE_FILE = Path(__file__).resolve().parent.parent / "gate.json"
GATED_SPLIT = "dev"
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
    """Floors and ceilings for one split's metrics."""

    split: str = GATED_SPLIT
    provider: str = "offline"
    min: dict[str, float] = Field(default_factory=dict)
    max: dict[str, float] = Field(default_factory=dict)
    max_errors: int = 0
    cases: int | None = None  # how many cases the figures were measured on
    recorded: str | None = None  # when and at which commit
    reason: str = ""


class RobustnessGate(BaseModel):
    """Floors for the share of runs whose verdict stays, overall and per perturbation, on a fixed case list."""

    cases: list[str] = Field(default_factory=list)
    min: dict[str, float] = Field(default_factory=dict)  # "overall", "primary_same", or a perturbation's name
    recorded: str | None = None
    reason: str = ""


class Lowering(BaseModel):
    """A recorded decision to lower floors (or raise ceilings): which, from what to what, when and why."""

    when: str
    section: str
    changes: dict[str, list[float | None]]  # figure -> [old, new]; new None: no longer held
    reason: str


class GateFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dev: Gate = Field(default_factory=Gate)
    robustness: RobustnessGate | None = None
    lowered: list[Lowering] = Field(default_factory=list)


class GateError(ValueError):
    """A gate file that cannot be read: names the file."""


def load_gate(path: Path | None = None) -> GateFile:
    path = path or GATE_FILE
    try:
        return GateFile.model_validate_json(path.read_text(encoding="utf-8"))
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


def check_robustness(shares: dict[str, float | None], gate: RobustnessGate) -> list[str]:
    """`shares`: figure name -> share of runs whose verdict stayed (see RobustnessReport.gate_figures)."""
    problems: list[str] = []
    for name, floor in gate.min.items():
        value = shares.get(name)
        if value is None or value < floor - 1e-9:
            problems.append(f"robustness {name} = {value} is below the recorded {floor}")
    return problems


def _stamp(commit: str | None) -> str:
    return f"{datetime.now(UTC).strftime('%Y-%m-%d')} at {commit or 'unknown commit'}"


def floor_of(value: float) -> float:
    """Floors are rounded down to 2 decimals (a figure measured at 0.4583 holds 0.45)."""
    return math.floor(value * 100 + 1e-9) / 100


def gate_from_metrics(metrics: Metrics, *, split: str, commit: str | None, reason: str) -> Gate:
    """The figures to record: floors rounded down to 2 decimals, ceilings (minutes) up to the whole minute."""
    floors = {n: floor_of(v) for n in FLOORS if (v := getattr(metrics, n)) is not None}
    ceilings = {n: float(max(1, math.ceil(v))) for n in CEILINGS if (v := getattr(metrics, n)) is not None}
    return Gate(
        split=split,
        min=floors,
        max=ceilings,
        max_errors=metrics.errors,
        cases=metrics.n,
        recorded=_stamp(commit),
        reason=reason,
    )


def robustness_gate(
    shares: dict[str, float | None], cases: list[str], *, commit: str | None, reason: str
) -> RobustnessGate:
    floors = {name: floor_of(v) for name, v in shares.items() if v is not None}
    return RobustnessGate(cases=cases, min=floors, recorded=_stamp(commit), reason=reason)


def lowered(
    old_min: dict[str, float], new_min: dict[str, float], old_max: dict[str, float], new_max: dict[str, float]
) -> dict[str, list[float | None]]:
    """The figures a new recording would weaken: floors that go down or vanish, ceilings that go up."""
    out: dict[str, list[float | None]] = {}
    for name, old in old_min.items():
        new = new_min.get(name)
        if new is None or new < old - 1e-9:
            out[name] = [old, new]
    for name, old in old_max.items():
        new = new_max.get(name)
        if new is None or new > old + 1e-9:
            out[f"{name} (ceiling)"] = [old, new]
    return out


class LoweringRefused(ValueError):
    """A recording would lower floors and was not asked to (`--lower --reason TEXT`)."""


def record(
    current: GateFile,
    *,
    dev: Gate | None = None,
    robustness: RobustnessGate | None = None,
    lower: bool = False,
    reason: str | None = None,
) -> GateFile:
    """The gate file with a new section recorded. Refuses to weaken a figure unless `lower` with a reason; a
    lowering is appended to `lowered` with its reason."""
    out = current.model_copy(deep=True)
    changes: list[tuple[str, dict[str, list[float | None]]]] = []
    if dev is not None:
        changes.append(("dev", lowered(current.dev.min, dev.min, current.dev.max, dev.max)))
        out.dev = dev
    if robustness is not None:
        old = current.robustness or RobustnessGate()
        weaker = lowered(old.min, robustness.min, {}, {})
        if old.cases and old.cases != robustness.cases:  # figures on other cases are not comparable
            weaker["cases"] = [float(len(old.cases)), float(len(robustness.cases))]
        changes.append(("robustness", weaker))
        out.robustness = robustness
    weakened = [(section, c) for section, c in changes if c]
    if weakened and not lower:
        shown = "; ".join(
            f"{section} {name} {old} -> {new}" for section, c in weakened for name, (old, new) in c.items()
        )
        raise LoweringRefused(
            f"this would lower the gate ({shown}); pass --lower --reason TEXT if that is intended"
        )
    if weakened and not (reason and reason.strip()):
        raise LoweringRefused("--lower needs --reason TEXT: say why the floors go down")
    for section, c in weakened:
        out.lowered.append(
            Lowering(when=_stamp(None).split(" at ")[0], section=section, changes=c, reason=reason or "")
        )
    return out


def write_gate(gate: GateFile, path: Path | None = None) -> Path:
    path = path or GATE_FILE
    path.write_text(json.dumps(gate.model_dump(), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return path
