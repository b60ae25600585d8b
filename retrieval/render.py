"""Text views of spans and post-mortems: what gets embedded, what the keyword index sees, excerpts."""

from __future__ import annotations

from typing import Any

from retrieval.keyword_tokens import tokens
from retrieval.trace import PostmortemDoc, Span

EMBED_CHARS = 1600  # MiniLM reads 256 word pieces; more text only costs tokenizer time
KEYWORD_CHARS = 16_000


def _clip(text: str | None, n: int) -> str:
    if not text:
        return ""
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def span_text(span: Span) -> str:
    """A short human-readable rendering of a span, most telling parts first (names, models, system prompt
    included): what was embedded before `span_vector_text`; kept for listings and the benchmarks' baseline."""
    head = f"{span.kind.value} span {span.name!r}"
    if span.service:
        head += f" in {span.service}"
    if span.model:
        head += f"; model {span.model}"
    if span.provider:
        head += f" ({span.provider})"
    lines = [head]
    if span.is_error or span.status.message:
        err = span.status.error_type or ""
        lines.append(f"status {span.status.code}: {_clip(span.status.message, 200)} {err}".rstrip())
    if span.finish_reasons:
        lines.append("finish: " + ", ".join(span.finish_reasons))
    if span.tool is not None:
        tool = span.tool
        lines.append(
            f"tool {tool.name or ''} args {_clip(tool.arguments, 200)} result {_clip(tool.result, 300)}"
        )
    if span.system_instructions:
        lines.append("system: " + _clip(span.system_instructions, 240))
    if span.retrieval_query:
        lines.append("query: " + _clip(span.retrieval_query, 240))
    if span.user_text:
        lines.append("user: " + _clip(span.user_text, 400))
    if span.output_text:
        lines.append("output: " + _clip(span.output_text, 400))
    for doc in span.documents[:4]:
        lines.append(f"document {doc.source or doc.id or ''}: {_clip(doc.content, 160)}")
    return _clip("\n".join(lines), EMBED_CHARS) if len(lines) > 1 else head


PART_CHARS = 320  # a part is embedded alone: a sentence or paragraph, not a page
MAX_LINES = 8  # lines of one long input or output that are embedded (the first and the last ones)


def _lines(text: str) -> list[str]:
    """The non-empty lines of a text, each clipped; a long text keeps its first and last lines."""
    lines = [_clip(line, PART_CHARS) for line in text.splitlines() if line.strip()]
    if len(lines) > MAX_LINES:
        lines = lines[: MAX_LINES // 2] + lines[-MAX_LINES // 2 :]
    return lines


def span_vector_parts(span: Span) -> list[list[str]]:
    """What the vector index holds for a span, as groups of parts: only text of its own that people search
    by meaning. The span's vector is the mean of its groups' vectors, a group's vector the mean of its
    parts' (`store_writer`); each distinct part is embedded once, however many spans carry it.

    Groups: the error message; the tool call and its result; the retrieval query; the user's input (by
    line: a RAG prompt's pasted excerpts are the same lines from request to request); the output (by line);
    the retrieved documents. Not the system prompt (the same in every call of a version, and in the keyword
    index of every span) nor names, models and ids (the keyword index finds those exactly). A span with no
    text of its own (HTTP, DB, internal) has no parts: it gets no vector and is found by id, filters and
    keywords only.
    """
    groups: list[list[str]] = []
    if span.is_error and span.status.message:
        groups.append([f"error: {_clip(span.status.message, 200)} {span.status.error_type or ''}".rstrip()])
    if span.tool is not None and (span.tool.arguments or span.tool.result):
        tool = span.tool
        groups.append([f"{tool.name or 'tool'}({_clip(tool.arguments, 200)}) -> {_clip(tool.result, 300)}"])
    if span.retrieval_query:
        groups.append([_clip(span.retrieval_query, PART_CHARS)])
    for text in (span.user_text, span.output_text):
        if lines := _lines(text):
            groups.append(lines)
    if docs := [_clip(d.content, PART_CHARS) for d in span.documents[:4] if d.content]:
        groups.append(docs)
    return groups


def span_vector_text(span: Span) -> str:
    """The parts of `span_vector_parts` as one text (for reading, and for embedders that take one text)."""
    return "\n".join(part for group in span_vector_parts(span) for part in group)


def _values(value: Any, out: list[str], budget: int) -> None:
    """Flatten scalar values of nested attributes into `out` (keys skipped: they are the same everywhere)
    until `out` holds more than `budget` characters."""
    used = sum(len(s) for s in out)
    stack = [value]
    while stack and used <= budget:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list | tuple):
            stack.extend(reversed(item))
        elif isinstance(item, str):
            out.append(item[:2000])
            used += len(out[-1])
        elif item is not None and not isinstance(item, bool):
            out.append(str(item))
            used += len(out[-1])


def span_keywords(span: Span) -> tuple[str, str]:
    """(key, body) text for the keyword index: ids, names, models, errors first; free text after."""
    key = [
        span.trace_id,
        span.span_id,
        span.parent_span_id or "",
        span.service or "",
        span.name,
        span.kind.value,
        span.operation or "",
        span.provider or "",
        span.request_model or "",
        span.response_model or "",
        span.status.code if span.is_error else "",
        span.status.message or "",
        span.status.error_type or "",
        " ".join(span.finish_reasons),
        span.session_id or "",
        span.conversation_id or "",
        span.user_id or "",
    ]
    if span.tool is not None:
        key += [span.tool.name or "", span.tool.call_id or ""]
    if span.prompt_template is not None:
        key += [span.prompt_template.id or "", span.prompt_template.version or ""]
    for event in span.events:
        key.append(event.name)
        _values(event.attributes, key, KEYWORD_CHARS // 2)
    for doc in span.documents:
        key += [doc.id or "", doc.source or ""]
    _values(span.attributes, key, KEYWORD_CHARS // 2)

    body = [
        span.system_instructions or "",
        span.retrieval_query or "",
        span.input_value or "",
        span.output_value or "",
    ]
    for message in [*span.input_messages, *span.output_messages]:
        body.append(message.content or "")
        body += [f"{call.name or ''} {call.arguments or ''}" for call in message.tool_calls]
    if span.tool is not None:
        body += [span.tool.arguments or "", span.tool.result or ""]
    body += [doc.content or "" for doc in span.documents]
    # one piece a line: the index tokenises line by line and remembers repeated lines (system prompts)
    return (
        "\n".join(s for s in key if s)[:KEYWORD_CHARS],
        "\n".join(s for s in body if s)[:KEYWORD_CHARS],
    )


def postmortem_vector_parts(doc: PostmortemDoc) -> list[list[str]]:
    return [[postmortem_text(doc)]]


def postmortem_text(doc: PostmortemDoc) -> str:
    """What is embedded for a post-mortem chunk: title, section, then its text."""
    head = doc.title if not doc.section else f"{doc.title} — {doc.section}"
    return _clip(f"{head}\n{doc.text}", EMBED_CHARS)


def postmortem_keywords(doc: PostmortemDoc) -> tuple[str, str]:
    key = [doc.id, doc.title, doc.service or "", doc.section or "", " ".join(doc.layers), " ".join(doc.tags)]
    return " ".join(s for s in key if s), doc.text[:KEYWORD_CHARS]


def _find_term(text: str, query: str) -> int:
    """Position of the longest query term found in text (compounds also as "a-b" / "a b"), or -1."""
    lower = text.lower()
    for term in sorted(set(tokens(query, query_mode=True)), key=len, reverse=True):
        if len(term) < 3:
            continue
        for probe in (term, term.replace("_", "-"), term.replace("_", " "), term.replace("_", ".")):
            at = lower.find(probe)
            if at >= 0:
                return at
    return -1


def _window(flat: str, at: int, width: int) -> str:
    if len(flat) <= width:
        return flat
    if at < 0:
        return flat[: width - 1] + "…"
    start = max(0, at - width // 3)
    piece = flat[start : start + width]
    return ("…" if start else "") + piece + ("…" if start + width < len(flat) else "")


def excerpt(text: str, query: str = "", width: int = 160) -> str:
    """A one-line window of `text` around the longest query term it contains, else its start."""
    flat = " ".join(text.split())
    return _window(flat, _find_term(flat, query) if query else -1, width)


def _answer(span: Span) -> str:
    """What the span answered, readable: the output messages' text, else the tool calls they make; a
    retriever's raw output is left to its documents, and another raw output only when nothing else says it."""
    texts = [m.content for m in span.output_messages if m.content]
    if texts:
        return "\n".join(texts)
    calls = [c for m in span.output_messages for c in m.tool_calls]
    if calls:
        return "calls " + ", ".join(f"{c.name or 'tool'}({c.arguments or ''})" for c in calls)
    if span.documents or (span.tool is not None and span.tool.result):
        return ""
    return span.output_value or ""


def span_excerpt(span: Span, query: str = "", width: int = 160) -> str:
    """The most telling text of a span for a one-line listing, centred on a query term when one occurs."""
    parts = []
    if span.is_error and span.status.message:
        parts.append(span.status.message)
    if span.tool is not None and (span.tool.result or span.tool.arguments):
        parts.append(f"{span.tool.name or 'tool'}({span.tool.arguments or ''}) -> {span.tool.result or ''}")
    parts += [span.user_text, _answer(span), span.retrieval_query or ""]
    parts += [doc.content or "" for doc in span.documents[:3]]
    text = " ".join(" | ".join(p for p in parts if p).split()) or span.name
    if query:
        for candidate in (text, " ".join(" | ".join(span_keywords(span)).split())):
            at = _find_term(candidate, query)
            if at >= 0:
                return _window(candidate, at, width)
    return _window(text, -1, width)
