"""Small hostile inputs for the ingesters (issue 16): deep nesting, alias bombs, huge numbers, wrong data.
Each builder returns file text; a good span rides along so a test can check the rest of the file is kept."""

from __future__ import annotations

import json
from typing import Any

TRACE = "0af7651916cd43dd8448eb211c80319c"
GOOD_SPAN = "b7ad6b7169203399"


def otlp_span(span_id: str, attributes: list | None = None, start: Any = None, end: Any = None) -> dict:
    return {
        "traceId": TRACE,
        "spanId": span_id,
        "name": "chat",
        "startTimeUnixNano": "1700000000000000000" if start is None else start,
        "endTimeUnixNano": "1700000001000000000" if end is None else end,
        "attributes": attributes or [],
    }


def otlp_request(*spans: dict) -> dict:
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]}
    return {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": list(spans)}]}]}


def deep_kvlist_value(levels: int) -> str:
    """An AnyValue nested `levels` kvlists deep, as JSON text (built as text: json.dumps would recurse)."""
    head = '{"kvlistValue":{"values":[{"key":"k","value":' * levels
    return head + '{"stringValue":"leaf"}' + "}]}}" * levels


def deep_kvlist_file(levels: int) -> str:
    """Span 1 carries an attribute `levels` kvlists deep; span 2 (GOOD_SPAN) is ordinary."""
    marker = '{"stringValue": "DEEP"}'
    attrs = [{"key": "deep", "value": {"stringValue": "DEEP"}}]
    text = json.dumps(otlp_request(otlp_span("b7ad6b7169203331", attrs), otlp_span(GOOD_SPAN)))
    return text.replace(marker, deep_kvlist_value(levels))


def deep_line_file(levels: int) -> str:
    """JSON lines: a line nested `levels` deep, then a good request."""
    bad = '{"resourceSpans":' + "[" * levels + "]" * levels + "}"
    return bad + "\n" + json.dumps(otlp_request(otlp_span(GOOD_SPAN))) + "\n"


def nested_arrays(levels: int, key: str | None = "resourceSpans") -> str:
    body = "[" * levels + "]" * levels
    return "{" + json.dumps(key) + ":" + body + "}" if key else body


def alias_bomb(levels: int = 9) -> str:
    """YAML whose last key expands to 9**levels strings (a 'billion laughs')."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"
