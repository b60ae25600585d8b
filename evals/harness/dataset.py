"""The dataset: one Sample per case folder (case.yaml + traces/), validated at the boundary."""

from __future__ import annotations

import fnmatch
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agent.models import Incident, Layer

CASES_DIR = Path(__file__).resolve().parent.parent / "cases"
# The sealed test split: scored and reported, never opened, debugged or tuned on, never gated on.
SEALED_DIR = Path(__file__).resolve().parent.parent / "sealed"
Split = Literal["dev", "test"]
SplitFilter = Literal["dev", "test", "all"]
# What the solver ingests from a case folder: traces/ (and past post-mortems, in traces/ or postmortems/).
TRACE_SUFFIXES = (".json", ".jsonl", ".ndjson", ".gz", ".md", ".markdown")
INPUT_DIRS = ("traces", "postmortems")


class CaseError(ValueError):
    """A case folder that cannot be read: the message names the file and the place."""


def _bare_span_id(value: str) -> str:
    value = value.strip()
    return value[len("span:") :] if value.startswith("span:") else value


class Gold(BaseModel):
    model_config = ConfigDict(extra="ignore")

    primary: Layer
    contributing: list[Layer] = Field(default_factory=list)
    key_evidence: list[str] = Field(default_factory=list)  # bare span ids, as ingested
    decisive_span: str | None = None
    onset: datetime | None = None
    rationale: str = ""

    @field_validator("key_evidence")
    @classmethod
    def _bare_ids(cls, values: list[str]) -> list[str]:
        return [_bare_span_id(str(v)) for v in values]

    @field_validator("decisive_span")
    @classmethod
    def _bare_id(cls, value: str | None) -> str | None:
        return _bare_span_id(str(value)) if value else None

    @field_validator("contributing")
    @classmethod
    def _no_dupes(cls, values: list[Layer]) -> list[Layer]:
        return list(dict.fromkeys(values))


GENERATED_FAMILY = "generated"


def family_of(tags: list[str]) -> str:
    """The case family: its `family:NAME` tag, else the generated set of evals/generator."""
    return next((t.split(":", 1)[1] for t in tags if t.startswith("family:")), GENERATED_FAMILY)


class Sample(BaseModel):
    """One labelled case: the incident the agent is given, its trace files, and the gold answer."""

    model_config = ConfigDict(extra="ignore")

    id: str
    split: Split
    difficulty: str | None = None
    tags: list[str] = Field(default_factory=list)
    dialect: str | None = None
    based_on: str | None = None
    incident: Incident
    gold: Gold
    path: Path | None = None
    trace_files: list[Path] = Field(default_factory=list)


def _where(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def load_sample(case_dir: Path) -> Sample:
    """Read one case folder; CaseError names the file and field on bad input."""
    case_file = case_dir / "case.yaml"
    if not case_file.is_file():
        raise CaseError(f"{case_file}: missing (every case folder needs a case.yaml)")
    try:
        raw = yaml.safe_load(case_file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "?"
        raise CaseError(f"{case_file}:{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(raw, dict):
        raise CaseError(f"{case_file}: expected a mapping at the top level")
    raw.setdefault("id", case_dir.name)
    incident = raw.get("incident")
    if isinstance(incident, dict):
        incident = {**incident, "id": incident.get("id") or raw["id"]}
        raw["incident"] = incident
    files = sorted(
        p
        for folder in INPUT_DIRS
        for p in (case_dir / folder).rglob("*")
        if p.is_file() and p.name.endswith(TRACE_SUFFIXES)
    )
    try:
        return Sample.model_validate({**raw, "path": case_dir, "trace_files": files})
    except ValidationError as exc:
        first = exc.errors()[0]
        raise CaseError(f"{case_file}: {_where(first['loc'])}: {first['msg']}") from None


def load_samples(
    root: Path | None = None, *, split: SplitFilter = "all", pattern: str | None = None
) -> list[Sample]:
    """Every case under `root` (default evals/cases/), filtered by split and by a glob on the case id."""
    root = root or CASES_DIR
    if not root.is_dir():
        hint = " (the labelled cases come with the source checkout, not the wheel: pass --cases-dir)"
        raise CaseError(f"{root}: no such cases folder" + (hint if root == CASES_DIR else ""))
    samples: list[Sample] = []
    for case_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        if pattern and not fnmatch.fnmatch(case_dir.name, pattern):
            continue
        if not (case_dir / "case.yaml").is_file():
            continue
        sample = load_sample(case_dir)
        if split != "all" and sample.split != split:
            continue
        samples.append(sample)
    return samples


def load_split(
    split: SplitFilter,
    *,
    cases_dir: Path | None = None,
    sealed_dir: Path | None = None,
    pattern: str | None = None,
) -> list[Sample]:
    """The cases of a split. By default dev comes from evals/cases/ and test from the sealed folder evals/sealed/
    (missing or empty: no test cases, not an error); all = both. A case in the sealed folder must say
    `split: test`, one in the dev folder `split: dev`. With `cases_dir` (a folder of one's own, e.g. fixtures) that
    folder is read alone and filtered by each case's `split`."""
    if cases_dir is not None and sealed_dir is None:
        return load_samples(cases_dir, split=split, pattern=pattern)
    out: list[Sample] = []
    if split in ("dev", "all"):
        root = cases_dir or CASES_DIR
        out += _only(load_samples(root, pattern=pattern), "dev", root)
    if split in ("test", "all"):
        sealed = sealed_dir or SEALED_DIR
        if sealed.is_dir():
            out += _only(load_samples(sealed, pattern=pattern), "test", sealed)
    return out


def _only(samples: list[Sample], split: Split, root: Path) -> list[Sample]:
    for sample in samples:
        if sample.split != split:
            where = sample.path / "case.yaml" if sample.path else root
            raise CaseError(
                f"{where}: split: {sample.split}, but the cases under {root} are the {split} split"
            )
    return samples
