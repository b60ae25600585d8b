"""Offline MiniLM embedder: parity with Chroma's built-in embedder and with a numpy BERT, caching, Chroma reopen."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import chromadb
import numpy as np
import pytest
from chromadb.config import Settings as ChromaSettings
from chromadb.utils.embedding_functions import ONNXMiniLM_L6_V2, OpenAIEmbeddingFunction
from safetensors.numpy import load_file, save_file
from scipy.special import erf

from retrieval.embeddings import MiniLMEmbedder, ensure_graph, export_chroma_layout, get_embedding_function
from retrieval.embeddings.cache import TOKENIZER_FILES, default_model_dir, graph_path
from retrieval.embeddings.minilm import BATCH_TOKENS, _tokenizer
from retrieval.embeddings.onnx_graph import BertConfig

REPO = Path(__file__).resolve().parents[1]
LONG = " ".join(
    f"step {i}: the retriever returned chunk-{i} about refund policy v{i % 7} and the model ignored it"
    for i in range(40)
)
TEXTS = [
    "rate limit exceeded",
    "The assistant answered with the wrong refund window after the retriever returned stale documents.",
    "tool call search_docs(query='invoice 4411') failed: TimeoutError after 30s",
    LONG,  # > 256 tokens: truncated by both sides
    "",
    "   ",
    "Ünïcödé naïve café — 東京の天気は晴れです 🚀🔥 ¿qué pasó?",
    '{"error": {"code": 429, "message": "Too Many Requests"}, "retry_after": 12}',
    "a",
    "gen_ai.client.operation.duration exceeded the p99 budget for gpt-4o-mini on 2025-03-02",
]


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


@pytest.fixture(scope="module")
def chroma_builtin(embedder, tmp_path_factory) -> ONNXMiniLM_L6_V2:
    """Chroma's own ONNX embedder (fixed 256 padding, its own pooling), pointed at our graph; never downloads."""
    folder = export_chroma_layout(
        tmp_path_factory.mktemp("chroma_onnx"), embedder.model_dir, embedder.cache_dir
    )
    ef = ONNXMiniLM_L6_V2(preferred_providers=["CPUExecutionProvider"])
    ef.DOWNLOAD_PATH = folder

    def no_download(*args: object, **kwargs: object) -> None:
        raise AssertionError("Chroma tried to download its model")

    ef._download = no_download  # type: ignore[method-assign]
    return ef


# ---------------------------------------------------------------- numpy reference (independent of ONNX)


def _layer_norm(x: np.ndarray, g: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


def reference_embedding(w: dict[str, np.ndarray], cfg: BertConfig, ids: list[int]) -> np.ndarray:
    """BERT forward pass of one unpadded sequence in float64, then mean pooling and L2 normalization."""
    w = {k: v.astype(np.float64) for k, v in w.items() if v.dtype.kind == "f"}
    eps, heads = cfg.layer_norm_eps, cfg.num_attention_heads
    n, d = len(ids), cfg.hidden_size // heads
    x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:n]
    x = x + w["embeddings.token_type_embeddings.weight"][0]
    x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)

    def lin(h: np.ndarray, key: str) -> np.ndarray:
        return h @ w[f"{key}.weight"].T + w[f"{key}.bias"]

    for i in range(cfg.num_hidden_layers):
        p = f"encoder.layer.{i}."
        q, k, v = (
            lin(x, f"{p}attention.self.{m}").reshape(n, heads, d).transpose(1, 0, 2)
            for m in ("query", "key", "value")
        )
        scores = q @ k.transpose(0, 2, 1) / np.sqrt(d)
        probs = np.exp(scores - scores.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        ctx = (probs @ v).transpose(1, 0, 2).reshape(n, cfg.hidden_size)
        x = _layer_norm(
            lin(ctx, f"{p}attention.output.dense") + x,
            w[f"{p}attention.output.LayerNorm.weight"],
            w[f"{p}attention.output.LayerNorm.bias"],
            eps,
        )
        up = lin(x, f"{p}intermediate.dense")
        act = 0.5 * up * (1.0 + erf(up / np.sqrt(2.0)))
        x = _layer_norm(
            lin(act, f"{p}output.dense") + x,
            w[f"{p}output.LayerNorm.weight"],
            w[f"{p}output.LayerNorm.bias"],
            eps,
        )
    mean = x.mean(0)
    return mean / np.linalg.norm(mean)


# ---------------------------------------------------------------- parity


def test_shape_dtype_norm_and_empty(embedder):
    vecs = embedder.embed(TEXTS)
    assert vecs.shape == (len(TEXTS), 384)
    assert vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert embedder.embed([]).shape == (0, 384)
    as_chroma = embedder(TEXTS[:2])
    assert len(as_chroma) == 2 and np.allclose(as_chroma[1], vecs[1])


def test_matches_chroma_builtin_embedder(embedder, chroma_builtin):
    ours = embedder.embed(TEXTS)
    theirs = np.asarray(chroma_builtin(TEXTS))
    sims = cosine_rows(ours, theirs)
    assert sims.min() >= 0.9999, dict(zip(TEXTS, sims.round(6), strict=True))
    # guard against a trivially constant embedder: different texts differ
    assert cosine_rows(ours[:1], ours[1:2])[0] < 0.9


def test_matches_numpy_reference(embedder):
    model_dir = default_model_dir()
    weights = load_file(str(model_dir / "model.safetensors"))
    cfg = BertConfig.from_file(model_dir / "config.json")
    tok = _tokenizer(model_dir / "tokenizer.json")
    texts = [TEXTS[1], TEXTS[4], TEXTS[6], TEXTS[2]]
    ours = embedder.embed(texts)
    ref = np.stack([reference_embedding(weights, cfg, tok.encode(t).ids) for t in texts])
    assert cosine_rows(ours, ref).min() >= 0.9999


def test_truncates_at_256_tokens(embedder):
    tok = _tokenizer(embedder.model_dir / "tokenizer.json")
    assert len(tok.encode(LONG).ids) == 256
    longer = embedder.embed([LONG, LONG + " and then the agent looped forever calling the same tool"])
    assert cosine_rows(longer[:1], longer[1:])[0] >= 0.99999


def test_order_is_restored_across_sorted_batches(embedder):
    texts = [f"{'word ' * (i * 7 % 23)}incident {i}" for i in range(25)]
    small = MiniLMEmbedder(cache_dir=embedder.cache_dir, batch_size=4)
    batched = small.embed(texts)
    one_by_one = np.stack([embedder.embed([t])[0] for t in texts])
    assert cosine_rows(batched, one_by_one).min() >= 0.99999
    assert np.array_equal(small.embed(texts[::-1]), batched[::-1])


def test_batches_cap_rows_and_padded_tokens(embedder):
    lengths = np.array([256] * 70 + [5] * 100 + [40] * 30)
    order = np.argsort(lengths, kind="stable")
    batches = embedder._batches(order, lengths)
    assert np.array_equal(np.concatenate(batches), order)
    assert max(len(b) for b in batches) == embedder.batch_size
    assert all(len(b) * lengths[b].max() <= BATCH_TOKENS for b in batches)
    lean = MiniLMEmbedder(cache_dir=embedder.cache_dir, max_batch_tokens=2048)  # the CLI's memory bound
    batches = lean._batches(order, lengths)
    assert np.array_equal(np.concatenate(batches), order)
    assert max(len(b) for b in batches if lengths[b].max() == 256) == 8  # long texts: 8 rows at most
    assert max(len(b) for b in batches if lengths[b].max() == 5) == 64  # short texts keep full batches
    with pytest.raises(ValueError, match="max_batch_tokens"):
        MiniLMEmbedder(cache_dir=embedder.cache_dir, max_batch_tokens=0)


def test_semantic_sanity(embedder):
    a, b, c, d = embedder.embed(
        [
            "The model returned an error because the API rate limit was exceeded.",
            "Request failed: too many requests were sent to the LLM provider (429).",
            "The chatbot gave the customer a wrong refund deadline.",
            "Customer was told an incorrect date for returning their purchase.",
        ]
    )
    assert a @ b > a @ c + 0.15 and a @ b > a @ d + 0.15
    assert c @ d > c @ a + 0.15 and c @ d > c @ b + 0.15


def test_rejects_non_strings(embedder):
    with pytest.raises(TypeError, match="text 1"):
        embedder.embed(["ok", None])  # type: ignore[list-item]


# ---------------------------------------------------------------- the graph cache


def _tiny_model(folder: Path, seed: int) -> Path:
    """A random 1-layer BERT with the real vocabulary (so the real tokenizer works)."""
    real = default_model_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for name in TOKENIZER_FILES:
        (folder / name).write_bytes((real / name).read_bytes())
    h, inner, vocab = 8, 16, 30522
    cfg = {"hidden_size": h, "num_attention_heads": 2, "num_hidden_layers": 1, "intermediate_size": inner}
    (folder / "config.json").write_text(json.dumps({**cfg, "hidden_act": "gelu", "layer_norm_eps": 1e-12}))
    rng = np.random.default_rng(seed)
    shapes = {
        "embeddings.word_embeddings.weight": (vocab, h),
        "embeddings.position_embeddings.weight": (512, h),
        "embeddings.token_type_embeddings.weight": (2, h),
        "embeddings.LayerNorm.weight": (h,),
        "embeddings.LayerNorm.bias": (h,),
    }
    p = "encoder.layer.0."
    for name in (
        "attention.self.query",
        "attention.self.key",
        "attention.self.value",
        "attention.output.dense",
    ):
        shapes |= {f"{p}{name}.weight": (h, h), f"{p}{name}.bias": (h,)}
    shapes |= {f"{p}intermediate.dense.weight": (inner, h), f"{p}intermediate.dense.bias": (inner,)}
    shapes |= {f"{p}output.dense.weight": (h, inner), f"{p}output.dense.bias": (h,)}
    for ln in ("attention.output.LayerNorm", "output.LayerNorm"):
        shapes |= {f"{p}{ln}.weight": (h,), f"{p}{ln}.bias": (h,)}
    weights = {k: rng.normal(0, 0.5, s).astype(np.float32) for k, s in shapes.items()}
    save_file(weights, str(folder / "model.safetensors"))
    return folder


def test_graph_is_cached_and_keyed_by_weights(tmp_path):
    model = _tiny_model(tmp_path / "tiny", seed=1)
    cache = tmp_path / "cache"
    first = MiniLMEmbedder(cache_dir=cache, model_dir=model)
    v1 = first.embed(["hello world", "refund policy"])
    path = first.graph_path
    assert path.is_file() and path.parent == cache / "minilm"
    built_at = path.stat().st_mtime_ns
    # a second instance reuses the file
    assert MiniLMEmbedder(cache_dir=cache, model_dir=model).graph_path == path
    assert path.stat().st_mtime_ns == built_at
    # the tiny graph also agrees with the numpy reference
    tok = _tokenizer(model / "tokenizer.json")
    ref = reference_embedding(
        load_file(str(model / "model.safetensors")),
        BertConfig.from_file(model / "config.json"),
        tok.encode("hello world").ids,
    )
    assert cosine_rows(v1[:1], ref[None])[0] >= 0.9999
    # the standard-ops graph (no contrib kernels) computes the same thing
    plain = MiniLMEmbedder(cache_dir=cache, model_dir=model, fused=False)
    assert plain.graph_path != path
    assert cosine_rows(plain.embed(["hello world", "refund policy"]), v1).min() >= 0.9999
    # changed weights -> different key, rebuilt graph, different vectors
    _tiny_model(model, seed=2)
    second = MiniLMEmbedder(cache_dir=cache, model_dir=model)
    assert second.graph_path != path
    assert cosine_rows(second.embed(["hello world"]), v1[:1])[0] < 0.99
    assert not list((cache / "minilm").glob(".*.tmp"))


def test_concurrent_builds_leave_a_valid_graph(tmp_path):
    model = _tiny_model(tmp_path / "tiny", seed=3)
    cache = tmp_path / "cache"
    code = textwrap.dedent(
        f"""
        from pathlib import Path
        from retrieval.embeddings.cache import ensure_graph
        print(ensure_graph(Path({str(model)!r}), Path({str(cache)!r})))
        """
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert len(set(outs)) == 1
    assert Path(outs[0]) == graph_path(model, cache) == ensure_graph(model, cache)
    vec = MiniLMEmbedder(cache_dir=cache, model_dir=model).embed(["ok"])
    assert vec.shape == (1, 8) and np.isfinite(vec).all()
    assert not list((cache / "minilm").glob(".*.tmp"))


# ---------------------------------------------------------------- chroma integration


def test_collection_reopens_in_a_new_process(embedder, tmp_path):
    store = tmp_path / "chroma"
    client = chromadb.PersistentClient(path=str(store), settings=ChromaSettings(anonymized_telemetry=False))
    col = client.create_collection(
        "spans", embedding_function=embedder, configuration={"hnsw": {"space": "cosine"}}
    )
    docs = {
        "s1": "LLM call failed with HTTP 429 rate limit from the provider",
        "s2": "retriever returned an outdated refund policy document",
        "s3": "agent looped calling the same search tool twelve times",
    }
    col.add(ids=list(docs), documents=list(docs.values()))
    query = "the provider throttled our requests"
    expected = 1.0 - float(embedder.embed([query])[0] @ embedder.embed([docs["s1"]])[0])
    code = textwrap.dedent(
        f"""
        import json, chromadb
        from chromadb.config import Settings
        import retrieval.embeddings  # registers the embedder with chromadb
        client = chromadb.PersistentClient(path={str(store)!r}, settings=Settings(anonymized_telemetry=False))
        col = client.get_collection("spans")
        res = col.query(query_texts=[{query!r}], n_results=1)
        ef = col.configuration["embedding_function"]  # what chroma embeds queries with
        print(json.dumps({{"ef": type(ef).__name__, "config": ef.get_config(),
                           "id": res["ids"][0][0], "distance": res["distances"][0][0]}}))
        """
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    got = json.loads(run.stdout.strip().splitlines()[-1])
    assert got["ef"] == "MiniLMEmbedder"
    assert got["config"]["cache_dir"] == str(embedder.cache_dir)
    assert got["id"] == "s1"
    assert got["distance"] == pytest.approx(expected, abs=1e-4)


# ---------------------------------------------------------------- registry


def test_registry_minilm_and_unknown(tmp_path):
    ef = get_embedding_function("minilm", cache_dir=tmp_path)
    assert isinstance(ef, MiniLMEmbedder) and ef.cache_dir == tmp_path
    for bad in ("bert", "minilm:large", "", "openai:"):
        with pytest.raises(ValueError, match="embedder"):
            get_embedding_function(bad)


def test_registry_openai_is_one_setting_away(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ValueError, match="OPENAI_API_KEY"):
        get_embedding_function("openai:text-embedding-3-small")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-used")
    ef = get_embedding_function("openai:text-embedding-3-small")
    assert isinstance(ef, OpenAIEmbeddingFunction)
    assert ef.get_config()["model_name"] == "text-embedding-3-small"
    assert ef.get_config()["api_key_env_var"] == "OPENAI_API_KEY"


def test_config_round_trip_and_foreign_cache_dir(embedder, tmp_path, monkeypatch):
    again = MiniLMEmbedder.build_from_config(embedder.get_config())
    assert again.cache_dir == embedder.cache_dir and again.batch_size == embedder.batch_size
    with pytest.raises(ValueError, match="unsupported model"):
        MiniLMEmbedder.build_from_config({**embedder.get_config(), "model": "bge-small"})
    # a cache_dir recorded by another machine/user that we cannot write falls back to our default
    foreign = tmp_path / "not-ours" / "cache"
    real_access = os.access
    monkeypatch.setattr(
        "os.access", lambda p, mode: False if str(p).startswith(str(tmp_path)) else real_access(p, mode)
    )
    fallback = MiniLMEmbedder.build_from_config({**embedder.get_config(), "cache_dir": str(foreign)})
    assert fallback.get_config()["cache_dir"] is None
