"""The human-in-the-loop recipe: train on the labels so far, infer on the pool, review, add the labels, repeat.

A round (:func:`active_learning_round`) fits a classifier on the labelled rows of the pool's features, scores
every pool row, and asks an oracle (a person through the labelling widget, or a stand-in that knows the answers)
about the most doubtful unlabelled rows. :func:`run_active_learning` repeats it and records a history of rounds.
:func:`suspected_label_errors` is the other half of the review: cleanlab's search for labels that out-of-sample
probabilities contradict.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .selection import UNCERTAINTY_METHODS, select_for_review, typical_samples

RANDOM = "random"
TYPICAL = "typical"
TYPICAL_START = "typical+"  # a hybrid: typical samples as the first labels, then rounds of an uncertainty method
STRATEGIES = (RANDOM, *UNCERTAINTY_METHODS, TYPICAL, TYPICAL_START + "margin")
DEFAULT_C = 0.1  # inverse regularisation strength of the logistic regression on standardised features


def check_two_classes(y) -> None:
    """ValueError unless the labels y (L,) hold at least two classes, with what to do about it."""
    classes = np.unique(np.asarray(y))
    if len(classes) < 2:
        what = f"all {len(y)} labels are class {classes[0]}" if len(classes) else "there are no labels yet"
        raise ValueError(f"A classifier needs examples of both classes, but {what}. Label a few images of the "
                         "other class (review more images, or start from more typical samples) and train again.")


def fit_logistic(x, y, C: float = DEFAULT_C):
    """Logistic regression on standardised features x (L, D) with labels y (L,): a fitted sklearn Pipeline (module
    06's probe, run to convergence)."""
    from dlcourse.models.transfer import probe

    check_two_classes(y)
    return probe(C, max_iter=2000).fit(np.asarray(x), np.asarray(y))


def warm_logistic(x_all, C: float = DEFAULT_C):
    """A fit function for the loop, (x (L, D), y (L,)) -> model, that standardises with the mean and spread of
    x_all (N, D) (the whole pool's features: no labels needed) and starts each fit from the last one's weights.

    Faster over many rounds than fit_logistic. The same model object is refitted and returned every time: use
    each round's model before the next fit.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(np.asarray(x_all))
    logistic = LogisticRegression(C=C, max_iter=2000, warm_start=True)
    model = make_pipeline(scaler, logistic)

    def fit(x, y):
        check_two_classes(y)
        logistic.fit(scaler.transform(np.asarray(x)), np.asarray(y))
        return model

    return fit


def label_oracle(labels) -> Callable[[np.ndarray], np.ndarray]:
    """A stand-in for the person: oracle(indices (k,)) -> the true labels (k,) int64 of those pool rows."""
    labels = np.asarray(labels, dtype=np.int64)

    def oracle(indices) -> np.ndarray:
        return labels[np.asarray(indices, dtype=np.int64)]

    return oracle


def active_learning_round(fit, x_pool, labelled, y_labelled, oracle, k: int, method: str = "margin", seed: int = 0):
    """One round: fit on the labelled rows, score the pool, ask the oracle about the k most doubtful unlabelled rows.

    fit -- (x (L, D), y (L,)) -> model with predict_proba; x_pool (N, D) features of every labellable image;
    labelled (L,) int64 pool indices with labels y_labelled (L,); oracle(indices (k,)) -> labels (k,).
    method: one of UNCERTAINTY_METHODS, or "random" (seeded by seed).
    Returns (labelled (L + k,), y_labelled (L + k,), model): the new rows appended, and the model fitted this round.
    """
    labelled = np.asarray(labelled, dtype=np.int64)
    model = fit(x_pool[labelled], y_labelled)
    if method == RANDOM:
        free = np.setdiff1d(np.arange(len(x_pool)), labelled)
        chosen = np.random.default_rng(seed).choice(free, size=min(k, len(free)), replace=False)
    else:
        chosen = select_for_review(model.predict_proba(x_pool), k, method, labelled)
    answers = np.asarray(oracle(chosen), dtype=np.int64)
    return np.concatenate([labelled, chosen]), np.concatenate([np.asarray(y_labelled, dtype=np.int64), answers]), model


def check_budget(n_pool: int, n_initial: int, k: int, rounds: int) -> None:
    """ValueError when the initial labels plus k per round would need more images than the pool holds."""
    needed = n_initial + k * rounds
    if needed > n_pool:
        raise ValueError(f"{rounds} rounds of k={k} after {n_initial} initial labels need {needed} images, but the "
                         f"pool holds {n_pool}; lower k or rounds (at most {(n_pool - n_initial) // max(k, 1)} "
                         f"rounds of {k}).")


def run_active_learning(fit, x_pool, x_test, y_test, oracle, initial, k: int, rounds: int, method: str = "margin",
                        seed: int = 0) -> list[dict]:
    """Repeat active_learning_round `rounds` times from the initial pool indices; the history of rounds.

    x_pool (N, D) and x_test (M, D) features, y_test (M,) labels; initial (L0,) pool indices, labelled by the oracle.
    history[r] is a dict: "round" r, "n_labels" the labels the round's model was fitted on, "accuracy" that
    model's accuracy on the test set, "selected" the (k,) pool indices the round sent to the oracle,
    "seconds" the time the round took.
    """
    check_budget(len(x_pool), len(initial), k, rounds)
    labelled = np.asarray(initial, dtype=np.int64)
    y_labelled = np.asarray(oracle(labelled), dtype=np.int64)
    history = []
    for r in range(rounds):
        start = time.perf_counter()
        new_labelled, new_y, model = active_learning_round(fit, x_pool, labelled, y_labelled, oracle, k, method,
                                                           seed=seed * 1000 + r)
        history.append({"round": r, "n_labels": len(labelled),
                        "accuracy": float(np.mean(model.predict(x_test) == np.asarray(y_test))),
                        "selected": new_labelled[len(labelled):], "seconds": time.perf_counter() - start})
        labelled, y_labelled = new_labelled, new_y
    return history


def learning_curve(history: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """(n_labels (R,), accuracy (R,)) of a history from run_active_learning."""
    return (np.array([h["n_labels"] for h in history]), np.array([h["accuracy"] for h in history]))


def labels_to_reach(n_labels, accuracy, target: float) -> float:
    """The fewest labels at which accuracy (R,) reaches target, read off n_labels (R,); NaN when it never does."""
    reached = np.flatnonzero(np.asarray(accuracy) >= target)
    return float(np.asarray(n_labels)[reached[0]]) if reached.size else float("nan")


def accuracy_at(fit, x_train, y_train, x_test, y_test) -> float:
    """Test accuracy of fit(x_train, y_train)."""
    return float(np.mean(fit(x_train, y_train).predict(x_test) == y_test))


def strategy_curve(strategy: str, fit, x_pool, y_pool, x_test, y_test, start: int, k: int, rounds: int,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(n_labels (R,), test accuracy (R,)) of one strategy in STRATEGIES, labels revealed by y_pool (N,).

    random / uncertainty strategies grow a random start of `start` labels by k per round; "typical" labels the
    typical_samples of the pool at each of the same budgets (a fresh cold start per budget); "typical+<method>"
    starts from the `start` typical samples and grows them by k per round with that uncertainty method.
    """
    if strategy == TYPICAL:
        budgets = start + k * np.arange(rounds)
        scores = [accuracy_at(fit, x_pool[rows], y_pool[rows], x_test, y_test)
                  for rows in (typical_samples(x_pool, int(b), seed) for b in budgets)]
        return budgets, np.array(scores)
    method = strategy.removeprefix(TYPICAL_START)
    if method not in (RANDOM, *UNCERTAINTY_METHODS):
        raise ValueError(f"unknown strategy {strategy!r}; use one of {', '.join(STRATEGIES)} (or typical+ with "
                         f"another of {', '.join(UNCERTAINTY_METHODS)}).")
    if strategy.startswith(TYPICAL_START):
        initial = typical_samples(x_pool, start, seed)
    else:
        initial = np.random.default_rng(seed).choice(len(x_pool), size=start, replace=False)
    history = run_active_learning(fit, x_pool, x_test, y_test, label_oracle(y_pool), initial, k, rounds,
                                  method=method, seed=seed)
    return learning_curve(history)


# ---------------------------------------------------------------------------------------------------------
# The second half of the review: labels the model's out-of-sample probabilities contradict (cleanlab).
# ---------------------------------------------------------------------------------------------------------

def out_of_sample_probabilities(fit, x, y, folds: int = 5, seed: int = 0) -> np.ndarray:
    """(L, K) probabilities of each labelled row from a model that did not see it (stratified k-fold)."""
    from sklearn.model_selection import StratifiedKFold

    x, y = np.asarray(x), np.asarray(y)
    probs = np.zeros((len(y), len(np.unique(y))))
    for train, held_out in StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y):
        probs[held_out] = fit(x[train], y[train]).predict_proba(x[held_out])
    return probs


def suspected_label_errors(fit, x, y, folds: int = 5, seed: int = 0) -> np.ndarray:
    """Rows of the labelled set x (L, D), y (L,) whose label looks wrong, most suspicious first: (S,) int64.

    cleanlab's confident learning on out-of-sample probabilities. Needs two classes with two or more rows each;
    with fewer rows per class than folds, fewer folds are used.
    """
    from cleanlab.filter import find_label_issues

    y = np.asarray(y, dtype=np.int64)
    check_two_classes(y)
    folds = min(folds, int(np.bincount(y).min()))
    if folds < 2:
        return np.zeros(0, dtype=np.int64)
    probs = out_of_sample_probabilities(fit, x, y, folds, seed)
    issues = find_label_issues(labels=y, pred_probs=probs, return_indices_ranked_by="self_confidence")
    return np.asarray(issues, dtype=np.int64)


@dataclass(frozen=True)
class ReviewBatch:
    """What to show a person: pool indices (B,), why each is there, the model's guess (B,) and its confidence (B,)."""

    indices: np.ndarray
    reasons: tuple[str, ...]
    guesses: np.ndarray
    confidences: np.ndarray

    def __len__(self) -> int:
        return len(self.indices)


def review_batch(fit, x_pool, labelled, y_labelled, k: int, method: str = "margin", suspects: int = 4) -> ReviewBatch:
    """The next batch for a person: the k most doubtful unlabelled pool rows, then up to `suspects` labelled rows
    cleanlab flags as likely mislabelled. x_pool (N, D); labelled (L,) pool indices with labels y_labelled (L,)."""
    labelled = np.asarray(labelled, dtype=np.int64)
    free = len(x_pool) - len(np.unique(labelled))
    if free == 0:
        raise ValueError("Every image of the pool is labelled already: there is nothing left to review.")
    if k > free:
        raise ValueError(f"k={k} is larger than the {free} unlabelled images left in the pool; ask for at most {free}.")
    model = fit(x_pool[labelled], y_labelled)
    probs = model.predict_proba(x_pool)
    doubtful = select_for_review(probs, k, method, labelled)
    flagged = labelled[suspected_label_errors(fit, x_pool[labelled], y_labelled)[:suspects]]
    indices = np.concatenate([doubtful, flagged]).astype(np.int64)
    reasons = ("doubtful",) * len(doubtful) + ("label may be wrong",) * len(flagged)
    return ReviewBatch(indices, reasons, probs[indices].argmax(axis=1), probs[indices].max(axis=1))

