"""Exact and approximate nearest-neighbour search with FAISS: building, timing and scoring the indexes.

The lecture draws the speed/recall curve from 1k to 100k vectors with these functions, and
benchmarks/bench_search.py measures 1 M. Vectors are L2-normalised float32, so inner product = cosine.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import faiss
import numpy as np

from .similarity import l2_normalize

KINDS = ("exact", "ivf", "hnsw")
HNSW_NEIGHBOURS = 16  # M: links per vector in the HNSW graph
HNSW_EF_CONSTRUCTION = 40


def clustered_vectors(n: int, dim: int = 128, seed: int = 0, latent_dim: int = 16, n_clusters: int = 256,
                      spread: float = 0.5, noise: float = 0.05) -> np.ndarray:
    """n unit vectors (n, dim) float32 that bunch up the way photo embeddings do.

    Points around n_clusters centres in a latent_dim-dimensional space, mapped into dim dimensions by a fixed
    random linear map, plus a little noise in every dimension: few directions matter, as in real embeddings.
    """
    rng = np.random.default_rng(seed)
    layout = np.random.default_rng(12345)  # the same clusters and map for every seed: queries match the data
    centres = layout.normal(size=(n_clusters, latent_dim))
    mapping = layout.normal(size=(latent_dim, dim)) / np.sqrt(latent_dim)
    latent = centres[rng.integers(0, n_clusters, size=n)] + spread * rng.normal(size=(n, latent_dim))
    points = latent @ mapping + noise * rng.normal(size=(n, dim))
    return l2_normalize(points.astype(np.float32))


def ivf_lists(n: int) -> int:
    """Number of IVF cells for n vectors: 2 sqrt(n), at least 1 and at most n / 39 (k-means needs 39 per cell)."""
    return int(max(1, min(2 * np.sqrt(n), n // 39)))


def build_index(kind: str, vectors: np.ndarray, nlist: int | None = None) -> tuple[faiss.Index, float]:
    """An inner-product index of vectors (N, D) float32: 'exact' (flat), 'ivf' (IVF-flat) or 'hnsw'.

    Returns (index, build seconds). IVF trains its k-means on at most 40 vectors per cell.
    """
    dim = vectors.shape[1]
    start = time.perf_counter()
    if kind == "exact":
        index = faiss.IndexFlatIP(dim)
    elif kind == "ivf":
        nlist = nlist or ivf_lists(len(vectors))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        sample = vectors[np.random.default_rng(0).permutation(len(vectors))[:40 * nlist]]
        index.train(sample)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    else:
        raise ValueError(f"unknown index kind {kind!r}; choose one of {KINDS}")
    index.add(vectors)
    return index, time.perf_counter() - start


def set_search_effort(index: faiss.Index, effort: int) -> None:
    """How hard an approximate index searches: IVF cells visited (nprobe) or HNSW's efSearch; exact ignores it."""
    if isinstance(index, faiss.IndexIVF):
        index.nprobe = effort
    elif isinstance(index, faiss.IndexHNSW):
        index.hnsw.efSearch = effort


def index_bytes(index: faiss.Index) -> int:
    """Size of the index in memory, measured as its serialised size (vectors plus lists or graph)."""
    return int(faiss.serialize_index(index).size)


def recall_against(found: np.ndarray, exact: np.ndarray) -> float:
    """recall@k of an approximate search: share of the exact k nearest (Q, k) that it also found (Q, k)."""
    hits = [len(np.intersect1d(f, e)) for f, e in zip(found, exact)]
    return float(np.sum(hits) / exact.size)


def queries_per_second(index: faiss.Index, queries: np.ndarray, k: int, batched: bool = True) -> tuple[float, np.ndarray]:
    """Search all queries (Q, D) at once or one at a time; returns (queries per second, indices (Q, k))."""
    start = time.perf_counter()
    if batched:
        _, found = index.search(queries, k)
    else:
        found = np.concatenate([index.search(queries[i:i + 1], k)[1] for i in range(len(queries))])
    return len(queries) / (time.perf_counter() - start), found


@dataclass(frozen=True)
class Measurement:
    """One index at one size and search effort; speeds are medians over repeats, with their (min, max)."""

    kind: str
    n: int
    effort: int
    build_s: float
    megabytes: float
    qps_batched: float
    qps_single: float
    recall_at_10: float
    qps_batched_range: tuple[float, float] = (0.0, 0.0)
    qps_single_range: tuple[float, float] = (0.0, 0.0)


def measure(kind: str, vectors: np.ndarray, queries: np.ndarray, exact: np.ndarray, efforts=(1,), k: int = 10,
            single_queries: int = 200, repeats: int = 1) -> list[Measurement]:
    """Build one index over vectors and search it at each effort: speed (batched and one at a time) and recall."""
    index, build_s = build_index(kind, vectors)
    megabytes = index_bytes(index) / 2**20
    rows = []
    for effort in efforts:
        set_search_effort(index, effort)
        batched = [queries_per_second(index, queries, k) for _ in range(repeats)]
        single = [queries_per_second(index, queries[:single_queries], k, batched=False)[0] for _ in range(repeats)]
        speeds = [speed for speed, _ in batched]
        rows.append(Measurement(kind, len(vectors), effort, build_s, megabytes, float(np.median(speeds)),
                                float(np.median(single)), recall_against(batched[0][1], exact),
                                (min(speeds), max(speeds)), (min(single), max(single))))
    return rows


def exact_neighbours(vectors: np.ndarray, queries: np.ndarray, k: int = 10) -> np.ndarray:
    """The true k nearest (inner product) of each query: (Q, k) int64, by a flat index."""
    index, _ = build_index("exact", vectors)
    return index.search(queries, k)[1]
