"""The second case family (evals/family2): sources, balance across the open dev half and the sealed test half, and
deterministic regeneration. Failures about sealed cases name no case and show no content."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import pytest
import yaml

from agent.models import LAYERS
from evals.family2.__main__ import CASES_DIR, DEV_SOURCES, SEALED_DIR, SEALED_SOURCES, main
from evals.family2.schema import SourceError, load_source

DIALECTS = {"otlp-genai", "otlp-genai-legacy", "openllmetry", "openinference", "langfuse"}


def _cases(folder: Path, sources: Path) -> list[dict]:
    return [
        yaml.safe_load((folder / p.stem / "case.yaml").read_text(encoding="utf-8"))
        for p in sorted(sources.glob("*.yaml"))
    ]


def test_every_source_has_its_case_folder_and_states_what_identifies_the_cause() -> None:
    for sources, folder in ((DEV_SOURCES, CASES_DIR), (SEALED_SOURCES, SEALED_DIR)):
        paths = sorted(sources.glob("*.yaml"))
        assert paths, sources
        for i, path in enumerate(paths):
            label = path.stem if folder == CASES_DIR else f"sealed source #{i}"
            src = load_source(path)
            assert (folder / src.id / "case.yaml").is_file(), label
            assert len(src.identifiable_by) > 80, label
            assert src.red_herrings and all(t.startswith("rh:") for t in src.red_herrings), label


def test_family_is_balanced_and_split_half_and_half() -> None:
    dev = _cases(CASES_DIR, DEV_SOURCES)
    test = _cases(SEALED_DIR, SEALED_SOURCES)
    assert len(dev) + len(test) >= 40
    assert {c["split"] for c in dev} == {"dev"} and {c["split"] for c in test} == {"test"}
    total = Counter(c["gold"]["primary"] for c in dev + test)
    quarter = (len(dev) + len(test)) / 4
    assert all(abs(total[layer] - quarter) <= 1 for layer in LAYERS), total
    by_layer: dict[str, Counter] = defaultdict(Counter)
    for c in dev + test:
        by_layer[c["gold"]["primary"]][c["split"]] += 1
    assert all(abs(n["dev"] - n["test"]) <= 1 for n in by_layer.values()), "layers not stratified by split"
    assert {c["dialect"] for c in dev} == DIALECTS and {c["dialect"] for c in test} == DIALECTS
    assert min(Counter(c["dialect"] for c in dev + test).values()) >= 6
    assert sum(1 for c in dev + test if c["gold"]["contributing"]) >= 8
    domains = Counter(t for c in dev + test for t in c["tags"] if t.startswith("domain:"))
    assert len(domains) >= 6 and max(domains.values()) <= (len(dev) + len(test)) // 4, domains


def test_every_case_carries_production_noise() -> None:
    for i, case in enumerate(_cases(CASES_DIR, DEV_SOURCES) + _cases(SEALED_DIR, SEALED_SOURCES)):
        tags = set(case["tags"])
        assert {"noise:sampling-jitter", "noise:daily-rhythm"} <= tags, i
        assert "rh:other-service-model-change" in tags and "noise:other-service-errors" in tags, i
    every = [set(c["tags"]) for c in _cases(CASES_DIR, DEV_SOURCES) + _cases(SEALED_DIR, SEALED_SOURCES)]
    assert sum("noise:short-baseline" in t for t in every) >= 8
    assert sum("noise:missing-attrs" in t for t in every) >= 20


def test_regeneration_is_byte_identical(tmp_path: Path) -> None:
    """`python -m evals.family2` rewrites every committed case folder of the family byte for byte."""
    dev_out, sealed_out = tmp_path / "dev", tmp_path / "sealed"
    assert main(["--dev-out", str(dev_out), "--sealed-out", str(sealed_out)]) == 0
    for out, committed, sources in (
        (dev_out, CASES_DIR, DEV_SOURCES),
        (sealed_out, SEALED_DIR, SEALED_SOURCES),
    ):
        for i, path in enumerate(sorted(sources.glob("*.yaml"))):
            label = path.stem if committed == CASES_DIR else f"sealed case #{i}"
            fresh = sorted(
                p.relative_to(out / path.stem) for p in (out / path.stem).rglob("*") if p.is_file()
            )
            kept = sorted(
                p.relative_to(committed / path.stem)
                for p in (committed / path.stem).rglob("*")
                if p.is_file()
            )
            assert fresh == kept, f"{label}: files differ; run python -m evals.family2"
            for rel in fresh:
                same = (out / path.stem / rel).read_bytes() == (committed / path.stem / rel).read_bytes()
                assert same, f"{label}: {rel} differs; run python -m evals.family2"


def test_a_bad_source_is_one_line_naming_the_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text("id: broken\nsplit: dev\ndifficulty: medium\n", encoding="utf-8")
    with pytest.raises(SourceError) as info:
        load_source(bad)
    assert str(bad) in str(info.value) and "domain" in str(info.value) and "\n" not in str(info.value)
    bad.write_text("id: [broken\n", encoding="utf-8")
    with pytest.raises(SourceError, match="not valid YAML"):
        load_source(bad)


def test_a_change_to_a_dotted_attribute_replaces_that_key_not_a_nested_map() -> None:
    """Span attributes are flat maps with dotted keys: a release that sets `adapter.version` of a step must
    replace the value its earlier requests carried, or the telemetry never shows the change the case is about."""
    from evals.family2.timeline import set_path

    state = {"attrs": {"unlock": {"adapter.version": "1.3.2"}}, "models": {"main": {"response": "a"}}}
    set_path(state, "attrs.unlock.adapter.version", "1.4.0")
    set_path(state, "models.main.response", "b")
    assert state["attrs"]["unlock"] == {"adapter.version": "1.4.0"}
    assert state["models"]["main"] == {"response": "b"}
    set_path(state, "attrs.root", {"gateway.region": "eu-west-2"})
    assert state["attrs"]["root"] == {"gateway.region": "eu-west-2"}
