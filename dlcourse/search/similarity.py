"""Cosine geometry of embeddings: normalising, similarities, top-k search, near-duplicate pairs, recall@k.

These are the reference implementations the checks of module 08 compare students with, and what the folder
search tool uses. Embeddings are (N, D) float arrays, one row per image.
"""
from __future__ import annotations

import numpy as np


def l2_normalize(x, axis: int = -1, eps: float = 1e-12) -> np.ndarray:
    """x divided by its L2 norm along axis; norms below eps count as eps, so a zero vector stays zero.

    x: any shape, e.g. (N, D). Returns the same shape, float32 for float32 input, else float64.
    """
    x = np.asarray(x)
    x = x.astype(np.float32 if x.dtype == np.float32 else np.float64)
    norm = np.sqrt(np.sum(x * x, axis=axis, keepdims=True))
    return x / np.maximum(norm, eps)


def cosine_similarity(a, b) -> np.ndarray:
    """All-pairs cosine similarity: a (N, D), b (M, D) -> (N, M) in [-1, 1]; 0 where a row is a zero vector."""
    return l2_normalize(a) @ l2_normalize(b).T


def top_k(query, index, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k rows of index most similar (cosine) to each query row, best first; equal scores by lower row first.

    query (Q, D), index (M, D), 1 <= k <= M. Returns (indices (Q, k) int64, scores (Q, k) float).
    """
    scores = cosine_similarity(query, index)
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return order.astype(np.int64), np.take_along_axis(scores, order, axis=1)


def find_near_duplicates(embeddings, threshold: float) -> np.ndarray:
    """Every pair (i, j), i < j, whose cosine similarity is >= threshold: (P, 2) int64, sorted by i then j."""
    similarity = cosine_similarity(embeddings, embeddings)
    i, j = np.nonzero(np.triu(similarity >= threshold, k=1))
    return np.stack([i, j], axis=1).astype(np.int64)


def recall_at_k(embeddings, labels, k: int = 1) -> float:
    """Leave-one-out recall@k: share of queries with an item of their own label among their k nearest others.

    embeddings (N, D), labels (N,) int. Every item whose label some other item shares is a query; it is searched
    against all the other items (never itself), by cosine similarity.
    """
    labels = np.asarray(labels)
    similarity = cosine_similarity(embeddings, embeddings)
    np.fill_diagonal(similarity, -np.inf)
    same = labels[:, None] == labels[None, :]
    np.fill_diagonal(same, False)
    queries = same.any(axis=1)
    nearest = np.argsort(-similarity, axis=1, kind="stable")[:, :k]
    hits = np.take_along_axis(same, nearest, axis=1).any(axis=1)
    return float(hits[queries].mean())


def groups_from_pairs(pairs: np.ndarray, n: int) -> list[np.ndarray]:
    """Connected groups of items linked by pairs (P, 2) among n items: list of sorted index arrays, size >= 2."""
    from scipy.sparse import coo_matrix  # imported here: SciPy takes a noticeable part of a query's start
    from scipy.sparse.csgraph import connected_components

    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    groups = [np.flatnonzero(component == c) for c in np.unique(component)]
    return sorted((g for g in groups if len(g) > 1), key=lambda g: (-len(g), g[0]))
