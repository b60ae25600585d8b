"""`postmortem receive`: sustained spans/s and peak RSS, against `postmortem ingest` of the same spans in the run.

The spans are made by the real OpenTelemetry SDK (an agent span, a GenAI chat span with its messages in the
current semantic conventions, a tool span per trace, varied text) and sent by the SDK's own OTLPSpanExporter
(protobuf, 512 spans a request, BENCH_RECEIVER_CLIENTS exporters at once) to `postmortem receive` in a child
process; the same spans, written as one OTLP/JSON file, are then stored by `postmortem ingest` in another child
on a fresh home. Two measures each: keyword-searchable (the receiver stopped with SIGTERM once the exporters are
done, which stores what it accepted; `ingest --no-wait`), and everything including the vectors (the receiver
stopped once its store has no vector waiting; `ingest`). `ingest --no-wait` is not a pure keyword stage: its
vector thread embeds while it reads; the receiver embeds only while no request waits. The ingest's start-up (imports, opening the store) is
measured on a one-span file and taken off; the receiver's is before it says it listens. Peak RSS is each child's
VmHWM (the embedding model is ~180 MB of it, loaded once the first vector is written).

Env: BENCH_RECEIVER_SPANS (default 3000), BENCH_RECEIVER_CLIENTS (default 2).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.prodmix import WORDS

REPO = Path(__file__).resolve().parents[1]
BATCH = 512  # the SDK BatchSpanProcessor's export batch


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def make_spans(n: int, seed: int = 7) -> list[Any]:
    """About n finished SDK spans, three per trace."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    rng = random.Random(seed)
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "support-assistant"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("benchmarks.bench_receiver")
    for _ in range(max(1, n // 3)):
        question, answer = _text(rng, 25), _text(rng, 40)
        with tracer.start_as_current_span(
            "invoke_agent support", attributes={"gen_ai.agent.name": "support"}
        ):
            chat = {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.usage.input_tokens": rng.randint(200, 3000),
                "gen_ai.usage.output_tokens": rng.randint(20, 400),
                "gen_ai.input.messages": json.dumps(
                    [{"role": "user", "parts": [{"type": "text", "content": question}]}]
                ),
                "gen_ai.output.messages": json.dumps(
                    [
                        {
                            "role": "assistant",
                            "parts": [{"type": "text", "content": answer}],
                            "finish_reason": "stop",
                        }
                    ]
                ),
            }
            with tracer.start_as_current_span("chat gpt-4o-mini", attributes=chat):
                pass
            tool = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup_order",
                    "gen_ai.tool.call.arguments": json.dumps({"order": _text(rng, 2)})}  # fmt: skip
            with tracer.start_as_current_span("execute_tool lookup_order", attributes=tool):
                pass
    provider.shutdown()
    return list(memory.get_finished_spans())


def write_otlp_json(spans: list[Any], path: Path) -> None:
    """The same spans as one OTLP/JSON ExportTraceServiceRequest (ids in hex), as a file exporter writes."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    from retrieval.otlp_http.proto_dict import traces_dict

    request = traces_dict(encode_spans(spans))
    path.write_text(json.dumps(request))


class PeakRss:
    """A child's VmHWM (MB), read until it exits."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.mb = 0.0
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while True:
            try:
                status = Path(f"/proc/{self.pid}/status").read_text()
            except OSError:
                return
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    self.mb = max(self.mb, int(line.split()[1]) / 1024)
            time.sleep(0.05)

    def join(self) -> float:
        self._thread.join(5)
        return self.mb


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "POSTMORTEM_HOME": str(home), "PYTHONPATH": str(REPO), "COLUMNS": "200"}


def _postmortem(*args: str) -> list[str]:
    return [sys.executable, "-c", "from agent.cli.main import run; run()", *args]


def run_receiver(spans: list[Any], home: Path, clients: int, vectors: bool) -> dict[str, Any]:
    """Export every span to a `postmortem receive` child; seconds from its first request to its exit after
    SIGTERM (everything stored; with vectors=True SIGTERM waits until no vector waits), peak RSS, counts."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import SpanExportResult

    proc = subprocess.Popen(_postmortem("receive", "--port", "0", "--json"), env=_env(home),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    rss = PeakRss(proc.pid)
    line = ""
    while "receiving OTLP/HTTP on " not in line:
        line = proc.stderr.readline()
        if not line and proc.poll() is not None:
            raise RuntimeError(f"the receiver did not start: {proc.stderr.read()}")
    endpoint = line.split("receiving OTLP/HTTP on ", 1)[1].split()[0] + "/v1/traces"
    batches = [spans[i : i + BATCH] for i in range(0, len(spans), BATCH)]
    failures: list[int] = []

    def client(share: list[list[Any]]) -> None:
        exporter = OTLPSpanExporter(endpoint=endpoint, timeout=60)
        failures.extend(len(b) for b in share if exporter.export(b) != SpanExportResult.SUCCESS)

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(batches[k::clients],)) for k in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sent = time.perf_counter() - started
    if vectors:
        _wait_vectors(home, len(spans), proc)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=600)
    wall = time.perf_counter() - started
    if proc.returncode != 0 or failures:
        raise RuntimeError(
            f"receiver exit {proc.returncode}, {sum(failures)} spans not exported: {err[-2000:]}"
        )
    return {"wall": wall, "sent": sent, "rss": rss.join(), "stats": json.loads(out)}


def _wait_vectors(home: Path, n: int, proc: subprocess.Popen) -> None:
    """Until the receiver's store holds n spans and none waits for its vector (read from the keyword index)."""
    from retrieval.keyword import KeywordIndex

    index = KeywordIndex(home / "chroma" / "keyword.sqlite3", "spans")
    try:
        while index.count() < n or index.pending_count():
            if proc.poll() is not None:
                raise RuntimeError(f"the receiver stopped ({proc.returncode})")
            time.sleep(0.2)
    finally:
        index.close()


def run_ingest(path: Path, home: Path, wait: bool) -> dict[str, Any]:
    """`postmortem ingest --json` in a child (--no-wait unless wait): wall seconds, peak RSS, its summary."""
    started = time.perf_counter()
    flags = ["--wait" if wait else "--no-wait", "--json"]
    proc = subprocess.Popen(_postmortem("ingest", str(path), *flags), env=_env(home),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    rss = PeakRss(proc.pid)
    out, err = proc.communicate(timeout=1800)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"ingest of {path} failed ({proc.returncode}): {err[-2000:]}")
    return {"wall": wall, "rss": rss.join(), "summary": json.loads(out)}


def main() -> None:
    n = int(os.environ.get("BENCH_RECEIVER_SPANS", "3000"))
    clients = int(os.environ.get("BENCH_RECEIVER_CLIENTS", "2"))
    spans = make_spans(n)
    print(f"spans: {len(spans)} from the real SDK, {clients} OTLPSpanExporter(s), {BATCH} spans a request")
    with tempfile.TemporaryDirectory(prefix="bench-receiver-") as tmp:
        work = Path(tmp)
        write_otlp_json(spans, work / "spans.json")
        write_otlp_json(spans[:1], work / "one.json")
        startup = run_ingest(work / "one.json", work / "startup-home", wait=True)["wall"]
        print(
            f"start-up of a child `postmortem ingest` (one span): {startup:.1f}s, taken off the ingest figures"
        )
        for vectors in (False, True):
            what = "with vectors" if vectors else "keyword-searchable"
            ingest = run_ingest(work / "spans.json", work / f"ingest-{vectors}", wait=vectors)
            received = run_receiver(spans, work / f"receive-{vectors}", clients, vectors)
            _report(what, len(spans), startup, ingest, received)


def _report(what: str, n: int, startup: float, ingest: dict[str, Any], received: dict[str, Any]) -> None:
    ingest_s = max(ingest["wall"] - startup, 1e-6)
    rate_in, rate_rx = n / ingest_s, n / received["wall"]
    w = received["stats"]["writer"]
    print(f"[{what}] postmortem ingest: {ingest['summary']['spans_added']} added in {ingest_s:.1f}s = "
          f"{rate_in:.0f} spans/s, peak RSS {ingest['rss']:.0f} MB")  # fmt: skip
    print(f"[{what}] postmortem receive: {w['spans_stored']} added in {received['wall']:.1f}s (exporters done "
          f"after {received['sent']:.1f}s) = {rate_rx:.0f} spans/s, peak RSS {received['rss']:.0f} MB; answers "
          f"{received['stats']['answers']}; vectors written {w['vectors_written']}")  # fmt: skip
    print(f"[{what}] ratio receive/ingest: throughput {rate_rx / rate_in:.2f}, "
          f"peak RSS {received['rss'] / ingest['rss']:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
