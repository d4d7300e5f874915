"""The search benchmark runs end to end at a tiny size (the real sizes are for benchmarks, not tests)."""
from __future__ import annotations

import importlib.util
import sys

import faiss
import numpy as np
import pytest
from PIL import Image

from dlcourse import paths
from dlcourse.search import ann


def load_benchmark(name: str = "bench_search"):
    spec = importlib.util.spec_from_file_location(name, paths.project_root() / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_faiss_part_runs_at_a_tiny_size(capsys):
    load_benchmark().main(["--skip-recall", "--vectors", "2000", "--queries", "100", "--single", "5", "--repeats", "2",
                           "--nlists", "16,32", "--hnsw", "8:20,16:40"])
    out = capsys.readouterr().out
    for row in ("exact flat", "ivf   nlist 16 ", "ivf   nlist 32 ", "hnsw  M 8, efConstruction 20",
                "hnsw  M 16, efConstruction 40"):
        assert row in out, row
    assert "fastest IVF" in out or "no IVF setting" in out
    assert "FAISS threads 2" in out and "CPU-norm" in out


def test_speeds_are_medians_with_both_clocks_and_single_queries_use_one_thread(monkeypatch):
    vectors, queries = ann.clustered_vectors(2000, seed=0), ann.clustered_vectors(40, seed=1)
    threads_seen = []
    search_speed = ann.search_speed
    monkeypatch.setattr(ann, "search_speed", lambda index, q, k, batched=True: (
        threads_seen.append((batched, faiss.omp_get_max_threads())), search_speed(index, q, k, batched))[1])
    with ann.faiss_threads(2):
        (row,) = ann.measure("ivf", vectors, queries, ann.exact_neighbours(vectors, queries), (4,), single_queries=3,
                             repeats=3, nlist=16)
        assert faiss.omp_get_max_threads() == 2
    assert {(True, 2), (False, 1)} == set(threads_seen) and len(threads_seen) == 3 + 3
    assert row.qps_batched_range[0] <= row.qps_batched <= row.qps_batched_range[1]
    assert row.qps_batched_cpu_range[0] <= row.qps_batched_cpu <= row.qps_batched_cpu_range[1]
    assert row.qps_single_cpu > 0 and row.build_cpu_s > 0 and row.settings == "nlist 16"


def test_ivf_trains_on_a_sample_of_forty_per_cell():
    assert ann.ivf_train_size(1_000_000, 2048) == 81_920 and ann.ivf_train_size(500, 32) == 500


def test_peak_memory_sees_an_allocation_inside_the_block():
    with ann.PeakMemory() as peak:
        block = np.ones(64 * 2**20 // 8)
    assert peak.megabytes == pytest.approx(64, abs=16) or np.isnan(peak.megabytes)
    del block


def test_photo_benchmark_folder_and_the_index_line_it_reads(tmp_path):
    from dlcourse.search.index import UpdateReport

    bench = load_benchmark("bench_photo_search")
    paths = bench.make_folder(tmp_path / "photos", 12, seed=2)
    assert len(paths) == 12 and all(path.is_file() for path in paths)
    sizes = set()
    for path in paths:
        with Image.open(path) as image:
            sizes.add(tuple(sorted(image.size)))
    assert sizes <= {tuple(sorted(size)) for size in bench.SIZES}
    report = UpdateReport(added=3, changed=10, removed=5, embedded=13, embed_seconds=2.5, embed_cpu_seconds=4.0,
                          lite_seconds=12.0)
    found = bench.INDEX_LINE.search(f"indexed 13 images of x in y: {report.summary()}").groupdict()
    assert (found["changed"], found["removed"], found["embedded"], found["cpu"], found["lite"]) == \
        ("10", "5", "13", "4.0", "12.0")
    plain = bench.INDEX_LINE.search(UpdateReport(unchanged=4).summary()).groupdict()
    assert plain["embedded"] is None and plain["lite"] is None


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
