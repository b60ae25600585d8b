"""The first family's cases as data: one YAML file per case in evals/generator/cases/, loaded into the spec types.

A file holds one `CaseSpec` with only the fields that differ from the defaults in spec.py. Datetimes are ISO-8601
UTC strings, durations ISO-8601 durations (`-P3D`, `PT5H`). Two places hold spec objects inside free-form fields and
are typed here: `Ex.extra["rounds"]` (tool-call rounds: lists of `Call`) and `Change.updates["prompt"]` (a `Prompt`).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from evals.generator.spec import Call, CaseSpec, Ex, Prompt

SOURCES = Path(__file__).resolve().parent / "cases"
_SPEC = TypeAdapter(CaseSpec)  # extra keys are refused (spec.STRICT)
_ROUNDS = TypeAdapter(list[list[Call]])
_PROMPT = TypeAdapter(Prompt)


class CaseDataError(ValueError):
    """A case file that cannot be read: the message names the file and the field."""


def _utc(value: Any) -> Any:
    """Datetimes as the scenario code made them (datetime.timezone.utc), recursively through dataclasses."""
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            setattr(value, field.name, _utc(getattr(value, field.name)))
        return value
    if isinstance(value, list):
        return [_utc(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_utc(v) for v in value)
    return value


def _typed_extras(spec: CaseSpec) -> None:
    exchanges: list[Ex] = [*spec.healthy, *spec.bad, *spec.noise.off_topic]
    for ex in exchanges:
        if "rounds" in ex.extra:
            ex.extra["rounds"] = _ROUNDS.validate_python(ex.extra["rounds"])
    for change in spec.changes:
        if isinstance(change.updates.get("prompt"), dict):
            change.updates["prompt"] = _PROMPT.validate_python(change.updates["prompt"])


def load_case(path: Path) -> CaseSpec:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        spec = _SPEC.validate_python(raw)
        _typed_extras(spec)
    except yaml.YAMLError as exc:
        raise CaseDataError(f"{path}: not valid YAML ({exc})") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise CaseDataError(f"{path}: {where}: {first['msg']}") from None
    if spec.id != path.stem:
        raise CaseDataError(f"{path}: id {spec.id!r} differs from the file name")
    return _utc(spec)


def all_cases(folder: Path = SOURCES) -> list[CaseSpec]:
    return [load_case(path) for path in sorted(folder.glob("*.yaml"))]
