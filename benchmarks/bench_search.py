"""Visual search: near-duplicate recall@1 per transform, and FAISS exact vs IVF vs HNSW on many vectors.

Run:  .venv/bin/python benchmarks/bench_search.py [--vectors 1000000] [--queries 5000] [--repeats 3]
      [--threads 2] [--nlists 1024,2048,4096] [--hnsw 16:40,8:20] [--skip-recall] [--skip-faiss]

Part 1 embeds the bundled near-duplicate set (make_near_duplicates()) and reports recall@1 per transform for
the default embedder (a middle layer of the ImageNet backbone), the ImageNet classifier's last layer
(image_features of the backbone), its softmax output, pHash, pHash with a flipped query, and raw pixels.
Part 2 builds exact, IVF (one index per --nlists) and HNSW (one per --hnsw M:efConstruction) indexes over
--vectors clustered 128-dimensional unit vectors (queries held out) with --threads FAISS threads, and reports
build time (wall and CPU), memory (serialised and peak growth), queries/s batched and one at a time (medians
and ranges over --repeats, wall-clock and CPU-normalised = queries / (CPU s / threads)) and recall@10 against
exact search. The machine may be shared, so the verdict uses the CPU-normalised speed. Targets (issue):
recall@1 >= 0.95 with the default embedding; IVF >= 10,000 queries/s batched at recall@10 >= 0.95 on
1 M x 128 on 2 cores.
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
from dlcourse.search.command import DEFAULT_DUPLICATE_THRESHOLD
from dlcourse.search.embedders import BackboneEmbedder
from dlcourse.search.evaluation import recall_at_1_by_transform
from dlcourse.search.similarity import l2_normalize

TARGET_RECALL_AT_1 = 0.95
TARGET_IVF_QPS, TARGET_IVF_RECALL = 10_000, 0.95
EFFORTS = {"exact": (1,), "ivf": (1, 2, 4, 8, 16, 32), "hnsw": (16, 32, 64, 128)}
IVF_NLISTS = [1024, 2048, 4096]
HNSW_BUILDS = [(ann.HNSW_NEIGHBOURS, ann.HNSW_EF_CONSTRUCTION)]  # 8:20 builds in half the time, recall@10 <= 0.88
EXACT_TIMED_QUERIES = 1000  # exact search costs Q x N x D: 1,000 queries time it well enough
DATA_NOTE = ("Data: unit vectors around 256 Gaussian clusters in a 16-dimensional latent space, mapped to 128 "
             "dimensions plus noise (ann.clustered_vectors), like embeddings with few meaningful directions; the "
             "queries are drawn apart (another seed), never the indexed vectors themselves.")
SPEED_NOTE = ("q/s: medians over the repeats; 'CPU-norm' = queries / (process CPU s / threads), the speed on idle "
              "cores, which the verdict uses; batched: all queries in one call on the FAISS threads; single: one "
              "query per call on one thread. MB: serialised index; peak MB: growth of peak RSS while building.")


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def recall_table(data, default_vectors: np.ndarray) -> dict[str, dict[str, float]]:
    """recall@1 per transform and overall for every method on the near-duplicate set."""
    table = {"default embedder (block13_add @160)": recall_at_1_by_transform(default_vectors, data)}
    table["classifier's last layer (image_features @160)"] = recall_at_1_by_transform(
        BackboneEmbedder(layer=None)(data.images), data)
    table["softmax output (1000 classes @224)"] = recall_at_1_by_transform(softmax_outputs(data.images), data)
    table["pHash"] = phash_recall_at_1(data)
    table["pHash + flipped query"] = phash_recall_at_1(data, flip_query=True)
    table["raw pixels 16x16"] = recall_at_1_by_transform(raw_pixel_embeddings(data.images, 16), data)
    return table


def threshold_check(vectors: np.ndarray, data) -> None:
    """The duplicate threshold from the precision/recall curve over all pairs, and over the pairs that are not two
    different tiles of one photo (which a person may well call duplicates), against the tool's default."""
    from sklearn.metrics import precision_recall_curve

    unit = l2_normalize(vectors)
    rows, cols = np.triu_indices(len(unit), 1)
    sims = np.sum(unit[rows] * unit[cols], axis=1)
    is_copy = (data.group[rows] == data.group[cols]) & (data.group[rows] >= 0)
    same_photo = data.source[rows] == data.source[cols]
    print(f"duplicate threshold (default embedder; the tool's default is {DEFAULT_DUPLICATE_THRESHOLD}):")
    for name, keep in (("all pairs", np.ones_like(is_copy)), ("without other tiles of the same photo",
                                                               is_copy | ~same_photo)):
        precision, recall, thresholds = precision_recall_curve(is_copy[keep], sims[keep])
        f1 = 2 * precision[:-1] * recall[:-1] / np.maximum(precision[:-1] + recall[:-1], 1e-12)
        best = int(np.argmax(f1))
        at = sims[keep] >= DEFAULT_DUPLICATE_THRESHOLD
        found = is_copy[keep][at]
        print(f"  {name:38s} ({keep.sum():,} pairs): best F1 {f1[best]:.3f} at cos >= {thresholds[best]:.3f} "
              f"(precision {precision[best]:.3f}, recall {recall[best]:.3f}); at {DEFAULT_DUPLICATE_THRESHOLD}: "
              f"precision {found.mean() if found.size else float('nan'):.3f}, recall "
              f"{found.sum() / is_copy[keep].sum():.3f}")
    wrong = (sims >= DEFAULT_DUPLICATE_THRESHOLD) & ~is_copy
    print(f"  false pairs at {DEFAULT_DUPLICATE_THRESHOLD}: {wrong.sum()}, {np.mean(same_photo[wrong]):.0%} of them "
          "two tiles of the same photo")


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


def faiss_table(args) -> list[ann.Measurement]:
    """Every index kind at every effort over args.vectors clustered vectors, queries held out (another seed)."""
    clock = Clock()
    vectors = ann.clustered_vectors(args.vectors, args.dim, seed=0)
    queries = ann.clustered_vectors(args.queries, args.dim, seed=1)
    clock.say(f"data: {args.vectors:,} + {args.queries:,} vectors")
    exact = ann.exact_neighbours(vectors, queries)
    clock.say(f"exact ground truth for {args.queries:,} queries")
    plan = [("exact", EFFORTS["exact"], {}, EXACT_TIMED_QUERIES)]
    plan += [("ivf", EFFORTS["ivf"], {"nlist": nlist}, None) for nlist in args.nlists]
    plan += [("hnsw", EFFORTS["hnsw"], {"hnsw_m": m, "ef_construction": ef}, None) for m, ef in args.hnsw]
    rows = []
    for kind, efforts, build, timed in plan:
        found = ann.measure(kind, vectors, queries, exact, efforts, single_queries=args.single, repeats=args.repeats,
                            batch_queries=timed, **build)
        clock.say(f"{kind} {found[0].settings}")
        for row in found:
            print_measurement(row)
        rows += found
    return rows


class Clock:
    """Progress lines with the wall and CPU seconds since the previous one."""

    def __init__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def say(self, what: str) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        print(f"  [{what}: {wall - self.wall:.1f} s wall, {cpu - self.cpu:.1f} s CPU]", flush=True)
        self.wall, self.cpu = wall, cpu


FAISS_HEADER = (f"{'index':5s} {'settings':28s} {'effort':>6s} {'build s':>7s} {'(CPU)':>7s} {'MB':>6s} "
                f"{'peak MB':>7s} {'batched q/s':>11s} {'CPU-norm':>9s} {'single q/s':>10s} {'CPU-norm':>9s} "
                f"{'recall@10':>9s}")


def print_measurement(r: ann.Measurement) -> None:
    print(f"{r.kind:5s} {r.settings:28s} {r.effort:6d} {r.build_s:7.1f} {r.build_cpu_s:7.1f} {r.megabytes:6.0f} "
          f"{r.peak_mb:7.0f} {r.qps_batched:11,.0f} {r.qps_batched_cpu:9,.0f} {r.qps_single:10,.0f} "
          f"{r.qps_single_cpu:9,.0f} {r.recall_at_10:9.3f}", flush=True)


def ivf_verdict(rows: list[ann.Measurement]) -> str:
    """The fastest IVF setting (by CPU-normalised batched q/s) at the target recall, against the target speed."""
    good = [r for r in rows if r.kind == "ivf" and r.recall_at_10 >= TARGET_IVF_RECALL]
    if not good:
        return f"no IVF setting reached recall@10 {TARGET_IVF_RECALL}"
    best = max(good, key=lambda r: r.qps_batched_cpu)
    verdict = "meets" if best.qps_batched_cpu >= TARGET_IVF_QPS else "misses"
    low, high = best.qps_batched_cpu_range
    return (f"fastest IVF at recall@10 >= {TARGET_IVF_RECALL}: {best.settings}, nprobe {best.effort}: "
            f"{best.qps_batched_cpu:,.0f} CPU-normalised q/s batched [{low:,.0f}-{high:,.0f}] "
            f"({best.qps_batched:,.0f} wall-clock), recall {best.recall_at_10:.3f}: {verdict} the target "
            f"{TARGET_IVF_QPS:,} q/s")


def int_list(text: str) -> list[int]:
    """'1024,2048' -> [1024, 2048]."""
    return [int(part) for part in text.split(",") if part]


def hnsw_builds(text: str) -> list[tuple[int, int]]:
    """'16:40,8:20' -> [(16, 40), (8, 20)]: HNSW (M, efConstruction) pairs."""
    return [tuple(int_list(part.replace(":", ","))) for part in text.split(",") if part]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", type=int, default=1_000_000, help="vectors in the FAISS indexes (default 1 M)")
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--queries", type=int, default=5_000, help="batched queries (and the recall@10 sample)")
    parser.add_argument("--single", type=int, default=500, help="queries timed one at a time (on one thread)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="FAISS threads for building and batched search")
    parser.add_argument("--nlists", type=int_list, default=IVF_NLISTS, help="IVF cell counts, e.g. 1024,2048,4096")
    parser.add_argument("--hnsw", type=hnsw_builds, default=HNSW_BUILDS,
                        help="HNSW builds as M:efConstruction pairs, e.g. 16:40,8:20")
    parser.add_argument("--skip-recall", action="store_true", help="skip the near-duplicate recall table")
    parser.add_argument("--skip-faiss", action="store_true", help="skip the FAISS table")
    args = parser.parse_args(argv)
    faiss.omp_set_num_threads(args.threads)
    print(f"{len(os.sched_getaffinity(0))} cores, FAISS threads {faiss.omp_get_max_threads()}, load average "
          f"{os.getloadavg()[0]:.1f}")
    if not args.skip_recall:
        from dlcourse.datasets import make_near_duplicates

        print("near-duplicate recall@1 (make_near_duplicates())")
        data = make_near_duplicates()
        start = cpu_seconds()
        default_vectors = BackboneEmbedder()(data.images)
        print(f"  default embedder: {cpu_seconds() - start:.1f} s CPU for {len(data)} images")
        print_recall_table(recall_table(data, default_vectors))
        threshold_check(default_vectors, data)
    if not args.skip_faiss:
        print(f"FAISS on {args.vectors:,} x {args.dim} vectors, {args.queries:,} queries. {DATA_NOTE}")
        print(SPEED_NOTE)
        print(FAISS_HEADER)
        rows = faiss_table(args)
        print(ivf_verdict(rows))
    print(f"peak memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
