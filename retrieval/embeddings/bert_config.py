"""What a BERT encoder's graph is built from, without the graph builder (and so without importing onnx,
which costs seconds): the model's config and the builder's layout version that names the cached graph."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict

# Bump when the graph layout of `onnx_graph` changes, so cached graphs are rebuilt.
GRAPH_VERSION = 1


class BertConfig(BaseModel):
    """The few fields of a Hugging Face BERT config.json that the graph needs."""

    model_config = ConfigDict(extra="ignore")

    hidden_size: int
    num_attention_heads: int
    num_hidden_layers: int
    intermediate_size: int
    layer_norm_eps: float = 1e-12
    hidden_act: str = "gelu"

    @classmethod
    def from_file(cls, path: Path) -> BertConfig:
        return cls.model_validate(json.loads(path.read_text()))
