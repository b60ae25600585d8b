"""Build the ONNX graph of a BERT encoder (all-MiniLM-L6-v2) from its safetensors weights, without torch.

The graph takes `input_ids`, `attention_mask`, `token_type_ids` (int64, [batch, seq]) and returns
`last_hidden_state` ([batch, seq, hidden]) and `sentence_embedding` (masked mean pooling, L2-normalized).
With `fused=True` each layer uses onnxruntime's CPU contrib kernels (Attention, SkipLayerNormalization,
BiasGelu); with `fused=False` only standard ONNX ops are used (for comparison and portability).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import load_file

from retrieval.embeddings.bert_config import GRAPH_VERSION, BertConfig

__all__ = ["GRAPH_VERSION", "BertConfig", "build_bert_graph", "build_from_dir"]

MS_DOMAIN = "com.microsoft"
OPSET = 18


class _Builder:
    def __init__(self, weights: dict[str, np.ndarray]) -> None:
        self.weights = weights
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._n = 0

    def init(self, name: str, array: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def w(self, key: str, transpose: bool = False) -> str:
        """A weight as an initializer; torch Linear weights are (out, in) and get transposed to (in, out)."""
        array = self.weights[key].astype(np.float32)
        return self.init(key, array.T if transpose else array)

    def op(self, op_type: str, inputs: list[str], domain: str = "", n_out: int = 1, **attrs: object) -> str:
        self._n += 1
        outs = [f"{op_type.lower()}_{self._n}_{i}" for i in range(n_out)]
        kw = {"domain": domain} if domain else {}
        self.nodes.append(helper.make_node(op_type, inputs, outs, name=f"{op_type}_{self._n}", **kw, **attrs))
        return outs[0]


def _embeddings(b: _Builder, cfg: BertConfig) -> str:
    words = b.op("Gather", [b.w("embeddings.word_embeddings.weight"), "input_ids"])
    types = b.op("Gather", [b.w("embeddings.token_type_embeddings.weight"), "token_type_ids"])
    seq_len = b.op(
        "Slice",
        [
            b.op("Shape", ["input_ids"]),
            b.init("c_one", np.array([1], np.int64)),
            b.init("c_two", np.array([2], np.int64)),
        ],
    )
    positions = b.op(
        "Slice",
        [b.w("embeddings.position_embeddings.weight"), b.init("c_zero", np.array([0], np.int64)), seq_len],
    )
    summed = b.op("Add", [b.op("Add", [words, types]), positions])
    return b.op(
        "LayerNormalization",
        [summed, b.w("embeddings.LayerNorm.weight"), b.w("embeddings.LayerNorm.bias")],
        axis=-1,
        epsilon=cfg.layer_norm_eps,
    )


def _fused_layer(b: _Builder, cfg: BertConfig, x: str, mask_i32: str, i: int) -> str:
    p = f"encoder.layer.{i}."
    qkv_w = np.concatenate(
        [b.weights[f"{p}attention.self.{n}.weight"].T for n in ("query", "key", "value")], axis=1
    )
    qkv_b = np.concatenate([b.weights[f"{p}attention.self.{n}.bias"] for n in ("query", "key", "value")])
    attn = b.op(
        "Attention",
        [x, b.init(f"{p}qkv.weight", qkv_w), b.init(f"{p}qkv.bias", qkv_b), mask_i32],
        domain=MS_DOMAIN,
        num_heads=cfg.num_attention_heads,
    )
    proj = b.op("MatMul", [attn, b.w(f"{p}attention.output.dense.weight", transpose=True)])
    x1 = b.op(
        "SkipLayerNormalization",
        [
            proj,
            x,
            b.w(f"{p}attention.output.LayerNorm.weight"),
            b.w(f"{p}attention.output.LayerNorm.bias"),
            b.w(f"{p}attention.output.dense.bias"),
        ],
        domain=MS_DOMAIN,
        epsilon=cfg.layer_norm_eps,
    )
    up = b.op("MatMul", [x1, b.w(f"{p}intermediate.dense.weight", transpose=True)])
    act = b.op("BiasGelu", [up, b.w(f"{p}intermediate.dense.bias")], domain=MS_DOMAIN)
    down = b.op("MatMul", [act, b.w(f"{p}output.dense.weight", transpose=True)])
    return b.op(
        "SkipLayerNormalization",
        [
            down,
            x1,
            b.w(f"{p}output.LayerNorm.weight"),
            b.w(f"{p}output.LayerNorm.bias"),
            b.w(f"{p}output.dense.bias"),
        ],
        domain=MS_DOMAIN,
        epsilon=cfg.layer_norm_eps,
    )


def _linear(b: _Builder, x: str, key: str) -> str:
    return b.op("Add", [b.op("MatMul", [x, b.w(f"{key}.weight", transpose=True)]), b.w(f"{key}.bias")])


def _plain_layer(b: _Builder, cfg: BertConfig, x: str, mask_bias: str, heads_shape: str, i: int) -> str:
    p = f"encoder.layer.{i}."
    head_dim = cfg.hidden_size // cfg.num_attention_heads

    def split(name: str, perm: list[int]) -> str:
        return b.op(
            "Transpose",
            [b.op("Reshape", [_linear(b, x, f"{p}attention.self.{name}"), heads_shape])],
            perm=perm,
        )

    q = split("query", [0, 2, 1, 3])  # [B, h, S, d]
    k = split("key", [0, 2, 3, 1])  # [B, h, d, S]
    v = split("value", [0, 2, 1, 3])
    scale = b.init(f"{p}scale", np.array(1.0 / np.sqrt(head_dim), np.float32))
    scores = b.op("Add", [b.op("Mul", [b.op("MatMul", [q, k]), scale]), mask_bias])
    ctx = b.op("MatMul", [b.op("Softmax", [scores], axis=-1), v])
    merged = b.op(
        "Reshape",
        [b.op("Transpose", [ctx], perm=[0, 2, 1, 3]), b.init(f"{p}merge", np.array([0, 0, -1], np.int64))],
    )
    x1 = b.op(
        "LayerNormalization",
        [
            b.op("Add", [_linear(b, merged, f"{p}attention.output.dense"), x]),
            b.w(f"{p}attention.output.LayerNorm.weight"),
            b.w(f"{p}attention.output.LayerNorm.bias"),
        ],
        axis=-1,
        epsilon=cfg.layer_norm_eps,
    )
    up = _linear(b, x1, f"{p}intermediate.dense")
    # exact (erf) GELU, as BERT uses
    erf = b.op("Erf", [b.op("Mul", [up, b.init(f"{p}rsqrt2", np.array(1 / np.sqrt(2), np.float32))])])
    half = b.init(f"{p}half", np.array(0.5, np.float32))
    act = b.op(
        "Mul", [b.op("Mul", [up, half]), b.op("Add", [erf, b.init(f"{p}one", np.array(1, np.float32))])]
    )
    return b.op(
        "LayerNormalization",
        [
            b.op("Add", [_linear(b, act, f"{p}output.dense"), x1]),
            b.w(f"{p}output.LayerNorm.weight"),
            b.w(f"{p}output.LayerNorm.bias"),
        ],
        axis=-1,
        epsilon=cfg.layer_norm_eps,
    )


def _pool_and_normalize(b: _Builder, hidden: str, mask_f: str) -> str:
    """Masked mean over tokens, then L2 normalization (sentence-transformers Pooling + Normalize)."""
    axis1 = b.init("c_axis1", np.array([1], np.int64))
    summed = b.op("Squeeze", [b.op("MatMul", [b.op("Unsqueeze", [mask_f, axis1]), hidden]), axis1])  # [B, H]
    count = b.op(
        "Max", [b.op("ReduceSum", [mask_f, axis1], keepdims=1), b.init("c_eps9", np.array(1e-9, np.float32))]
    )
    mean = b.op("Div", [summed, count])
    norm = b.op("Sqrt", [b.op("ReduceSumSquare", [mean, axis1], keepdims=1)])
    norm = b.op("Max", [norm, b.init("c_eps12", np.array(1e-12, np.float32))])
    return b.op("Div", [mean, norm])


def build_bert_graph(weights: dict[str, np.ndarray], cfg: BertConfig, fused: bool = True) -> onnx.ModelProto:
    """Return the encoder + pooling graph for these weights (keys as in Hugging Face `BertModel`)."""
    if cfg.hidden_act != "gelu":
        raise ValueError(f"unsupported hidden_act {cfg.hidden_act!r} (only exact gelu)")
    b = _Builder(weights)
    x = _embeddings(b, cfg)
    mask_f = b.op("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    if fused:
        mask_i32 = b.op("Cast", ["attention_mask"], to=TensorProto.INT32)
        for i in range(cfg.num_hidden_layers):
            x = _fused_layer(b, cfg, x, mask_i32, i)
    else:
        # additive mask [B, 1, 1, S]: 0 for tokens, large negative for padding
        unsq = b.op("Unsqueeze", [mask_f, b.init("c_axes12", np.array([1, 2], np.int64))])
        inv = b.op("Sub", [b.init("c_onef", np.array(1, np.float32)), unsq])
        mask_bias = b.op("Mul", [inv, b.init("c_neg", np.array(-10000.0, np.float32))])
        head_dim = cfg.hidden_size // cfg.num_attention_heads
        heads = b.init("c_heads", np.array([0, 0, cfg.num_attention_heads, head_dim], np.int64))
        for i in range(cfg.num_hidden_layers):
            x = _plain_layer(b, cfg, x, mask_bias, heads, i)
    b.nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"], name="out_hidden"))
    pooled = _pool_and_normalize(b, x, mask_f)
    b.nodes.append(helper.make_node("Identity", [pooled], ["sentence_embedding"], name="out_pooled"))

    def tensor(name: str, elem: int, dims: list[str | int]) -> onnx.ValueInfoProto:
        return helper.make_tensor_value_info(name, elem, dims)

    graph = helper.make_graph(
        b.nodes,
        "bert_encoder",
        [
            tensor(n, TensorProto.INT64, ["batch", "seq"])
            for n in ("input_ids", "attention_mask", "token_type_ids")
        ],
        [
            tensor("last_hidden_state", TensorProto.FLOAT, ["batch", "seq", cfg.hidden_size]),
            tensor("sentence_embedding", TensorProto.FLOAT, ["batch", cfg.hidden_size]),
        ],
        initializer=b.inits,
    )
    opsets = [helper.make_opsetid("", OPSET)]
    if fused:
        opsets.append(helper.make_opsetid(MS_DOMAIN, 1))
    model = helper.make_model(graph, opset_imports=opsets, producer_name="postmortem")
    model.ir_version = 8
    if not fused:
        onnx.checker.check_model(model)
    return model


def build_from_dir(model_dir: Path, fused: bool = True) -> onnx.ModelProto:
    """Build the graph from a sentence-transformers model folder (config.json + model.safetensors)."""
    weights = load_file(str(model_dir / "model.safetensors"))
    return build_bert_graph(weights, BertConfig.from_file(model_dir / "config.json"), fused=fused)
