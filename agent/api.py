"""Entry points other areas call (CLI, Slack, evals, pattern mining): draft an incident, resume a review,
load an incident file, replay a stored trace's LLM request."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.types import Command
from pydantic import BaseModel, ValidationError

from agent.errors import UserError
from agent.graph import compile_graph
from agent.models import Draft, Incident
from agent.settings import Settings, get_settings
from agent.state import CHECKPOINT_TYPES, AgentContext, ReviewDecision, RunOptions
from retrieval.safe_yaml import load_yaml

if TYPE_CHECKING:
    from agent.llm.replay import ReplayReport

ResultStatus = Literal["done", "awaiting_review", "published", "rejected"]


class DraftResult(BaseModel):
    draft: Draft
    thread_id: str
    status: ResultStatus


class ReviewError(ValueError):
    """No draft awaits review under that thread id, or the decision is incomplete."""


# -- incidents ------------------------------------------------------------------------------------------------
def load_incident(path: Path) -> Incident:
    """An incident from a YAML or JSON file (optionally nested under an `incident:` key, as in eval cases).

    Raises UserError naming the file and the field or line on bad input."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read ({exc})") from None
    try:
        raw = json.loads(text) if path.suffix.lower() == ".json" else load_yaml(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: line {exc.lineno}: invalid JSON ({exc.msg})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UserError(f"{path}: {where}invalid YAML ({problem})") from None
    if (
        isinstance(raw, dict)
        and "incident" in raw
        and "title" not in raw
        and isinstance(raw["incident"], dict)
    ):
        raw = raw["incident"]
    if not isinstance(raw, dict):
        raise UserError(f"{path}: expected a mapping with at least a `title`, got {type(raw).__name__}")
    return incident_from_mapping(raw, source=str(path))


def incident_from_mapping(raw: dict[str, Any], *, source: str = "incident") -> Incident:
    """Validate an incident mapping; times without a zone are taken as UTC."""
    try:
        incident = Incident.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(p) for p in error["loc"]) or "(root)"
        extra = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise UserError(f"{source}: field `{field}`: {error['msg']}{extra}") from None
    incident = _utc_incident(incident)
    if incident.window_start and incident.window_end and incident.window_end <= incident.window_start:
        raise UserError(f"{source}: field `window_end`: must be after window_start")
    return incident


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _utc_incident(incident: Incident) -> Incident:
    reports = [r.model_copy(update={"timestamp": _utc(r.timestamp)}) for r in incident.reports]
    return incident.model_copy(
        update={
            "window_start": _utc(incident.window_start),
            "window_end": _utc(incident.window_end),
            "reports": reports,
            "trace_ids": [t.strip().lower() for t in incident.trace_ids],
        }
    )


# -- the graph ------------------------------------------------------------------------------------------------
@contextmanager
def sqlite_checkpointer(settings: Settings) -> Iterator[SqliteSaver]:
    """The SQLite checkpointer at settings.checkpoint_path, allowed to rebuild the agent's state types."""
    path = settings.checkpoint_path
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), check_same_thread=False)
    allowed = [(cls.__module__, cls.__name__) for cls in CHECKPOINT_TYPES]
    try:
        yield SqliteSaver(conn, serde=JsonPlusSerializer(allowed_msgpack_modules=allowed))
    finally:
        conn.close()


def _resolve_provider(settings: Settings, name: str | None) -> tuple[Any | None, list[str]]:
    """The provider object (None offline) and a note when a requested provider cannot be used."""
    chosen = name or settings.provider
    if not chosen or chosen == "offline":
        return None, []
    from agent.providers import ProviderError, get_provider

    try:
        return get_provider(settings, chosen), []
    except ProviderError as exc:
        return None, [f"provider {chosen} is not usable ({exc}); the offline analysis was used instead"]


def _context(settings: Settings, store: Any | None, provider: Any | None) -> AgentContext:
    if store is not None:
        return AgentContext(settings=settings, store_factory=lambda: store, provider=provider)
    from agent.store_factory import open_store

    return AgentContext(settings=settings, store_factory=lambda: open_store(settings), provider=provider)


def _close(context: AgentContext, given: Any | None) -> None:
    if given is None and context._store is not None and hasattr(context._store, "close"):
        context._store.close()


def _result(values: dict[str, Any], thread_id: str) -> DraftResult:
    status = values.get("status")
    if status not in ("done", "awaiting_review", "published", "rejected"):
        raise RuntimeError(f"the agent stopped in an unexpected state ({status!r})")
    return DraftResult(draft=values["draft"], thread_id=thread_id, status=status)


def draft_incident(
    incident: Incident,
    *,
    settings: Settings | None = None,
    provider: str | None = None,
    store: Any | None = None,
    review: bool = False,
    thread_id: str | None = None,
    publish: bool = False,
) -> DraftResult:
    """Draft a post-mortem for `incident`. With review=True the run pauses for a human (status
    "awaiting_review") and `resume_review(thread_id, ...)` continues it, in this process or another.
    Without review, the draft is published into the store only when publish=True.

    Raises ValueError for an unknown provider name."""
    settings = settings or get_settings()
    provider_obj, notes = _resolve_provider(settings, provider)
    thread_id = thread_id or uuid.uuid4().hex
    context = _context(settings, store, provider_obj)
    inputs = {
        "incident": incident,
        "options": RunOptions(provider=provider, review=review, publish=publish),
        "notes": notes,
    }
    config = {"configurable": {"thread_id": thread_id}}
    try:
        if review:
            with sqlite_checkpointer(settings) as saver:
                graph = compile_graph(saver)
                graph.invoke(inputs, config, context=context)
                values = graph.get_state(config).values
        else:
            graph = compile_graph()
            values = graph.invoke(inputs, config, context=context)
    finally:
        _close(context, store)
    return _result(values, thread_id)


def resume_review(
    thread_id: str,
    decision: Literal["approve", "edit", "reject"],
    *,
    edited_markdown: str | None = None,
    settings: Settings | None = None,
    store: Any | None = None,
    reviewer: str | None = None,
) -> DraftResult:
    """Approve (publish), edit (replace the Markdown, then publish) or reject a draft awaiting review."""
    settings = settings or get_settings()
    if decision == "edit" and not (edited_markdown or "").strip():
        raise ReviewError("an edit needs the edited Markdown")
    answer = ReviewDecision(decision=decision, markdown=edited_markdown, reviewer=reviewer)
    config = {"configurable": {"thread_id": thread_id}}
    context = _context(settings, store, None)
    try:
        with sqlite_checkpointer(settings) as saver:
            graph = compile_graph(saver)
            snapshot = graph.get_state(config)
            if not snapshot.values:
                raise ReviewError(f"no draft with thread id {thread_id} in {settings.checkpoint_path}")
            if "review" not in snapshot.next:
                status = snapshot.values.get("status", "unknown")
                raise ReviewError(f"draft {thread_id} is not awaiting review (status: {status})")
            graph.invoke(Command(resume=answer.model_dump()), config, context=context)
            values = graph.get_state(config).values
    finally:
        _close(context, store)
    return _result(values, thread_id)


def pending_reviews(settings: Settings | None = None) -> list[str]:
    """Thread ids of drafts awaiting review, newest first."""
    settings = settings or get_settings()
    if not settings.checkpoint_path.exists():
        return []
    with sqlite_checkpointer(settings) as saver:
        graph = compile_graph(saver)
        # read the whole listing first: the saver's lock is held while its generator is open
        threads = list(dict.fromkeys(item.config["configurable"]["thread_id"] for item in saver.list(None)))
        return [t for t in threads if "review" in graph.get_state({"configurable": {"thread_id": t}}).next]


# -- replay ----------------------------------------------------------------------------------------------------
class ReplayRequest(BaseModel):
    """Re-send the LLM request captured in a stored trace n times (the options of `postmortem replay`)."""

    trace_id: str
    n: int = 20
    span: str | None = None  # the LLM span to replay; default the trace's last
    pattern: str | None = None  # recurrence = the output contains this; None = cosine to the recorded output
    regex: bool = False
    threshold: float = 0.8
    provider: str | None = None  # default POSTMORTEM_PROVIDER
    model: str | None = None  # override the recorded model
    concurrency: int = 1


def _replay_provider(settings: Settings, name: str | None) -> Any:
    from agent.providers import ProviderError, get_provider

    try:
        chosen = get_provider(settings, name)
    except ValueError as exc:
        raise UserError(f"--provider: {exc}") from None
    except ProviderError as exc:
        raise UserError(f"replay needs a working provider: {exc.reason}") from None
    if chosen is None:
        raise UserError(
            "replay needs a provider: set POSTMORTEM_PROVIDER or pass --provider (offline cannot replay)"
        )
    return chosen


def _replay_embed(settings: Settings) -> Any:
    """The sentence embedder that judges recurrence by similarity."""
    import numpy as np

    from retrieval.embeddings import get_embedding_function

    embedder = get_embedding_function(settings.embedder, settings.cache_dir)
    embed_fn = getattr(embedder, "embed", None)
    return embed_fn if callable(embed_fn) else (lambda texts: np.asarray(embedder(texts)))


def replay_trace(request: ReplayRequest, settings: Settings | None = None) -> ReplayReport:
    """The ReplayReport of re-sending a stored trace's LLM request. UserError for a bad request (no provider,
    unknown trace or span, bad pattern), Failure when every call failed."""
    import re

    from agent.errors import Failure
    from agent.llm.replay import pick_span, replay
    from agent.store_factory import open_store

    settings = settings or get_settings()
    chosen = _replay_provider(settings, request.provider)
    if request.regex and request.pattern:
        try:
            re.compile(request.pattern)
        except re.error as exc:
            raise UserError(f"--pattern: not a valid regular expression: {exc}") from None
    with open_store(settings) as store:
        spans, location = store.get_trace(request.trace_id), store.location
    if not spans:
        raise UserError(f"trace {request.trace_id}: not found in the store at {location}")
    try:
        target = pick_span(spans, request.span)
    except ValueError as exc:
        raise UserError(f"trace {request.trace_id}: {exc}") from None
    embed = _replay_embed(settings) if request.pattern is None else None
    options = request.model_dump(include={"n", "pattern", "regex", "threshold", "model", "concurrency"})
    try:
        report = replay(chosen, target, embed=embed, **options)
    except ValueError as exc:
        raise UserError(f"span {target.span_id}: {exc}") from None
    if report.completed == 0:
        reason = next((r.error for r in report.runs if r.error), "no call succeeded")
        raise Failure(f"replay of span {target.span_id}: every call failed: {reason}")
    return report
