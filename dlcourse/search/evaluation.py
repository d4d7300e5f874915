"""How well an embedder finds near duplicates: recall@1 per transform on the bundled near-duplicate set."""
from __future__ import annotations

import numpy as np

from .similarity import cosine_similarity


def near_duplicate_recall_at_1(embedder, data=None) -> dict[str, float]:
    """Share of edited copies whose nearest image in the index (originals + distractors) is their original.

    embedder: images [0, 1] (N, S, S, 3) -> (N, D); data: a NearDuplicateSet (default make_near_duplicates()).
    Returns {transform: recall@1} for every transform, plus "overall".
    """
    if data is None:
        from dlcourse.datasets import make_near_duplicates

        data = make_near_duplicates()
    return recall_at_1_by_transform(np.asarray(embedder(data.images), dtype=np.float64), data)


def recall_at_1_by_transform(embeddings: np.ndarray, data) -> dict[str, float]:
    """recall@1 per transform and overall by cosine similarity, given embeddings (N, D) of all of data's images."""
    return recall_at_1_from_scores(cosine_similarity(embeddings[data.query_idx], embeddings[data.index_idx]), data)


def recall_at_1_from_scores(scores: np.ndarray, data) -> dict[str, float]:
    """recall@1 per transform and overall from any scores (Q, M) of data's queries against its index (higher is
    more similar, e.g. minus a Hamming distance); ties go to the lower index row."""
    found = data.index_idx[np.argmax(scores, axis=1)] == data.match_idx
    transforms = data.transform[data.query_idx]
    result = {str(name): float(found[transforms == name].mean()) for name in np.unique(transforms)}
    result["overall"] = float(found.mean())
    return result
