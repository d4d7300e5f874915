"""The search benchmark runs end to end at a tiny size (the real sizes are for benchmarks, not tests)."""
from __future__ import annotations

import importlib.util

import numpy as np

from dlcourse import paths
from dlcourse.search import ann


def load_benchmark():
    spec = importlib.util.spec_from_file_location("bench_search", paths.project_root() / "benchmarks" / "bench_search.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_faiss_part_runs_at_a_tiny_size(capsys):
    load_benchmark().main(["--skip-recall", "--vectors", "2000", "--queries", "100", "--single", "5", "--repeats", "2"])
    out = capsys.readouterr().out
    for kind in ("exact", "ivf", "hnsw"):
        assert f"{kind:5s} effort" in out
    assert "fastest IVF" in out or "no IVF setting" in out


def test_exact_index_is_exact_and_approximate_ones_improve_with_effort():
    vectors, queries = ann.clustered_vectors(3000, seed=0), ann.clustered_vectors(50, seed=1)
    truth = np.argsort(-(queries @ vectors.T), axis=1, kind="stable")[:, :10]
    exact = ann.exact_neighbours(vectors, queries)
    assert ann.recall_against(exact, truth) > 0.99
    for kind, efforts in (("ivf", (1, 32)), ("hnsw", (4, 128))):
        low, high = ann.measure(kind, vectors, queries, exact, efforts, single_queries=3)
        assert high.recall_at_10 >= low.recall_at_10 and high.recall_at_10 > 0.95, kind


def test_clustered_vectors_are_unit_and_seeded():
    a, b = ann.clustered_vectors(100, seed=3), ann.clustered_vectors(100, seed=3)
    assert a.shape == (100, 128) and a.dtype == np.float32 and np.array_equal(a, b)
    assert np.allclose(np.linalg.norm(a, axis=1), 1, atol=1e-5)
