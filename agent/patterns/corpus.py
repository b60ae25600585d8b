"""The corpus of past incidents: every post-mortem in the store (AIID imports, ingested Markdown, drafts the
agent published) as a `CorpusItem`, with its layer, contributing factors and action items.

Layer: the post-mortem's own front-matter layers when it has them, else the agent's description-only classifier
(`agent.textcues.classify_description`), else "unclassified".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from agent.models import LAYERS, Incident
from agent.patterns.schema import ActionRef, CorpusItem, Filters, ItemStatus, LayerName
from agent.textcues import classify_description
from retrieval.trace import PostmortemDoc

TEXT_CHARS = 3000  # of a long post-mortem, what is clustered and labelled
_HEADING = re.compile(r"^##\s+(.+?)\s*#*\s*$")
_BULLET = re.compile(r"^(\s*)(?:[-*+]|\d+[.)])\s+(?:\[([ xX])\]\s+)?(.*\S)\s*$")
_ACTION_HEAD = re.compile(r"action item|follow[- ]?up|remediation|next step|corrective", re.I)
_FACTOR_HEAD = re.compile(r"contributing factor|contributing cause", re.I)
_SKIP_HEAD = re.compile(r"action item|follow[- ]?up|remediation|next step|timeline|evidence|appendix", re.I)
_DATE_ARG = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
_CITE = re.compile(r"\[(?:span|doc|report|pm):[^\]]*\]")
_OWNER = re.compile(r"\s*[.;(]?\s*\b(?:owner|owners|assignee|due)\s*:.*$", re.I)
_BOLD_HEAD = re.compile(r"^\*\*(.+?)\*\*")


def natural_key(doc_id: str) -> tuple[str, int, str]:
    """Sort key that puts aiid-2 before aiid-10."""
    match = re.fullmatch(r"(.*?)(\d+)", doc_id)
    if match:
        return match.group(1), int(match.group(2)), doc_id
    return doc_id, -1, doc_id


def valid_date_arg(value: str) -> bool:
    """YYYY, YYYY-MM or YYYY-MM-DD."""
    return bool(_DATE_ARG.match(value))


def sections(text: str) -> list[tuple[str | None, str]]:
    """(heading, body) for each `## ` section; text before the first heading has heading None."""
    out: list[tuple[str | None, list[str]]] = [(None, [])]
    for line in text.split("\n"):
        match = _HEADING.match(line)
        if match:
            out.append((match.group(1), []))
        else:
            out[-1][1].append(line)
    return [
        (head, "\n".join(lines).strip()) for head, lines in out if head is not None or "".join(lines).strip()
    ]


def clean_item(text: str) -> str:
    """An action item or factor without citations, owners, checkboxes and emphasis markup."""
    bold = _BOLD_HEAD.match(text)
    if bold:
        text = bold.group(1)
    text = _CITE.sub("", text)
    text = _OWNER.sub("", text)
    text = re.sub(r"[*_`]+", "", text)
    return re.sub(r"\s+", " ", text).strip(" .;:-—")


def bullets(body: str) -> list[tuple[str, ItemStatus]]:
    """The list items of a section (continuation lines joined), each with its checkbox status."""
    items: list[list[str]] = []
    states: list[ItemStatus] = []
    open_item = False  # a line may continue the last item (indented, or lazily right under it)
    for line in body.split("\n"):
        match = _BULLET.match(line)
        if match:
            box = match.group(2)
            states.append("unknown" if box is None else ("open" if box == " " else "done"))
            items.append([match.group(3)])
            open_item = True
        elif not line.strip() or line.lstrip().startswith("#"):
            open_item = False  # a blank line or a sub-heading ends lazy continuation
        elif items and (open_item or line.startswith((" ", "\t"))):
            items[-1].append(line.strip())
        else:
            open_item = False
    cleaned = [(clean_item(" ".join(parts)), state) for parts, state in zip(items, states, strict=True)]
    return [(text, state) for text, state in cleaned if text]


def _origin(doc: PostmortemDoc) -> str:
    if doc.metadata.get("source") == "aiid" or doc.id.startswith("aiid-"):
        return "aiid"
    if "drafted" in doc.tags or (doc.source or "").startswith("postmortem draft"):
        return "agent"
    return "markdown"


def _body_text(doc: PostmortemDoc, parts: Sequence[tuple[str | None, str]]) -> str:
    kept = [body for head, body in parts if not (head and _SKIP_HEAD.search(head))]
    return f"{doc.title}\n" + "\n".join(kept)[:TEXT_CHARS]


def _layer(doc: PostmortemDoc, text: str) -> tuple[LayerName, str]:
    for layer in [doc.primary_layer or "", *doc.layers]:
        if layer in LAYERS:
            return layer, "front-matter"  # type: ignore[return-value]
    guess = classify_description(Incident(title=doc.title, description=text))
    return (guess, "classifier") if guess else ("unclassified", "none")


def to_item(doc: PostmortemDoc) -> CorpusItem:
    """One stored post-mortem (whole document) as a corpus item."""
    parts = sections(doc.text)
    text = _body_text(doc, parts)
    layer, layer_source = _layer(doc, text)
    factors: list[str] = []
    actions: list[ActionRef] = []
    for head, body in parts:
        if head and _FACTOR_HEAD.search(head):
            factors += [item for item, _ in bullets(body)]
        elif head and _ACTION_HEAD.search(head):
            actions += [ActionRef(incident=doc.id, text=item, status=state) for item, state in bullets(body)]
    origin = _origin(doc)
    deployers = [str(d) for d in doc.metadata.get("deployers") or []] if origin == "aiid" else []
    if not deployers and doc.service:
        deployers = [doc.service]
    return CorpusItem(
        id=doc.id,
        title=doc.title,
        date=str(doc.date)[:10] if doc.date else None,
        service=doc.service,
        deployers=deployers,
        layer=layer,
        layer_source=layer_source,  # type: ignore[arg-type]
        origin=origin,  # type: ignore[arg-type]
        text=text,
        factors=factors,
        actions=actions,
        source=doc.source,
    )


def _bound(value: str, upper: bool) -> str:
    """A YYYY[-MM[-DD]] bound as a full date, inclusive."""
    if len(value) == 4:
        return value + ("-12-31" if upper else "-01-01")
    if len(value) == 7:
        return value + ("-31" if upper else "-01")
    return value


def keep(item: CorpusItem, filters: Filters) -> bool:
    """Whether the item passes --since / --until (inclusive; undated items fail both) and --service."""
    if filters.since and (not item.date or item.date < _bound(filters.since, upper=False)):
        return False
    if filters.until and (not item.date or item.date[:10] > _bound(filters.until, upper=True)):
        return False
    if filters.service:
        wanted = filters.service.casefold()
        names = {n.casefold() for n in [*item.deployers, item.service or ""] if n}
        if wanted not in names:
            return False
    return True


def build_corpus(docs: Iterable[PostmortemDoc], filters: Filters | None = None) -> list[CorpusItem]:
    """The filtered corpus, in a stable order (natural id order), whatever order the store returned."""
    filters = filters or Filters()
    items = [to_item(doc) for doc in docs]
    return sorted((i for i in items if keep(i, filters)), key=lambda i: natural_key(i.id))
