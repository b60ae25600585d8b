"""`postmortem ingest` throughput vs the raw embedder, and peak memory on a large JSON-lines file.

Targets (issue 2): ingest >= 70% of the raw embedder's throughput on the span texts the old write path
embedded (`span_text`; since issue 17 ingest embeds the lean parts of each span, each distinct part once, so
the ratio is well above 1), and peak RSS under 600 MB while ingesting a 200 MB OTLP JSON-lines file. The
production mix and the keyword/vector rates are in bench_ingest_mix.

The input is the bundled demo trace file re-issued with fresh ids and varied text, one trace per line.
Env: BENCH_INGEST_SPANS (throughput run, default 1500; 0 skips it), BENCH_INGEST_MB (memory run, default 200;
0 skips it), BENCH_INGEST_MEMORY=proxy (see `memory`), BENCH_INGEST_DOC_CHARS (extra text per retrieved
document, default 1200: RAG-sized spans).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TEMPLATE = Path(__file__).resolve().parents[1] / "retrieval/samples/demo/traces/support-assistant.otlp.json"
WORDS = [
    "refund", "order", "parcel", "invoice", "warranty", "return", "shipping", "label", "carrier",
    "size", "fleece", "boots", "jacket", "policy", "window", "days", "customer", "agent", "escalate",
    "excerpt", "account", "billing", "renewal", "plan", "annual", "monthly", "receipt", "damaged",
    "courier", "tracking", "number", "exchange", "voucher", "discount", "store", "credit", "manager",
    "ticket", "delay", "warehouse", "restock",
]  # fmt: skip


def _hex(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def _sentence(rng: random.Random, n_chars: int) -> str:
    out: list[str] = []
    size = 0
    while size < n_chars:
        word = rng.choice(WORDS)
        out.append(word)
        size += len(word) + 1
    return " ".join(out)


def _traces() -> tuple[dict[str, Any], list[list[dict[str, Any]]]]:
    data = json.loads(TEMPLATE.read_text())
    rs = data["resourceSpans"][0]
    by_trace: dict[str, list[dict[str, Any]]] = {}
    for scope in rs["scopeSpans"]:
        for span in scope["spans"]:
            by_trace.setdefault(span["traceId"], []).append(span)
    return rs, list(by_trace.values())


def _vary(
    span: dict[str, Any], ids: dict[str, str], shift_ns: int, rng: random.Random, doc_chars: int
) -> dict:
    span = json.loads(json.dumps(span))
    span["traceId"] = ids["trace"]
    span["spanId"] = ids[span["spanId"]]
    if span.get("parentSpanId"):
        span["parentSpanId"] = ids.get(span["parentSpanId"], span["parentSpanId"])
    for key in ("startTimeUnixNano", "endTimeUnixNano"):
        if key in span:
            span[key] = str(int(span[key]) + shift_ns)
    for attr in span.get("attributes", []):
        value = attr["value"]
        if "stringValue" not in value:
            continue
        if attr["key"] == "gen_ai.retrieval.documents":
            docs = json.loads(value["stringValue"])
            for doc in docs:
                doc["content"] = f"{doc.get('content', '')} {_sentence(rng, doc_chars)}"
            value["stringValue"] = json.dumps(docs)
        elif attr["key"] in (
            "gen_ai.retrieval.query.text",
            "gen_ai.input.messages",
            "gen_ai.output.messages",
        ):
            text = value["stringValue"]
            extra = _sentence(rng, 60)
            if attr["key"] == "gen_ai.retrieval.query.text":
                value["stringValue"] = f"{text} {extra}"
            else:  # inside the JSON: add to the first text part
                messages = json.loads(text)
                for message in messages:
                    for part in message.get("parts", []):
                        if part.get("type") == "text":
                            part["content"] = f"{part['content']} {extra} {_sentence(rng, doc_chars * 2)}"
                            break
                value["stringValue"] = json.dumps(messages)
    return span


def write_jsonl(
    path: Path, *, spans: int | None = None, megabytes: float | None = None, doc_chars: int = 1200
) -> int:
    """Write OTLP JSON lines (one trace per line) until `spans` spans or `megabytes` MB; returns spans written."""
    rng = random.Random(42)
    resource_spans, traces = _traces()
    written = size = 0
    limit_bytes = int((megabytes or 0) * 1_000_000)
    with path.open("w") as fp:
        i = 0
        while (spans is None or written < spans) and (not limit_bytes or size < limit_bytes):
            template = traces[i % len(traces)]
            ids = {"trace": _hex(rng, 32), **{s["spanId"]: _hex(rng, 16) for s in template}}
            chosen = template if spans is None else template[: spans - written]
            new = [_vary(s, ids, i * 7_000_000_000, rng, doc_chars) for s in chosen]
            request = {
                "resourceSpans": [
                    {
                        "resource": resource_spans["resource"],
                        "scopeSpans": [{"scope": {"name": "bench"}, "spans": new}],
                    }
                ]
            }
            line = json.dumps(request) + "\n"
            fp.write(line)
            size += len(line)
            written += len(new)
            i += 1
    return written


def _texts(path: Path, settings: Any) -> tuple[list[str], float]:
    from agent.store_factory import make_redactor
    from retrieval.ingest import iter_file
    from retrieval.render import span_text
    from retrieval.trace import Span

    started = time.perf_counter()
    redactor = make_redactor(settings)
    spans = [r for r in iter_file(path) if isinstance(r, Span)]
    texts = [span_text(redactor.span(s) if redactor else s) for s in spans]
    return texts, time.perf_counter() - started


def _ingest_in_process(path: Path, home: Path) -> tuple[float, dict]:
    from typer.testing import CliRunner

    from agent.cli.main import app
    from agent.settings import get_settings

    os.environ["POSTMORTEM_HOME"] = str(home)
    get_settings.cache_clear()
    started = time.perf_counter()
    result = CliRunner().invoke(app, ["ingest", str(path), "--json"])
    elapsed = time.perf_counter() - started
    if result.exit_code != 0:
        raise RuntimeError(f"ingest failed ({result.exit_code}): {result.output[-2000:]}")
    return elapsed, json.loads(result.stdout)


def throughput(work: Path) -> None:
    from agent.settings import get_settings
    from agent.store_factory import make_embedder

    n = int(os.environ.get("BENCH_INGEST_SPANS", "1500"))
    if n <= 0:
        print("throughput run skipped (BENCH_INGEST_SPANS=0)")
        return
    doc_chars = int(os.environ.get("BENCH_INGEST_DOC_CHARS", "1200"))
    path = work / "throughput.jsonl"
    n = write_jsonl(path, spans=n, doc_chars=doc_chars)
    settings = get_settings()
    texts, prep = _texts(path, settings)
    embedder = make_embedder(settings)  # configured exactly as `ingest` configures it
    embedder.embed(["warm up"])
    print(
        f"input: {n} spans, {path.stat().st_size / 1e6:.1f} MB OTLP JSON lines; parse+redact+render {prep:.2f}s"
    )

    embed_times, ingest_times = [], []
    for attempt in range(2):  # interleaved, best of two: the machine is shared
        started = time.perf_counter()
        for i in range(0, len(texts), 256):
            embedder.embed(texts[i : i + 256])
        embed_times.append(time.perf_counter() - started)
        elapsed, summary = _ingest_in_process(path, work / f"home-{attempt}")
        if summary["spans_added"] != n:
            raise RuntimeError(f"ingest stored {summary['spans_added']} spans, expected {n}")
        ingest_times.append(elapsed)
    embed, ingest = min(embed_times), min(ingest_times)
    ratio = embed / ingest
    print(f"raw embedder (same texts, batches of 256): {n / embed:7.1f} spans/s  ({embed:.1f}s)")
    print(f"postmortem ingest (in-process, end to end): {n / ingest:7.1f} spans/s  ({ingest:.1f}s)")
    print(f"ratio ingest/embedder: {ratio:.2f}  (target >= 0.70: {'PASS' if ratio >= 0.70 else 'FAIL'})")


def _peak_rss_mb(args: list[str], env: dict[str, str]) -> tuple[float, float, subprocess.CompletedProcess]:
    """Run a child; its peak RSS (MB) and wall time. Each measurement runs in a fresh probe process so
    RUSAGE_CHILDREN holds exactly that child."""
    probe = (
        "import resource, subprocess, sys, time, json\n"
        "t = time.perf_counter()\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "wall = time.perf_counter() - t\n"
        "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
        "print(json.dumps({'rss': rss, 'wall': wall, 'rc': p.returncode, 'out': p.stdout, 'err': p.stderr[-3000:]}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, *args], capture_output=True, text=True, env=env, check=True
    )
    info = json.loads(done.stdout)
    result = subprocess.CompletedProcess(args, info["rc"], info["out"], info["err"])
    return info["rss"], info["wall"], result


# `postmortem ingest` in a child with the embedder swapped for precomputed vectors (benchmarks.bench_search):
# the same parsing, redaction, Chroma and keyword-index path, without the model or its compute.
_PROXY = (
    "import sys\n"
    "import agent.store_factory as factory\n"
    "from benchmarks.bench_search import PrecomputedVectors\n"
    "real = factory.make_embedder\n"
    "factory.make_embedder = lambda settings: PrecomputedVectors(real(settings))\n"
    "from agent.cli.main import run\n"
    "sys.argv = ['postmortem', 'ingest', sys.argv[1], '--json']\n"
    "run()\n"
)


def _ingest_rss(path: Path, home: Path, proxy: bool) -> tuple[float, float, dict]:
    exe = str(Path(sys.executable).parent / "postmortem")
    args = [sys.executable, "-c", _PROXY, str(path)] if proxy else [exe, "ingest", str(path), "--json"]
    env = {**os.environ, "POSTMORTEM_HOME": str(home), "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    rss, wall, result = _peak_rss_mb(args, env)
    if result.returncode != 0:
        raise RuntimeError(f"ingest of {path} failed ({result.returncode}): {result.stderr}")
    return rss, wall, json.loads(result.stdout)


def memory(work: Path) -> None:
    """Peak RSS of `postmortem ingest` on a BENCH_INGEST_MB file. BENCH_INGEST_MEMORY=proxy measures the
    pipeline with precomputed vectors instead (minutes, not hours, on a slow CPU) and adds the model's
    share measured on a small file: an estimate, printed as such."""
    megabytes = float(os.environ.get("BENCH_INGEST_MB", "200"))
    if megabytes <= 0:
        print("memory run skipped (BENCH_INGEST_MB=0)")
        return
    proxy = os.environ.get("BENCH_INGEST_MEMORY", "full") == "proxy"
    doc_chars = int(os.environ.get("BENCH_INGEST_DOC_CHARS", "1200"))
    big, small = work / "big.jsonl", work / "small.jsonl"
    n_big = write_jsonl(big, megabytes=megabytes, doc_chars=doc_chars)
    n_small = write_jsonl(small, spans=300, doc_chars=doc_chars)
    base, base_wall, _ = _ingest_rss(small, work / "mem-small", proxy=False)
    print(f"small file, real embedder: {n_small} spans, peak RSS {base:.0f} MB ({base_wall:.0f}s)")
    what = "precomputed vectors (proxy)" if proxy else "real embedder (this takes a while)"
    print(f"big file: {big.stat().st_size / 1e6:.0f} MB, {n_big} spans, {what}")
    rss, wall, summary = _ingest_rss(big, work / "mem-big", proxy=proxy)
    added = summary["spans_added"]
    print(
        f"big file: {added} spans stored in {wall:.0f}s ({added / wall:.1f} spans/s), peak RSS {rss:.0f} MB"
    )
    if proxy:
        model, _, _ = _ingest_rss(small, work / "mem-small-proxy", proxy=True)
        estimate = rss + (base - model)
        print(
            f"model's share (small file, real minus proxy): {base - model:.0f} MB; estimated peak for the big "
            f"file with the real embedder: {estimate:.0f} MB  (target < 600 MB: {'PASS' if estimate < 600 else 'FAIL'})"
        )
    else:
        print(
            f"peak RSS = {rss / base:.2f}x the small-file run  (target < 600 MB: {'PASS' if rss < 600 else 'FAIL'})"
        )


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        work = Path(tmp)
        previous = os.environ.get("POSTMORTEM_HOME")
        try:
            throughput(work)
        finally:
            if previous is None:
                os.environ.pop("POSTMORTEM_HOME", None)
            else:
                os.environ["POSTMORTEM_HOME"] = previous
        memory(work)


if __name__ == "__main__":
    main()
