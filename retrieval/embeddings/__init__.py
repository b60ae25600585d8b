"""Offline sentence embeddings (all-MiniLM-L6-v2 on onnxruntime) and the embedder registry.

Importing this package registers `MiniLMEmbedder` with chromadb, so collections created with it reopen
in a new process from their stored config.
"""

from retrieval.embeddings.cache import default_cache_dir, ensure_graph, export_chroma_layout
from retrieval.embeddings.minilm import MAX_TOKENS, MiniLMEmbedder
from retrieval.embeddings.registry import embed_texts, get_embedding_function

__all__ = [
    "MAX_TOKENS",
    "MiniLMEmbedder",
    "default_cache_dir",
    "embed_texts",
    "ensure_graph",
    "export_chroma_layout",
    "get_embedding_function",
]
