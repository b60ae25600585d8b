"""Ingest at production rates (issue 17): what is embedded, how much of it repeats, and how fast a realistic
production mix becomes searchable by keyword and by meaning.

1. Duplicates: for the demo traces, the dev eval cases and the production mix (benchmarks/prodmix.py), the
   share of embedded texts that are exact or near duplicates (digits and hex ids masked, case and spacing
   folded), under the old rendering (`span_text`: names, models, system prompt) and the lean one
   (`span_vector_text`), and the model tokens each would embed (old: every span; new: each distinct text once).
2. Use: of the demo's stored spans, how many the demo draft's searches return and how many its text cites.
3. Rates: `postmortem ingest --json` in-process on BENCH_MIX_SPANS spans of the mix (default 6000), fresh
   home: spans/s to keyword-searchable (stage 1 done) and to vectors written; against the baseline measured
   in the same run, the raw embedder on the old renderings of the same spans (the old ingest ran at 0.83-0.86
   of it). Targets: >= 500 spans/s keyword-searchable, >= 100 spans/s with vectors.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def _spans(paths: list[Path]) -> list[Any]:
    from retrieval.ingest import iter_file
    from retrieval.trace import Span

    return [r for p in paths for r in iter_file(p) if isinstance(r, Span)]


def _dev_case_traces() -> list[Path]:
    import yaml

    out: list[Path] = []
    for case in sorted((REPO / "evals" / "cases").glob("*/case.yaml")):
        if yaml.safe_load(case.read_text()).get("split") == "dev":
            out += sorted((case.parent / "traces").glob("*"))
    return out


def _near(text: str) -> str:
    text = re.sub(r"\b[0-9a-f]{8,}\b", "x", text.lower())
    return " ".join(re.sub(r"\d+", "0", text).split())


def duplicates(name: str, spans: list[Any], tokens: Callable[[list[str]], list[int]]) -> dict[str, Any]:
    from retrieval.render import span_text, span_vector_parts

    old = [span_text(s) for s in spans]
    parts = [p for s in spans for group in span_vector_parts(s) for p in group]
    old_tokens = sum(tokens(old))
    distinct = list(dict.fromkeys(parts))
    row = {
        "corpus": name,
        "spans": len(spans),
        "old_exact_dup": 1 - len(set(old)) / len(old),
        "old_near_dup": 1 - len({_near(t) for t in old}) / len(old),
        "parts": len(parts),
        "parts_exact_dup": 1 - len(distinct) / len(parts),
        "parts_near_dup": 1 - len({_near(t) for t in parts}) / len(parts),
        "old_tokens": old_tokens,
        "new_tokens": sum(tokens(distinct)),
    }
    print(
        f"{name:<14} {len(spans):>6} spans | old rendering: {row['old_exact_dup']:5.1%} exact, "
        f"{row['old_near_dup']:5.1%} near dup | lean parts: {len(parts):>6}, {row['parts_exact_dup']:5.1%} exact, "
        f"{row['parts_near_dup']:5.1%} near dup | tokens to embed {old_tokens:>9,} -> {row['new_tokens']:>8,} "
        f"({old_tokens / max(row['new_tokens'], 1):.1f}x fewer)"
    )
    return row


def _ingest(path: Path, home: Path) -> tuple[float, float, dict]:
    """`postmortem ingest --json` in-process; (seconds to keyword-searchable, seconds to vectors, summary)."""
    from typer.testing import CliRunner

    import retrieval.store as store_module
    from agent.cli.main import app
    from agent.settings import get_settings

    stage1: list[float] = []
    real = store_module.add_records

    def timed(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        stage1.append(time.perf_counter())
        return result

    os.environ["POSTMORTEM_HOME"] = str(home)
    get_settings.cache_clear()
    store_module.add_records = timed
    try:
        started = time.perf_counter()
        result = CliRunner().invoke(app, ["ingest", str(path), "--json"])
        done = time.perf_counter()
    finally:
        store_module.add_records = real
    if result.exit_code != 0:
        raise RuntimeError(f"ingest failed ({result.exit_code}): {result.output[-2000:]}")
    return stage1[0] - started, done - started, json.loads(result.stdout)


def use(work: Path, embedder: Any) -> None:
    """Ingest the demo, draft its incident; count the spans its searches returned and the spans it cites."""
    from agent.api import draft_incident, load_incident
    from agent.models import citations
    from retrieval.ingest import iter_file
    from retrieval.store import TraceStore
    from retrieval.trace import PostmortemDoc, Span

    demo = REPO / "retrieval" / "samples" / "demo"
    store = TraceStore(path=work / "use", embedder=embedder)
    records = [r for p in sorted(demo.rglob("*.*")) if p.suffix in (".json", ".md") for r in iter_file(p)]
    store.add_spans(r for r in records if isinstance(r, Span))
    store.add_postmortems(r for r in records if isinstance(r, PostmortemDoc))
    returned: set[str] = set()
    search = store.search_spans

    def recording(*args: Any, **kwargs: Any) -> Any:
        hits = search(*args, **kwargs)
        returned.update(h.span.span_id for h in hits)
        return hits

    store.search_spans = recording  # type: ignore[method-assign]
    result = draft_incident(load_incident(demo / "incident.yaml"), provider="offline", store=store)
    cited = {ref.split(":", 1)[1] for ref in citations(result.draft.markdown) if ref.startswith("span:")}
    total = store.count_spans()
    store.close()
    print(
        f"demo: {total} spans stored; the draft's searches returned {len(returned)} "
        f"({len(returned) / total:.1%}), its text cites {len(cited)} ({len(cited) / total:.1%})"
    )


def rates(work: Path) -> None:
    from agent.settings import get_settings
    from agent.store_factory import make_embedder, make_redactor
    from benchmarks.prodmix import write_mix
    from retrieval.render import span_text

    n = int(os.environ.get("BENCH_MIX_SPANS", "6000"))
    path = work / "mix.jsonl"
    n = write_mix(path, spans=n)
    settings = get_settings()
    embedder = make_embedder(settings)
    redactor = make_redactor(settings)
    spans = _spans([path])
    old_texts = [span_text(redactor.span(s) if redactor else s) for s in spans]
    embedder.embed(["warm up"])
    started = time.perf_counter()
    for i in range(0, len(old_texts), 256):
        embedder.embed(old_texts[i : i + 256])
    baseline = len(old_texts) / (time.perf_counter() - started)
    print(f"baseline: raw embedder on the old renderings of the same {n} spans: {baseline:7.1f} spans/s")
    keyword_s, vector_s, summary = _ingest(path, work / "home")
    assert summary["spans_added"] == n and summary["vectors_pending"] == 0, summary
    kw_rate, vec_rate = n / keyword_s, n / vector_s
    print(
        f"ingest, keyword-searchable: {kw_rate:7.1f} spans/s ({keyword_s:.1f}s)  "
        f"(target >= 500: {'PASS' if kw_rate >= 500 else 'FAIL'}; {kw_rate / baseline:.1f}x the baseline)"
    )
    print(
        f"ingest, vectors written:    {vec_rate:7.1f} spans/s ({vector_s:.1f}s)  "
        f"(target >= 100: {'PASS' if vec_rate >= 100 else 'FAIL'}; {vec_rate / baseline:.1f}x the baseline)"
    )
    again_kw, again_vec, summary = _ingest(path, work / "home")
    print(f"re-ingest of the same file: {n / again_vec:7.1f} spans/s ({summary['spans_skipped']} skipped)")


def main() -> None:
    from agent.settings import get_settings
    from agent.store_factory import make_embedder
    from benchmarks.prodmix import write_mix

    embedder = make_embedder(get_settings())
    with tempfile.TemporaryDirectory(prefix="bench-mix-") as tmp:
        work = Path(tmp)
        mix = work / "dup-mix.jsonl"
        write_mix(mix, spans=int(os.environ.get("BENCH_MIX_SPANS", "6000")))
        print("1. what is embedded (old rendering: every span; lean: each distinct text once)")
        duplicates(
            "demo", _spans(sorted((REPO / "retrieval/samples/demo/traces").glob("*"))), embedder.token_counts
        )
        duplicates("eval cases dev", _spans(_dev_case_traces()), embedder.token_counts)
        duplicates("production mix", _spans([mix]), embedder.token_counts)
        print("\n2. what is used")
        use(work, embedder)
        print("\n3. ingest rates on the production mix")
        previous = os.environ.get("POSTMORTEM_HOME")
        try:
            rates(work)
        finally:
            if previous is None:
                os.environ.pop("POSTMORTEM_HOME", None)
            else:
                os.environ["POSTMORTEM_HOME"] = previous


if __name__ == "__main__":
    main()
