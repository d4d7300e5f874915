"""Checks of module 07_image_quality: uncertainty scores, the review pick, typical samples, the labelling loop.

References: the course's own implementations in :mod:`dlcourse.quality` (which students may not call). The loop
checks hand the student's functions a deterministic classifier (logistic regression, lbfgs) and an oracle that
knows the pool's labels, so a correct loop selects exactly the reference's images; the kernel side turns the
history into arrays (labels per round, accuracy, selected rows) before the judge compares them. The classic
mistakes are modelled by running the reference loop with one step changed.
"""
from __future__ import annotations

import numpy as np

from ..quality import (UNCERTAINTY_METHODS, fit_logistic, run_active_learning, select_for_review,
                       typical_samples, uncertainty_scores)
from ..quality.selection import unlabelled_mask
from .core import HIDDEN, Case, Exercise, Mistake, calls_into, case_rng, checker, close_arrays, close_tuple

RTOL, ATOL = 1e-6, 1e-9
TOLERANCE = f"rtol={RTOL:g}, atol={ATOL:g}"
INDEX_TOLERANCE = "exact: the same rows in the same order"
ENTROPY_WARNING_HINT = ("0 ln 0 counts as 0: take the logarithm only where p > 0 (np.log(p, out=np.zeros_like(p), "
                        "where=p > 0)) or use scipy.stats.entropy(probs, axis=1).")
REFERENCE_MODULES = ("dlcourse.quality", "dlcourse.labelling")


def _rng(which: str, salt: int) -> np.random.Generator:
    return case_rng(7, which, salt)


# ---------------------------------------------------------------------------------------------------------
# The course's references may not be called
# ---------------------------------------------------------------------------------------------------------

def _own_work(fns: dict, name: str) -> None:
    """ValueError when the student's function (or a notebook function it calls) reaches the course's references."""
    calls = calls_into(fns[name], REFERENCE_MODULES)
    if calls:
        raise ValueError(f"{name} calls {', '.join(calls)} from dlcourse.quality: that is the course's reference, "
                         "which the check compares you with; write the function yourself (NumPy and scikit-learn "
                         "are fine)")


def _direct_call(name: str):
    def call(fns: dict, case: Case):
        _own_work(fns, name)
        return fns[name](*case.args, **case.kwargs)

    return call


# ---------------------------------------------------------------------------------------------------------
# uncertainty_scores
# ---------------------------------------------------------------------------------------------------------

def random_probs(rng: np.random.Generator, n: int, k: int, zeros: bool = True) -> np.ndarray:
    """(n, k) random probability rows; with zeros, some entries are exactly 0 and one row is one-hot."""
    probs = rng.dirichlet(np.full(k, 0.7), size=n)
    if zeros:
        probs[0] = np.eye(k)[1]
        probs[1, 0] = 0.0
        probs[1] /= probs[1].sum()
    return probs


def _uncertainty_cases(which: str) -> list[Case]:
    rng = _rng(which, 0)
    if which == HIDDEN:
        return [Case(f"{method}, 3 classes, rows with zeros", (random_probs(rng, 9, 3), method))
                for method in UNCERTAINTY_METHODS] + [
                Case(f"{method}, 5 classes, float32", (random_probs(rng, 6, 5).astype(np.float32), method))
                for method in UNCERTAINTY_METHODS]
    two = np.array([[0.9, 0.1], [0.5, 0.5], [0.3, 0.7], [1.0, 0.0]])
    return [*(Case(f"{method}, good/bad probabilities", (two, method)) for method in UNCERTAINTY_METHODS),
            *(Case(f"{method}, 4 classes, not sorted, some zeros", (random_probs(rng, 6, 4), method))
              for method in UNCERTAINTY_METHODS)]


def _only_for(method: str, wrong):
    """A mistake that concerns one method: its wrong output there, the reference's for the other methods."""

    def output(case: Case) -> np.ndarray:
        probs, chosen = np.asarray(case.args[0], dtype=np.float64), case.args[1]
        return wrong(probs) if chosen == method else uncertainty_scores(probs, chosen)

    return output


def _entropy(probs: np.ndarray, log) -> np.ndarray:
    return -(probs * log(np.where(probs > 0, probs, 1.0))).sum(axis=1)


UNCERTAINTY = Exercise(
    name="uncertainty_scores",
    cases=_uncertainty_cases,
    reference=lambda case: uncertainty_scores(*case.args),
    compare=close_arrays(RTOL, ATOL),
    call=_direct_call("uncertainty_scores"),
    from_scratch=False,
    tolerance=TOLERANCE,
    warning_hint=ENTROPY_WARNING_HINT,
    mistakes=[
        Mistake("that is the confidence itself: higher must mean MORE uncertain, so least_confident is 1 - max p.",
                _only_for("least_confident", lambda p: p.max(axis=1))),
        Mistake("the margin p(1) - p(2) is large when the model is sure: return 1 - (p(1) - p(2)) so that higher "
                "means more uncertain.",
                _only_for("margin", lambda p: np.diff(np.sort(p, axis=1)[:, -2:], axis=1)[:, 0])),
        Mistake("the margin is between the two LARGEST probabilities: sort each row first (np.sort(probs, axis=1)"
                "[:, -2:]); columns 0 and 1 are just the first two classes.",
                _only_for("margin", lambda p: 1 - np.abs(p[:, 0] - p[:, 1]))),
        Mistake("the margin is between the two largest probabilities: np.sort sorts ascending, so they are the "
                "LAST two columns, [:, -1] and [:, -2].",
                _only_for("margin", lambda p: 1 - np.abs(np.diff(np.sort(p, axis=1)[:, :2], axis=1)[:, 0]))),
        Mistake("entropy is -sum p ln p: without the minus sign it is negative and ranks the sure images first.",
                _only_for("entropy", lambda p: -_entropy(p, np.log))),
        Mistake("use the natural logarithm (np.log, nats); that was log base 2 (bits).",
                _only_for("entropy", lambda p: _entropy(p, np.log2))),
        Mistake("use the natural logarithm (np.log, nats); that was log base 10.",
                _only_for("entropy", lambda p: _entropy(p, np.log10))),
    ],
)


# ---------------------------------------------------------------------------------------------------------
# select_for_review
# ---------------------------------------------------------------------------------------------------------

def _review_cases(which: str) -> list[Case]:
    rng = _rng(which, 1)
    # rows 1, 4 and 6 are exact ties (0.5 / 0.5); rows 2 and 5 tie too
    ties = np.array([[0.9, 0.1], [0.5, 0.5], [0.3, 0.7], [0.95, 0.05], [0.5, 0.5], [0.7, 0.3], [0.5, 0.5],
                     [0.2, 0.8]])
    if which == HIDDEN:
        many = random_probs(rng, 40, 3, zeros=False)
        return [Case("40 images, 3 classes, entropy, 10 labelled", (many, 6, "entropy", rng.choice(40, 10, replace=False))),
                Case("least_confident with ties, nothing labelled", (ties, 5, "least_confident", None)),
                Case("margin, k larger than what is left", (ties, 6, "margin", np.array([0, 1, 2, 3])))]
    many = random_probs(rng, 12, 4, zeros=False)
    return [Case("8 images with ties, margin, nothing labelled", (ties, 4, "margin", None)),
            Case("8 images with ties, margin, rows 1 and 2 labelled", (ties, 4, "margin", np.array([1, 2]))),
            Case("12 images, 4 classes, entropy, 3 labelled", (many, 5, "entropy", np.array([7, 0, 3])))]


def _scores(case: Case) -> tuple[np.ndarray, np.ndarray]:
    probs, _, method, labelled = case.args
    return uncertainty_scores(probs, method), unlabelled_mask(len(probs), labelled)


def _pick_most_confident(case: Case) -> np.ndarray:
    scores, free = _scores(case)
    rows = np.flatnonzero(free)
    return rows[np.argsort(scores[rows], kind="stable")][:case.args[1]]


def _pick_ignoring_labelled(case: Case) -> np.ndarray:
    scores, _ = _scores(case)
    return np.argsort(-scores, kind="stable")[:case.args[1]]


def _pick_reversed_ties(case: Case) -> np.ndarray:
    scores, free = _scores(case)
    rows = np.flatnonzero(free)
    return rows[np.argsort(scores[rows], kind="stable")[::-1]][:case.args[1]]


def _pick_positions_among_free(case: Case) -> np.ndarray:
    scores, free = _scores(case)
    return np.argsort(-scores[free], kind="stable")[:case.args[1]]


def index_comparison(ordered: bool, shape_note: str = ""):
    """A comparison of row-index arrays: exactly equal (ordered) or the same set of rows (not ordered)."""

    def compare(expected, got) -> str | None:
        if isinstance(got, tuple) or np.ndim(got) != 1:
            return f"expected a 1-D array of row indices, got shape {np.shape(got)}{shape_note}"
        if got.shape != np.shape(expected):
            return f"{len(got)} rows returned where {len(expected)} are expected"
        if ordered and not np.array_equal(got, expected):
            return "other rows, or the same rows in another order"
        if not ordered and not np.array_equal(np.sort(got), np.sort(expected)):
            return "other rows (the order does not matter)"
        return None

    return compare


compare_indices = index_comparison(ordered=True)
compare_index_sets = index_comparison(ordered=False, shape_note=" (return the rows nearest the centroids, not the "
                                                                "centroids)")


REVIEW = Exercise(
    name="select_for_review",
    cases=_review_cases,
    reference=lambda case: select_for_review(*case.args),
    compare=compare_indices,
    call=_direct_call("select_for_review"),
    from_scratch=False,
    tolerance=INDEX_TOLERANCE,
    mistakes=[
        Mistake("those are the images the model is MOST sure about: sort by uncertainty in descending order "
                "(np.argsort(-scores)).", _pick_most_confident),
        Mistake("rows that are already labelled were selected again: leave out every index in `labelled` "
                "before you pick.", _pick_ignoring_labelled),
        Mistake("equal scores must keep the lower row index first: reversing an ascending argsort reverses ties "
                "too; use np.argsort(-scores, kind='stable').", _pick_reversed_ties),
        Mistake("those are positions among the unlabelled rows, not row numbers of probs: map them back "
                "(e.g. free_rows[order]).", _pick_positions_among_free),
    ],
)


# ---------------------------------------------------------------------------------------------------------
# typical_samples
# ---------------------------------------------------------------------------------------------------------

def blobs(rng: np.random.Generator, k: int, dim: int, sizes) -> np.ndarray:
    """k tight clusters far apart in dim dimensions, of the given sizes, rows shuffled: (sum(sizes), dim)."""
    centres = rng.normal(scale=20.0, size=(k, dim))
    rows = np.concatenate([c + rng.normal(scale=0.5, size=(n, dim)) for c, n in zip(centres, sizes)])
    return rows[rng.permutation(len(rows))]


def _typical_cases(which: str) -> list[Case]:
    rng = _rng(which, 2)
    if which == HIDDEN:
        return [Case("6 clusters of 5 to 40 rows in 16 dimensions, seed 3", (blobs(rng, 6, 16, (5, 40, 12, 8, 30, 20)), 6, 3)),
                Case("one cluster, float32 features", (blobs(rng, 1, 8, (25,)).astype(np.float32), 1, 0))]
    return [Case("3 clusters of 10, 20 and 30 rows in 2-D", (blobs(rng, 3, 2, (10, 20, 30)), 3, 0)),
            Case("4 clusters of different sizes in 5-D, seed 1", (blobs(rng, 4, 5, (15, 6, 25, 9)), 4, 1))]


def _centroid_distances(case: Case) -> tuple[np.ndarray, np.ndarray]:
    """(distances (N, k) of rows to their k-means centroid, cluster of each row (N,)) on a case."""
    from sklearn.cluster import KMeans

    features, k, seed = case.args
    kmeans = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(np.asarray(features, dtype=np.float64))
    return kmeans.transform(features), kmeans.labels_


def _farthest_members(case: Case) -> np.ndarray:
    distances, clusters = _centroid_distances(case)
    return np.array([np.flatnonzero(clusters == c)[np.argmax(distances[clusters == c, c])] for c in range(case.args[1])])


def _first_members(case: Case) -> np.ndarray:
    _, clusters = _centroid_distances(case)
    return np.array([np.flatnonzero(clusters == c)[0] for c in range(case.args[1])])


TYPICAL = Exercise(
    name="typical_samples",
    cases=_typical_cases,
    reference=lambda case: typical_samples(*case.args),
    compare=compare_index_sets,
    call=_direct_call("typical_samples"),
    from_scratch=False,
    tolerance="the same rows, in any order",
    mistakes=[
        Mistake("those are the rows FARTHEST from their cluster's centroid: take the nearest (argmin of the "
                "distances, e.g. kmeans.transform(features)).", _farthest_members),
        Mistake("that is the first row of each cluster, not its most typical one: take the row closest to the "
                "centroid.", _first_members),
        Mistake("those look like random rows: run k-means with k clusters (sklearn.cluster.KMeans) and return, for "
                "each centroid, the index of the row nearest to it.",
                lambda case: np.random.default_rng(case.args[2]).choice(len(case.args[0]), case.args[1], replace=False)),
    ],
)


# ---------------------------------------------------------------------------------------------------------
# The loop: one round, and several
# ---------------------------------------------------------------------------------------------------------

class CheckOracle:
    """The person, played by the check: oracle(indices (k,)) -> labels (k,), only for rows of the pool."""

    __name__ = "oracle"

    def __init__(self, labels: np.ndarray):
        self.labels = np.asarray(labels, dtype=np.int64)

    def __call__(self, indices) -> np.ndarray:
        indices = np.asarray(indices)
        if indices.size and (indices.min() < 0 or indices.max() >= len(self.labels)):
            raise IndexError(f"the oracle was asked about row {int(indices.max())}, but the pool has only "
                             f"{len(self.labels)} rows: only pool rows can be labelled (are test rows in the pool?)")
        return self.labels[indices.astype(np.int64)]


def check_fit(x, y):
    """The check's classifier: logistic regression on standardised features (deterministic)."""
    return fit_logistic(x, y, C=0.5)


check_fit.__name__ = "fit_logistic"


def loop_data(rng: np.random.Generator, n_pool: int, n_test: int, dim: int):
    """Features of two overlapping classes: (x_pool (N, D), y_pool (N,), x_test (M, D), y_test (M,))."""
    direction = rng.normal(size=dim)
    y = rng.integers(0, 2, n_pool + n_test)
    x = rng.normal(size=(n_pool + n_test, dim)) + np.outer(y - 0.5, direction) * 1.5
    return x[:n_pool], y[:n_pool], x[n_pool:], y[n_pool:]


def first_labels(rng: np.random.Generator, y_pool: np.ndarray, n: int) -> np.ndarray:
    """n pool indices holding both classes."""
    both = np.concatenate([rng.choice(np.flatnonzero(y_pool == c), 2, replace=False) for c in (0, 1)])
    rest = rng.choice(np.setdiff1d(np.arange(len(y_pool)), both), n - 4, replace=False)
    return np.concatenate([both, rest]).astype(np.int64)


def _round_cases(which: str) -> list[Case]:
    rng = _rng(which, 3)
    shapes = ((150, 6, 12, 8, "entropy"), (90, 3, 10, 5, "least_confident")) if which == HIDDEN else \
        ((80, 4, 8, 6, "margin"), (120, 5, 10, 7, "entropy"))
    cases = []
    for n_pool, dim, n_labelled, k, method in shapes:
        x_pool, y_pool, _, _ = loop_data(rng, n_pool, 1, dim)
        labelled = first_labels(rng, y_pool, n_labelled)
        cases.append(Case(f"{n_pool} pool rows of {dim} features, {n_labelled} labelled, k={k}, {method}",
                          (check_fit, x_pool, labelled, y_pool[labelled], CheckOracle(y_pool), k, method)))
    return cases


def _round_outputs(result, x_pool) -> tuple:
    """Kernel side: (labelled, y_labelled, model) -> (labelled, y_labelled, the model's probabilities on the pool)."""
    if not isinstance(result, tuple) or len(result) != 3:
        raise TypeError("active_learning_round must return the tuple (labelled, y_labelled, model)")
    labelled, y_labelled, model = result
    if not hasattr(model, "predict_proba"):
        raise TypeError("the third value active_learning_round returns must be the model fit(...) returned")
    return np.asarray(labelled), np.asarray(y_labelled), np.asarray(model.predict_proba(x_pool))


def _call_round(fns: dict, case: Case) -> tuple:
    _own_work(fns, "active_learning_round")
    return _round_outputs(fns["active_learning_round"](*case.args), case.args[1])


def reference_round(case: Case, pick=None, pseudo_labels: bool = False) -> tuple:
    """The round on a case, with the selection step replaced by pick(probs, k, method, labelled) when given."""
    fit, x_pool, labelled, y_labelled, oracle, k, method = case.args
    model = fit(x_pool[labelled], y_labelled)
    probs = model.predict_proba(x_pool)
    chosen = (pick or select_for_review)(probs, k, method, labelled)
    answers = probs[chosen].argmax(axis=1) if pseudo_labels else oracle(chosen)
    return np.concatenate([labelled, chosen]), np.concatenate([y_labelled, answers]), probs


def _as_case(probs, k, method, labelled) -> Case:
    return Case("", (probs, k, method, labelled))


ROUND_COMPARE = close_tuple(compare_indices, compare_indices, close_arrays(1e-5, 1e-7),
                            labels=("labelled", "y_labelled", "the model's probabilities on the pool"))

ROUND = Exercise(
    name="active_learning_round",
    cases=_round_cases,
    reference=reference_round,
    compare=ROUND_COMPARE,
    call=_call_round,
    from_scratch=False,
    tolerance="indices and labels exact; probabilities rtol=1e-5",
    mistakes=[
        Mistake("the round asked about the images the model is MOST sure of: review the most uncertain ones.",
                lambda case: reference_round(case, lambda *a: _pick_most_confident(_as_case(*a)))),
        Mistake("labelled rows were sent to the oracle again: pass `labelled` to select_for_review so that they "
                "are left out.", lambda case: reference_round(case, lambda *a: _pick_ignoring_labelled(_as_case(*a)))),
        Mistake("the new labels must come from the oracle (the person), not from the model's own guesses.",
                lambda case: reference_round(case, pseudo_labels=True)),
    ],
)


def _loop_cases(which: str) -> list[Case]:
    rng = _rng(which, 4)
    shapes = ((160, 60, 6, 8, 6, 4, "entropy"), (100, 40, 3, 6, 5, 3, "least_confident")) if which == HIDDEN else \
        ((100, 50, 4, 8, 6, 3, "margin"), (140, 60, 5, 6, 5, 4, "entropy"))
    cases = []
    for n_pool, n_test, dim, n_initial, k, rounds, method in shapes:
        x_pool, y_pool, x_test, y_test = loop_data(rng, n_pool, n_test, dim)
        initial = first_labels(rng, y_pool, n_initial)
        cases.append(Case(f"{n_pool} pool and {n_test} test rows, {n_initial} initial labels, {rounds} rounds of "
                          f"k={k}, {method}",
                          (check_fit, x_pool, x_test, y_test, CheckOracle(y_pool), initial, k, rounds, method)))
    return cases


def history_arrays(history) -> tuple:
    """Kernel side: a history (list of dicts) -> (n_labels (R,), accuracy (R,), selected (R, k))."""
    if not isinstance(history, (list, tuple)) or not all(isinstance(h, dict) for h in history):
        raise TypeError("run_active_learning must return the history: a list with one dict per round")
    missing = [key for key in ("n_labels", "accuracy", "selected") if history and key not in history[0]]
    if missing:
        raise TypeError(f"each round's dict needs the keys 'n_labels', 'accuracy' and 'selected'; missing {missing}")
    return (np.array([h["n_labels"] for h in history], dtype=np.float64),
            np.array([h["accuracy"] for h in history], dtype=np.float64),
            np.array([np.asarray(h["selected"]) for h in history], dtype=np.float64))


def _call_loop(fns: dict, case: Case) -> tuple:
    _own_work(fns, "run_active_learning")
    return history_arrays(fns["run_active_learning"](*case.args))


def reference_loop(case: Case) -> tuple:
    """The reference history of a loop case as arrays."""
    return history_arrays(run_active_learning(*case.args))


def loop_variant(case: Case, retrain: bool = True, test_in_training: bool = False,
                 accuracy_on_pool: bool = False, count_after: bool = False) -> tuple:
    """The loop with one classic mistake switched on, as arrays (what that wrong answer would return)."""
    fit, x_pool, x_test, y_test, oracle, initial, k, rounds, method = case.args
    labelled = np.asarray(initial, dtype=np.int64)
    y = oracle(labelled)
    model, rows = None, []
    for _ in range(rounds):
        if retrain or model is None:
            x_fit, y_fit = x_pool[labelled], y
            if test_in_training:
                x_fit, y_fit = np.concatenate([x_fit, x_test]), np.concatenate([y_fit, y_test])
            model = fit(x_fit, y_fit)
        chosen = select_for_review(model.predict_proba(x_pool), k, method, labelled)
        x_eval, y_eval = (x_pool[labelled], y) if accuracy_on_pool else (x_test, y_test)
        accuracy = float(np.mean(model.predict(x_eval) == y_eval))
        labelled, y = np.concatenate([labelled, chosen]), np.concatenate([y, oracle(chosen)])
        rows.append({"n_labels": len(labelled) if count_after else len(labelled) - len(chosen),
                     "accuracy": accuracy, "selected": chosen})
    return history_arrays(rows)


LOOP = Exercise(
    name="run_active_learning",
    cases=_loop_cases,
    reference=reference_loop,
    compare=close_tuple(close_arrays(0, 0), close_arrays(1e-9, 1e-9), close_arrays(0, 0),
                        labels=("n_labels per round", "accuracy per round", "selected rows per round")),
    call=_call_loop,
    from_scratch=False,
    tolerance="labels and rows exact; accuracies to 1e-9",
    mistakes=[
        Mistake("the model was fitted once and never again: every round must fit a new model on all the labels "
                "gathered so far (call active_learning_round, which fits, each round).",
                lambda case: loop_variant(case, retrain=False)),
        Mistake("the test set leaked into training: fit only on labelled pool rows; x_test and y_test serve only "
                "to measure the accuracy.", lambda case: loop_variant(case, test_in_training=True)),
        Mistake("the accuracy was measured on the labelled training rows: measure it on x_test, y_test, which "
                "the model never saw.", lambda case: loop_variant(case, accuracy_on_pool=True)),
        Mistake("n_labels is the number of labels the round's model was fitted on, counted BEFORE the round's "
                "new labels are added.", lambda case: loop_variant(case, count_after=True)),
    ],
)

EXERCISES = [UNCERTAINTY, REVIEW, TYPICAL, ROUND, LOOP]

check_uncertainty_scores = checker(UNCERTAINTY)
check_select_for_review = checker(REVIEW)
check_typical_samples = checker(TYPICAL)
check_active_learning_round = checker(ROUND)
check_run_active_learning = checker(LOOP)
