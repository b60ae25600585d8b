"""Merge the model's classification into the offline one, so a weak model cannot make the draft worse.

- a layer the model did not assess keeps its offline assessment;
- the model may change a layer's role only by citing evidence that was sent (a change without a valid id keeps
  the offline assessment), and a claim the checker demoted for citing nothing that was sent is no assessment
  (even where the demotion lands on the offline role);
- one primary at most: the model's, when it named one with evidence; otherwise the offline primary, if its layer
  kept the offline assessment;
- the notes say which layers came from the model and which stayed offline.
"""

from __future__ import annotations

from agent.llm.classifier_step import Checked
from agent.models import LAYERS, Classification, LayerAssessment


def merge_with_offline(checked: Checked, offline: Classification) -> tuple[Classification, list[str]]:
    model = {a.layer: a for a in checked.classification.layers}
    base = {a.layer: a for a in offline.layers}
    kept_offline: list[str] = []
    from_model: list[str] = []
    layers: list[LayerAssessment] = []
    for layer in LAYERS:
        mine, theirs = model.get(layer), base.get(layer)
        if theirs is None or (mine is not None and _may_replace(layer, mine, theirs, checked)):
            layers.append(mine or _unknown(layer))
            from_model.append(layer)
        else:
            layers.append(theirs)
            if layer not in checked.assessed:
                why = "not assessed by the model"
            elif layer in checked.demoted:
                why = "the model's claim cited no evidence that was sent"
            else:
                why = "the model's change cited no evidence"
            kept_offline.append(f"{layer} ({why})")
    primary = checked.classification.primary
    if primary is not None and primary not in from_model:
        primary = None
    if primary is None and offline.primary is not None and offline.primary not in from_model:
        primary = offline.primary
    layers = [_one_primary(a, primary) for a in layers]
    notes = []
    if from_model:
        notes.append(f"layers assessed by the model: {', '.join(from_model)}")
    if kept_offline:
        notes.append(f"kept from the offline analysis: {', '.join(kept_offline)}")
    merged = Classification(primary=primary, layers=layers, method=checked.classification.method)
    return merged, notes


def _may_replace(layer: str, mine: LayerAssessment, theirs: LayerAssessment, checked: Checked) -> bool:
    if layer not in checked.assessed or layer in checked.demoted:
        return False
    if mine.role == theirs.role:
        return True
    return bool(mine.evidence)


def _one_primary(a: LayerAssessment, primary: str | None) -> LayerAssessment:
    if a.role == "primary" and a.layer != primary:
        return a.model_copy(update={"role": "contributing"})
    if a.layer == primary and a.role != "primary":
        return a.model_copy(update={"role": "primary"})
    return a


def _unknown(layer: str) -> LayerAssessment:
    return LayerAssessment(layer=layer, role="unknown", confidence="inconclusive", rationale="Not assessed.")
