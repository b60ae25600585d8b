"""One case folder on disk: case.yaml and traces/ in the case's dialect (used by both case generators)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from evals.generator.ir import GTrace
from evals.generator.writers import write_traces


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump_yaml(data: Any) -> str:
    """Readable YAML: keys in the given order, multi-line strings as blocks, 110 columns."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110)


def write_case_folder(
    folder: Path,
    case: dict[str, Any],
    traces: list[GTrace],
    dialect: str,
    transport: str,
    versions: dict[str, str],
    legacy_events: bool = False,
) -> list[Path]:
    """Replace `folder` with the case's case.yaml and its traces; returns the trace files written."""
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "traces").mkdir(parents=True)
    (folder / "case.yaml").write_text(dump_yaml(case), encoding="utf-8")
    workflows = {tr.service: tr.spans[0].name for tr in traces}
    spans = [span for tr in traces for span in tr.spans]
    return write_traces(
        spans,
        folder / "traces",
        dialect,
        transport,
        versions,
        workflows=workflows,
        legacy_events=legacy_events,
    )
