"""Module 06 in numbers: what ImageNet weights are worth at few labels, and the cost of feature extraction.

Run:  .venv/bin/python benchmarks/bench_transfer.py [--seeds 5] [--check-seeds 3] [--skip-check]

1. Feature extraction: CPU seconds (the figure that matters on a shared machine) and wall seconds per image of
   EfficientNet-Lite0's pooled features at 64, 96 and 224 pixels, median and range over repeats.
2. The transfer table on the lecture's two tasks, every method at every budget, medians and [min-max] over
   seeds. Image quality split by photo: 5, 10, 20, 50, 250 labels per class (up to 500 labels), judged on a
   balanced test set from photos never seen in training; which photo (8 photos): 5, 10, 20, 50 labels per
   class from the photos' top halves, judged on their bottom halves. A seed draws the data set (for image
   quality: which photos are train and test), the labelled examples and the initial weights. Methods: a
   logistic-regression probe on frozen ImageNet features (mid-level blocks for image quality, the top for
   which photo; image quality also shows the top's features), a Keras softmax head trained on the same frozen
   features, the fine-tuned top (BatchNorm frozen, rate / 10, as in the lecture), a small CNN from scratch,
   and the probe on the same network with random weights. Image quality is read as module 07 reads it: the
   64-pixel patches upsampled to 96 for the backbone, each probe's C chosen by 5-fold cross-validation over
   the photos of its 500-label pool (never the test photos), the scratch CNN on the native 64 pixels with
   mirror and quarter-turn views for max(300 steps, 30 epochs). Which photo: probes at C = 0.1, the scratch
   CNN on 32-pixel versions for max(100 steps, 10 epochs). Features are extracted once per (seed, split) and
   shared by every method and budget.
3. The graded training check (checks.transfer.TRAIN_TRANSFER_MODEL) run as at grading with the solution's recipe
   and the correct alternative in tests/implementations over seeds: the margin above its threshold.

Each (task, seed) is saved in benchmarks/results/transfer_runs/ as it finishes, and a process marks the one it
is computing (a .running file), so that two processes started alike share the work (the second with
--skip-extraction) and a stopped run resumes where it was (delete the stopped one's .running files first); the
report (every task and seed saved) is printed and written to benchmarks/results/transfer.txt, the numbers per
seed to transfer.json.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# one thread per op pool: on a shared 2-core machine TensorFlow's spinning worker threads only add CPU time
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
QUALITY, PHOTO = "image quality (split by photo)", "which photo (8 photos, other half)"
BUDGETS = {QUALITY: (5, 10, 20, 50, 250), PHOTO: (5, 10, 20, 50)}
SCRATCH = {QUALITY: dict(size=64, steps=300, min_epochs=30, augment=True),  # the native patches: blur shows
           PHOTO: dict(size=32, steps=100, min_epochs=10)}  # content survives 32 px; 64 px costs 4x the CPU time
QUALITY_TEST_PER_CLASS = 150


def spread(values, digits=3) -> str:
    """'median [min, max]' of a list of numbers."""
    values = np.asarray(values, dtype=float)
    return f"{np.median(values):.{digits}f} [{values.min():.{digits}f}, {values.max():.{digits}f}]"


def extraction_times(repeats: int = 3) -> dict:
    """CPU and wall seconds per image of pooled Lite0 features, batches of EXTRACTION_BATCH: {size: {cpu, wall}}."""
    from dlcourse.models.backbones import pretrained_backbone
    from dlcourse.models.transfer import EXTRACTION_BATCH

    times = {"batch_size": EXTRACTION_BATCH, "repeats": repeats}
    for size in (64, 96, 224):
        model = pretrained_backbone(input_shape=(size, size, 3), pooling="avg")
        images = np.random.default_rng(0).random((128, size, size, 3), dtype=np.float32)
        model.predict(images[:EXTRACTION_BATCH], batch_size=EXTRACTION_BATCH, verbose=0)
        wall, cpu = [], []
        for _ in range(repeats):
            w, c = time.perf_counter(), time.process_time()
            model.predict(images, batch_size=EXTRACTION_BATCH, verbose=0)
            wall.append((time.perf_counter() - w) / len(images))
            cpu.append((time.process_time() - c) / len(images))
        times[str(size)] = {"cpu_s_per_image": cpu, "wall_s_per_image": wall}
    return times


def print_extraction_times(times) -> None:
    print(f"feature extraction, EfficientNet-Lite0 pooled features, batches of {times['batch_size']}, one thread "
          f"per op pool (seconds per image, median [range] over {times['repeats']} repeats of 128 images)")
    for size, figures in times.items():
        if isinstance(figures, dict):
            print(f"  {int(size):3d} px: CPU {spread(figures['cpu_s_per_image'], 4)}   "
                  f"wall {spread(figures['wall_s_per_image'], 4)}")


def quality_task(seed: int) -> dict:
    """Image quality split by photo, data set drawn with seed: a pool of 250 per class from the training photos,
    a balanced test set (at most QUALITY_TEST_PER_CLASS per class) from the test photos."""
    from dlcourse.datasets import make_quality_set
    from dlcourse.models import transfer

    quality = make_quality_set(seed=seed)
    train, test = (np.flatnonzero(quality.split == part) for part in ("train", "test"))
    pool = train[transfer.per_class_subset(quality.label[train], max(BUDGETS[QUALITY]), seed)]
    per_class = min(QUALITY_TEST_PER_CLASS, int(np.bincount(quality.label[test]).min()))
    test = test[transfer.per_class_subset(quality.label[test], per_class, seed)]
    return dict(x_train=quality.images[pool], y_train=quality.label[pool], x_test=quality.images[test],
                y_test=quality.label[test], photos=quality.source[pool], test_photos=sorted(set(quality.source[test])))


def photo_task(seed: int) -> dict:
    """Which photo: 50 patches per class from the photos' top halves, 25 from their bottom halves, drawn with seed."""
    from dlcourse.models import transfer

    x_train, y_train = transfer.photo_patches(max(BUDGETS[PHOTO]), half="top", seed=seed)
    x_test, y_test = transfer.photo_patches(25, half="bottom", seed=seed)
    return dict(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)


def task_methods(name, task, bases) -> tuple[dict, dict, dict]:
    """Features (one pass per backbone and split), the probes, their C and the trainers of budget_table for a task.

    bases: {image size: (ImageNet backbone, random-weights backbone)} at 64 px and, for image quality, at the
    size module 07 reads the patches (IMAGENET_SIZE).
    """
    from dlcourse.models import transfer
    from dlcourse.models.backbones import bilinear_resized
    from dlcourse.quality.features import IMAGENET_SIZE

    size = IMAGENET_SIZE if name == QUALITY else 64
    seen = {f"x_{part}": bilinear_resized(task[f"x_{part}"], size) for part in ("train", "test")}
    base, random_base = bases[size]
    layers = transfer.MID_LEVEL_LAYERS if name == QUALITY else ("top_activation",)
    imagenet = transfer.task_features(base, seen, layers, with_top_inputs=True)
    task["top_train"], task["top_test"] = imagenet.pop("top_train"), imagenet.pop("top_test")
    random = transfer.task_features(random_base, seen, layers)
    where = "mid-level" if name == QUALITY else "top"
    probes = {f"ImageNet features ({where})": imagenet}
    if name == QUALITY:
        probes["ImageNet top features"] = {part: transfer.frozen_top_features(base, task[f"top_{part}"])
                                           for part in ("train", "test")}
    probes[f"random weights ({where})"] = random
    strengths = {}
    if name == QUALITY:
        strengths = {method: transfer.cross_validated_strength(features["train"], task["y_train"], task["photos"])[0]
                     for method, features in probes.items()}
    scratch = SCRATCH[name]
    scratch_name = f"scratch CNN ({scratch['size']} px{', mirrors and turns' if scratch.get('augment') else ''})"
    trainers = {f"Keras head (frozen, {where})": (transfer.head_trainer(imagenet, task), None),
                "fine-tuned top": (transfer.fine_tune_trainer(base, task), None),
                scratch_name: (transfer.scratch_trainer(task, **scratch), None)}
    return probes, strengths, trainers


TASK_KEYS = {"quality": QUALITY, "photo": PHOTO}
RUNS = RESULTS / "transfer_runs"  # one file per (task, seed), so that runs can be split and resumed


def run_path(name, seed) -> Path:
    key = next(key for key, task in TASK_KEYS.items() if task == name)
    return RUNS / f"{key}_seed{seed}.json"


def claimed(path: Path) -> bool:
    """Whether this process may compute the run saved at path: not saved yet, and no other process on it (a
    marker file next to it, created exclusively; remove stale markers of a stopped run by hand)."""
    if path.is_file():
        return False
    try:
        path.with_suffix(".running").open("x").close()
    except FileExistsError:
        return False
    return True


def run_seeds(names, seeds) -> None:
    """budget_table of each task and seed (features extracted once per (seed, split)), each saved in RUNS."""
    from tqdm import tqdm

    from dlcourse.models import transfer
    from dlcourse.models.backbones import pretrained_backbone, random_init_backbone
    from dlcourse.quality.features import IMAGENET_SIZE

    sizes = {64, IMAGENET_SIZE} if QUALITY in names else {64}
    bases = {size: (pretrained_backbone(input_shape=(size, size, 3)),
                    random_init_backbone(input_shape=(size, size, 3), seed=0)) for size in sizes}
    makers = {QUALITY: quality_task, PHOTO: photo_task}
    RUNS.mkdir(parents=True, exist_ok=True)
    with tqdm(total=0, desc="transfer table", unit="run", file=sys.stderr) as progress:
        for seed in seeds:
            for name in names:
                path = run_path(name, seed)
                if not claimed(path):
                    continue
                try:
                    label = f"{name.split(' (')[0]}, seed {seed}"
                    progress.set_postfix_str(f"{label}: features")
                    started = time.process_time()
                    task = makers[name](seed)
                    probes, strengths, trainers = task_methods(name, task, bases)
                    progress.total += len(BUDGETS[name]) * (len(probes) + len(trainers))
                    progress.set_postfix_str(f"{label}: training")
                    column = transfer.budget_table(task, probes, trainers, BUDGETS[name], (seed,), progress,
                                                   strengths)
                    note = f"{len(task['y_test'])} test images" + (
                        f" from {', '.join(task['test_photos'])}" if "test_photos" in task else "")
                    if strengths:
                        note += " (probe C: " + ", ".join(f"{method.split(' (')[0]} {C:g}"
                                                         for method, C in strengths.items()) + ")"
                    path.write_text(json.dumps(
                        {"note": note, "cpu_s": time.process_time() - started,
                         "table": {method: scores[:, 0].tolist() for method, scores in column.items()}}))
                    del task, probes, trainers
                finally:
                    path.with_suffix(".running").unlink()


def transfer_table(seeds) -> dict:
    """The saved runs of the seeds, printed per task: {task: {method: (len(budgets), len(seeds)) accuracies}}."""
    from dlcourse.models import transfer

    tables = {}
    for name in BUDGETS:
        runs = [json.loads(run_path(name, seed).read_text()) for seed in seeds if run_path(name, seed).is_file()]
        if not runs:
            continue
        tables[name] = {method: np.array([run["table"][method] for run in runs]).T for method in runs[0]["table"]}
        cpu = sum(run["cpu_s"] for run in runs)
        print(f"\n{name}: test accuracy, median [min-max] over {len(runs)} seeds ({cpu:.0f} s of CPU); "
              + "; ".join(f"seed {seed}: {run['note']}" for seed, run in zip(seeds, runs)))
        print(transfer.format_budget_table(tables[name], BUDGETS[name]))
    return tables


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
    parser.add_argument("--tasks", nargs="+", choices=sorted(TASK_KEYS), default=sorted(TASK_KEYS),
                        help="run only these tasks (two processes can share the work); the report shows every "
                             "task and seed saved so far")
    parser.add_argument("--skip-extraction", action="store_true", help="keep the saved extraction times")
    parser.add_argument("--report-only", action="store_true", help="print and save the report of the saved runs")
    parser.add_argument("--check-seeds", type=int, default=3)
    parser.add_argument("--skip-check", action="store_true")
    args = parser.parse_args()
    RUNS.mkdir(parents=True, exist_ok=True)
    if not args.report_only:
        if not args.skip_extraction:
            (RUNS / "extraction.json").write_text(json.dumps(extraction_times()))
        run_seeds([TASK_KEYS[key] for key in args.tasks], range(args.seeds))
        if not args.skip_check:
            report = io.StringIO()
            with contextlib.redirect_stdout(Tee(sys.stdout, report)):
                training_check(range(args.check_seeds))
            (RUNS / "training_check.txt").write_text(report.getvalue())
    write_report(args.seeds)


def write_report(seeds: int) -> None:
    """Print the saved extraction times, transfer table and training check; save them in benchmarks/results."""
    report = io.StringIO()
    with contextlib.redirect_stdout(Tee(sys.stdout, report)):
        times = {}
        if (RUNS / "extraction.json").is_file():
            times = json.loads((RUNS / "extraction.json").read_text())
            print_extraction_times(times)
        tables = transfer_table(range(seeds))
        if (RUNS / "training_check.txt").is_file():
            print((RUNS / "training_check.txt").read_text(), end="")
    (RESULTS / "transfer.txt").write_text(report.getvalue())
    (RESULTS / "transfer.json").write_text(json.dumps(
        {"budgets": BUDGETS, "extraction": times,
         "tables": {name: {method: scores.tolist() for method, scores in table.items()}
                    for name, table in tables.items()}}, indent=1))


class Tee(io.TextIOBase):
    """A text stream that writes to every one of its streams."""

    def __init__(self, *streams):
        self.streams = streams

    def write(self, text):
        for stream in self.streams:
            stream.write(text)
        return len(text)


if __name__ == "__main__":
    main()
