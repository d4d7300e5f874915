"""Module 06 in numbers: what ImageNet weights are worth at few labels, and the cost of feature extraction.

Run:  .venv/bin/python benchmarks/bench_transfer.py [--seeds 5] [--check-seeds 3] [--skip-check]

1. Feature extraction: milliseconds (wall and CPU) per image of EfficientNet-Lite0's pooled features at 64, 96
   and 224 pixels, batches of 64, median and range over repeats.
2. The transfer table on the lecture's two tasks (image quality split by photo; which of 8 photos, judged on
   the photos' other halves) at 5, 10, 20, 50 labels per class: a logistic-regression probe on frozen ImageNet
   features, the same probe on the same network with random weights, a Keras softmax head trained on the frozen
   features, the fine-tuned top (BatchNorm frozen), a small CNN from scratch; medians and ranges over seeds.
3. The graded training check (checks.transfer.TRAIN_TRANSFER_MODEL) run as at grading with the solution's recipe
   and the correct alternative in tests/implementations over seeds: the margin above its threshold.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent


def spread(values) -> str:
    """'median [min, max]' of a list of numbers."""
    values = np.asarray(values, dtype=float)
    return f"{np.median(values):.3f} [{values.min():.3f}, {values.max():.3f}]"


def extraction_times(repeats: int = 3) -> None:
    from dlcourse.models.backbones import pretrained_backbone

    print("feature extraction, EfficientNet-Lite0 pooled features, batches of 64 (ms per image: median [range])")
    for size in (64, 96, 224):
        model = pretrained_backbone(input_shape=(size, size, 3), pooling="avg")
        images = np.random.default_rng(0).random((128, size, size, 3), dtype=np.float32)
        model.predict(images[:64], batch_size=64, verbose=0)
        wall, cpu = [], []
        for _ in range(repeats):
            w, c = time.perf_counter(), time.process_time()
            model.predict(images, batch_size=64, verbose=0)
            wall.append((time.perf_counter() - w) / len(images) * 1e3)
            cpu.append((time.process_time() - c) / len(images) * 1e3)
        print(f"  {size:3d} px: wall {spread(wall)}  cpu {spread(cpu)}")


def lecture_tasks() -> dict:
    """The lecture's two tasks: pools of 50 labelled images per class and their test sets."""
    from dlcourse.datasets import make_quality_set
    from dlcourse.models import transfer

    quality = make_quality_set(seed=0)
    train_photos = np.flatnonzero(quality.split == "train")
    pool = train_photos[transfer.per_class_subset(quality.label[train_photos], 50, seed=0)]
    test = np.random.default_rng(0).choice(np.flatnonzero(quality.split == "test"), 400, replace=False)
    x_top, y_top = transfer.photo_patches(50, half="top")
    x_bottom, y_bottom = transfer.photo_patches(25, half="bottom")
    return {"image quality (split by photo)": dict(x_train=quality.images[pool], y_train=quality.label[pool],
                                                   x_test=quality.images[test], y_test=quality.label[test]),
            "which photo (8 photos, other half)": dict(x_train=x_top, y_train=y_top, x_test=x_bottom,
                                                       y_test=y_bottom)}


def keras_head_accuracy(features, y_train, test_features, y_test, seed) -> float:
    """A softmax Dense head (dropout 0.2) trained with Adam on frozen pooled features."""
    from dlcourse.models import transfer
    from dlcourse.models.backend import keras_module

    keras = keras_module()
    keras.utils.set_random_seed(seed)
    head = keras.Sequential([keras.Input(shape=features.shape[1:]), keras.layers.Dropout(0.2),
                             keras.layers.Dense(int(y_train.max()) + 1, activation="softmax")])
    transfer.fit_steps(head, features, y_train, steps=200, learning_rate=1e-3)
    return transfer.accuracy_of(head, test_features, y_test)


def transfer_table(seeds: range) -> None:
    from dlcourse.models import transfer
    from dlcourse.models.backbones import pretrained_backbone, random_init_backbone

    base = pretrained_backbone(input_shape=(64, 64, 3))
    random_base = random_init_backbone(input_shape=(64, 64, 3), pooling="avg", seed=0)
    for name, task in lecture_tasks().items():
        task["top_train"], task["top_test"] = (transfer.top_inputs(base, task[f"x_{part}"]) for part in ("train", "test"))
        imagenet = {part: transfer.frozen_top_features(base, task[f"top_{part}"]) for part in ("train", "test")}
        random = {part: random_base.predict(task[f"x_{part}"], batch_size=128, verbose=0) for part in ("train", "test")}
        table = transfer.budget_table(task, imagenet, random, backbone=base, seeds=tuple(seeds))
        heads = np.zeros((len(transfer.LABEL_BUDGETS), len(seeds)))
        for i, budget in enumerate(transfer.LABEL_BUDGETS):
            for j, seed in enumerate(seeds):
                pick = transfer.per_class_subset(task["y_train"], budget, seed)
                heads[i, j] = keras_head_accuracy(imagenet["train"][pick], task["y_train"][pick], imagenet["test"],
                                                  task["y_test"], seed)
        table["Keras head (frozen)"] = heads
        print(f"\n{name}: test accuracy, median [min, max] over {len(seeds)} seeds "
              f"({len(task['y_test'])} test images)")
        print(f"  {'labels/class':>12} " + " ".join(f"{method:>26}" for method in table))
        for i, budget in enumerate(transfer.LABEL_BUDGETS):
            print(f"  {budget:12d} " + " ".join(f"{spread(scores[i]):>26}" for scores in table.values()))


def training_check(seeds: range) -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from implementations import m06_transfer_learning as implementations

    from dlcourse.checks import transfer as checks
    from dlcourse.checks.core import Case
    from dlcourse.models import transfer

    def solution(backbone, x_train, y_train, num_classes):
        model = transfer.transfer_model(backbone, num_classes)
        transfer.compile_classifier(model, 1e-3)
        model.fit(x_train, y_train, epochs=10, batch_size=16, verbose=0)
        transfer.unfreeze_top_layers(model, 20)
        transfer.compile_classifier(model, 1e-4)
        model.fit(x_train, y_train, epochs=3, batch_size=16, verbose=0)
        return model

    candidates = {"solution": solution, **{name: fn for name, fn in vars(implementations).items()
                                           if name.startswith("right_train_transfer_model__")}}
    print(f"\ngraded training check: accuracy on the held-out halves (threshold "
          f"{checks.TRAIN_ACCURACY_THRESHOLD:.2f}), median [min, max] over seeds {list(seeds)}")
    for name, fn in candidates.items():
        scores, cpu = [], []
        for seed in seeds:
            start = time.process_time()
            case = Case("benchmark", (), {"seed": seed})
            predicted = checks._call_training({"train_transfer_model": fn}, case)
            scores.append(float(np.mean(predicted == checks.training_task(seed)[3])))
            cpu.append(time.process_time() - start)
        print(f"  {name:60s} {spread(scores)}  cpu s/run {spread(cpu)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--check-seeds", type=int, default=3)
    parser.add_argument("--skip-check", action="store_true")
    args = parser.parse_args()
    extraction_times()
    transfer_table(range(args.seeds))
    if not args.skip_check:
        training_check(range(args.check_seeds))


if __name__ == "__main__":
    main()
