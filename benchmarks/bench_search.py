"""Visual search: near-duplicate recall@1 per transform, and FAISS exact vs IVF vs HNSW on many vectors.

Run:  .venv/bin/python benchmarks/bench_search.py [--vectors 1000000] [--queries 5000] [--repeats 3]
      [--skip-recall] [--skip-faiss]

Part 1 embeds the bundled near-duplicate set (make_near_duplicates()) and reports recall@1 per transform for
the default embedder (a middle layer of the ImageNet backbone), the ImageNet classifier's last layer
(image_features of the backbone), its softmax output, pHash, pHash with a flipped query, and raw pixels.
Part 2 builds exact, IVF and HNSW indexes over --vectors clustered 128-dimensional unit vectors on the cores
this process may use, and reports build time, memory, queries/s batched and one at a time (medians and ranges
over --repeats) and recall@10 against exact search. Targets (issue): recall@1 >= 0.95 with the default
embedding; IVF >= 10,000 queries/s batched at recall@10 >= 0.95 on 1 M x 128.
"""
from __future__ import annotations

import argparse
import os
import resource
import time

import faiss
import numpy as np

from dlcourse.search import ann
from dlcourse.search.baselines import phash_recall_at_1, raw_pixel_embeddings
from dlcourse.search.embedders import BackboneEmbedder
from dlcourse.search.evaluation import recall_at_1_by_transform

TARGET_RECALL_AT_1 = 0.95
TARGET_IVF_QPS, TARGET_IVF_RECALL = 10_000, 0.95
EFFORTS = {"exact": (1,), "ivf": (1, 2, 4, 8, 16, 32), "hnsw": (16, 32, 64, 128)}


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def recall_table(data) -> dict[str, dict[str, float]]:
    """recall@1 per transform and overall for every method on the near-duplicate set."""
    table = {}
    start = cpu_seconds()
    table["default embedder (block13_add @160)"] = recall_at_1_by_transform(BackboneEmbedder()(data.images), data)
    print(f"  default embedder: {cpu_seconds() - start:.1f} s CPU for {len(data)} images")
    table["classifier's last layer (image_features @160)"] = recall_at_1_by_transform(
        BackboneEmbedder(layer=None)(data.images), data)
    table["softmax output (1000 classes @224)"] = recall_at_1_by_transform(softmax_outputs(data.images), data)
    table["pHash"] = phash_recall_at_1(data)
    table["pHash + flipped query"] = phash_recall_at_1(data, flip_query=True)
    table["raw pixels 16x16"] = recall_at_1_by_transform(raw_pixel_embeddings(data.images, 16), data)
    return table


def softmax_outputs(images, batch_size: int = 16) -> np.ndarray:
    """The ImageNet classifier's class probabilities (N, 1000) for images [0, 1], enlarged to 224 x 224."""
    from dlcourse.models import keras_module
    from dlcourse.models.backbones import imagenet_classifier

    classifier = imagenet_classifier()
    resize = keras_module().layers.Resizing(224, 224)
    return np.concatenate([np.asarray(classifier(np.clip(resize(images[i:i + batch_size]), 0, 1), training=False))
                           for i in range(0, len(images), batch_size)])


def print_recall_table(table: dict[str, dict[str, float]]) -> None:
    transforms = [t for t in next(iter(table.values())) if t != "overall"]
    print(f"{'recall@1':46s}" + "".join(f"{t[:8]:>9s}" for t in transforms) + f"{'overall':>9s}")
    for name, row in table.items():
        print(f"{name:46s}" + "".join(f"{row[t]:9.2f}" for t in transforms) + f"{row['overall']:9.3f}")
    default = next(iter(table.values()))["overall"]
    verdict = "meets" if default >= TARGET_RECALL_AT_1 else "misses"
    print(f"default embedder overall recall@1 {default:.3f}: {verdict} the target {TARGET_RECALL_AT_1}")


def faiss_table(n: int, dim: int, n_queries: int, single: int, repeats: int) -> list[ann.Measurement]:
    """Every index kind at every effort over n clustered vectors."""
    vectors = ann.clustered_vectors(n, dim, seed=0)
    queries = ann.clustered_vectors(n_queries, dim, seed=1)
    start = time.perf_counter()
    exact = ann.exact_neighbours(vectors, queries)
    print(f"  exact ground truth for {n_queries} queries: {time.perf_counter() - start:.1f} s")
    rows = []
    for kind, efforts in EFFORTS.items():
        rows += ann.measure(kind, vectors, queries, exact, efforts, single_queries=single, repeats=repeats)
        for row in rows[-len(efforts):]:
            print_measurement(row)
    return rows


def print_measurement(r: ann.Measurement) -> None:
    low, high = r.qps_batched_range
    print(f"{r.kind:5s} effort {r.effort:3d}  build {r.build_s:7.1f} s  {r.megabytes:7.0f} MB  "
          f"batched {r.qps_batched:9,.0f} q/s [{low:,.0f}-{high:,.0f}]  one at a time {r.qps_single:8,.0f} q/s  "
          f"recall@10 {r.recall_at_10:.3f}")


def ivf_verdict(rows: list[ann.Measurement]) -> str:
    good = [r for r in rows if r.kind == "ivf" and r.recall_at_10 >= TARGET_IVF_RECALL]
    if not good:
        return f"no IVF setting reached recall@10 {TARGET_IVF_RECALL}"
    best = max(good, key=lambda r: r.qps_batched)
    verdict = "meets" if best.qps_batched >= TARGET_IVF_QPS else "misses"
    return (f"fastest IVF at recall@10 >= {TARGET_IVF_RECALL}: nprobe {best.effort}, {best.qps_batched:,.0f} q/s "
            f"batched (recall {best.recall_at_10:.3f}): {verdict} the target {TARGET_IVF_QPS:,} q/s")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", type=int, default=1_000_000, help="vectors in the FAISS indexes (default 1 M)")
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--queries", type=int, default=5_000, help="batched queries (and the recall@10 sample)")
    parser.add_argument("--single", type=int, default=500, help="queries timed one at a time")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-recall", action="store_true", help="skip the near-duplicate recall table")
    parser.add_argument("--skip-faiss", action="store_true", help="skip the FAISS table")
    args = parser.parse_args(argv)
    print(f"{len(os.sched_getaffinity(0))} cores, FAISS threads {faiss.omp_get_max_threads()}")
    if not args.skip_recall:
        from dlcourse.datasets import make_near_duplicates

        print("near-duplicate recall@1 (make_near_duplicates())")
        print_recall_table(recall_table(make_near_duplicates()))
    if not args.skip_faiss:
        print(f"FAISS on {args.vectors:,} x {args.dim} vectors, {args.queries:,} queries")
        rows = faiss_table(args.vectors, args.dim, args.queries, args.single, args.repeats)
        print(ivf_verdict(rows))
    print(f"peak memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
