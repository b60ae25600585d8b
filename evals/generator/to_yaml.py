"""`python -m evals.generator.to_yaml`: write every scenario module's cases as data files (evals/generator/cases/).

The conversion from the former code-as-content scenario modules; re-runnable while they exist. A field equal to its
default in spec.py is left out, so each file holds what is particular to its case.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from evals.generator.folder import dump_yaml
from evals.generator.load import SOURCES


def iso_duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    if seconds != value.total_seconds():
        raise ValueError(f"sub-second duration {value!r}")
    sign, seconds = ("-", -seconds) if seconds < 0 else ("", seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = "".join(f"{n}{u}" for n, u in ((hours, "H"), (minutes, "M"), (secs, "S")) if n)
    text = f"{sign}P{days}D" if days else f"{sign}P"
    return text + (f"T{clock}" if clock else "") if (clock or not days) else text


def plain(value: Any) -> Any:
    """Spec objects to YAML-ready data, leaving out fields that equal their defaults."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {}
        for field in dataclasses.fields(value):
            item = getattr(value, field.name)
            if field.default is not dataclasses.MISSING and item == field.default:
                continue
            if field.default_factory is not dataclasses.MISSING and item == field.default_factory():
                continue
            out[field.name] = plain(item)
        return out
    if isinstance(value, datetime):
        if value.microsecond or value.utcoffset():
            raise ValueError(f"not a whole-second UTC time: {value!r}")
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, timedelta):
        return iso_duration(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def main(out: Path = SOURCES) -> int:
    from evals.generator.scenarios import all_cases  # the modules being converted

    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.yaml"):
        old.unlink()
    specs = all_cases()
    for spec in specs:
        text = dump_yaml(plain(spec))
        (out / f"{spec.id}.yaml").write_text(text, encoding="utf-8")
    print(f"{len(specs)} case files in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
