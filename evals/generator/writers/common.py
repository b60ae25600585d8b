"""Small helpers shared by the dialect writers."""

from __future__ import annotations

import json
from typing import Any

from evals.generator.ir import GSpan, Msg

SERVER_ADDRESS = {
    "openai": "api.openai.com",
    "anthropic": "api.anthropic.com",
    "azure.ai.openai": "contoso-prod.openai.azure.com",
    "aws.bedrock": "bedrock-runtime.us-east-1.amazonaws.com",
    "vllm": "vllm.internal",
    "gcp.vertex_ai": "us-central1-aiplatform.googleapis.com",
    "mistral_ai": "api.mistral.ai",
}


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def openai_message(msg: Msg) -> dict[str, Any]:
    """An OpenAI chat-completions style message dict."""
    out: dict[str, Any] = {"role": msg.role, "content": msg.content}
    if msg.tool_calls:
        out["tool_calls"] = [
            {
                "id": c["id"],
                "type": "function",
                "function": {"name": c["name"], "arguments": dumps(c["arguments"])},
            }
            for c in msg.tool_calls
        ]
    if msg.tool_call_id:
        out["tool_call_id"] = msg.tool_call_id
    return out


def all_messages(span: GSpan) -> list[Msg]:
    """System first (as chat APIs receive it), then the conversation."""
    head = [Msg("system", span.system)] if span.system else []
    return head + span.input_messages


def session_attrs(span: GSpan) -> dict[str, Any]:
    return {"session.id": span.session_id, "user.id": span.user_id}


def exception_events(span: GSpan) -> list[dict[str, Any]]:
    return [e for e in span.events if e["name"] == "exception"]
