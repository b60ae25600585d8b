"""all-MiniLM-L6-v2 on onnxruntime, offline: a chromadb EmbeddingFunction that reopens in a new process."""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function
from tokenizers import Tokenizer

from retrieval.embeddings.bert_config import BertConfig
from retrieval.embeddings.cache import default_cache_dir, default_model_dir, ensure_graph

if TYPE_CHECKING:
    import onnxruntime as ort

MAX_TOKENS = 256  # sentence-transformers max_seq_length for this model
MODEL_NAME = "all-MiniLM-L6-v2"
BATCH_TOKENS = 8192  # cap on padded tokens per batch: long texts go in smaller batches (bounded memory)


def physical_cores() -> int:
    """Cores this process may use, counting SMT siblings once (falls back to the logical count)."""
    allowed = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set(range(os.cpu_count() or 1))
    cores: set[tuple[str, str]] = set()
    try:
        for cpu in allowed:
            topo = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
            cores.add(((topo / "physical_package_id").read_text(), (topo / "core_id").read_text()))
    except OSError:
        return max(1, len(allowed))
    return max(1, len(cores))


@lru_cache(maxsize=4)
def _session(path: Path, threads: int) -> ort.InferenceSession:
    import onnxruntime as ort  # only when a text is embedded: most runs find every vector in the cache

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


@lru_cache(maxsize=4)
def _tokenizer(path: Path) -> Tokenizer:
    tok = Tokenizer.from_file(str(path))
    tok.no_padding()  # we pad per batch ourselves
    tok.enable_truncation(max_length=MAX_TOKENS)
    return tok


_lock = threading.Lock()


def _existing_ancestor(path: Path) -> Path:
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


@register_embedding_function
class MiniLMEmbedder(EmbeddingFunction[Documents]):
    """Sentence embeddings (384-d, L2-normalized) equal to sentence-transformers' all-MiniLM-L6-v2.

    The ONNX graph is built from the packaged safetensors weights on first use and cached under `cache_dir`.
    Texts are tokenized once, sorted by token count and batched, so each batch is padded only to its longest.
    """

    def __init__(
        self,
        cache_dir: Path | None = None,
        batch_size: int = 64,
        threads: int | None = None,
        model_dir: Path | None = None,
        fused: bool = True,
        max_batch_tokens: int = BATCH_TOKENS,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if max_batch_tokens < 1:
            raise ValueError(f"max_batch_tokens must be >= 1, got {max_batch_tokens}")
        self._cache_dir_arg = Path(cache_dir) if cache_dir is not None else None
        self._model_dir_arg = Path(model_dir) if model_dir is not None else None
        self.cache_dir = self._cache_dir_arg or default_cache_dir()
        self.model_dir = self._model_dir_arg or default_model_dir()
        self.batch_size = batch_size
        # padded tokens per batch: onnxruntime's buffers grow with rows x tokens^2, so long texts go in fewer rows
        self.max_batch_tokens = max_batch_tokens
        self.fused = fused  # onnxruntime contrib kernels; False = standard ONNX ops only (slower)
        self.threads = threads or physical_cores()
        self.dim = BertConfig.from_file(self.model_dir / "config.json").hidden_size
        self._ready: tuple[ort.InferenceSession, Tokenizer] | None = None

    def _load(self) -> tuple[ort.InferenceSession, Tokenizer]:
        if self._ready is None:
            with _lock:
                if self._ready is None:
                    graph = ensure_graph(self.model_dir, self.cache_dir, self.fused)
                    self._ready = (
                        _session(graph, self.threads),
                        _tokenizer(self.model_dir / "tokenizer.json"),
                    )
        return self._ready

    @property
    def graph_path(self) -> Path:
        """The cached model.onnx (built if missing)."""
        return ensure_graph(self.model_dir, self.cache_dir, self.fused)

    def token_counts(self, texts: list[str]) -> list[int]:
        """Model tokens per text, after truncation to MAX_TOKENS (special tokens included)."""
        return [len(e.ids) for e in self._load()[1].encode_batch(list(texts))]

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed `texts`: float32 array of shape (len(texts), dim), rows L2-normalized, in input order."""
        texts = list(texts)
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"text {i} is {type(text).__name__}, expected str")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        session, tokenizer = self._load()
        encodings = tokenizer.encode_batch(texts)
        lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(texts))
        order = np.argsort(lengths, kind="stable")
        for rows in self._batches(order, lengths):
            width = int(lengths[rows[-1]])  # sorted: the last row is the longest
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                n = lengths[i]
                ids[r, :n] = encodings[i].ids
                mask[r, :n] = 1
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            out[rows] = session.run(["sentence_embedding"], feed)[0]
        return out

    def _batches(self, order: np.ndarray, lengths: np.ndarray) -> list[np.ndarray]:
        """Consecutive slices of `order` (ascending length): <= batch_size rows, <= max_batch_tokens padded."""
        out, start = [], 0
        while start < len(order):
            end = start + 1
            while end < len(order) and end - start < self.batch_size:
                if (end - start + 1) * lengths[order[end]] > self.max_batch_tokens:
                    break
                end += 1
            out.append(order[start:end])
            start = end
        return out

    def __call__(self, input: Documents) -> Embeddings:
        return list(self.embed(list(input)))

    @staticmethod
    def name() -> str:
        return "postmortem_minilm"

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine", "l2", "ip"]

    def max_tokens(self) -> int:
        return MAX_TOKENS

    def get_config(self) -> dict[str, Any]:
        return {
            "model": MODEL_NAME,
            "batch_size": self.batch_size,
            "cache_dir": str(self._cache_dir_arg) if self._cache_dir_arg else None,
            "model_dir": str(self._model_dir_arg) if self._model_dir_arg else None,
        }

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> MiniLMEmbedder:
        MiniLMEmbedder.validate_config(config)
        cache_dir = Path(config["cache_dir"]) if config.get("cache_dir") else None
        if cache_dir is not None and not os.access(_existing_ancestor(cache_dir), os.W_OK):
            cache_dir = None  # the store was written on another machine or by another user: use ours
        return MiniLMEmbedder(
            cache_dir=cache_dir,
            batch_size=int(config.get("batch_size") or 64),
            model_dir=Path(config["model_dir"]) if config.get("model_dir") else None,
        )

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        if config.get("model", MODEL_NAME) != MODEL_NAME:
            raise ValueError(f"unsupported model {config.get('model')!r} (expected {MODEL_NAME!r})")

    def validate_config_update(self, old_config: dict[str, Any], new_config: dict[str, Any]) -> None:
        if new_config.get("model", MODEL_NAME) != old_config.get("model", MODEL_NAME):
            raise ValueError("the embedding model of a collection cannot be changed; re-index instead")
