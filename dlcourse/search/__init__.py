"""Visual search: cosine geometry of embeddings, and a search tool for a folder of your own photos.

- :mod:`.similarity`: l2_normalize, cosine_similarity, top_k, find_near_duplicates, recall_at_k (NumPy).
- :mod:`.embedders`: the default ImageNet-backbone embedder; any callable images -> (N, D) works.
- :mod:`.index`: index a folder (FAISS + manifest on disk, incremental), query it, find duplicate groups.
- :mod:`.lite`: the index's embedder as a LiteRT file, so a query needs no TensorFlow.
- :mod:`.report`: duplicate groups as CSV and an HTML contact sheet.
- :mod:`.evaluation`: near-duplicate recall@1 per transform on the bundled set.
- :mod:`.command`: `dlcourse search index|query|duplicates`.

The folder tool's names (index_folder, query_image ...) load FAISS on first use, so that importing the
similarity functions (the checks do) or the command line stays light.
"""
import importlib

from .embedders import BackboneEmbedder, default_embedder, embedder_name
from .evaluation import near_duplicate_recall_at_1, recall_at_1_by_transform
from .similarity import cosine_similarity, find_near_duplicates, l2_normalize, recall_at_k, top_k

_LAZY = {name: "index" for name in ("IndexMismatch", "Match", "SearchError", "SearchIndex", "UpdateReport",
                                    "duplicate_groups", "index_folder", "load_index", "query_image")}
_LAZY["write_duplicate_report"] = "report"


def __getattr__(name: str):
    """The folder tool's names, imported from .index or .report when first used."""
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["BackboneEmbedder", "IndexMismatch", "Match", "SearchError", "SearchIndex", "UpdateReport",
           "cosine_similarity", "default_embedder", "duplicate_groups", "embedder_name", "find_near_duplicates",
           "index_folder", "l2_normalize", "load_index", "near_duplicate_recall_at_1", "query_image", "recall_at_k",
           "recall_at_1_by_transform", "top_k", "write_duplicate_report"]
