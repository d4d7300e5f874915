"""Benchmark of module 07: how many labels each strategy needs, features against features, seconds per round.

Prints three tables on the course's image-quality set (split by photo):
1. labels each strategy needs to reach 95 % of the full-data accuracy: median and range over the seeds;
2. test accuracy at 20 / 50 / 100 / 500 / all labels (random labels, medians over the seeds) for ImageNet
   features, hand-made features, both, and a small CNN trained from scratch on the pixels;
3. seconds per round of the loop.
Usage: python benchmarks/bench_active_learning.py [--seeds 10] [--cnn-seeds 3]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

BUDGETS = (20, 50, 100, 500)
START, STEP, ROUNDS = 20, 20, 30  # the strategy curves: 20, 40, ... 600 labels
TYPICAL_ROUNDS = 10  # typical runs a k-means per budget: budgets up to 200 labels only


def quality_data():
    """(quality set, pool rows, test rows, {feature name: (N, D) features})."""
    from sklearn.decomposition import PCA

    from dlcourse.datasets import make_quality_set
    from dlcourse.quality import handmade_features, imagenet_features

    quality = make_quality_set(n_references=48)
    pool, test = quality.split == "train", quality.split == "test"
    handmade, imagenet = handmade_features(quality.images), imagenet_features(quality.images)
    imagenet_32 = PCA(32, random_state=0).fit(imagenet[pool]).transform(imagenet)
    return quality, pool, test, {"ImageNet": imagenet, "hand-made": handmade,
                                 "both (ImageNet PCA 32)": np.hstack([handmade, imagenet_32])}


def summary(values) -> str:
    """'median [min-max]' of numbers, NaN (never reached) counted as such."""
    values = np.asarray(values, dtype=float)
    reached = values[np.isfinite(values)]
    never = len(values) - len(reached)
    if not len(reached):
        return "never"
    text = f"{np.median(values) if not never else np.median(reached):.0f} [{reached.min():.0f}-{reached.max():.0f}]"
    return text + (f", {never} never" if never else "")


def strategy_table(x_pool, y_pool, x_test, y_test, seeds: int) -> None:
    from dlcourse.quality import STRATEGIES, fit_logistic, labels_to_reach, strategy_curve

    full = np.mean(fit_logistic(x_pool, y_pool).predict(x_test) == y_test)
    target = 0.95 * full
    print(f"\n1. Labels to reach 95 % of the full-data accuracy ({full:.1%} -> {target:.1%}), {seeds} seeds")
    print(f"{'strategy':16s} {'labels: median [range]':28s} accuracy at 100 / 300 / 600 labels (medians)")
    for strategy in STRATEGIES:
        typical = strategy == "typical"
        rounds = TYPICAL_ROUNDS if typical else ROUNDS
        runs = [strategy_curve(strategy, fit_logistic, x_pool, y_pool, x_test, y_test, START, STEP, rounds, seed)
                for seed in range(min(seeds, 3) if typical else seeds)]
        n_labels = runs[0][0]
        needed = [labels_to_reach(n_labels, accuracy, target) for _, accuracy in runs]
        at = [np.median([accuracy[np.searchsorted(n_labels, b)] for _, accuracy in runs]) if b <= n_labels[-1]
              else np.nan for b in (100, 300, 580)]
        print(f"{strategy:16s} {summary(needed):28s} " + " / ".join(f"{a:.1%}" for a in at)
              + (f"   (3 seeds, budgets up to {n_labels[-1]})" if typical else ""))


def cnn_accuracy(quality, train_rows, test_rows, seed: int) -> float:
    """Test accuracy of a small CNN trained from scratch on the pixels of train_rows."""
    from dlcourse.environment import import_tensorflow

    _, keras = import_tensorflow()
    keras.utils.set_random_seed(seed)
    layers = keras.layers
    model = keras.Sequential([
        keras.Input(shape=quality.images.shape[1:]),
        layers.Conv2D(16, 3, activation="relu"), layers.MaxPooling2D(2),
        layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(2),
        layers.Conv2D(32, 3, activation="relu"), layers.GlobalAveragePooling2D(),
        layers.Dense(2, activation="softmax"),
    ])
    model.compile("adam", "sparse_categorical_crossentropy")
    epochs = int(np.clip(4000 // max(len(train_rows), 1), 10, 60))
    model.fit(quality.images[train_rows], quality.label[train_rows], epochs=epochs, batch_size=32, verbose=0)
    predicted = model.predict(quality.images[test_rows], verbose=0).argmax(axis=1)
    return float(np.mean(predicted == quality.label[test_rows]))


def budget_table(quality, pool, test, features: dict, seeds: int, cnn_seeds: int) -> None:
    from dlcourse.quality import fit_logistic

    pool_rows, test_rows = np.flatnonzero(pool), np.flatnonzero(test)
    budgets = (*BUDGETS, len(pool_rows))
    print(f"\n2. Test accuracy at {' / '.join(map(str, BUDGETS))} / all ({len(pool_rows)}) random labels "
          f"(median over {seeds} seeds; CNN over {cnn_seeds})")

    def draws(n_seeds):
        for seed in range(n_seeds):
            order = np.random.default_rng(seed).permutation(pool_rows)
            yield [order[:b] for b in budgets]

    for name, x in features.items():
        scores = [[np.mean(fit_logistic(x[rows], quality.label[rows]).predict(x[test_rows]) == quality.label[test_rows])
                   if len(set(quality.label[rows])) == 2 else np.nan for rows in draw] for draw in draws(seeds)]
        print(f"{name + ' + logistic regression':42s} " + " / ".join(f"{v:.0%}" for v in np.nanmedian(scores, 0)))
    scores = [[cnn_accuracy(quality, rows, test_rows, seed) for rows in draw] for seed, draw in
              enumerate(draws(cnn_seeds))]
    print(f"{'CNN from scratch (3 conv layers)':42s} " + " / ".join(f"{v:.0%}" for v in np.median(scores, 0)))


def round_seconds(x_pool, y_pool, x_test, y_test) -> None:
    from dlcourse.quality import fit_logistic, label_oracle, run_active_learning

    print("\n3. Seconds per round of the loop (margin, k=20, both feature sets), over 30 rounds")
    start = np.random.default_rng(0).choice(len(x_pool), 20, replace=False)
    history = run_active_learning(fit_logistic, x_pool, x_test, y_test, label_oracle(y_pool), start, 20, 30)
    seconds = np.array([h["seconds"] for h in history])
    print(f"median {np.median(seconds):.3f} s, range {seconds.min():.3f}-{seconds.max():.3f} s "
          f"(20 to {history[-1]['n_labels']} labels, pool of {len(x_pool)})")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--cnn-seeds", type=int, default=3)
    args = parser.parse_args(argv)
    started = time.process_time()
    quality, pool, test, features = quality_data()
    both = features["both (ImageNet PCA 32)"]
    strategy_table(both[pool], quality.label[pool], both[test], quality.label[test], args.seeds)
    budget_table(quality, pool, test, features, args.seeds, args.cnn_seeds)
    round_seconds(both[pool], quality.label[pool], both[test], quality.label[test])
    print(f"\nbenchmark CPU time {time.process_time() - started:.0f} s")


if __name__ == "__main__":
    main()
