"""The generated multi-agent cases: which topic, mistake, framework shape and report style each case has, and
its case.yaml (incident + gold agent, step and span). Data-driven: SCHEDULE x TOPICS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from evals.generator.multiagent.otlp import AG2_NAMES, SHAPES, write
from evals.generator.multiagent.runs import build_run
from evals.generator.multiagent.topics import TOPICS

SERVICE = "research-agents"
START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
# (mistake, sub-task it hits, verifier present); four per topic, rotated so each topic sees early and late ones
SCHEDULE: list[tuple[str, int, bool]] = [
    ("misread", 0, False),
    ("final_miscopy", 1, False),
    ("stale", 0, True),
    ("override", 1, False),
    ("lost_constraint", 0, False),
    ("misread", 1, True),
    ("verifier", 0, True),
    ("stale", 1, False),
    ("error_ignored", 0, False),
    ("error_ignored", 1, True),
    ("loop", 0, False),
    ("final_miscopy", 0, True),
    ("code_bug", 0, False),
    ("lost_constraint", 1, False),
    ("misread", 0, True),
    ("override", 0, False),
]
LAYER = {
    "misread": "model",
    "verifier": "model",
    "code_bug": "model",
    "override": "model",
    "final_miscopy": "model",
    "stale": "data",
    "lost_constraint": "system",
    "error_ignored": "system",
    "loop": "system",
}
REASON = {
    "misread": "The worker misread the value in the tool result it was given.",
    "verifier": "The worker misread the value; the verifier approved it without checking and the final answer repeated it.",
    "code_bug": "The code the coder wrote filtered or computed wrongly; the executor printed the wrong figure.",
    "override": "The orchestrator replaced the correct reported figure with one from memory.",
    "final_miscopy": "Every step was right; the final answer miscopied one figure.",
    "stale": "The tool returned an out-of-date figure that the agents used as given.",
    "lost_constraint": "The orchestrator's delegation dropped the task's constraint, so the worker looked up the wrong thing.",
    "error_ignored": "The tool failed; the worker reported a figure anyway.",
    "loop": "The worker repeated a failing search, then reported a figure it never found.",
}
REPORT_STYLES = ("quote", "truth", "vague")
PER_TOPIC = 5  # one case per framework shape


def _applicable(topic: dict, mistake: str, k: int) -> tuple[str, int]:
    tools = [s["tool"] for s in topic["subtasks"]]
    if mistake == "code_bug" and "python" not in tools:
        return "misread", k
    if mistake == "code_bug":
        return mistake, k if tools[k] == "python" else tools.index("python")
    if mistake in ("error_ignored", "loop", "stale") and tools[k] == "python":
        other = [i for i, t in enumerate(tools) if t != "python"]
        return (mistake, other[0]) if other else ("code_bug", k)
    return mistake, k


def all_cases() -> list[dict]:
    out = []
    n = 0
    for t, topic in enumerate(TOPICS):
        for j in range(PER_TOPIC):
            mistake, k, verifier = SCHEDULE[(t * PER_TOPIC + j) % len(SCHEDULE)]
            mistake, k = _applicable(topic, mistake, k)
            shape = SHAPES[(t + j) % len(SHAPES)]
            style = REPORT_STYLES[(t * PER_TOPIC + j) % len(REPORT_STYLES)]
            out.append(_case(topic, mistake, k, verifier, shape, style, n))
            n += 1
    return out


def _case(topic: dict, mistake: str, k: int, verifier: bool, shape: str, style: str, n: int) -> dict:
    verifier = verifier or mistake == "verifier"
    run = build_run(topic, mistake, k, verifier)
    case_id = f"ma-{topic['id']}-{mistake.replace('_', '-')}-{shape}"
    start = START + timedelta(hours=n)
    request, shown = write(run, shape, case_id, int(start.timestamp() * 1e9), SERVICE)
    turn_spans = list(dict.fromkeys(shown))
    gold_turn = next(i for i, t in enumerate(run.turns) if t.gold)
    if shape == "ag2" and run.turns[gold_turn].kind == "result":
        gold_turn -= 1  # the terminal only printed it: the expert's code that fetched it is the step
    gold_span = shown[gold_turn]
    step = turn_spans.index(gold_span)
    position = "early" if step < (len(turn_spans) + (1 if shape == "ag2" else 0)) / 2 else "late"
    wrong = next((v for v, s in zip(run.facts, topic["subtasks"], strict=True) if v != s["value"]), None)
    if wrong is None:  # every case must really fail: its final answer states a wrong figure
        raise ValueError(f"{case_id}: the injected {mistake} left the final answer right")
    reports = {
        "quote": [f"The agents' answer gave {wrong} for this, which does not match the source."],
        "truth": [f"Expected answer: {run.correct_answer}. The run's final answer was different."],
        "vague": ["A reviewer checked the run's final answer and it is wrong."],
    }[style]
    trace_id = request["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"]
    case = {
        "id": case_id,
        "split": "dev",
        "difficulty": "hard" if mistake in ("override", "lost_constraint", "verifier") else "medium",
        "tags": [
            "multi-agent",
            f"shape:{shape}",
            f"mistake:{mistake}",
            f"position:{position}",
            f"reports:{style}",
        ],
        "dialect": {
            "flat": "otlp-genai",
            "openai-agents": "otlp-genai",
            "crewai": "openllmetry",
            "langgraph": "openinference",
            "ag2": "otlp-genai",
        }[shape],
        "based_on": "multi-agent failure-attribution logs (Who&When shape: mistake agent and step)",
        "incident": {
            "title": f"Research agents gave a wrong answer ({topic['id']})",
            "description": f"Task given to the agents: {topic['task']} The final answer was wrong.",
            "service": SERVICE,
            "trace_ids": [trace_id],
            "severity": "SEV3",
            "reports": [
                {
                    "text": r,
                    "timestamp": (start + timedelta(minutes=30)).isoformat().replace("+00:00", "Z"),
                    "source": "review",
                }
                for r in reports
            ],
        },
        "gold": {
            "primary": LAYER[mistake],
            "contributing": [],
            "decisive_span": gold_span,
            "key_evidence": [gold_span],
            "onset": start.isoformat().replace("+00:00", "Z"),
            "mistake_agent": AG2_NAMES.get(run.turns[gold_turn].agent, run.turns[gold_turn].agent)
            if shape == "ag2"
            else run.turns[gold_turn].agent,
            "mistake_step": step,
            "turns": len(turn_spans) + (1 if shape == "ag2" else 0),  # ag2 chats end with a lone TERMINATE
            "mistake_reason": REASON[mistake],
            "rationale": REASON[mistake],
        },
    }
    return {"case": case, "request": request}
