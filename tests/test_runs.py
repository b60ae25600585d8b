"""Multi-agent runs: turns from spans, claim provenance, failure shapes and the attribution (agent/runs)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from agent.models import Incident, Report
from agent.runs.attribute import attribute_run
from agent.runs.claims import derived, extract_claims, occurs
from agent.runs.shapes import find_shapes
from agent.runs.turns import build_run, is_agent_run
from retrieval.trace import Message, Span, SpanKind, Status, ToolCall, ToolInfo

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


class RunBuilder:
    """Spans of one trace, one turn each, under a root (as agent frameworks record them)."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self.n = 0
        self.root = self._span("workflow", SpanKind.chain, None, input_value="")

    def _span(self, name: str, kind: SpanKind, parent: str | None, **fields) -> Span:
        self.n += 1
        span = Span(
            trace_id="ab" * 16,
            span_id=f"{self.n:016x}",
            parent_span_id=parent,
            name=name,
            kind=kind,
            start_time=T0 + timedelta(seconds=self.n),
            end_time=T0 + timedelta(seconds=self.n, milliseconds=500),
            **fields,
        )
        self.spans.append(span)
        return span

    def say(
        self, agent: str, text: str, *, calls: list[tuple[str, str]] = (), role: str = "assistant"
    ) -> Span:
        message = Message(
            role=role, content=text, tool_calls=[ToolCall(name=n, arguments=a) for n, a in calls]
        )
        return self._span(
            "chat", SpanKind.llm, self.root.span_id, agent_name=agent, output_messages=[message]
        )

    def tool(self, agent: str, name: str, args: str, result: str, *, error: bool = False) -> Span:
        status = Status(code="error", message=result) if error else Status()
        return self._span(
            f"execute_tool {name}",
            SpanKind.tool,
            self.root.span_id,
            agent_name=agent,
            tool=ToolInfo(name=name, arguments=args, result=result),
            status=status,
        )

    def user(self, text: str) -> Span:
        return self._span("input", SpanKind.other, self.root.span_id, agent_name="human", input_value=text)

    def run(self):
        return build_run(self.spans)


def _incident(*reports: str) -> Incident:
    return Incident(
        title="wrong answer",
        description="The final answer was wrong.",
        reports=[Report(text=r) for r in reports],
    )


def _misread_run() -> tuple[RunBuilder, list[Span]]:
    """A worker misreads 4,179 as 4719; the orchestrator and a verifier carry it to the final answer."""
    b = RunBuilder()
    spans = [
        b.user("What is the distance in km between KEF and YYZ?"),
        b.say("Orchestrator", "Plan: WebSurfer finds the great-circle distance between KEF and YYZ."),
        b.say("WebSurfer", "", calls=[("web_search", "KEF YYZ great circle distance")]),
        b.tool(
            "WebSurfer", "web_search", "KEF YYZ", "Great Circle Mapper: KEF to YYZ is 4,179 km, heading 248."
        ),
        b.say("WebSurfer", "The distance between KEF and YYZ is 4719 km."),
        b.say("Orchestrator", "Noted: 4719 km. Verifier, please check."),
        b.say("Verifier", "Checked: 4719 km is consistent. Approved."),
        b.say("Orchestrator", "FINAL ANSWER: 4719 km."),
    ]
    return b, spans


def test_turns_number_leaf_spans_in_order_and_inherit_agents() -> None:
    b = RunBuilder()
    holder = b._span("invoke_agent Coder", SpanKind.agent, b.root.span_id, agent_name="Coder")
    inner = b._span(
        "chat", SpanKind.llm, holder.span_id, output_messages=[Message(role="assistant", content="x = 1")]
    )
    b.say("Orchestrator", "done")
    b.say("Orchestrator", "FINAL ANSWER: 1")
    run = b.run()
    assert [t.span_id for t in run.turns] == [inner.span_id, b.spans[-2].span_id, b.spans[-1].span_id]
    assert [t.index for t in run.turns] == [0, 1, 2]
    assert run.turns[0].agent == "Coder"  # inherited from the enclosing agent span, which is not a turn
    assert is_agent_run(b.spans)
    assert not is_agent_run(b.spans[:2])


def test_claims_are_matched_by_value_and_name() -> None:
    claims = {
        c.value: c for c in extract_claims("FINAL ANSWER: the Green Line had 1,240 stops per `stop_count`.")
    }
    assert "1240" in claims and "Green Line" in claims and "stop_count" in claims
    assert "FINAL ANSWER" not in claims  # a label, not a name
    assert occurs(claims["1240"], "it lists 1240.0 stops")
    assert not occurs(claims["Green Line"], "the evergreen lines")
    number = extract_claims("Result: 14.")[0]
    assert derived(number, {"31", "17"})  # 31 - 17
    assert not derived(number, {"31", "12"})


def test_misread_value_is_attributed_to_the_worker_not_the_last_turn() -> None:
    b, spans = _misread_run()
    a = attribute_run(b.run(), _incident())
    assert a is not None
    assert (a.agent, a.span_id) == ("WebSurfer", spans[4].span_id)
    assert a.step != a.final_step
    assert a.layer == "model" and a.how == "stated"
    assert spans[-1].span_id in a.carried_spans
    assert 6 in a.unchecked_by  # the verifier repeated it with no call and nothing new


def test_stale_tool_result_is_data_and_a_report_of_the_right_value_finds_where_it_was_lost() -> None:
    b = RunBuilder()
    spans = [
        b.user("How many employees does the Oslo office have?"),
        b.say("Analyst", "", calls=[("sql", "SELECT count(*) FROM employees WHERE office='Oslo'")]),
        b.tool("Analyst", "sql", "office=Oslo", '[{"count": 377}]'),
        b.say("Analyst", "The Oslo office has 377 employees."),
        b.say("Orchestrator", "FINAL ANSWER: 377 employees."),
    ]
    a = attribute_run(b.run(), _incident())
    assert (a.span_id, a.layer, a.how) == (spans[2].span_id, "data", "tool_result")

    b = RunBuilder()
    spans = [
        b.user("How many employees does the Oslo office have?"),
        b.say("Analyst", "The HR database says 412 employees."),
        b.say("Orchestrator", "I recall the office is smaller; use 377 employees."),
        b.say("Orchestrator", "FINAL ANSWER: 377 employees."),
    ]
    a = attribute_run(b.run(), _incident("The right figure is 412."))
    assert a.span_id == spans[2].span_id


def test_code_output_is_blamed_on_the_code() -> None:
    b = RunBuilder()
    spans = [
        b.user("Count the late orders in orders.csv."),
        b.say("Coder", "```python\nprint(len(df[df.ship_days >= 5]))\n```"),
        b.say("Terminal", "exitcode: 0\nCode output: 402"),
        b.say("Orchestrator", "FINAL ANSWER: 402 late orders."),
    ]
    a = attribute_run(b.run(), _incident())
    assert (a.agent, a.span_id, a.how) == ("Coder", spans[1].span_id, "code_output")


def test_shapes_error_ignored_loop_lost_constraint_and_skipped_step() -> None:
    b = RunBuilder()
    b.user("Find the 2019 station count of the Green Line.")
    b.say(
        "Orchestrator",
        "Plan:\n1. Find the Green Line station count for 2019.\n2. Check the operator's annual report.\n3. Report the answer.",
    )
    b.say("Orchestrator", "WebSurfer, find the Green Line station count.")
    b.say("WebSurfer", "", calls=[("web_search", "Green Line stations")])
    b.tool("WebSurfer", "web_search", "Green Line stations", "Error 503: service unavailable", error=True)
    b.say("WebSurfer", "The Green Line has 16 stations.")
    for _ in range(3):
        b.say("FileSurfer", "", calls=[("open", "report.pdf")])
    b.say("Orchestrator", "Let me now report the answer: FINAL ANSWER 16.")
    run = b.run()
    kinds = {s.kind: s for s in find_shapes(run, run.final)}
    assert kinds["tool_error_ignored"].turn == 5
    assert kinds["handoff_lost_constraint"].turn == 2  # "2019" dropped from the plan step
    assert kinds["loop"].turn == 7
    assert "plan_step_skipped" in kinds  # the annual report was never checked


def test_no_claims_fall_back_to_the_earliest_turn_saying_the_same_with_low_confidence() -> None:
    b = RunBuilder()
    b.user("Should we ship the release?")
    b.say("Planner", "We should ship the release today without the migration")
    b.say("Reviewer", "Looks fine")
    b.say("Planner", "Decision: ship the release today without the migration")
    a = attribute_run(b.run(), _incident())
    assert a.step == 1 and a.confidence < 0.3


def test_speaker_notes_name_the_agent_and_the_handoff() -> None:
    b = RunBuilder()
    b.say("Orchestrator (thought)", "We need the station count.")
    b.say("Orchestrator (-> WebSurfer)", "Please search for the station count.")
    b.say("WebSurfer", "The page says 16 stations.")
    run = b.run()
    assert [t.agent for t in run.turns] == ["Orchestrator", "Orchestrator", "WebSurfer"]
    assert run.turns[0].speaker == "Orchestrator (thought)"
    assert run.turns[1].handoff_to == "WebSurfer"


def test_a_sub_agent_answering_another_question_is_a_shape() -> None:
    b = RunBuilder()
    b.user("Summarise the quarterly figures.")
    b.say("Planner", "Researcher: get the Q3 revenue of Nordvik Foods from the Oslo filing.")
    b.say("Researcher", "Bergen Shipping reported 88 vessels in Tromsø during 2021.")
    b.say("Planner", "FINAL ANSWER: 88 vessels.")
    run = b.run()
    shapes = {s.kind: s for s in find_shapes(run, run.final)}
    assert shapes["different_question"].turn == 2
    assert shapes["different_question"].related == [1]


def test_a_small_number_counts_only_where_it_says_what_the_answer_says() -> None:
    b = RunBuilder()
    b.user("How many stations does the new tram line have?")
    b.say("Planner", "Step 3 of the plan: ask the researcher.")
    spans = [b.say("Researcher", "The operator's page lists 3 stations on the new line.")]
    b.say("Planner", "FINAL ANSWER: 3 stations.")
    a = attribute_run(b.run(), _incident())
    assert a.span_id == spans[0].span_id


def test_a_log_without_a_user_turn_opens_with_its_task() -> None:
    b = RunBuilder()
    b.say("DataAnalysis_Expert", "Task: report Nordvik Foods' fiscal 2022 revenue from the annual report.")
    b.say("DataAnalysis_Expert", "I will read the report.")
    spans = [b.say("Document_Expert", "Nordvik Foods' revenue was EUR 436.5 million.")]
    b.say("DataAnalysis_Expert", "FINAL ANSWER: Nordvik Foods, EUR 436.5 million.")
    b.say("Verification_Expert", "TERMINATE")
    run = b.run()
    assert run.task.startswith("Task: report") and run.final.index == 3
    assert attribute_run(run, _incident()).span_id == spans[0].span_id


def test_a_handoff_span_is_the_handing_agents_turn() -> None:
    b = RunBuilder()
    b.say("Triage", "The user wants a refund.")
    handoff = b._span("handoff from Triage to Refunds", SpanKind.other, b.root.span_id, agent_name="Triage")
    b.say("Refunds", "Refund issued.")
    run = b.run()
    turn = run.by_span(handoff.span_id)
    assert turn is not None and turn.acts and turn.handoff_to == "Refunds"
