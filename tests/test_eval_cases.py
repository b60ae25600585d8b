"""Validates the labelled eval set: schema, ingestion, gold ids, balance, red herrings, variety.

Covers evals/cases/ and, structurally, the sealed test cases in evals/sealed/: their failures name only a neutral
label ("sealed#N"), never the case or its content, so nobody learns them from a test run. The traces of every case
are ingested once per session with the real ingesters (no store needed).
"""

from __future__ import annotations

import itertools
import re
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.models import LAYERS, Incident
from retrieval.ingest import iter_file
from retrieval.trace import IngestError, Span, SpanKind

CASES = Path(__file__).resolve().parent.parent / "evals" / "cases"
SEALED = CASES.parent / "sealed"
FAMILY2 = "family:production"  # tag of the second, independently written family (evals/family2)
DIALECTS = {  # case.yaml dialect -> Span.dialect of the incident service's LLM spans
    "otlp-genai": "genai",
    "otlp-genai-legacy": "genai-legacy",
    "openllmetry": "openllmetry",
    "openinference": "openinference",
    "langfuse": "langfuse",
}
CASE_KEYS = {"id", "split", "difficulty", "tags", "dialect", "based_on", "incident", "gold"}
GOLD_KEYS = {"primary", "contributing", "key_evidence", "decisive_span", "onset", "rationale"}
OPEN_DIRS = sorted(p for p in CASES.iterdir() if p.is_dir() and (p / "case.yaml").is_file())
SEALED_DIRS = sorted(p for p in SEALED.iterdir() if p.is_dir() and (p / "case.yaml").is_file())
CASE_DIRS = OPEN_DIRS + SEALED_DIRS
LABELS = {p.name: p.name for p in OPEN_DIRS} | {p.name: f"sealed#{i}" for i, p in enumerate(SEALED_DIRS)}


def _label(name: str) -> str:
    """How a failure names a case: its id, or a neutral number for a sealed one."""
    return LABELS[name]


class _about:  # noqa: N801 - used as `with _about(name):`
    """Checks on sealed cases fail with their neutral label only: no values, no traceback, nothing of the content."""

    def __init__(self, *names: str) -> None:
        self.names = names

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: Any) -> bool:
        if error is None or all(LABELS.get(n, n) == n for n in self.names):
            return False
        labels = ", ".join(_label(n) for n in self.names)
        raise pytest.fail.Exception(
            f"{labels}: a check failed (details hidden for sealed cases)", pytrace=False
        ) from None


def _load(case_dir: Path) -> dict[str, Any]:
    return yaml.safe_load((case_dir / "case.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def cases() -> dict[str, dict[str, Any]]:
    return {d.name: _load(d) for d in CASE_DIRS}


@pytest.fixture(scope="session")
def ingested() -> dict[str, tuple[list[Span], list[IngestError]]]:
    out: dict[str, tuple[list[Span], list[IngestError]]] = {}
    for case_dir in CASE_DIRS:
        spans: list[Span] = []
        errors: list[IngestError] = []
        for path in sorted((case_dir / "traces").iterdir()):
            for item in iter_file(path):
                if isinstance(item, IngestError):
                    errors.append(item)
                elif isinstance(item, Span):
                    spans.append(item)
        out[case_dir.name] = (spans, errors)
    return out


def _incident(case: dict[str, Any]) -> Incident:
    return Incident.model_validate({**case["incident"], "id": case["id"]})


def test_enough_cases() -> None:
    assert len(CASE_DIRS) >= 44


@pytest.mark.parametrize("case_dir", CASE_DIRS, ids=lambda p: _label(p.name))
def test_case_schema(case_dir: Path) -> None:
    with _about(case_dir.name):
        case = _load(case_dir)
        assert set(case) == CASE_KEYS, f"unexpected keys: {set(case) ^ CASE_KEYS}"
        assert case["id"] == case_dir.name
        # evals/cases is the dev split; the sealed test split lives in evals/sealed
        assert case["split"] == ("test" if case_dir.parent == SEALED else "dev")
        assert case["difficulty"] in ("easy", "medium", "hard")
        assert case["dialect"] in DIALECTS
        assert case["based_on"].strip() and case["tags"]
        incident = _incident(case)
        assert incident.title and len(incident.description) > 80 and incident.service
        assert incident.window_start < incident.window_end
        gold = case["gold"]
        assert set(gold) == GOLD_KEYS
        assert gold["primary"] in LAYERS
        assert set(gold["contributing"]) <= set(LAYERS) - {gold["primary"]}
        assert 2 <= len(gold["key_evidence"]) <= 8 and len(set(gold["key_evidence"])) == len(
            gold["key_evidence"]
        )
        assert gold["decisive_span"] in gold["key_evidence"]
        assert all(re.fullmatch(r"[0-9a-f]{16}", sid) for sid in gold["key_evidence"])
        assert 20 <= len(gold["rationale"]) <= 600
        onset = Incident.model_validate({"title": "x", "window_start": gold["onset"]}).window_start
        assert incident.window_start - timedelta(days=3) <= onset < incident.window_end
        assert incident.reports, "every case has at least one report"
        for report in incident.reports:
            assert report.timestamp is not None and report.timestamp >= onset, "reports follow the onset"


def test_descriptions_do_not_name_the_answer(cases: dict[str, dict[str, Any]]) -> None:
    """The on-call's description states symptoms; it never names the primary layer."""
    for case in cases.values():
        with _about(case["id"]):
            text = f"{case['incident']['title']} {case['incident']['description']}".lower()
            assert not re.search(rf"\b{case['gold']['primary']}\b", text), _label(case["id"])


def test_traces_ingest_cleanly_and_gold_ids_resolve(cases, ingested) -> None:
    for name, case in cases.items():
        with _about(name):
            label = _label(name)
            spans, errors = ingested[name]
            assert not errors, f"{label}: {len(errors)} ingest errors" + (
                f" {errors[:3]}" if label == name else ""
            )
            assert 30 <= len(spans) <= 650, f"{label}: {len(spans)} spans"
            by_id = {s.span_id: s for s in spans}
            assert len(by_id) == len(spans), f"{label}: duplicate span ids"
            gold = case["gold"]
            missing = [sid for sid in gold["key_evidence"] if sid not in by_id]
            assert not missing, f"{label}: {len(missing)} key evidence ids not in traces"
            incident = _incident(case)
            decisive = by_id[gold["decisive_span"]]
            assert decisive.service == incident.service, label
            onset = Incident.model_validate({"title": "x", "window_start": gold["onset"]}).window_start
            assert abs((decisive.start_time - onset).total_seconds()) < 60, (
                f"{label}: decisive span far from onset"
            )
            root = min((s for s in spans if s.trace_id == decisive.trace_id), key=lambda s: s.start_time)
            assert abs((root.start_time - onset).total_seconds()) < 1, (
                f"{label}: onset is the first bad trace"
            )
            trace_ids = {s.trace_id for s in spans}
            assert set(incident.trace_ids) <= trace_ids, label


def test_baseline_traffic_precedes_the_window(cases, ingested) -> None:
    for name, case in cases.items():
        with _about(name):
            incident = _incident(case)
            own = [s for s in ingested[name][0] if s.service == incident.service and s.kind == SpanKind.llm]
            before = [s for s in own if s.start_time < incident.window_start]
            inside = [s for s in own if incident.window_start <= s.start_time < incident.window_end]
            assert len(before) >= 5 and len(inside) >= 10, (
                f"{_label(name)}: {len(before)} baseline, {len(inside)} window"
            )


def test_case_dialect_matches_the_traces(cases, ingested) -> None:
    for name, case in cases.items():
        with _about(name):
            service = case["incident"]["service"]
            dialects = Counter(
                s.dialect for s in ingested[name][0] if s.service == service and s.kind == SpanKind.llm
            )
            assert dialects.most_common(1)[0][0] == DIALECTS[case["dialect"]], f"{_label(name)}: {dialects}"


def test_layers_and_dialects_are_balanced(cases) -> None:
    """The first family (evals/generator, all dev since its test split was tuned on); the second family's balance is checked in test_eval_family2.py."""
    cases = {k: c for k, c in cases.items() if FAMILY2 not in c["tags"]}
    primary = Counter(c["gold"]["primary"] for c in cases.values())
    assert all(primary[layer] >= 8 for layer in LAYERS), primary
    dialects = Counter(c["dialect"] for c in cases.values())
    assert set(dialects) == set(DIALECTS) and min(dialects.values()) >= 6, dialects
    assert {c["difficulty"] for c in cases.values()} == {"easy", "medium", "hard"}
    assert sum(1 for c in cases.values() if c["gold"]["contributing"]) >= 12
    assert sum(1 for c in cases.values() if "sparse-telemetry" in c["tags"]) >= 3


def test_red_herrings_are_really_in_the_traces(cases, ingested) -> None:
    """Each case's rh:* tags are checked against its spans, and every case carries at least three of them."""
    for name, case in cases.items():
        with _about(name):
            label = _label(name)
            spans = ingested[name][0]
            service = case["incident"]["service"]
            onset = Incident.model_validate(
                {"title": "x", "window_start": case["gold"]["onset"]}
            ).window_start
            tags = {t for t in case["tags"] if t.startswith("rh:")}
            assert len(tags) >= 3, f"{label}: {len(tags)} red herrings"
            own_llm = [s for s in spans if s.service == service and s.kind == SpanKind.llm and not s.is_error]
            key_traces = {s.trace_id for s in spans if s.span_id in case["gold"]["key_evidence"]}
            if "rh:high-temperature" in tags:
                temps = [s.sampling.temperature for s in own_llm if s.sampling.temperature is not None]
                assert temps and min(temps) >= 0.9, label
            if "rh:other-service-model-change" in tags:
                others = defaultdict(set)
                for s in spans:
                    if s.service != service and s.kind == SpanKind.llm and s.model:
                        others[s.service].add(s.model)
                assert any(len(models) >= 2 for models in others.values()), (
                    f"{label}: no other service changes model"
                )
            if "rh:unrelated-tool-error" in tags:
                errors = [
                    s
                    for s in spans
                    if s.service == service
                    and s.kind == SpanKind.tool
                    and s.is_error
                    and s.trace_id not in key_traces
                ]
                assert errors, label
            if "rh:prompt-bump" in tags:
                versions = sorted(
                    (s.start_time, s.prompt_template.version)
                    for s in own_llm
                    if s.prompt_template is not None
                )
                changes = [t2 for (t1, v1), (t2, v2) in itertools.pairwise(versions) if v1 != v2]
                assert changes and changes[0] <= onset - timedelta(minutes=10), (
                    f"{label}: no prompt change before onset"
                )


def test_cases_differ_in_wording_structure_and_volume(cases, ingested) -> None:
    """Not one template with names swapped: system prompts, user inputs, pipelines and sizes all vary."""
    prompts: dict[str, set[str]] = {}
    inputs: dict[str, set[str]] = {}
    shapes: set[tuple[str, ...]] = set()
    sizes = []
    for name, case in cases.items():
        with _about(name):
            own = [s for s in ingested[name][0] if s.service == case["incident"]["service"]]
            sizes.append(len(ingested[name][0]))
            system = next((s.system_instructions for s in own if s.system_instructions), "") or ""
            prompts[name] = set(re.findall(r"[a-z]{3,}", system.lower()))
            inputs[name] = {s.user_text.lower() for s in own if s.kind == SpanKind.llm and s.user_text}
            by_trace: dict[str, list[Span]] = defaultdict(list)
            for s in own:
                by_trace[s.trace_id].append(s)
            for trace in list(by_trace.values())[:20]:
                shapes.add(tuple(s.kind.value for s in sorted(trace, key=lambda s: s.start_time)))
    for a, b in itertools.combinations(cases, 2):
        with _about(a, b):
            if prompts[a] and prompts[b]:
                jaccard = len(prompts[a] & prompts[b]) / len(prompts[a] | prompts[b])
                assert jaccard < 0.5, (
                    f"system prompts of {_label(a)} and {_label(b)} are near duplicates ({jaccard:.2f})"
                )
            assert not (inputs[a] & inputs[b]), f"{_label(a)} and {_label(b)} share user inputs"
    assert len(shapes) >= 12, f"only {len(shapes)} distinct trace shapes"
    assert max(sizes) >= 3 * min(sizes), "volumes should vary widely"


def test_index_lists_every_case(cases) -> None:
    index = (CASES / "INDEX.md").read_text(encoding="utf-8")
    listed = {
        line.split("|")[1].strip()
        for line in index.splitlines()
        if line.startswith("| ") and "---" not in line
    }
    assert listed - {"case"} == {name for name in cases if (CASES / name).is_dir()}


def test_total_size_is_modest() -> None:
    """Two families of cases (about 14 MB + 7 MB open, 7 MB sealed): a clone stays small and eval stays fast."""
    total = sum(p.stat().st_size for p in CASES.rglob("*") if p.is_file())
    assert total < 24_000_000, f"{total / 1e6:.1f} MB"
    sealed = sum(p.stat().st_size for p in SEALED.rglob("*") if p.is_file())
    assert sealed < 10_000_000, f"{sealed / 1e6:.1f} MB"


def test_case_data_files_regenerate_every_case_byte_for_byte(tmp_path: Path) -> None:
    """The first family is data (evals/generator/cases/*.yaml, converted from the former scenario modules): rendering
    every file gives byte-identical case folders to the committed ones, i.e. the same traces, ids and gold."""
    from evals.generator.__main__ import main
    from evals.generator.load import all_cases

    assert main(["--out", str(tmp_path)]) == 0
    names = [spec.id for spec in all_cases()]
    assert len(names) >= 44
    for name in names:
        committed = sorted(p.relative_to(CASES / name) for p in (CASES / name).rglob("*") if p.is_file())
        fresh = sorted(p.relative_to(tmp_path / name) for p in (tmp_path / name).rglob("*") if p.is_file())
        hint = (
            f"evals/generator/cases/{name}.yaml no longer renders evals/cases/{name}: change the data file, not the "
            "case folder, then run python -m evals.generator"
        )
        assert committed == fresh, hint
        for rel in committed:
            assert (CASES / name / rel).read_bytes() == (tmp_path / name / rel).read_bytes(), f"{rel}: {hint}"


def test_a_bad_case_data_file_is_one_line_naming_the_file_and_field(tmp_path: Path) -> None:
    from evals.generator.load import SOURCES, CaseDataError, load_case

    source = SOURCES / "air-canada-bereavement-fare.yaml"
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    data["app"]["temprature"] = 0.3
    bad = tmp_path / "air-canada-bereavement-fare.yaml"
    bad.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(CaseDataError) as info:
        load_case(bad)
    message = str(info.value)
    assert str(bad) in message and "app.temprature" in message and "\n" not in message
