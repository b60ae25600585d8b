"""Multi-agent failure logs in the Who&When shape (ICML 2025 "Which Agent Causes Task Failures and When?"):
one JSON object per file, an AutoGen/AG2/Magentic-One group chat as `history`, a list of turns
`{"content", "role", "name"?}`, beside the task (`question`) and, in the benchmark, its labels.

- Algorithm-generated logs (AG2/CaptainAgent group chats) name the agent in `name` (`"Python_Expert"`,
  `"Computer_terminal"`); hand-crafted ones (Magentic-One) only in `role`: `"human"` (the task),
  `"Orchestrator (thought)"`, `"Orchestrator (-> WebSurfer)"` (a hand-off to WebSurfer), `"WebSurfer"`.
- The run becomes the spans the run analysis reads (`agent/runs/`), in the shape of the AutoGen/Magentic-One logs
  converted one span per turn (`evals/generator/multiagent/otlp.py`, `flat` and `ag2`): a root span holding the
  question, and one `invoke_agent` span per history entry with `gen_ai.agent.name`, in order. Timestamps are
  synthetic (EPOCH, then one second per turn), so turn N of the run is `history[N]`: every entry is a turn, the
  task included, as Who&When indexes them (an entry without text reads "(no content)" so that it still is one).
- Ids come from the file's bytes: reading the same file again gives the same spans (the store skips them).
- The labels (`mistake_agent`, `mistake_step`, `mistake_reason`, `ground_truth`) are not put on the spans: a
  draft must not see the answer key. `read_log` gives them to the scorer (`evals/harness/whowhen.py`).

A bad file is one IngestError naming the place (`history[3]: content is not a string`) and no span: dropping
one entry would shift every later turn's index.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from retrieval.ingest.source import Progress, opened
from retrieval.ingest.stream import RecordTooLarge, parse_line
from retrieval.limits import MAX_RECORD_BYTES
from retrieval.trace import IngestError, Message, Span, SpanKind, Status

EPOCH = datetime(2025, 1, 1, tzinfo=UTC)  # synthetic: the logs record no times
STEP = timedelta(seconds=1)
EMPTY_TURN = "(no content)"
USER_ROLES = ("human", "user")
_NOTE = re.compile(r"^(.*?\S)\s*\(([^()]*)\)\s*$")  # "Orchestrator (-> WebSurfer)"
_SHAPE = 'expected a Who&When log: {"history": [{"content": ..., "role": ..., "name"?: ...}, ...], ...}'


class LogError(ValueError):
    """A log that cannot be read; `where` is the place in it (`history[3]`), or None for the whole file."""

    def __init__(self, where: str | None, message: str) -> None:
        super().__init__(f"{where}: {message}" if where else message)
        self.where = where
        self.message = message


class WhoWhenTurn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    content: str
    role: str
    name: str | None = None


class WhoWhenLog(BaseModel):
    """One log as recorded. The labels are optional: any group-chat transcript in this shape can be read."""

    model_config = ConfigDict(extra="ignore")

    history: list[WhoWhenTurn]
    question: str = ""
    question_id: str | None = None
    level: str | None = None
    ground_truth: str | None = None
    is_correct: bool | None = None
    mistake_agent: str | None = None
    mistake_step: int | None = None
    mistake_reason: str | None = None
    system_prompt: dict[str, str] = Field(default_factory=dict)


class Speaker(BaseModel):
    """Who a turn is: the agent, the agent it hands off to, and the role its message has in the run."""

    agent: str
    handoff_to: str | None = None
    role: str  # user (the task given), assistant, system


def speaker_of(turn: WhoWhenTurn, index: int) -> Speaker:
    """The agent from `name`, else from `role` without its note ("Orchestrator (thought)" -> Orchestrator); the
    hand-off target from a note "-> X". The message is the user's when the role says human, or user with no
    agent named (or on the opening turn: the task); a named agent speaking as "user" in an AG2 chat (the
    terminal, an expert) is an agent acting, recorded from the chat manager's side."""
    recorded = turn.role.strip()
    match = _NOTE.match(recorded)
    base, note = (match.group(1), match.group(2).strip()) if match else (recorded, "")
    handoff = note[2:].strip() if note.startswith(("->", "→")) else None
    name = (turn.name or "").strip()
    low = base.lower()
    if low == "system":
        role = "system"
    elif low == "human" or (low == "user" and (not name or index == 0)):
        role = "user"
    else:
        role = "assistant"
    return Speaker(agent=name or base or "?", handoff_to=handoff or None, role=role)


def read_log(path: Path) -> WhoWhenLog:
    """The log in a file; LogError naming the place on bad input (the size and nesting bounded as a JSON line
    is, `retrieval/limits.py`)."""
    chunks: list[bytes] = []
    size = 0
    with opened(path) as fp:
        while chunk := fp.read(1 << 20):  # never a buffer of the bound's size up front
            size += len(chunk)
            if size > MAX_RECORD_BYTES:
                raise LogError(
                    None, f"larger than {MAX_RECORD_BYTES >> 20} MB; a Who&When log is one JSON object"
                )
            chunks.append(chunk)
    data = b"".join(chunks)
    try:
        raw = parse_line(data)
    except UnicodeDecodeError:
        raise LogError(None, "not UTF-8 text") from None
    except RecordTooLarge as exc:
        raise LogError(None, f"log is {exc}") from None
    except ValueError as exc:
        text = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise LogError(None, f"invalid JSON ({text})") from None
    return parse_log(raw)


def parse_log(raw: Any) -> WhoWhenLog:
    if not isinstance(raw, Mapping):
        raise LogError(None, f"not a JSON object ({_SHAPE})")
    history = raw.get("history")
    if history is None:
        raise LogError("history", f"missing ({_SHAPE})")
    if not isinstance(history, list):
        raise LogError("history", "not a list of turns")
    if not history:
        raise LogError("history", "empty (a run has at least one turn)")
    turns = [_turn(entry, i) for i, entry in enumerate(history)]
    prompts = raw.get("system_prompt")
    if prompts is not None and not isinstance(prompts, Mapping):
        raise LogError("system_prompt", "not an object (agent name -> its system prompt)")
    for agent, prompt in (prompts or {}).items():
        if prompt is not None and not isinstance(prompt, str):
            raise LogError(f"system_prompt.{agent}", "not a string")
    return WhoWhenLog(
        history=turns,
        question=_text(raw, "question") or "",
        question_id=_text(raw, "question_ID", "question_id"),
        level=_text(raw, "level"),
        ground_truth=_text(raw, "ground_truth", "groundtruth"),
        is_correct=_flag(raw, "is_correct", "is_corrected"),
        mistake_agent=_text(raw, "mistake_agent"),
        mistake_step=_step(raw.get("mistake_step"), len(turns)),
        mistake_reason=_text(raw, "mistake_reason"),
        system_prompt={k: v for k, v in (prompts or {}).items() if v},  # a table's row has every column
    )


def _turn(entry: Any, index: int) -> WhoWhenTurn:
    where = f"history[{index}]"
    if not isinstance(entry, Mapping):
        raise LogError(where, 'not an object ({"content": ..., "role": ...})')
    content, role, name = entry.get("content"), entry.get("role"), entry.get("name")
    if content is None and "content" not in entry:
        raise LogError(where, "content is missing")
    if content is not None and not isinstance(content, str):
        raise LogError(where, "content is not a string")
    if role is None and name is None:
        raise LogError(where, "role is missing (and no name: whose turn is it?)")
    if role is not None and not isinstance(role, str):
        raise LogError(where, "role is not a string")
    if name is not None and not isinstance(name, str):
        raise LogError(where, "name is not a string")
    return WhoWhenTurn(content=content or "", role=role or "assistant", name=name)


def _text(raw: Mapping[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = raw.get(key)
        if value is None:
            continue
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return str(value)
        raise LogError(key, "not a string or number")
    return None


def _flag(raw: Mapping[str, Any], *keys: str) -> bool | None:
    for key in keys:
        value = raw.get(key)
        if value is None:
            continue
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise LogError(key, "not true or false")
    return None


def _step(value: Any, turns: int) -> int | None:
    """The 0-based index into history, recorded as an int or as the text of one."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    if isinstance(value, bool) or not (isinstance(value, int) or re.fullmatch(r"-?\d+", text)):
        raise LogError("mistake_step", f"not a turn index ({value!r})")
    step = int(text)
    if not 0 <= step < turns:
        raise LogError(
            "mistake_step", f"{step} is not a turn of this log (history has {turns}: 0 to {turns - 1})"
        )
    return step


def log_spans(log: WhoWhenLog, *, trace_id: str, source: str, service: str | None = None) -> list[Span]:
    """The run's spans: the root (the question), then one span per history entry, in order."""

    def span_id(n: int) -> str:
        return hashlib.sha256(f"{trace_id}:{n}".encode()).hexdigest()[:16]

    root_id = span_id(-1)
    service = service or "who-and-when"
    spans = [
        Span(
            trace_id=trace_id,
            span_id=root_id,
            service=service,
            name="invoke_workflow group-chat",
            kind=SpanKind.chain,
            start_time=EPOCH,
            end_time=EPOCH + STEP * len(log.history),
            status=Status(),
            operation="invoke_workflow",
            input_value=log.question or None,
            attributes=_present({"whowhen.question_ID": log.question_id, "whowhen.level": log.level}),
            dialect="whowhen",
            source=f"{source}#run",
        )
    ]
    for i, turn in enumerate(log.history):
        who = speaker_of(turn, i)
        recorded = turn.name or turn.role
        spans.append(
            Span(
                trace_id=trace_id,
                span_id=span_id(i),
                parent_span_id=root_id,
                service=service,
                name=f"invoke_agent {who.agent}",
                kind=SpanKind.agent,
                start_time=EPOCH + STEP * i,
                end_time=EPOCH + STEP * (i + 1),
                operation="invoke_agent",
                system_instructions=log.system_prompt.get(who.agent) or log.system_prompt.get(recorded),
                output_messages=[
                    Message(role=who.role, content=turn.content if turn.content.strip() else EMPTY_TURN)
                ],
                agent_name=who.agent,
                handoff_to=who.handoff_to,
                attributes=_present(
                    {"whowhen.role": turn.role, "whowhen.name": turn.name, "whowhen.index": i}
                ),
                dialect="whowhen",
                source=f"{source}#history[{i}]",
            )
        )
    return spans


def _present(attrs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in attrs.items() if v is not None}


def trace_id_of(path: Path) -> str:
    """From the file's content (decompressed): the same log read again is the same run."""
    digest = hashlib.sha256()
    with opened(path) as fp:
        while chunk := fp.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()[:32]


def iter_whowhen_json(
    path: Path, *, default_service: str | None = None, progress: Progress | None = None
) -> Iterator[Span | IngestError]:
    """The spans of one Who&When log, or one IngestError naming the place."""
    try:
        log = read_log(path)
    except LogError as exc:
        yield IngestError(path=str(path), location=exc.where, message=exc.message)
        return
    yield from log_spans(log, trace_id=trace_id_of(path), source=str(path), service=default_service)
    if progress is not None:
        progress(path.stat().st_size)
