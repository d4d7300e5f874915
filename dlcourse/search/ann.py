"""Exact and approximate nearest-neighbour search with FAISS: building, timing and scoring the indexes.

The lecture draws the speed/recall curve from 1k to 100k vectors with these functions, and
benchmarks/bench_search.py measures 1 M. Vectors are L2-normalised float32, so inner product = cosine.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from .similarity import l2_normalize

KINDS = ("exact", "ivf", "hnsw")
HNSW_NEIGHBOURS = 16  # M: links per vector in the HNSW graph
HNSW_EF_CONSTRUCTION = 40
IVF_TRAIN_PER_LIST = 40


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


def build_index(kind: str, vectors: np.ndarray, nlist: int | None = None, hnsw_m: int = HNSW_NEIGHBOURS,
                ef_construction: int = HNSW_EF_CONSTRUCTION) -> tuple[faiss.Index, float]:
    """An inner-product index of vectors (N, D) float32: 'exact' (flat), 'ivf' (IVF-flat) or 'hnsw'.

    Returns (index, build seconds). IVF has nlist cells (default ivf_lists(N)), a flat coarse quantizer, and
    trains its k-means on ivf_train_size(N, nlist) vectors drawn at random; HNSW links hnsw_m neighbours per
    vector, searching ef_construction candidates while it builds.
    """
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    dim = vectors.shape[1]
    start = time.perf_counter()
    if kind == "exact":
        index = faiss.IndexFlatIP(dim)
    elif kind == "ivf":
        nlist = nlist or ivf_lists(len(vectors))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        sample = np.random.default_rng(0).permutation(len(vectors))[:ivf_train_size(len(vectors), nlist)]
        index.train(vectors[np.sort(sample)])
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = ef_construction
    else:
        raise ValueError(f"unknown index kind {kind!r}; choose one of {KINDS}")
    index.add(vectors)
    return index, time.perf_counter() - start


def ivf_train_size(n: int, nlist: int) -> int:
    """Vectors IVF's k-means trains on: IVF_TRAIN_PER_LIST per cell (FAISS asks for 39 at least), at most n."""
    return min(n, IVF_TRAIN_PER_LIST * nlist)


def index_settings(index: faiss.Index) -> str:
    """The build parameters of an index in words, e.g. 'nlist 2048' or 'M 16, efConstruction 40'."""
    if isinstance(index, faiss.IndexIVF):
        return f"nlist {index.nlist}"
    if isinstance(index, faiss.IndexHNSW):
        return f"M {index.hnsw.nb_neighbors(0) // 2}, efConstruction {index.hnsw.efConstruction}"
    return "flat"


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


@contextmanager
def faiss_threads(threads: int):
    """Run the block with FAISS (OpenMP) using this many threads, then restore the previous number."""
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(threads)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(previous)


def search_speed(index: faiss.Index, queries: np.ndarray, k: int,
                 batched: bool = True) -> tuple[float, float, np.ndarray]:
    """Search all queries (Q, D) at once or one at a time: (wall q/s, CPU-normalised q/s, indices (Q, k)).

    CPU-normalised q/s = Q / (CPU seconds of this process during the search / FAISS threads): the speed on
    cores of its own, which stays meaningful when other programs share the machine (the wall clock does not).
    """
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    threads = faiss.omp_get_max_threads()
    wall, cpu = time.perf_counter(), time.process_time()
    if batched:
        _, found = index.search(queries, k)
    else:
        found = np.concatenate([index.search(queries[i:i + 1], k)[1] for i in range(len(queries))])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return len(queries) / wall, len(queries) / max(cpu / threads, 1e-9), found


@dataclass(frozen=True)
class Measurement:
    """One index at one size and search effort. Speeds are medians over repeats, with their (min, max):
    wall-clock and CPU-normalised (see search_speed); batched on all FAISS threads, one at a time on one."""

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
    settings: str = ""
    build_cpu_s: float = 0.0
    qps_batched_cpu: float = 0.0
    qps_single_cpu: float = 0.0
    qps_batched_cpu_range: tuple[float, float] = (0.0, 0.0)
    peak_mb: float = float("nan")


def measure(kind: str, vectors: np.ndarray, queries: np.ndarray, exact: np.ndarray, efforts=(1,), k: int = 10,
            single_queries: int = 200, repeats: int = 1, batch_queries: int | None = None,
            **build) -> list[Measurement]:
    """Build one index over vectors and search it at each effort: speed (batched and one at a time) and recall.

    queries (Q, D) and their exact k nearest (Q, k); batch_queries: how many of them the batched search (timed,
    and scored for recall@10) uses, default all; build: nlist, hnsw_m, ef_construction for build_index.
    peak_mb is the growth of the process's peak resident memory while building (NaN where Linux cannot tell).
    """
    with PeakMemory() as peak:
        cpu = time.process_time()
        index, build_s = build_index(kind, vectors, **build)
        build_cpu_s = time.process_time() - cpu
    megabytes = index_bytes(index) / 2**20
    timed = queries[:batch_queries] if batch_queries else queries
    rows = []
    for effort in efforts:
        set_search_effort(index, effort)
        wall, wall_range, cpu_qps, cpu_range, found = _repeated_speed(index, timed, k, True, repeats)
        with faiss_threads(1):
            single_wall, single_range, single_cpu, _, _ = _repeated_speed(index, queries[:single_queries], k, False,
                                                                          repeats)
        rows.append(Measurement(kind, len(vectors), effort, build_s, megabytes, wall, single_wall,
                                recall_against(found, exact[:len(timed)]), wall_range, single_range,
                                index_settings(index),
                                build_cpu_s, cpu_qps, single_cpu, cpu_range, peak.megabytes))
    return rows


def _repeated_speed(index, queries, k, batched, repeats):
    """search_speed repeated: (median wall q/s, its (min, max), median CPU-normalised q/s, its (min, max), the
    indices (Q, k) found)."""
    runs = [search_speed(index, queries, k, batched) for _ in range(max(1, repeats))]
    speeds = np.array([run[:2] for run in runs])
    (wall, wall_range), (cpu, cpu_range) = (_median_and_range(speeds[:, column]) for column in (0, 1))
    return wall, wall_range, cpu, cpu_range, runs[0][2]


def _median_and_range(values: np.ndarray) -> tuple[float, tuple[float, float]]:
    """(median, (min, max)) of numbers (R,)."""
    return float(np.median(values)), (float(values.min()), float(values.max()))


class PeakMemory:
    """Context manager: megabytes by which the process's peak resident memory grew inside the block (Linux).

    Resets the kernel's high-water mark on entry (/proc/self/clear_refs); NaN where that is not allowed.
    """

    megabytes = float("nan")

    def __enter__(self) -> "PeakMemory":
        try:
            Path("/proc/self/clear_refs").write_text("5")
            self._start = _proc_status_kb("VmRSS")
        except OSError:
            self._start = None
        return self

    def __exit__(self, *exc) -> None:
        if self._start is not None:
            self.megabytes = (_proc_status_kb("VmHWM") - self._start) / 1024


def _proc_status_kb(field: str) -> int:
    """A memory figure of this process from /proc/self/status, in kB (e.g. VmRSS, VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise OSError(f"/proc/self/status has no {field}")


def exact_neighbours(vectors: np.ndarray, queries: np.ndarray, k: int = 10) -> np.ndarray:
    """The true k nearest (inner product) of each query: (Q, k) int64, by a flat index."""
    index, _ = build_index("exact", vectors)
    return index.search(np.ascontiguousarray(queries, dtype=np.float32), k)[1]
