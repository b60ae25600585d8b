"""Red herrings and background noise: a harmless prompt edit long before the onset, unrelated tool errors,
rate-limit retries, and other services (one of which changes its model near the onset)."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta

from evals.generator.ids import IdGen
from evals.generator.ir import GTrace
from evals.generator.sides import SIDE_POOLS, SIDE_PROMPTS
from evals.generator.spec import App, Call, Change, Prompt, SideService
from evals.generator.timeline import request_times, state_at
from evals.generator.traffic import TraceBuilder

Edit = Callable[[str], str]


def _header(text: str) -> str:
    return f"# Assistant instructions (reviewed by content design)\n{text}"


def _tone(text: str) -> str:
    return f"{text}\nKeep a warm, plain-spoken tone; avoid exclamation marks."


def _bullets(text: str) -> str:
    return text.replace("\n- ", "\n* ")


def _thanks(text: str) -> str:
    return f"{text}\nIf the user mentions waiting, thank them for their patience."


def _spelling(text: str) -> str:
    return text.replace("  ", " ").replace(" e-mail", " email").replace("Do not", "Don't")


COSMETIC: list[Edit] = [_header, _tone, _bullets, _thanks, _spelling]


def cosmetic_edit(rng: random.Random, text: str) -> Edit:
    """A harmless edit that really changes the text (so the template diff is not empty)."""
    edits = COSMETIC[:]
    rng.shuffle(edits)
    for edit in edits:
        if edit(text) != text:
            return edit
    return _header


def bump_version(version: str) -> str:
    head = version.rstrip("0123456789")
    digits = version[len(head) :]
    return f"{head}{int(digits) + 1}" if digits else f"{version}.1"


def add_prompt_bump(
    app: App, changes: list[Change], at: datetime, rng: random.Random, text: str | None, version: str | None
) -> None:
    """Insert a harmless template edit at `at`; later prompt versions inherit the edit."""
    if app.prompt is None or app.prompt.text is None:
        return
    edit = cosmetic_edit(rng, app.prompt.text)
    new_text = text or edit(app.prompt.text)
    taken = {c.updates["prompt"].version for c in changes if isinstance(c.updates.get("prompt"), Prompt)}
    version = version or bump_version(app.prompt.version)
    if version in taken:
        version = f"{app.prompt.version}.1"
    changes.append(Change(at, {"prompt": Prompt(version, new_text)}, "prompt-bump"))
    for change in changes:
        prompt = change.updates.get("prompt")
        if change.at > at and isinstance(prompt, Prompt) and prompt.text and text is None:
            change.updates["prompt"] = Prompt(prompt.version, edit(prompt.text))


DEFAULT_AUX = Call(
    "crm.get_customer_profile",
    {"fields": ["tier", "locale"]},
    error="TimeoutError",
    message="crm-gateway did not answer within 2000 ms",
    ms=2000,
)


def side_traces(
    side: SideService,
    onset: datetime,
    start: datetime,
    end: datetime,
    ids: IdGen,
    rng: random.Random,
    dialect_service_prefix: str = "",
) -> list[GTrace]:
    """Traffic of another service whose model changes at onset + change_offset."""
    prompt = SIDE_PROMPTS[side.pool]
    app = App(
        service=side.service,
        pipeline=["llm"],
        root="chain",
        root_name=side.pool.replace("-", "_"),
        provider=side.provider,
        request_model=side.model_before.rsplit("-20", 1)[0],
        response_model=side.model_before,
        temperature=side.temperature,
        max_tokens=400,
        prompt=prompt,
        template_id=f"{side.pool}-prompt",
        user_prefix="svc",
    )
    after = side.model_after
    changes = [
        Change(
            onset + side.change_offset,
            {"request_model": after.rsplit("-20", 1)[0], "response_model": after},
            "side-model",
        )
    ]
    builder = TraceBuilder(app, ids, rng)
    pool = SIDE_POOLS[side.pool]
    out = []
    change_at = onset + side.change_offset
    close = [
        change_at + timedelta(minutes=m)
        for m in (-rng.randint(20, 180), -rng.randint(5, 19), rng.randint(5, 40), rng.randint(41, 200))
    ]
    times = sorted(request_times(rng, start, end, max(side.traces - len(close), 0), tz_offset=1) + close)
    for t in times:
        state, _ = state_at(app, changes, t, rng)
        ex = pool[rng.randrange(len(pool))]
        trace = builder.build(t, ex, state, ids.token("job_", 12), f"svc-{side.pool}", {})
        trace.label = "side"
        out.append(trace)
    return out
