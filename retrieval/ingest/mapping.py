"""Pick the dialect of one span from its attributes and map it; then the attributes every dialect shares."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from retrieval.ingest.common import as_str, first, maybe_json
from retrieval.ingest.genai import dialect_of, map_genai
from retrieval.ingest.langfuse_otel import is_langfuse_otel, map_langfuse_otel
from retrieval.ingest.openinference import is_openinference, map_openinference
from retrieval.trace import PromptTemplate, SpanEvent

_SESSION_KEYS = (
    "session.id",
    "traceloop.association.properties.session_id",
    "traceloop.association.properties.thread_id",
    "langfuse.session.id",
)
_USER_KEYS = (
    "user.id",
    "enduser.id",
    "traceloop.association.properties.user_id",
    "langfuse.user.id",
    "llm.user",
)
_CONVERSATION_KEYS = ("gen_ai.conversation.id", "traceloop.association.properties.conversation_id")
_AGENT_NAME_KEYS = ("gen_ai.agent.name", "agent.name", "graph.node.name", "langfuse.observation.agent.name")
_AGENT_ID_KEYS = ("gen_ai.agent.id", "agent.id", "graph.node.id")
_HANDOFF_KEYS = ("gen_ai.handoff.to", "gen_ai.agent.handoff.to", "handoff.to_agent", "to_agent")
_PROMPT_ID_KEYS = (
    "traceloop.prompt.key",
    "prompt.id",
    "gen_ai.prompt.id",
    "gen_ai.prompt.name",
    "prompt.name",
    "langfuse.observation.prompt.name",
)
_PROMPT_VERSION_KEYS = (
    "traceloop.prompt.version",
    "prompt.version",
    "gen_ai.prompt.version",
    "langfuse.observation.prompt.version",
    "traceloop.prompt.version_name",
)


def map_attributes(
    attrs: Mapping[str, Any], events: list[SpanEvent], name: str = ""
) -> tuple[str, dict[str, Any]]:
    """(dialect, Span fields) for one span; a span following no LLM convention is dialect 'otel'."""
    if is_openinference(attrs):
        dialect: str | None = "openinference"
        fields = map_openinference(attrs)
    elif is_langfuse_otel(attrs):
        dialect = "langfuse"
        fields = map_langfuse_otel(attrs, name)
    else:
        dialect = dialect_of(attrs, events)
        fields = map_genai(attrs, events) if dialect else {}
    fields["session_id"] = as_str(first(attrs, *_SESSION_KEYS))
    fields["user_id"] = as_str(first(attrs, *_USER_KEYS))
    fields["conversation_id"] = fields.get("conversation_id") or as_str(first(attrs, *_CONVERSATION_KEYS))
    fields["prompt_template"] = _prompt_template(attrs, fields.get("prompt_template"))
    fields.update(agent_fields(attrs, fields))
    return dialect or "otel", fields


def agent_fields(attrs: Mapping[str, Any], fields: Mapping[str, Any]) -> dict[str, Any]:
    """The agent a span acted for: GenAI `gen_ai.agent.*`, OpenInference `agent.name` / `graph.node.*`, and
    OpenLLMetry's agent entities (`traceloop.span.kind: agent`, named by `traceloop.entity.name`)."""
    name = as_str(first(attrs, *_AGENT_NAME_KEYS))
    if name is None and attrs.get("traceloop.span.kind") == "agent":
        name = as_str(attrs.get("traceloop.entity.name"))
    return {
        "agent_name": name,
        "agent_id": as_str(first(attrs, *_AGENT_ID_KEYS)),
        "handoff_to": as_str(first(attrs, *_HANDOFF_KEYS)),
    }


def _prompt_template(attrs: Mapping[str, Any], found: PromptTemplate | None) -> PromptTemplate | None:
    """The template a dialect recorded, completed by OpenLLMetry's managed prompts or generic prompt.* keys."""
    prompt_id = as_str(first(attrs, *_PROMPT_ID_KEYS))
    version = as_str(first(attrs, *_PROMPT_VERSION_KEYS))
    template = as_str(attrs.get("traceloop.prompt.template"))
    variables = maybe_json(attrs.get("traceloop.prompt.template_variables"))
    if found is None and prompt_id is None and version is None and template is None:
        return None
    base = found or PromptTemplate()
    return PromptTemplate(
        id=base.id or prompt_id,
        version=base.version or version,
        template=base.template or template,
        variables=base.variables or (dict(variables) if isinstance(variables, Mapping) else {}),
    )
