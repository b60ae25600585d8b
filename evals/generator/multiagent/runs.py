"""A logical multi-agent run for one topic, with one mistake injected, and its gold labels.

The run: the user's task, the orchestrator's plan, per sub-task a delegation, the worker's tool call, the tool's
result and the worker's report (code sub-tasks: the code, then the executor's output), a progress ledger, the
aggregation, optionally a verifier, and the final answer. A mistake changes one turn; every later turn that
uses the fact carries the wrong value forward, as real agents do.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ORCHESTRATOR = "Orchestrator"
EXECUTOR = "ComputerTerminal"


@dataclass
class LTurn:
    agent: str
    kind: str  # user, message, call, result, code, exec
    text: str = ""
    tool: str | None = None
    args: str | None = None
    gold: bool = False  # the decisive turn
    error: bool = False


@dataclass
class LRun:
    topic: dict
    mistake: str
    subtask: int
    turns: list[LTurn] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)  # the values as the final answer states them
    answer: str = ""
    correct_answer: str = ""


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))


def combine(topic: dict, values: list[str]) -> str:
    how = topic["combine"]
    try:
        a, b = float(values[0].split()[0]), float(values[1].split()[0])
    except ValueError:
        return ""
    if how == "difference":
        return _fmt(round(abs(b - a), 1))
    if how == "growth":
        return _fmt(round((b - a) / a * 100, 1)) + "%"
    if how == "share":
        return _fmt(round(min(a, b) / max(a, b) * 100, 1)) + "%"
    if how == "releases":
        return _fmt(round((b - a) * 10))
    return ""


def _page(sub: dict, value: str) -> str:
    return sub["page"].format(v=value)


def _code(sub: dict, buggy: bool, loose: bool, values: list[str]) -> str:
    return sub["code"].format(
        region="" if loose else ("EMEA " if buggy else "EMEA"),
        op=">=" if buggy else ">",
        month=9 if buggy else 10,
        km=values[0].split()[0] if values else "0",
    )


def build_run(topic: dict, mistake: str, k: int, verifier: bool) -> LRun:
    """The run for a topic with `mistake` injected into sub-task `k` (or the ending)."""
    run = LRun(topic=topic, mistake=mistake, subtask=k)
    subs = topic["subtasks"]
    plan = "\n".join(f"{i + 1}. {s['ask']}" for i, s in enumerate(subs))
    run.turns.append(LTurn("user", "user", topic["task"]))
    run.turns.append(
        LTurn(
            ORCHESTRATOR,
            "message",
            f"Plan to answer the request:\n{plan}\n{len(subs) + 1}. Combine the facts and report the final answer.",
        )
    )
    reported: list[str] = []
    for i, sub in enumerate(subs):
        mine = mistake if i == k else ""
        reported.append(_subtask(run.turns, topic, sub, i, mine, reported))
        after = subs[i + 1]["worker"] if i + 1 < len(subs) else ORCHESTRATOR
        run.turns.append(
            LTurn(
                ORCHESTRATOR,
                "message",
                f"Progress ledger: step {i + 1} is done ({sub['fact']}: {reported[-1]}). Request satisfied: no. "
                f"Next speaker: {after}.",
            )
        )
    _ending(run, reported, verifier)
    return run


def _subtask(t: list[LTurn], topic: dict, sub: dict, i: int, mistake: str, reported: list[str]) -> str:
    """The delegation and the worker's turns for one sub-task; returns the value the worker reported."""
    ask = sub["ask"]
    loose = mistake == "lost_constraint"
    if loose:
        ask = ask.replace(f" in {topic['constraint']}", "").replace(f" for {topic['constraint']}", "")
        ask = ask.replace(f" {topic['constraint']}", "").replace(topic["constraint"], "")
    t.append(LTurn(ORCHESTRATOR, "message", f"{sub['worker']}, please do step {i + 1}: {ask}", gold=loose))
    if sub["tool"] == "python":
        return _code_turns(t, sub, mistake, reported)
    return _tool_turns(t, topic, sub, mistake)


def _code_turns(t: list[LTurn], sub: dict, mistake: str, reported: list[str]) -> str:
    buggy, loose = mistake == "code_bug", mistake == "lost_constraint"
    code = _code(sub, buggy, loose, reported)
    out = sub["variant"] if (buggy or loose) else sub["value"]
    t.append(
        LTurn(sub["worker"], "code", f"Here is the code for this step:\n```python\n{code}\n```", gold=buggy)
    )
    t.append(LTurn(EXECUTOR, "exec", f"exitcode: 0 (execution succeeded)\nCode output: {_page(sub, out)}"))
    value = sub["near"] if mistake in ("misread", "verifier") else out
    t.append(
        LTurn(
            sub["worker"],
            "message",
            f"The {sub['fact']} is {value}.",
            gold=mistake in ("misread", "verifier"),
        )
    )
    return value


def _tool_turns(t: list[LTurn], topic: dict, sub: dict, mistake: str) -> str:
    worker, tool = sub["worker"], sub["tool"]
    if mistake == "loop":
        for _ in range(3):
            t.append(LTurn(worker, "call", "", tool, sub["query"] + " official"))
            t.append(LTurn(worker, "result", "No results found.", tool))
        value = sub["near"]
    else:
        loose = mistake == "lost_constraint"
        t.append(
            LTurn(
                worker,
                "call",
                "",
                tool,
                sub["query"].replace(topic["constraint"], "").strip() if loose else sub["query"],
            )
        )
        if mistake == "error_ignored":
            error = "Error 503: upstream service unavailable (timeout after 30s)"
            t.append(LTurn(worker, "result", error, tool, error=True))
            value = sub["near"]
        else:
            shown = sub["stale"] if mistake == "stale" else sub["variant"] if loose else sub["value"]
            t.append(LTurn(worker, "result", _page(sub, shown), tool, gold=mistake == "stale"))
            value = sub["near"] if mistake in ("misread", "verifier") else shown
    gold = mistake in ("misread", "verifier", "error_ignored", "loop")
    t.append(LTurn(worker, "message", f"I found that the {sub['fact']} is {value}.", gold=gold))
    return value


def _ending(run: LRun, reported: list[str], verifier: bool) -> None:
    """The override (if that is the mistake), the aggregation, the verifier and the final answer."""
    topic, mistake, k, t = run.topic, run.mistake, run.subtask, run.turns
    subs = topic["subtasks"]
    if mistake == "override":
        stale = subs[k]["stale"]
        reported[k] = stale
        t.append(
            LTurn(
                ORCHESTRATOR,
                "message",
                f"Before combining: from what I remember the {subs[k]['fact']} is {stale}, so I will use {stale} "
                "instead of the reported figure.",
                gold=True,
            )
        )
    result = combine(topic, reported)
    facts = "; ".join(f"{s['fact']}: {v}" for s, v in zip(subs, reported, strict=True))
    t.append(
        LTurn(
            ORCHESTRATOR,
            "message",
            f"Combining the steps: {facts}." + (f" Result: {result}." if result else ""),
        )
    )
    if verifier:
        t.append(
            LTurn(
                "Verifier",
                "message",
                f"I reviewed the team's work: {facts}. The reasoning is consistent and the answer is approved.",
            )
        )
    final_values = list(reported)
    if mistake == "final_miscopy":
        final_values[k] = subs[k]["near"]
    final_result = combine(topic, final_values) if mistake != "final_miscopy" else result
    final_facts = "; ".join(f"{s['fact']}: {v}" for s, v in zip(subs, final_values, strict=True))
    t.append(
        LTurn(
            ORCHESTRATOR,
            "message",
            f"FINAL ANSWER: {final_facts}." + (f" Result: {final_result}." if final_result else ""),
            gold=mistake == "final_miscopy",
        )
    )
    run.facts = final_values
    run.answer = final_result or final_values[-1]
    correct = [s["value"] for s in subs]
    run.correct_answer = combine(topic, correct) or correct[-1]
