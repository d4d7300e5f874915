"""Module 05 in numbers: parameter counts against the literature, CNN vs fully connected, LeNet-5's accuracy.

Run:  .venv/bin/python benchmarks/bench_architectures.py [--seeds 5] [--check-seeds 10] [--skip-training]

1. Parameters of the course's builders (dlcourse.models) against the published counts and, for VGG-19,
   keras.applications.VGG19(weights=None), whose structure must be identical layer by layer; the share of
   each network's parameters that sits in dense layers.
2. LeNet-5 against a fully connected net on the 32x32 MNIST subset, trained alike (10 epochs, no augmentation):
   parameters, test accuracy, accuracy on test images shifted by 2 pixels, training time; mean over seeds.
3. LeNet-5 with the lecture's recipe trained longer on the 32x32 digits (augmentation, 30 epochs instead of
   the lecture's 10, cosine-decayed Adam):
   test accuracy over seeds, against the target of 0.985.
4. The graded training check (checks.architectures.TRAIN_CLASSIFIER) run exactly as at grading, with the
   solution's train_classifier and every correct alternative in tests/implementations, over seeds: the margin
   between the accuracies a correct answer reaches and the check's threshold.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent
ACCURACY_TARGET = 0.985


def parameter_table() -> None:
    from dlcourse import models
    from dlcourse.checks.architectures import compare_structure

    keras = models.keras_module()
    published = {"build_lenet5": ("LeNet-5", models.LENET5_PARAMS, None),
                 "build_alexnet": ("AlexNet", models.ALEXNET_PARAMS, None),
                 "build_vgg19": ("VGG-19", models.VGG19_PARAMS, None),
                 "build_resnet34": ("ResNet-34", None, models.RESNET34_TRAINABLE_PARAMS)}
    print(f"{'network':10} {'ours: all':>13} {'trainable':>13} {'reference':>13} {'match':>6} {'in dense':>9}")
    for builder, (label, reference_all, reference_trainable) in published.items():
        layers = models.canonical_layers(models.reference_summary(builder))
        total, trainable = models.total_params(layers)
        dense = sum(layer.params for layer in layers if layer.kind == "Dense")
        reference = reference_all or reference_trainable
        ours = total if reference_all else trainable
        print(f"{label:10} {total:13,} {trainable:13,} {reference:13,} {'yes' if ours == reference else 'NO':>6} "
              f"{dense / total:9.1%}")
    with models.shapes_only():
        applications = models.summarize(keras.applications.VGG19(weights=None))
    difference = compare_structure(models.reference_summary("build_vgg19"), applications)
    print(f"VGG-19 vs keras.applications.VGG19(weights=None), layer by layer: "
          f"{'identical' if difference is None else difference}")


def cnn_versus_fc(seeds: range) -> None:
    from dlcourse import models
    from dlcourse.datasets import load_mnist_subset

    keras = models.keras_module()
    rows = {"LeNet-5": [], "fully connected": []}
    for seed in seeds:
        data = load_mnist_subset(size=32, seed=seed)
        for label, build in (("LeNet-5", models.build_lenet5), ("fully connected", models.build_mlp)):
            keras.utils.set_random_seed(seed)
            model = build()
            started = time.perf_counter()
            models.fit_classifier(model, data.x_train, data.y_train, epochs=10, verbose=0)
            seconds = time.perf_counter() - started
            rows[label].append((model.count_params(), models.accuracy(model, data.x_test, data.y_test),
                                models.shifted_accuracy(model, data.x_test, data.y_test), seconds))
    print(f"MNIST subset 32x32 ({len(data.y_train)} training, {len(data.y_test)} test images), 10 epochs, "
          f"mean over seeds {list(seeds)}")
    print(f"{'model':16} {'parameters':>11} {'test acc.':>10} {'shifted 2 px':>13} {'train s':>8}")
    for label, values in rows.items():
        params, acc, shifted, seconds = np.mean(values, axis=0)
        print(f"{label:16} {int(params):11,} {acc:10.2%} {shifted:13.2%} {seconds:8.1f}")


def lenet_recipe(seeds: range) -> None:
    from dlcourse import models
    from dlcourse.datasets import load_digits

    keras = models.keras_module()
    accuracies = []
    for seed in seeds:
        data = load_digits(size=32, seed=seed)
        keras.utils.set_random_seed(seed)
        model = models.build_lenet5()
        started = time.perf_counter()
        models.fit_classifier(model, data.x_train, data.y_train, epochs=models.LENET5_EPOCHS, augment=True,
                              verbose=0)
        accuracies.append(models.accuracy(model, data.x_test, data.y_test))
        print(f"  seed {seed}: test accuracy {accuracies[-1]:.4f} ({len(data.y_test)} digits, "
              f"{time.perf_counter() - started:.1f} s)")
    mean = float(np.mean(accuracies))
    print(f"LeNet-5, 32x32 digits, {models.LENET5_EPOCHS} epochs with augmentation: mean {mean:.4f}, "
          f"min {min(accuracies):.4f}, max {max(accuracies):.4f}; target {ACCURACY_TARGET}: "
          f"{'met' if mean >= ACCURACY_TARGET else 'NOT met'}")


def training_check_margin(seeds: range) -> None:
    sys.path[:0] = [str(ROOT / "tests")]
    from harness import namespace_after, solution_notebooks, split_notebook
    from harness import implementations as other_implementations

    from dlcourse.checks import architectures
    from dlcourse.checks.core import Case, to_plain

    exercise = architectures.TRAIN_CLASSIFIER
    parts = split_notebook(solution_notebooks("05_architectures")[0])
    solution = namespace_after(parts.setup + parts.answers)
    answers = {"solution": solution["train_classifier"],
               **other_implementations("05_architectures", "right", "train_classifier")}
    threshold = architectures.TRAIN_ACCURACY_THRESHOLD
    print(f"graded training check: {architectures.TRAIN_EPOCHS} epochs, batches of {architectures.TRAIN_BATCH_SIZE}, "
          f"threshold {threshold:.0%}; test accuracy per seed (split and initialisation)")
    lowest = 1.0
    for label, answer in answers.items():
        functions = {"train_classifier": answer, "build_lenet5": solution["build_lenet5"]}
        accuracies = []
        for seed in seeds:
            case = Case("bench", (), {"seed": seed})
            with contextlib.redirect_stdout(io.StringIO()):  # the answers' own progress lines
                predictions = to_plain(exercise.call(functions, case))
            accuracies.append(float(np.mean(predictions == exercise.reference(case))))
        lowest = min(lowest, *accuracies)
        print(f"  {label:28} min {min(accuracies):.3f}  mean {np.mean(accuracies):.3f}  "
              f"[{' '.join(f'{a:.3f}' for a in accuracies)}]")
    print(f"lowest accuracy of a correct answer: {lowest:.3f}; margin over the threshold: {lowest - threshold:+.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds of the training measurements (default 5)")
    parser.add_argument("--check-seeds", type=int, default=10, help="seeds of the graded check's margin (10)")
    parser.add_argument("--skip-training", action="store_true", help="only the parameter table")
    args = parser.parse_args()
    from dlcourse.environment import import_tensorflow

    import_tensorflow()
    started = time.perf_counter()
    print("== 1. Parameters: ours vs the literature ==")
    parameter_table()
    if not args.skip_training:
        print("\n== 2. LeNet-5 vs a fully connected net ==")
        cnn_versus_fc(range(min(args.seeds, 3)))
        print("\n== 3. LeNet-5 with the lecture's recipe ==")
        lenet_recipe(range(args.seeds))
        print("\n== 4. Margin of the graded training check ==")
        training_check_margin(range(args.check_seeds))
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
