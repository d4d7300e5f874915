"""Module 07: plausible wrong implementations (must be rejected) and alternative correct ones (must pass).

The right ones are written the way other courses and libraries do it: scipy's entropy, np.partition for the two
largest probabilities, a boolean mask instead of setdiff, KMeans with n_init="auto" and pairwise_distances_argmin,
a loop that keeps a set of labelled rows.
"""
import numpy as np


# --- uncertainty_scores ----------------------------------------------------------------------------------
def _scores(probs, method, margin=None, entropy=None, confidence=None):
    probs = np.asarray(probs, dtype=float)
    if method == "least_confident":
        return (confidence or (lambda p: 1 - p.max(axis=1)))(probs)
    if method == "margin":
        return (margin or (lambda p: 1 - np.diff(np.sort(p, axis=1)[:, -2:], axis=1)[:, 0]))(probs)
    logs = np.log(np.where(probs > 0, probs, 1.0))
    return (entropy or (lambda p: -(p * logs).sum(axis=1)))(probs)


def wrong_uncertainty_scores__confidence_not_uncertainty(probs, method="margin"):
    return _scores(probs, method, confidence=lambda p: p.max(axis=1))


def wrong_uncertainty_scores__margin_unsorted(probs, method="margin"):
    return _scores(probs, method, margin=lambda p: 1 - np.abs(p[:, 0] - p[:, 1]))


def wrong_uncertainty_scores__margin_sign(probs, method="margin"):
    return _scores(probs, method, margin=lambda p: np.diff(np.sort(p, axis=1)[:, -2:], axis=1)[:, 0])


def wrong_uncertainty_scores__entropy_sign(probs, method="margin"):
    return _scores(probs, method, entropy=lambda p: (p * np.log(np.where(p > 0, p, 1.0))).sum(axis=1))


def wrong_uncertainty_scores__entropy_base_2(probs, method="margin"):
    return _scores(probs, method, entropy=lambda p: -(p * np.log2(np.where(p > 0, p, 1.0))).sum(axis=1))


def wrong_uncertainty_scores__entropy_log_of_zero(probs, method="margin"):
    return _scores(probs, method, entropy=lambda p: -np.nansum(p * np.log(p), axis=1))


def right_uncertainty_scores__scipy_and_partition(probs, method="margin"):
    from scipy.stats import entropy

    probs = np.asarray(probs, dtype=np.float64)
    if method == "entropy":
        return entropy(probs, axis=1)
    if method == "margin":
        top_two = np.partition(probs, -2, axis=1)[:, -2:]
        return 1 - (top_two[:, 1] - top_two[:, 0])
    return 1 - np.amax(probs, axis=1)


def right_uncertainty_scores__xlogy_float32(probs, method="margin"):
    from scipy.special import xlogy

    probs = np.asarray(probs, dtype=np.float32)
    ranked = -np.sort(-probs, axis=1)
    scores = {"least_confident": lambda: 1 - ranked[:, 0], "margin": lambda: 1 - ranked[:, 0] + ranked[:, 1],
              "entropy": lambda: -xlogy(probs, probs).sum(axis=1)}
    return scores[method]()


# --- select_for_review -----------------------------------------------------------------------------------
def _free_rows(n, labelled):
    return np.setdiff1d(np.arange(n), [] if labelled is None else labelled)


def wrong_select_for_review__most_confident(probs, k, method="margin", labelled=None):
    scores = right_uncertainty_scores__scipy_and_partition(probs, method)
    free = _free_rows(len(probs), labelled)
    return free[np.argsort(scores[free], kind="stable")][:k]


def wrong_select_for_review__reselects_labelled(probs, k, method="margin", labelled=None):
    scores = right_uncertainty_scores__scipy_and_partition(probs, method)
    return np.argsort(-scores, kind="stable")[:k]


def wrong_select_for_review__reversed_ties(probs, k, method="margin", labelled=None):
    scores = right_uncertainty_scores__scipy_and_partition(probs, method)
    free = _free_rows(len(probs), labelled)
    return free[np.argsort(scores[free], kind="stable")[::-1]][:k]


def wrong_select_for_review__positions_not_rows(probs, k, method="margin", labelled=None):
    scores = right_uncertainty_scores__scipy_and_partition(probs, method)
    free = _free_rows(len(probs), labelled)
    return np.argsort(-scores[free], kind="stable")[:k]


def right_select_for_review__mask_and_lexsort(probs, k, method="margin", labelled=None):
    scores = right_uncertainty_scores__xlogy_float32(probs, method).astype(np.float64)
    free = np.ones(len(scores), dtype=bool)
    if labelled is not None:
        free[np.asarray(labelled, dtype=int)] = False
    rows = np.arange(len(scores))[free]
    order = np.lexsort((rows, -scores[free]))  # by score descending, then by row
    return rows[order][:k]


def right_select_for_review__sorted_pairs(probs, k, method="margin", labelled=None):
    scores = right_uncertainty_scores__scipy_and_partition(probs, method)
    taken = set() if labelled is None else {int(i) for i in labelled}
    pairs = sorted((-score, row) for row, score in enumerate(scores) if row not in taken)
    return np.array([row for _, row in pairs[:k]], dtype=int)


# --- typical_samples -------------------------------------------------------------------------------------
def _kmeans(features, k, seed):
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=k, n_init=3, random_state=seed).fit(features)


def wrong_typical_samples__farthest_from_centroid(features, k, seed=0):
    kmeans = _kmeans(features, k, seed)
    distances = kmeans.transform(features)
    return np.array([np.flatnonzero(kmeans.labels_ == c)[np.argmax(distances[kmeans.labels_ == c, c])]
                     for c in range(k)])


def wrong_typical_samples__first_member(features, k, seed=0):
    labels = _kmeans(features, k, seed).labels_
    return np.array([np.flatnonzero(labels == c)[0] for c in range(k)])


def wrong_typical_samples__random_rows(features, k, seed=0):
    return np.random.default_rng(seed).choice(len(features), k, replace=False)


def wrong_typical_samples__centroids(features, k, seed=0):
    return _kmeans(features, k, seed).cluster_centers_


def right_typical_samples__auto_init_argmin(features, k, seed=0):
    from sklearn.cluster import KMeans
    from sklearn.metrics import pairwise_distances_argmin

    centroids = KMeans(n_clusters=k, n_init="auto", random_state=seed).fit(features).cluster_centers_
    return pairwise_distances_argmin(centroids, features)


def right_typical_samples__scipy_kmeans2(features, k, seed=0):
    from scipy.cluster.vq import kmeans2

    features = np.asarray(features, dtype=np.float64)
    best = None
    for attempt in range(5):  # kmeans2 has no restarts of its own
        centroids, labels = kmeans2(features, k, minit="++", seed=seed + attempt)
        inertia = ((features - centroids[labels]) ** 2).sum()
        if best is None or inertia < best[0]:
            best = (inertia, centroids)
    distances = ((features[:, None, :] - best[1][None]) ** 2).sum(axis=2)
    return distances.argmin(axis=0)


# --- active_learning_round and run_active_learning -------------------------------------------------------
def _round(fit, x_pool, labelled, y_labelled, oracle, k, method, pick=right_select_for_review__sorted_pairs,
           pseudo=False):
    model = fit(x_pool[labelled], y_labelled)
    probs = model.predict_proba(x_pool)
    chosen = pick(probs, k, method, labelled)
    answers = probs[chosen].argmax(axis=1) if pseudo else oracle(chosen)
    return np.concatenate([labelled, chosen]), np.concatenate([y_labelled, answers]), model


def wrong_active_learning_round__most_confident(fit, x_pool, labelled, y_labelled, oracle, k, method="margin"):
    return _round(fit, x_pool, labelled, y_labelled, oracle, k, method, pick=wrong_select_for_review__most_confident)


def wrong_active_learning_round__reselects_labelled(fit, x_pool, labelled, y_labelled, oracle, k, method="margin"):
    return _round(fit, x_pool, labelled, y_labelled, oracle, k, method,
                  pick=wrong_select_for_review__reselects_labelled)


def wrong_active_learning_round__model_guesses_as_labels(fit, x_pool, labelled, y_labelled, oracle, k,
                                                         method="margin"):
    return _round(fit, x_pool, labelled, y_labelled, oracle, k, method, pseudo=True)


def right_active_learning_round__lists(fit, x_pool, labelled, y_labelled, oracle, k, method="margin"):
    model = fit(x_pool[np.asarray(labelled)], np.asarray(y_labelled))
    chosen = right_select_for_review__mask_and_lexsort(model.predict_proba(x_pool), k, method, labelled)
    new_labels = list(oracle(chosen))
    return np.array(list(labelled) + list(chosen)), np.array(list(y_labelled) + new_labels), model


def _loop(fit, x_pool, x_test, y_test, oracle, initial, k, rounds, method, retrain=True, leak=False,
          on_pool=False, count_after=False):
    labelled = np.asarray(initial)
    y = oracle(labelled)
    model, history = None, []
    for _ in range(rounds):
        if retrain or model is None:
            x_fit, y_fit = x_pool[labelled], y
            if leak:
                x_fit, y_fit = np.vstack([x_fit, x_test]), np.concatenate([y_fit, y_test])
            model = fit(x_fit, y_fit)
        chosen = right_select_for_review__sorted_pairs(model.predict_proba(x_pool), k, method, labelled)
        x_eval, y_eval = (x_pool[labelled], y) if on_pool else (x_test, y_test)
        accuracy = np.mean(model.predict(x_eval) == y_eval)
        labelled, y = np.concatenate([labelled, chosen]), np.concatenate([y, oracle(chosen)])
        history.append({"n_labels": len(labelled) if count_after else len(labelled) - k, "accuracy": accuracy,
                        "selected": chosen})
    return history


def wrong_run_active_learning__not_retrained(fit, x_pool, x_test, y_test, oracle, initial, k, rounds,
                                             method="margin"):
    return _loop(fit, x_pool, x_test, y_test, oracle, initial, k, rounds, method, retrain=False)


def wrong_run_active_learning__test_in_training(fit, x_pool, x_test, y_test, oracle, initial, k, rounds,
                                                method="margin"):
    return _loop(fit, x_pool, x_test, y_test, oracle, initial, k, rounds, method, leak=True)


def wrong_run_active_learning__test_rows_in_pool(fit, x_pool, x_test, y_test, oracle, initial, k, rounds,
                                                 method="margin"):
    return _loop(fit, np.vstack([x_pool, x_test]), x_test, y_test, oracle, initial, k, rounds, method)


def wrong_run_active_learning__accuracy_on_training_rows(fit, x_pool, x_test, y_test, oracle, initial, k, rounds,
                                                         method="margin"):
    return _loop(fit, x_pool, x_test, y_test, oracle, initial, k, rounds, method, on_pool=True)


def wrong_run_active_learning__counted_after_adding(fit, x_pool, x_test, y_test, oracle, initial, k, rounds,
                                                    method="margin"):
    return _loop(fit, x_pool, x_test, y_test, oracle, initial, k, rounds, method, count_after=True)


def right_run_active_learning__uses_round(fit, x_pool, x_test, y_test, oracle, initial, k, rounds,
                                          method="margin"):
    labelled = np.asarray(initial)
    y = np.asarray(oracle(labelled))
    history = []
    for number in range(rounds):
        new_labelled, new_y, model = right_active_learning_round__lists(fit, x_pool, labelled, y, oracle, k, method)
        history.append({"round": number, "n_labels": len(labelled),
                        "accuracy": float((model.predict(x_test) == y_test).mean()),
                        "selected": new_labelled[len(labelled):]})
        labelled, y = new_labelled, new_y
    return history


EXPECTED_HINTS = {
    "uncertainty_scores": {
        "confidence_not_uncertainty": "higher must mean MORE uncertain",
        "margin_unsorted": "sort each row first",
        "margin_sign": "return 1 - (p(1) - p(2))",
        "entropy_sign": "without the minus sign",
        "entropy_base_2": "log base 2",
        "entropy_log_of_zero": "0 ln 0 counts as 0",
    },
    "select_for_review": {
        "most_confident": "MOST sure about",
        "reselects_labelled": "already labelled were selected again",
        "reversed_ties": "lower row index first",
        "positions_not_rows": "positions among the unlabelled rows",
    },
    "typical_samples": {
        "farthest_from_centroid": "FARTHEST from their cluster's centroid",
        "first_member": "first row of each cluster",
        "random_rows": "look like random rows",
        "centroids": "not the centroids",
    },
    "active_learning_round": {
        "most_confident": "MOST sure of",
        "reselects_labelled": "labelled rows were sent to the oracle again",
        "model_guesses_as_labels": "not from the model's own guesses",
    },
    "run_active_learning": {
        "not_retrained": "fitted once and never again",
        "test_in_training": "the test set leaked into training",
        "test_rows_in_pool": "are test rows in the pool?",
        "accuracy_on_training_rows": "measured on the labelled training rows",
        "counted_after_adding": "counted BEFORE the round's",
    },
}
