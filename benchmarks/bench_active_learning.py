"""Benchmark of module 07: how many labels each strategy needs, features against features, seconds per round.

Prints four tables on the course's image-quality set (split by photo: the pool is the training photos, the test
photos are never seen) and saves them in benchmarks/results/active_learning.txt:
0. the logistic C of each feature set, chosen by cross-validation over the pool's photos (never the test split);
1. test accuracy at 20 / 50 / 100 / 500 / all random labels, medians over the seeds, for ImageNet features,
   hand-made features and a small CNN trained from scratch on the pixels;
2. labels each strategy needs to reach 95 % of the full-data accuracy (ImageNet features): median [range] over
   the seeds, and the accuracy at a few budgets;
3. seconds per round of the loop (CPU and wall).
Features are computed once (and cached); the loop's logistic regression standardises with the pool's statistics
and warm-starts from the previous round; BLAS and OpenMP run one thread (problems this small only lose time to
threads on a shared machine).
Usage: python benchmarks/bench_active_learning.py [--seeds 10] [--cnn-seeds 3]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from dlcourse import paths

BUDGETS = (20, 50, 100, 500)
START, STEP, ROUNDS = 20, 20, 30  # the strategy curves: 20, 40, ... 600 labels
TYPICAL_ROUNDS = 10  # "typical" runs one k-means per budget: budgets up to 200 labels
SHOWN_AT = (100, 200, 400)
RESULTS = "active_learning.txt"


class Report:
    """Lines printed as they come and kept, to be saved at the end."""

    def __init__(self):
        self.lines: list[str] = []

    def __call__(self, line: str = "") -> None:
        tqdm.write(line)
        self.lines.append(line)

    def save(self, name: str = RESULTS) -> None:
        folder = paths.project_root() / "benchmarks" / "results"
        folder.mkdir(exist_ok=True)
        (folder / name).write_text("\n".join(self.lines) + "\n")


def quality_data():
    """(quality set, pool mask, test mask, {feature name: (N, D) features})."""
    from dlcourse.datasets import make_quality_set
    from dlcourse.quality import handmade_features, imagenet_features

    quality = make_quality_set(n_references=48)
    pool, test = quality.split == "train", quality.split == "test"
    return quality, pool, test, {"ImageNet": imagenet_features(quality.images),
                                 "hand-made": handmade_features(quality.images)}


def summary(values) -> str:
    """'median [min-max]' of label counts; runs that never reach the target count as larger than any."""
    values = np.asarray(values, dtype=float)
    reached = values[np.isfinite(values)]
    never = len(values) - len(reached)
    if not len(reached):
        return f"never in {len(values)} runs"
    median = np.median(np.where(np.isfinite(values), values, np.inf))
    text = f"{median:.0f} [{reached.min():.0f}-{reached.max():.0f}]" if np.isfinite(median) else \
        f"> {reached.max():.0f} [{reached.min():.0f}-]"
    return text + (f", {never} never" if never else "")


def strategy_table(report, x_pool, y_pool, x_test, y_test, C: float, seeds: int) -> dict:
    """Table 2; returns {strategy: labels needed per seed}."""
    from dlcourse.quality import STRATEGIES, labels_to_reach, strategy_curve, warm_logistic

    full = np.mean(warm_logistic(x_pool, C)(x_pool, y_pool).predict(x_test) == y_test)
    target = 0.95 * full
    report(f"\n2. Labels to reach 95 % of the full-data accuracy, ImageNet features ({full:.1%} with all "
           f"{len(y_pool)} labels -> target {target:.1%}); {seeds} seeds, {STEP} labels a round")
    report(f"{'strategy':16s} {'labels: median [min-max]':30s} accuracy at " + " / ".join(map(str, SHOWN_AT))
           + " labels (medians)")
    needed = {}
    for strategy in tqdm(STRATEGIES, desc="strategies", leave=False):
        rounds = TYPICAL_ROUNDS if strategy == "typical" else ROUNDS
        runs = [strategy_curve(strategy, warm_logistic(x_pool, C), x_pool, y_pool, x_test, y_test, START, STEP,
                               rounds, seed) for seed in tqdm(range(seeds), desc=strategy, leave=False)]
        n_labels = runs[0][0]
        needed[strategy] = [labels_to_reach(n_labels, accuracy, target) for _, accuracy in runs]
        at = [f"{np.median([accuracy[np.searchsorted(n_labels, b)] for _, accuracy in runs]):.1%}"
              if b <= n_labels[-1] else "  -  " for b in SHOWN_AT]
        note = f"   (budgets up to {n_labels[-1]})" if n_labels[-1] < START + STEP * (ROUNDS - 1) else ""
        report(f"{strategy:16s} {summary(needed[strategy]):30s} " + " / ".join(at) + note)
    random = np.median(np.where(np.isfinite(needed["random"]), needed["random"], np.inf))
    best = min((s for s in needed if s != "random"),
               key=lambda s: np.median(np.where(np.isfinite(needed[s]), needed[s], np.inf)))
    best_median = np.median(np.where(np.isfinite(needed[best]), needed[best], np.inf))
    report(f"best strategy: {best}, {best_median:.0f} labels against random's {random:.0f} "
           f"({1 - best_median / random:+.0%} fewer)")
    return needed


def budget_table(report, quality, pool, test, features: dict, cs: dict, seeds: int, cnn_seeds: int) -> None:
    """Table 1: accuracy at BUDGETS and all labels, logistic regression on each feature set and the scratch CNN."""
    from dlcourse.environment import import_tensorflow
    from dlcourse.models.transfer import scratch_accuracy
    from dlcourse.quality import fit_logistic

    pool_rows, test_rows = np.flatnonzero(pool), np.flatnonzero(test)
    budgets = (*BUDGETS, len(pool_rows))
    y = quality.label
    report(f"\n1. Test accuracy at {' / '.join(map(str, BUDGETS))} / all ({len(pool_rows)}) random labels: "
           f"median [min-max] over {seeds} seeds (CNN over {cnn_seeds} seeds: it trains for minutes)")

    def draws(n_seeds):
        for seed in range(n_seeds):
            order = np.random.default_rng(seed).permutation(pool_rows)
            yield [order[:b] for b in budgets]

    def row(name, scores):
        scores = np.asarray(scores, dtype=float)
        cells = [f"{np.nanmedian(s):.0%} [{np.nanmin(s):.0%}-{np.nanmax(s):.0%}]" for s in scores.T]
        report(f"{name:34s} " + " / ".join(cells))

    for name, x in features.items():
        row(f"{name} + logistic (C={cs[name]:g})",
            [[np.mean(fit_logistic(x[rows], y[rows], C=cs[name]).predict(x[test_rows]) == y[test_rows])
              if len(set(y[rows])) == 2 else np.nan for rows in draw] for draw in draws(seeds)])
    import_tensorflow()
    images = quality.images
    row("CNN from scratch (3 conv blocks)",
        [[scratch_accuracy(images[rows], y[rows], images[test_rows], y[test_rows], seed,
                           steps=max(300, 10 * len(rows) // 16)) for rows in tqdm(draw, desc="CNN", leave=False)]
         for seed, draw in enumerate(draws(cnn_seeds))])


def round_seconds(report, x_pool, y_pool, x_test, y_test, C: float) -> None:
    """Table 3: seconds per round of margin sampling, 20 to 600 labels."""
    from dlcourse.quality import label_oracle, run_active_learning, warm_logistic

    start = np.random.default_rng(0).choice(len(x_pool), START, replace=False)
    cpu = time.process_time()
    history = run_active_learning(warm_logistic(x_pool, C), x_pool, x_test, y_test, label_oracle(y_pool), start,
                                  STEP, ROUNDS)
    cpu = (time.process_time() - cpu) / len(history)
    wall = np.array([h["seconds"] for h in history])
    report(f"\n3. Seconds per round of the loop (margin, k={STEP}, ImageNet features {x_pool.shape[1]}-d, pool of "
           f"{len(x_pool)}, {START} to {history[-1]['n_labels']} labels): CPU {cpu:.3f} s a round on average; wall "
           f"median {np.median(wall):.3f} s [{wall.min():.3f}-{wall.max():.3f}]")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--cnn-seeds", type=int, default=3)
    args = parser.parse_args(argv)
    with threadpool_limits(1):
        run(args)


def run(args) -> None:
    """All the tables, printed and saved."""
    from dlcourse.models.transfer import STRENGTH_GRID, cross_validated_strength

    started, wall = time.process_time(), time.perf_counter()
    report = Report()
    quality, pool, test, features = quality_data()
    y = quality.label
    report(f"Image-quality set: {pool.sum()} pool patches from {len(set(quality.source[pool]))} photos, "
           f"{test.sum()} test patches from {len(set(quality.source[test]))} other photos")
    report("\n0. Logistic C by 5-fold cross-validation over the pool's photos (grid " +
           ", ".join(map(str, STRENGTH_GRID)) + ")")
    cs = {}
    for name, x in features.items():
        cs[name], score = cross_validated_strength(x[pool], y[pool], quality.source[pool], max_iter=3000)
        report(f"{name:10s} {x.shape[1]:4d} features: C = {cs[name]:g} (cross-validated accuracy {score:.1%})")
    imagenet = features["ImageNet"]
    budget_table(report, quality, pool, test, features, cs, args.seeds, args.cnn_seeds)
    strategy_table(report, imagenet[pool], y[pool], imagenet[test], y[test], cs["ImageNet"], args.seeds)
    round_seconds(report, imagenet[pool], y[pool], imagenet[test], y[test], cs["ImageNet"])
    report(f"\nbenchmark: {time.process_time() - started:.0f} s CPU, {time.perf_counter() - wall:.0f} s wall")
    report.save()


if __name__ == "__main__":
    main()
