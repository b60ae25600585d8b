"""Real descriptions, no traces: AI Incident Database incidents classified from their description alone,
scored against a hand-labelled stratified sample (evals/aiid/labels.csv).

Data: the AI Incident Database (incidentdatabase.ai), CC BY-SA 4.0.
"""

from __future__ import annotations

import csv
import random
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from agent.models import LAYERS, Incident, Layer
from agent.settings import get_settings
from evals.harness.baselines import incident_text, keyword_baseline
from retrieval.aiid import AiidRow, iter_rows
from retrieval.trace import IngestError

AIID_DIR = Path(__file__).resolve().parent.parent / "aiid"
LABELS_FILE = AIID_DIR / "labels.csv"


def default_csv() -> Path:
    """incidents.csv of the AIID snapshot: POSTMORTEM_AIID_DIR, default shared/data/aiid beside the checkout."""
    return get_settings().aiid_data_dir / "incidents.csv"


SAMPLE_SEED = 20240639
MIT_CSV_NAME = (
    "classifications_MIT.csv"  # beside incidents.csv: its Intent column splits misuse from failures
)
# Strata: era x intent, with how many incidents to draw from each. LLM-era incidents (2023 on) are favoured, and
# unintentional failures (what a post-mortem of one's own system is about) over deliberate misuse, not only them.
STRATA: tuple[tuple[str, int, int, int, int], ...] = (
    # name, first year, last year, unintentional, intentional/other/unknown
    ("before-2017", 0, 2016, 9, 2),
    ("2017-2022", 2017, 2022, 12, 3),
    ("2023-on", 2023, 9999, 34, 10),
)


class AiidError(ValueError):
    """A bad AIID or labels file: the message names the file and the row."""


class AiidIncident(AiidRow):
    """A row of incidents.csv (parsed by retrieval.aiid, the one AIID parser) as the eval sees it."""

    @property
    def year(self) -> int:
        date = self.date or ""
        return int(date[:4]) if date[:4].isdigit() else 0

    def as_incident(self) -> Incident:
        return Incident(id=f"aiid-{self.incident_id}", title=self.title, description=self.description)


SPLIT_SEED = 20250704
Split = Literal["dev", "test"]
SPLITS: tuple[Split, ...] = ("dev", "test")


class Label(BaseModel):
    incident_id: int
    primary_layer: Layer
    reason: str
    split: Split | None = None  # dev: cues may be tuned on it; test: scored once, never tuned on


def assign_splits(labels: Sequence[Label], *, seed: int = SPLIT_SEED) -> dict[int, Split]:
    """incident_id -> dev or test: per hand label, a seeded shuffle of the ids; the first half (rounded up) is dev."""
    out: dict[int, Split] = {}
    for layer in LAYERS:
        ids = sorted(label.incident_id for label in labels if label.primary_layer == layer)
        random.Random(f"{seed}:{layer}").shuffle(ids)
        half = (len(ids) + 1) // 2
        out.update({i: ("dev" if n < half else "test") for n, i in enumerate(ids)})
    return out


def load_incidents(path: Path) -> list[AiidIncident]:
    """Every incident of an AIID incidents.csv; AiidError naming the file and line on the first bad row (the
    eval's reference data must read whole)."""
    if not path.is_file():
        raise AiidError(f"{path}: no such file (the AIID incidents.csv)")
    incidents: list[AiidIncident] = []
    for item in iter_rows(path):
        if isinstance(item, IngestError):
            raise AiidError(str(item))
        incidents.append(AiidIncident(**item.model_dump()))
    return incidents


def load_intents(path: Path) -> dict[int, str]:
    """incident_id -> MIT risk-repository Intent (Unintentional, Intentional, Other); empty if the file is absent."""
    if not path.is_file():
        return {}
    with path.open(encoding="utf-8", newline="") as handle:
        return {
            int(row["Incident ID"]): row.get("Intent") or ""
            for row in csv.DictReader(handle)
            if (row.get("Incident ID") or "").isdigit()
        }


def stratum_of(incident: AiidIncident, intents: dict[int, str] | None = None) -> str:
    era = next((name for name, first, last, *_ in STRATA if first <= incident.year <= last), STRATA[0][0])
    if intents is None:
        return era
    kind = "unintentional" if intents.get(incident.incident_id) == "Unintentional" else "intentional-other"
    return f"{era}/{kind}"


def draw_sample(
    incidents: Sequence[AiidIncident], intents: dict[int, str], *, seed: int = SAMPLE_SEED
) -> list[AiidIncident]:
    """The stratified random sample to label by hand: fixed seed, so the same incidents every time."""
    picked: list[AiidIncident] = []
    for era, _first, _last, n_unintended, n_other in STRATA:
        for kind, n in (("unintentional", n_unintended), ("intentional-other", n_other)):
            name = f"{era}/{kind}"
            pool = sorted(
                (i for i in incidents if stratum_of(i, intents) == name), key=lambda i: i.incident_id
            )
            rng = random.Random(f"{seed}:{name}")
            picked.extend(sorted(rng.sample(pool, min(n, len(pool))), key=lambda i: i.incident_id))
    return picked


def load_labels(path: Path = LABELS_FILE) -> list[Label]:
    if not path.is_file():
        raise AiidError(f"{path}: no such labels file")
    labels: list[Label] = []
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        for row_no, row in enumerate(reader, start=2):
            layer = (row.get("primary_layer") or "").strip()
            if layer not in LAYERS:
                raise AiidError(
                    f"{path}:line {row_no}: primary_layer {layer!r} is not one of {', '.join(LAYERS)}"
                )
            split = (row.get("split") or "").strip() or None
            if split is not None and split not in SPLITS:
                raise AiidError(f"{path}:line {row_no}: split {split!r} is not one of {', '.join(SPLITS)}")
            try:
                labels.append(
                    Label(
                        incident_id=int(row["incident_id"]),
                        primary_layer=layer,
                        reason=row.get("reason") or "",
                        split=split,
                    )
                )
            except (ValueError, KeyError):
                raise AiidError(f"{path}:line {row_no}: incident_id is missing or not a number") from None
    return labels


Classifier = Callable[[AiidIncident], Layer | None]


def keyword_classifier(incident: AiidIncident) -> Layer | None:
    return keyword_baseline(incident_text(incident.title, incident.description)).primary


def agent_description_classifier(*, fallback: bool = False) -> tuple[str, Classifier] | None:
    """The agent's own description-only classifier (its no-telemetry path), when it exposes one.

    fallback=True: when no cue matches, the layer the definitions give to accounts that name no component."""
    try:
        from agent.textcues import classify_description as agent_classify
    except ImportError:
        return None

    def classify(incident: AiidIncident) -> Layer | None:
        if fallback:
            return agent_classify(incident.as_incident(), fallback=True)
        return agent_classify(incident.as_incident())

    method = "agent.textcues.classify_description" + (" (fallback=True)" if fallback else "")
    return method, classify


class SystemResult(BaseModel):
    system: str
    method: str
    accuracy: float
    correct: int
    n: int
    abstained: int = 0  # predicted no layer at all
    per_layer_recall: dict[str, float | None] = Field(default_factory=dict)
    confusion: dict[str, dict[str, int]] = Field(default_factory=dict)
    predictions: dict[int, str] = Field(default_factory=dict)


class AiidReport(BaseModel):
    labelled: int
    label_counts: dict[str, int]
    strata: dict[str, int]
    systems: list[SystemResult]  # on every labelled incident
    by_split: dict[str, list[SystemResult]] = Field(default_factory=dict)  # dev / test, when labels carry one
    split_counts: dict[str, dict[str, int]] = Field(default_factory=dict)  # split -> layer -> labels
    all_incidents: int
    all_predicted: dict[str, dict[str, int]]  # system -> layer -> count over every incident in the CSV
    credit: str = "AI Incident Database (incidentdatabase.ai), CC BY-SA 4.0"


def _score(
    system: str, method: str, classify: Classifier, sample: Sequence[tuple[AiidIncident, Label]]
) -> SystemResult:
    table = {g: {p: 0 for p in (*LAYERS, "none")} for g in LAYERS}
    predictions: dict[int, str] = {}
    for incident, label in sample:
        predicted = classify(incident) or "none"
        predictions[incident.incident_id] = predicted
        table[label.primary_layer][predicted] += 1
    correct = sum(table[layer][layer] for layer in LAYERS)
    recall = {
        layer: round(table[layer][layer] / total, 4) if (total := sum(table[layer].values())) else None
        for layer in LAYERS
    }
    n = len(sample)
    return SystemResult(
        system=system,
        method=method,
        accuracy=round(correct / n, 4) if n else 0.0,
        correct=correct,
        n=n,
        abstained=sum(table[g]["none"] for g in LAYERS),
        per_layer_recall=recall,
        confusion=table,
        predictions=predictions,
    )


def agent_draft_classifier(embedder: Any, settings: Any, workdir: Path) -> Classifier:
    """The whole offline agent on an incident with no telemetry: `draft_incident` against an empty store."""
    from agent.api import draft_incident
    from retrieval.store import TraceStore

    store = TraceStore(path=workdir / "chroma", embedder=embedder)  # empty, and drafts are never published
    settings = settings.model_copy(update={"home": workdir / "home"})

    def classify(incident: AiidIncident) -> Layer | None:
        return draft_incident(
            incident.as_incident(), settings=settings, store=store
        ).draft.classification.primary

    return classify


def evaluate_aiid(
    incidents: Sequence[AiidIncident],
    labels: Sequence[Label],
    intents: dict[int, str] | None = None,
    *,
    draft_classifier: Classifier | None = None,
) -> AiidReport:
    """Accuracy of each description-only classifier on the labelled sample, and its predictions over all.

    `draft_classifier` (see agent_draft_classifier) is scored on the labelled sample only: a draft per incident
    of the whole CSV would take minutes."""
    by_id = {i.incident_id: i for i in incidents}
    unknown = [label.incident_id for label in labels if label.incident_id not in by_id]
    if unknown:
        raise AiidError(f"labels name incidents not in the CSV: {', '.join(map(str, unknown[:5]))}")
    sample = [(by_id[label.incident_id], label) for label in labels]
    counts = Counter(label.primary_layer for label in labels)
    # the majority baseline is fitted on dev when there is a split (the only part one may fit on)
    dev = [label for label in labels if label.split == "dev"]
    fitted = Counter(label.primary_layer for label in (dev or labels))
    majority = max(LAYERS, key=lambda layer: fitted.get(layer, 0))
    where = "dev" if dev else "all"
    systems: list[tuple[str, str, Classifier]] = []
    for name, fallback in (("agent", False), ("agent+fallback", True)):
        agent = agent_description_classifier(fallback=fallback)
        if agent is not None:
            systems.append((name, agent[0], agent[1]))
    systems.append(("keyword", "evals.harness.baselines.keyword_baseline", keyword_classifier))
    systems.append(
        (
            "majority",
            f"always '{majority}' (the commonest hand label on {where}: an upper bound for this baseline there)",
            lambda _i: majority,
        )
    )
    all_predicted = {
        name: dict(Counter(classify(i) or "none" for i in incidents))
        for name, _m, classify in systems
        if name != "majority"
    }
    if draft_classifier is not None:
        method = "agent.api.draft_incident, offline, empty store (the whole no-telemetry path)"
        systems.insert(0, ("agent-draft", method, draft_classifier))
    results = [_score(name, method, classify, sample) for name, method, classify in systems]
    by_split: dict[str, list[SystemResult]] = {}
    split_counts: dict[str, dict[str, int]] = {}
    for split in SPLITS:
        part = [(i, label) for i, label in sample if label.split == split]
        if part:
            by_split[split] = [_rescore(r, part) for r in results]
            split_counts[split] = dict(Counter(label.primary_layer for _i, label in part))
    return AiidReport(
        labelled=len(labels),
        label_counts={layer: counts.get(layer, 0) for layer in LAYERS},
        strata=dict(Counter(stratum_of(i, intents) for i, _ in sample)),
        systems=results,
        by_split=by_split,
        split_counts=split_counts,
        all_incidents=len(incidents),
        all_predicted=all_predicted,
    )


def _rescore(result: SystemResult, part: Sequence[tuple[AiidIncident, Label]]) -> SystemResult:
    """A system's score on part of the sample, from the predictions it already made (each incident once)."""
    predictions = result.predictions
    return _score(result.system, result.method, lambda i: _none(predictions[i.incident_id]), part)


def _none(predicted: str) -> Layer | None:
    return None if predicted == "none" else predicted  # type: ignore[return-value]
