"""Search quality before/after the lean vector text (issue 17): recall@10 of `search_spans` on a labelled query
set, in the same run, with the vector of each span made from the old rendering (`span_text`), from the lean
text as one text (`span_vector_text`), and from the lean parts (`span_vector_parts`, in use).

Corpus: BENCH_QUALITY_SPANS spans of the production mix (benchmarks/prodmix.py, default 2000). Queries, with
their relevant spans known from how the mix was generated:
- id lookups: a span id (relevant: that span), a trace id (relevant: its spans), an order number;
- error codes: the tool timeout's error text;
- paraphrased symptoms: the customer's question reworded (no shared template words beyond the product), the
  relevant spans being every span that carries that question (classifier, retrieval, answer).
recall@10 = |top 10 & relevant| / min(10, |relevant|), averaged per kind.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

PARAPHRASES = {
    "Does the {p} run small?": "{p} sizing seems smaller than normal",
    "How do I return the {p}?": "send back {p}, what are the steps",
    "Where is my order with the {p}?": "{p} package has not arrived yet",
    "Is the {p} waterproof?": "will the {p} keep water out in heavy rain",
    "Can I get a refund for the {p} I bought on sale?": "money back on a discounted {p}",
    "My {p} arrived damaged, what can I do?": "{p} came broken in the delivery",
    "Is there a warranty on the {p}?": "what guarantee covers the {p}",
    "How do I wash the {p}?": "cleaning instructions for {p}",
    "Why was I charged twice for the {p}?": "double payment taken for {p}",
    "Can I cancel my order for the {p}?": "stop my {p} purchase before it ships",
    "When will the {p} be back in stock?": "{p} sold out, restock date",
    "Do you ship the {p} to Canada?": "delivery of {p} to Toronto possible?",
}


def _question_of(span: Any) -> str:
    return span.retrieval_query or span.user_text.split("QUESTION: ")[-1]


def labelled(spans: list[Any]) -> list[tuple[str, str, set[str]]]:
    """(kind, query, relevant span ids) for the corpus."""
    from benchmarks.prodmix import PRODUCTS

    queries: list[tuple[str, str, set[str]]] = []
    by_trace: dict[str, set[str]] = {}
    for s in spans:
        by_trace.setdefault(s.trace_id, set()).add(s.span_id)
    tools = [s for s in spans if s.tool is not None]
    for s in tools[:: max(1, len(tools) // 6)][:6]:
        queries.append(("id lookup", s.span_id, {s.span_id}))
    for trace_id in list(by_trace)[7::61][:6]:
        queries.append(("id lookup", trace_id, by_trace[trace_id]))
    orders = [s for s in tools if s.tool.name == "order_lookup"]
    for s in orders[3::17][:6]:
        order = s.tool.arguments.split('"')[3]
        queries.append(
            ("id lookup", order, {x.span_id for x in spans if order in (x.tool.arguments if x.tool else "")})
        )
    errors = {s.span_id for s in spans if s.is_error}
    if errors:
        queries.append(("error code", "TimeoutError", errors))
        queries.append(("error code", "upstream timed out", errors))
    asked = Counter(_question_of(s) for s in spans if s.kind.value in ("llm", "retrieval"))
    for template, paraphrase in PARAPHRASES.items():
        best = max(PRODUCTS, key=lambda p: asked[template.format(p=p)])
        question = template.format(p=best)
        relevant = {s.span_id for s in spans if question in (s.retrieval_query or "") + s.user_text}
        if relevant:
            queries.append(("paraphrase", paraphrase.format(p=best), relevant))
    return queries


def recall_at_10(store: Any, queries: list[tuple[str, str, set[str]]]) -> dict[str, float]:
    per_kind: dict[str, list[float]] = {}
    for kind, query, relevant in queries:
        found = {h.span.span_id for h in store.search_spans(query, k=10)}
        per_kind.setdefault(kind, []).append(len(found & relevant) / min(10, len(relevant)))
    return {kind: sum(v) / len(v) for kind, v in per_kind.items()}


def main() -> None:
    import retrieval.store as store_module
    from agent.settings import get_settings
    from agent.store_factory import make_embedder
    from benchmarks.prodmix import write_mix
    from retrieval.ingest import iter_file
    from retrieval.render import span_text, span_vector_parts, span_vector_text
    from retrieval.store import TraceStore
    from retrieval.trace import Span

    n = int(os.environ.get("BENCH_QUALITY_SPANS", "2000"))
    embedder = make_embedder(get_settings())
    with tempfile.TemporaryDirectory(prefix="bench-quality-") as tmp:
        path = Path(tmp) / "mix.jsonl"
        write_mix(path, spans=n, seed=11)
        spans = [r for r in iter_file(path) if isinstance(r, Span)]
        queries = labelled(spans)
        print(f"corpus: {len(spans)} spans of the production mix; {len(queries)} labelled queries")
        print(
            f"{'vector text':<26} " + " ".join(f"{k:>12}" for k in ("id lookup", "error code", "paraphrase"))
        )
        variants = (
            ("old (span_text)", lambda span: [[span_text(span)]]),
            ("lean, one text", lambda span: [[text]] if (text := span_vector_text(span)) else []),
            ("lean, parts (in use)", span_vector_parts),
        )
        for i, (name, parts) in enumerate(variants):
            store_module.span_vector_parts = parts
            try:
                store = TraceStore(path=Path(tmp) / f"v{i}", embedder=embedder)
                store.add_spans(spans)
                scores = recall_at_10(store, queries)
                store.close()
            finally:
                store_module.span_vector_parts = span_vector_parts
            cells = " ".join(
                f"{scores.get(k, float('nan')):>12.3f}" for k in ("id lookup", "error code", "paraphrase")
            )
            print(f"{name:<26} {cells}")


if __name__ == "__main__":
    main()
