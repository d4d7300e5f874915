"""Module 09 in numbers: retrieval with triplet, softmax and raw-pixel embeddings; self-supervised near duplicates.

Run:  .venv/bin/python benchmarks/bench_triplet.py [--seeds 5] [--steps 300] [--skip-variants] [--skip-retrieval]
      [--skip-duplicates] [--skip-imagenet]

1. Retrieval on the 5,000-digit MNIST subset: train on digits 0-4 (each seed its own split and initialisation),
   evaluate precision@1 and MAP@R on held-out images of 0-4 (seen) and on images of 5-9 (unseen), for triplet
   nets (random, batch-hard, semi-hard mining), the softmax embedding of a classifier on the same trunk, and raw
   pixels. Variants try to close the unseen-class gap: margin, embedding size, longer training.
2. Near-duplicate recall@1 on dlcourse.datasets.make_near_duplicates(), measured with module 08's
   dlcourse.search.near_duplicate_recall_at_1: the self-supervised triplet (two edits of one photo crop as the
   positive pair) against raw 16x16 pixels, pHash (imagehash) and module 08's default ImageNet embedder.

Figures are medians with [min, max] over the seeds.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
METRICS = ("seen P@1", "seen MAP@R", "unseen P@1", "unseen MAP@R")

# name -> keyword arguments of train_triplet / train_softmax_embedding beyond the defaults (32-D, margin 0.2)
BASE_METHODS = {"triplet random": {"mining": "random"}, "triplet batch-hard": {"mining": "batch_hard"},
                "triplet semi-hard": {"mining": "semi_hard"}, "softmax": {}, "raw pixels": None}
VARIANTS = {"semi-hard, margin 0.1": {"mining": "semi_hard", "margin": 0.1},
            "semi-hard, margin 0.5": {"mining": "semi_hard", "margin": 0.5},
            "semi-hard, 64-D": {"mining": "semi_hard", "dim": 64},
            "batch-hard, 3x steps": {"mining": "batch_hard", "steps_factor": 3},
            "softmax, 64-D": {"dim": 64}}


def summary(values) -> str:
    """'median [min, max]' of a list of numbers."""
    values = np.asarray(values, dtype=float)
    return f"{np.median(values):.3f} [{values.min():.3f}, {values.max():.3f}]"


def embedder_for(name: str, options: dict | None, data, seed: int, steps: int):
    """Train one method on data.x_train (seen classes) and return its embedder images -> (N, D)."""
    from dlcourse import metric_learning as ml

    if options is None:
        return ml.pixel_embedding
    options = dict(options)
    dim = options.pop("dim", 32)
    if name.startswith("softmax"):
        net = ml.train_softmax_embedding(data.x_train, data.y_train, dim=dim, seed=seed)
    else:
        total = steps * options.pop("steps_factor", 1)
        net = ml.embedding_net(data.x_train.shape[1:], dim=dim)
        ml.train_triplet(net, data.x_train, data.y_train, steps=total, seed=seed, **options)
    return lambda x: ml.embed(net, x)


def retrieval(seeds: range, steps: int, methods: dict) -> None:
    from dlcourse import metric_learning as ml
    from dlcourse.datasets import load_mnist_subset

    scores = {name: {metric: [] for metric in METRICS} for name in methods}
    seconds = {name: [] for name in methods}
    for seed in seeds:
        data = ml.seen_unseen_split(load_mnist_subset(seed=seed))
        for name, options in methods.items():
            started = time.process_time()
            embedder = embedder_for(name, options, data, seed, steps)
            seconds[name].append(time.process_time() - started)
            for metric, value in ml.retrieval_table({name: embedder}, data)[name].items():
                scores[name][metric].append(value)
    width = max(map(len, methods)) + 2
    print(f"{'method':{width}s}" + "".join(f"{m:>22s}" for m in METRICS) + f"{'train CPU s':>14s}")
    for name in methods:
        print(f"{name:{width}s}" + "".join(f"{summary(scores[name][m]):>22s}" for m in METRICS)
              + f"{np.median(seconds[name]):14.1f}")


def phash_embedding(images) -> np.ndarray:
    """pHash of each image as a +-1 vector (N, 64): the nearest by dot product is the nearest in Hamming distance."""
    import imagehash
    from PIL import Image

    bits = [imagehash.phash(Image.fromarray((image * 255).astype(np.uint8))).hash.ravel() for image in images]
    return np.where(np.array(bits), 1.0, -1.0) / 8.0


def near_duplicates(seeds: range, steps: int, imagenet: bool) -> None:
    from dlcourse import metric_learning as ml
    from dlcourse.datasets import make_near_duplicates
    from dlcourse.environment import import_tensorflow
    from dlcourse.search import default_embedder, near_duplicate_recall_at_1

    tf = import_tensorflow()[0]
    data = make_near_duplicates()
    thumbnails = lambda images: ml.pixel_embedding(tf.image.resize(images, (16, 16), antialias=True).numpy())
    results = {"raw 16x16 pixels": [near_duplicate_recall_at_1(thumbnails, data)],
               "pHash (imagehash)": [near_duplicate_recall_at_1(phash_embedding, data)]}
    if imagenet:
        results["module 08 default (ImageNet)"] = [near_duplicate_recall_at_1(default_embedder(), data)]
    runs, seconds = [], []
    for seed in seeds:
        crops = ml.photo_crops(2000, size=96, seed=1000 + seed, output_size=48)
        started = time.process_time()
        net, _ = ml.train_self_supervised(crops, dim=64, steps=steps, batch_size=64, image_size=32, seed=seed)
        seconds.append(time.process_time() - started)
        runs.append(near_duplicate_recall_at_1(ml.image_embedder(net, image_size=32), data))
    results[f"self-supervised triplet ({steps} steps)"] = runs
    edits = sorted(set(runs[0]) - {"overall"})
    print(f"{'recall@1':36s}{'overall':>22s}" + "".join(f"{e[:10]:>11s}" for e in edits))
    for name, scores in results.items():
        print(f"{name:36s}{summary([s['overall'] for s in scores]):>22s}"
              + "".join(f"{np.median([s[e] for s in scores]):11.2f}" for e in edits))
    print(f"self-supervised training: {np.median(seconds):.0f} s CPU per run (median)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=300, help="triplet training steps per run")
    parser.add_argument("--self-supervised-steps", type=int, default=300)
    parser.add_argument("--skip-variants", action="store_true")
    parser.add_argument("--skip-duplicates", action="store_true")
    parser.add_argument("--skip-retrieval", action="store_true")
    parser.add_argument("--skip-imagenet", action="store_true", help="leave module 08's ImageNet embedder out")
    args = parser.parse_args()
    seeds = range(args.seeds)
    methods = dict(BASE_METHODS, **({} if args.skip_variants else VARIANTS))
    if not args.skip_retrieval:
        print(f"== Retrieval on MNIST digits: train on 0-4, seen = held-out 0-4, unseen = 5-9; {args.seeds} seeds ==")
        retrieval(seeds, args.steps, methods)
    if not args.skip_duplicates:
        print(f"\n== Near-duplicate recall@1 on make_near_duplicates(); {args.seeds} seeds ==")
        near_duplicates(seeds, args.self_supervised_steps, not args.skip_imagenet)


if __name__ == "__main__":
    main()
