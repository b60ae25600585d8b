"""Every case of the eval set, one module per failure family (each with several varied cases)."""

from __future__ import annotations

from evals.generator.spec import CaseSpec


def all_cases() -> list[CaseSpec]:
    from evals.generator.scenarios import (
        data_shift,
        data_stale,
        data_upstream,
        model_bias,
        model_grounding,
        model_update,
        prompt_injection,
        prompt_overreach,
        prompt_regression,
        system_context,
        system_guardrails,
        system_orchestration,
        system_tools,
    )

    modules = [
        data_stale,
        data_shift,
        data_upstream,
        model_update,
        model_bias,
        model_grounding,
        prompt_regression,
        prompt_injection,
        prompt_overreach,
        system_tools,
        system_context,
        system_guardrails,
        system_orchestration,
    ]
    cases = [case for module in modules for case in module.cases()]
    ids = [c.id for c in cases]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise ValueError(f"duplicate case ids: {sorted(duplicates)}")
    return sorted(cases, key=lambda c: c.id)
