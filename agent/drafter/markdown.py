"""Markdown rendering of a Draft. Citations are written as `[span:…]`, `[doc:…]`, `[report:n]`, `[pm:…]`."""

from __future__ import annotations

from agent.drafter.fmt import ts
from agent.drafter.investigation import investigation_lines
from agent.models import SECTION_KEYS, SECTION_TITLES, Draft, Section, Sentence

LIST_SECTIONS = {"impact", "timeline", "layers", "went_well_poorly", "similar", "gaps", "reproducibility"}
ACTION_GROUPS = (
    ("prompt", "Prompt"),
    ("data", "Data"),
    ("model", "Model"),
    ("system", "System"),
    ("telemetry", "Telemetry"),
)


def escape(text: str) -> str:
    """Escape brackets in quoted content so no recorded text can pose as a citation."""
    return text.replace("[", "\\[")


def _sentence(sentence: Sentence) -> str:
    cites = " ".join(f"[{ref}]" for ref in sentence.cites)
    return f"{escape(sentence.text)} {cites}".rstrip()


def _section(section: Section) -> list[str]:
    lines = [f"## {section.title}", ""]
    if section.key in LIST_SECTIONS:
        lines += [f"{'  ' * sentence.level}- {_sentence(sentence)}" for sentence in section.sentences]
    else:
        lines.append(" ".join(_sentence(sentence) for sentence in section.sentences))
    return [*lines, ""]


def _escape_cell(text: str) -> str:
    return escape(text).replace("|", "\\|").replace("\n", " ")


def _action_items(draft: Draft) -> list[str]:
    lines = [f"## {SECTION_TITLES['action_items']}", ""]
    for layer, title in ACTION_GROUPS:
        items = [item for item in draft.action_items if item.layer == layer]
        if not items:
            continue
        lines += [f"### {title}", ""]
        for item in items:
            cites = " ".join(f"[{ref}]" for ref in item.evidence)
            detail = escape(f" — {item.detail}") if item.detail else ""
            lines.append(f"- [ ] **{escape(item.title)}** ({item.kind}){detail} {cites}".rstrip())
        lines.append("")
    return lines


def usage_line(usage: dict) -> str:
    """LLM calls, tokens, latency and cost in one line ("not priced" for local or unknown models)."""
    calls, failed = usage.get("calls") or 0, usage.get("failed_calls") or 0
    cost = usage.get("cost_usd")
    priced = f"cost ${cost:.4f}" if cost is not None else "cost not priced (local or unlisted model)"
    failures = f" ({failed} failed)" if failed else ""
    return (
        f"LLM: {calls} call{'s' if calls != 1 else ''}{failures}, {usage.get('input_tokens') or 0} tokens in, "
        f"{usage.get('output_tokens') or 0} out, {usage.get('latency_s') or 0:.1f} s, {priced}"
    )


def render_markdown(draft: Draft) -> str:
    incident = draft.incident
    meta = [f"service {incident.service or 'unknown'}"]
    if incident.severity:
        meta.append(f"severity {incident.severity}")
    if incident.window_start or incident.window_end:
        meta.append(f"window {ts(incident.window_start)} – {ts(incident.window_end)}")
    meta.append(f"analysis: {draft.provider}")
    lines = [f"# Post-mortem (draft): {incident.title}", "", f"_{' · '.join(meta)}_", ""]
    if draft.usage.get("calls"):
        lines += [f"_{usage_line(draft.usage)}_", ""]
    for note in draft.notes:
        lines += [f"> Note: {note}", ""]
    by_key = {section.key: section for section in draft.sections}
    for key in SECTION_KEYS:
        if key == "action_items":
            lines += _action_items(draft)
        elif key in by_key:
            lines += _section(by_key[key])
    for section in draft.sections:
        if section.key not in SECTION_KEYS:
            lines += _section(section)
    if draft.investigation is not None:
        lines += investigation_lines(draft.investigation)
    lines += ["## Evidence", "", "| id | kind | trace | time | excerpt |", "|---|---|---|---|---|"]
    for ev in draft.evidence:
        excerpt = ev.excerpt if len(ev.excerpt) <= 160 else ev.excerpt[:157] + "…"
        lines.append(
            f"| `{ev.id}` | {ev.kind} | {ev.trace_id or ''} | {ts(ev.timestamp) if ev.timestamp else ''} | "
            f"{_escape_cell(excerpt)} |"
        )
    return "\n".join(lines).rstrip() + "\n"
