"""What this machine can do at all: the fp32 GEMM ceiling for MiniLM, a token-length sweep, and the int8 trade-off.

Used by bench_embedder. MiniLM's cost is almost all matrix products whose shapes are fixed by the model
(hidden 384, intermediate 1536), so the fastest fp32 GEMM this CPU runs, divided by the model's FLOPs per token,
bounds the tokens per second any exact (fp32) implementation can reach here.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from retrieval.embeddings import MiniLMEmbedder
from retrieval.embeddings.onnx_graph import BertConfig


def flops_per_token(cfg: BertConfig, seq: int) -> float:
    """Multiply-adds x 2 per token for one forward pass at sequence length `seq` (linear layers + attention)."""
    h, i = cfg.hidden_size, cfg.intermediate_size
    linear = 4 * h * h + 2 * h * i  # Q, K, V, output projection, FFN up and down
    attention = 2 * seq * h  # QK^T and attention x V
    return 2.0 * cfg.num_hidden_layers * (linear + attention)


def _matmul_session(k: int, n: int, threads: int) -> ort.InferenceSession:
    rng = np.random.default_rng(0)
    weight = numpy_helper.from_array(rng.standard_normal((k, n)).astype(np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "gemm",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["m", k])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["m", n])],
        initializer=[weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def gemm_gflops(cfg: BertConfig, threads: int, rows: int = 1024, seconds: float = 1.0) -> float:
    """Best-case fp32 GFLOP/s of onnxruntime's MatMul on the model's own weight shapes, weighted by their FLOPs."""
    h, i = cfg.hidden_size, cfg.intermediate_size
    shapes = [(h, 3 * h), (h, h), (h, i), (i, h)]
    x = np.random.default_rng(1).standard_normal((rows, i)).astype(np.float32)
    total_flops = total_secs = 0.0
    for k, n in shapes:
        session, feed = _matmul_session(k, n, threads), {"x": x[:, :k]}
        for _ in range(3):
            session.run(None, feed)
        best, deadline = float("inf"), time.perf_counter() + seconds / len(shapes)
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            session.run(None, feed)
            best = min(best, time.perf_counter() - start)
        total_flops += 2.0 * rows * k * n
        total_secs += best
    return total_flops / total_secs / 1e9


def texts_of_tokens(embedder: MiniLMEmbedder, words: list[str], target: int, n: int) -> list[str]:
    """`n` distinct texts of about `target` tokens ([CLS] and [SEP] included), built from `words` in order."""
    out: list[str] = []
    start = 0
    while len(out) < n:
        piece: list[str] = []
        while embedder.token_counts([" ".join(piece)])[0] < target:
            piece.append(words[start % len(words)])
            start += 1
        out.append(" ".join(piece))
    return out


def int8_tradeoff(embedder: MiniLMEmbedder, texts: list[str]) -> tuple[float, float, float]:
    """(int8 speed-up vs fp32, min cosine to fp32, mean cosine) for onnxruntime's dynamic per-channel int8."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "int8.onnx"
        quantize_dynamic(
            str(embedder.graph_path),
            str(target),
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul"],
            extra_options={"DefaultTensorType": TensorProto.FLOAT},
        )
        so = ort.SessionOptions()
        so.intra_op_num_threads = embedder.threads
        so.log_severity_level = 3
        quant = MiniLMEmbedder(cache_dir=embedder.cache_dir, threads=embedder.threads)
        quant._ready = (
            ort.InferenceSession(str(target), so, providers=["CPUExecutionProvider"]),
            quant._load()[1],
        )
        exact = embedder.embed(texts)
        started = time.perf_counter()
        embedder.embed(texts)
        t_exact = time.perf_counter() - started
        quant.embed(texts[:8])
        started = time.perf_counter()
        approx = quant.embed(texts)
        t_quant = time.perf_counter() - started
    cos = (exact * approx).sum(axis=1)
    return t_exact / t_quant, float(cos.min()), float(cos.mean())
