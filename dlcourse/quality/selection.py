"""Which images to show a person next: uncertainty scores, the review pick, and typical images for a cold start.

These are the reference implementations of module 07's graded functions; the checks compare students' answers
with them, and the lecture and the loop call them.
"""
from __future__ import annotations

import numpy as np

UNCERTAINTY_METHODS = ("least_confident", "margin", "entropy")


def check_probabilities(probs) -> np.ndarray:
    """probs as a float64 (N, K) array, K >= 2, rows >= 0 summing to 1; ValueError saying what is wrong."""
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[1] < 2:
        raise ValueError(f"probs must have shape (N, K) with K >= 2 classes (one row per image, e.g. "
                         f"model.predict_proba(x)); got shape {probs.shape}.")
    if np.any(probs < 0) or not np.allclose(probs.sum(axis=1), 1, atol=1e-4):
        raise ValueError("each row of probs must hold probabilities (>= 0, summing to 1): pass predict_proba's "
                         "output, or apply a softmax to logits first.")
    return probs


def uncertainty_scores(probs, method: str = "margin") -> np.ndarray:
    """How unsure a classifier is about each image: (N,) float64, higher = more uncertain.

    probs (N, K) class probabilities. method:
    - "least_confident": 1 - max_k p_k
    - "margin": 1 - (p_(1) - p_(2)), the gap between the two largest probabilities taken from 1
    - "entropy": -sum_k p_k ln p_k in nats, with 0 ln 0 = 0
    """
    probs = check_probabilities(probs)
    if method == "least_confident":
        return 1.0 - probs.max(axis=1)
    if method == "margin":
        top_two = np.sort(probs, axis=1)[:, -2:]
        return 1.0 - (top_two[:, 1] - top_two[:, 0])
    if method == "entropy":
        logs = np.log(probs, out=np.zeros_like(probs), where=probs > 0)
        return -(probs * logs).sum(axis=1)
    raise ValueError(f"unknown uncertainty method {method!r}; use one of {', '.join(UNCERTAINTY_METHODS)}.")


def unlabelled_mask(n: int, labelled) -> np.ndarray:
    """(n,) bool, True for the rows not in labelled (indices, or None for none); ValueError for bad indices."""
    free = np.ones(n, dtype=bool)
    if labelled is None:
        return free
    labelled = np.asarray(labelled)
    if labelled.size and (not np.issubdtype(labelled.dtype, np.integer) or labelled.min() < 0 or labelled.max() >= n):
        raise ValueError(f"labelled must hold row indices between 0 and {n - 1}; got {labelled[:5]}...")
    free[labelled.astype(np.int64)] = False
    return free


def select_for_review(probs, k: int, method: str = "margin", labelled=None) -> np.ndarray:
    """The k unlabelled rows the classifier is least sure about, most uncertain first: (min(k, free),) int64.

    probs (N, K); labelled -- indices of rows that already have a label (never selected again), or None.
    Equal scores keep the lower row index first. When fewer than k rows are unlabelled, all of them come back.
    """
    if int(k) != k or k < 0:
        raise ValueError(f"k must be a whole number >= 0 of images to review; got {k!r}.")
    scores = uncertainty_scores(probs, method)
    free = np.flatnonzero(unlabelled_mask(len(scores), labelled))
    order = np.argsort(-scores[free], kind="stable")
    return free[order[:k]].astype(np.int64)


def typical_samples(features, k: int, seed: int = 0) -> np.ndarray:
    """A cold start: for each of k k-means clusters of features (N, D), the row nearest its centroid; (k,) int64.

    Rows come in the order of the clusters; no row appears twice.
    """
    from sklearn.cluster import KMeans

    features = np.asarray(features, dtype=np.float64)
    if not 1 <= k <= len(features):
        raise ValueError(f"k={k} typical samples cannot be drawn from {len(features)} rows; "
                         f"choose 1 <= k <= {len(features)}.")
    kmeans = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(features)
    distances = kmeans.transform(features)  # (N, k): distance of every row to every centroid
    chosen: list[int] = []
    for cluster in range(k):
        for row in np.argsort(distances[:, cluster], kind="stable"):
            if row not in chosen:
                chosen.append(int(row))
                break
    return np.array(chosen, dtype=np.int64)
