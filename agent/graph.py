"""The post-mortem agent as a LangGraph StateGraph.

scope -> gather -> recall -> detect -> classify -> draft -> verify --(fails)--> revise -> verify ...
                                                              |--> review (interrupt) --> publish | end
                                                              |--> publish (when asked) | end
"""

from __future__ import annotations

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from agent.nodes.classify import classify
from agent.nodes.detect import detect
from agent.nodes.draft import draft
from agent.nodes.gather import gather
from agent.nodes.publish import publish
from agent.nodes.recall import recall
from agent.nodes.review import review, route_after_review
from agent.nodes.revise import revise
from agent.nodes.scope import scope
from agent.nodes.verify import route_after_verify, verify
from agent.state import AgentContext, AgentState, DraftInput, DraftOutput


def build_graph() -> StateGraph:
    graph = StateGraph(
        AgentState, context_schema=AgentContext, input_schema=DraftInput, output_schema=DraftOutput
    )
    for name, node in (
        ("scope", scope),
        ("gather", gather),
        ("recall", recall),
        ("detect", detect),
        ("classify", classify),
        ("draft", draft),
        ("verify", verify),
        ("revise", revise),
        ("review", review),
        ("publish", publish),
    ):
        graph.add_node(name, node)
    graph.add_edge(START, "scope")
    graph.add_edge("scope", "gather")
    graph.add_edge("gather", "recall")
    graph.add_edge("recall", "detect")
    graph.add_edge("detect", "classify")
    graph.add_edge("classify", "draft")
    graph.add_edge("draft", "verify")
    graph.add_conditional_edges("verify", route_after_verify, ["revise", "review", "publish", END])
    graph.add_edge("revise", "verify")
    graph.add_conditional_edges("review", route_after_review, ["publish", END])
    graph.add_edge("publish", END)
    return graph


def compile_graph(checkpointer: BaseCheckpointSaver | None = None) -> CompiledStateGraph:
    return build_graph().compile(checkpointer=checkpointer, name="postmortem")
