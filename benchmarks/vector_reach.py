"""Is every record answerable by the vector index after concurrent and repeated writes? (issue 16, item 1)

`python -m benchmarks.vector_reach [--runs 10] [--file PATH | --mix SPANS]` repeats each scenario (on the demo's
support trace, a file, or that many spans of the production mix, benchmarks/prodmix.py) and prints, per scenario,
in how many runs the check was exact. The check, on the store's searched index: a query for all N nearest
records returns all N (Chroma's HNSW query searches with ef = max(ef_search, n), so ef >= N here), and a
query with each record's own vector finds that record among those sharing its vector; plus `store check`
finds nothing to repair.

Scenarios (each on a fresh home):
  two-processes   two `postmortem ingest` of the same file started at the same moment;
  re-upsert       one process ingests the file, queues every stored record again for its vector and drains
                  the queue (what `store embed` does after a crash), then adds the same spans again;
  raw-chroma      baseline, not the store: the same span vectors put into one plain Chroma collection, as the
                  store did before the searched collection of distinct vectors (retrieval/vector_keys.py),
                  then upserted again: how many of N a query for all N returns.
Exit 1 when a store scenario was not exact in every run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / ".postmortem" / "cache"
DEMO_FILE = REPO / "retrieval" / "samples" / "demo" / "traces" / "support-assistant.otlp.json"


def embedder():
    from retrieval.embeddings import MiniLMEmbedder

    return MiniLMEmbedder(cache_dir=CACHE)


WIDE = 400  # a search width (HNSW ef) well above Chroma's default ef_search of 100


def reach(store) -> tuple[int, int, int, int]:
    """(records with a vector, returned by a query for all of them, found by their own vector, check problems).

    Prints the records whose own vector misses them at the default search width but finds them at WIDE:
    reachable in the graph, missed by the default search."""
    from retrieval.store_search import nearest

    kind = store._span_kind()
    got = kind.collection.get(include=["embeddings"])
    ids, vectors = got["ids"], np.asarray(got["embeddings"], dtype=np.float32)
    if not ids:
        return 0, 0, 0, 0
    returned = set(nearest(kind, vectors[:1], len(ids))) & set(ids)
    vkey_of = kind.keys.keys_of(ids)
    sharing = Counter(vkey_of.values())
    missed = [
        i for i, (key, v) in enumerate(zip(ids, vectors, strict=True))
        if key not in nearest(kind, v[None, :], sharing[vkey_of[key]])
    ]  # fmt: skip
    own = len(ids) - len(missed)
    if missed:
        width = [max(WIDE, sharing[vkey_of[ids[i]]]) for i in missed]
        wide = sum(
            ids[i] in nearest(kind, vectors[i][None, :], w) for i, w in zip(missed, width, strict=True)
        )
        print(
            f"  {len(missed)} missed by their own vector at the default width, {wide} of them found at {WIDE}"
        )
    problems = sum(c.problems for c in store.check())
    return len(ids), len(returned), own, problems


def ingest_process(home: Path, path: Path) -> subprocess.Popen:
    env = {**os.environ, "POSTMORTEM_HOME": str(home), "POSTMORTEM_CACHE_DIR": str(CACHE)}
    exe = Path(sys.executable).parent / "postmortem"
    return subprocess.Popen(
        [str(exe), "ingest", str(path), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def two_processes(home: Path, path: Path, emb) -> tuple[int, int, int, int]:
    from retrieval.store import TraceStore

    procs = [ingest_process(home, path) for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        if p.returncode != 0:
            raise RuntimeError(f"ingest exited {p.returncode}: {err.strip()[-300:]}")
    with TraceStore(path=home / "chroma", embedder=emb) as store:
        return reach(store)


def re_upsert(home: Path, path: Path, emb) -> tuple[int, int, int, int]:
    from retrieval.ingest import iter_file
    from retrieval.store import TraceStore
    from retrieval.trace import Span

    spans = [r for r in iter_file(path) if isinstance(r, Span)]
    with TraceStore(path=home / "chroma", embedder=emb) as store:
        store.add_spans(spans)
        kind = store._span_kind()
        stored = kind.collection.get(include=["metadatas"])
        kind.index.pending_queue(
            {key: m["json"] for key, m in zip(stored["ids"], stored["metadatas"], strict=True)}
        )
        rewritten = store.embed_pending()
        if rewritten:
            raise RuntimeError(f"{rewritten} vectors already stored were written again")
        store.add_spans(spans)
        return reach(store)


def raw_chroma(home: Path, path: Path, emb) -> tuple[int, int, int, int]:
    """The store's vectors of the file, as one plain collection held them (duplicates included)."""
    import chromadb

    from retrieval.ingest import iter_file
    from retrieval.store import TraceStore
    from retrieval.trace import Span

    spans = [r for r in iter_file(path) if isinstance(r, Span)]
    with TraceStore(path=home / "chroma", embedder=emb) as store:
        store.add_spans(spans)
        got = store._span_kind().collection.get(include=["embeddings"])
    ids, vectors = got["ids"], np.asarray(got["embeddings"], dtype=np.float32)
    client = chromadb.PersistentClient(path=str(home / "raw"))
    col = client.get_or_create_collection("raw", configuration={"hnsw": {"space": "cosine"}})
    for at in range(0, len(ids), 64):
        col.add(ids=ids[at : at + 64], embeddings=vectors[at : at + 64])
    col.upsert(ids=ids, embeddings=vectors)  # re-upserting ids that exist, unchanged
    returned = set(col.query(query_embeddings=vectors[:1], n_results=len(ids), include=[])["ids"][0])
    same = Counter(v.tobytes() for v in vectors)  # records sharing a vector: any of them may come first
    own = sum(
        key in col.query(query_embeddings=v[None, :], n_results=same[v.tobytes()], include=[])["ids"][0]
        for key, v in zip(ids, vectors, strict=True)
    )
    client.clear_system_cache()
    return len(ids), len(returned), own, 0


SCENARIOS = {"two-processes": two_processes, "re-upsert": re_upsert, "raw-chroma": raw_chroma}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--file", type=Path, default=DEMO_FILE)
    parser.add_argument(
        "--mix", type=int, default=0, help="instead of --file, this many production-mix spans"
    )
    parser.add_argument("--only", choices=list(SCENARIOS), action="append")
    args = parser.parse_args(argv)
    emb = embedder()
    work = tempfile.TemporaryDirectory(prefix="reach-mix-")
    if args.mix:
        from benchmarks.prodmix import write_mix

        args.file = Path(work.name) / "mix.jsonl"
        write_mix(args.file, spans=args.mix)
    failed = False
    for name in args.only or list(SCENARIOS):
        exact = 0
        for run in range(args.runs):
            with tempfile.TemporaryDirectory(prefix="reach-") as tmp:
                n, returned, own, problems = SCENARIOS[name](Path(tmp) / "home", args.file, emb)
            ok = n > 0 and returned == own == n and problems == 0
            exact += ok
            print(
                f"{name} run {run + 1}: {n} records, query for all returns {returned}, "
                f"own vector finds {own}, check problems {problems}{'' if ok else '  NOT EXACT'}",
                flush=True,
            )
        print(f"{name}: exact in {exact} of {args.runs} runs", flush=True)
        failed |= name != "raw-chroma" and exact < args.runs
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
