"""Other services in the same export: their own traffic, model and prompt changes and errors in the window."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict

from evals.family2.schema import NeighbourUse, duration
from evals.family2.timeline import request_times
from evals.generator.ids import IdGen
from evals.generator.ir import GSpan, GTrace, Msg

LIBRARY = Path(__file__).with_name("neighbours.yaml")


class Archetype(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service: str
    root: str
    provider: str
    models: tuple[str, str]  # before, after its own model change
    prompt_id: str
    versions: tuple[str, str]  # before, after its own prompt change
    system: str
    tool: str
    error: str
    message: str
    pairs: list[tuple[str, str]]


def library() -> dict[str, Archetype]:
    raw = yaml.safe_load(LIBRARY.read_text(encoding="utf-8"))
    return {name: Archetype.model_validate(item) for name, item in raw.items()}


def neighbour_traces(
    use: NeighbourUse, onset: datetime, start: datetime, end: datetime, ids: IdGen, rng: random.Random
) -> list[GTrace]:
    arch = library()[use.use]
    model_at = onset + duration(use.model_change) if use.model_change else None
    prompt_at = onset + duration(use.prompt_change) if use.prompt_change else None
    times = request_times(rng, start, end, use.traces)
    if model_at and not any(t >= model_at for t in times):
        times.append(model_at + timedelta(minutes=rng.randint(5, 50)))
    window = [i for i, t in enumerate(times) if t >= onset - timedelta(hours=12)]
    errors = set(rng.sample(window, min(len(window), use.errors)))
    out = []
    for i, t in enumerate(times):
        model = arch.models[1] if model_at and t >= model_at else arch.models[0]
        version = arch.versions[1] if prompt_at and t >= prompt_at else arch.versions[0]
        out.append(_trace(arch, t, model, version, i in errors, ids, rng))
    return out


def _trace(
    arch: Archetype, t: datetime, model: str, version: str, failed: bool, ids: IdGen, rng: random.Random
) -> GTrace:
    trace_id = ids.trace_id()
    asked, answered = rng.choice(arch.pairs)
    root = GSpan(trace_id, ids.span_id(), None, arch.root, "chain", arch.service, t, t, input_value=asked)
    tool_start = t + timedelta(milliseconds=rng.randint(2, 20))
    tool_end = tool_start + timedelta(
        milliseconds=rng.randint(30, 300) if not failed else rng.randint(2000, 9000)
    )
    tool = GSpan(
        trace_id,
        ids.span_id(),
        root.span_id,
        arch.tool,
        "tool",
        arch.service,
        tool_start,
        tool_end,
        tool_name=arch.tool,
        tool_args=f'{{"ref": "{rng.randint(0, 99999):05d}"}}',
    )
    tool.status = "error" if failed else "ok"
    if failed:
        tool.error_type, tool.status_message = arch.error, arch.message
        tool.events = [
            {
                "name": "exception",
                "time": tool_end,
                "attributes": {"exception.type": arch.error, "exception.message": arch.message},
            }
        ]
    llm_start = tool_end + timedelta(milliseconds=rng.randint(2, 20))
    llm_end = llm_start + timedelta(milliseconds=rng.randint(500, 2500))
    llm = GSpan(
        trace_id,
        ids.span_id(),
        root.span_id,
        f"chat {model}",
        "llm",
        arch.service,
        llm_start,
        llm_end,
        provider=arch.provider,
        request_model=model,
        response_model=model,
        temperature=round(rng.uniform(0.0, 0.8), 2),
        max_tokens=600,
        system=arch.system,
        input_messages=[Msg("user", asked)],
        output_messages=[Msg("assistant", answered)],
        finish_reason="stop",
        input_tokens=len(arch.system + asked) // 4,
        output_tokens=len(answered) // 4,
        response_id=ids.token("chatcmpl-", 24),
        template_id=arch.prompt_id,
        template_version=version,
    )
    root.end = llm_end + timedelta(milliseconds=rng.randint(2, 30))
    root.output_value = answered
    return GTrace(trace_id, arch.service, [root, tool, llm], label="neighbour")
