"""Does "90 % sure" mean right 9 times in 10? Reliability curves, expected calibration error, temperature scaling."""
from __future__ import annotations

import numpy as np


def reliability_curve(probs, y, n_bins: int = 10):
    """Per confidence bin: (mean confidence (B,), accuracy (B,), count (B,)) of probs (N, K) against labels y (N,).

    Confidence is the top probability; bins split [1/K, 1] evenly; empty bins come back with count 0 and NaN.
    """
    probs, y = np.asarray(probs, dtype=np.float64), np.asarray(y)
    confidence, correct = probs.max(axis=1), probs.argmax(axis=1) == y
    edges = np.linspace(1.0 / probs.shape[1], 1.0, n_bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, n_bins - 1)
    count = np.bincount(which, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_confidence = np.bincount(which, confidence, n_bins) / count
        accuracy = np.bincount(which, correct.astype(float), n_bins) / count
    return mean_confidence, accuracy, count


def expected_calibration_error(probs, y, n_bins: int = 10) -> float:
    """ECE: the count-weighted mean gap |accuracy - confidence| over the bins of reliability_curve."""
    confidence, accuracy, count = reliability_curve(probs, y, n_bins)
    filled = count > 0
    return float(np.sum(count[filled] * np.abs(accuracy[filled] - confidence[filled])) / count.sum())


def softmax(logits, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of logits (N, K) / temperature, computed stably: (N, K)."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def binary_logits(model, x) -> np.ndarray:
    """(N, 2) logits [0, decision] of a fitted binary sklearn classifier: their softmax is its predict_proba."""
    decision = np.asarray(model.decision_function(x), dtype=np.float64)
    return np.stack([np.zeros_like(decision), decision], axis=1)


def fit_temperature(logits, y) -> float:
    """The temperature T > 0 that minimises the negative log-likelihood of softmax(logits / T) on labels y (N,)."""
    from scipy.optimize import minimize_scalar

    logits, y = np.asarray(logits, dtype=np.float64), np.asarray(y)

    def nll(log_t: float) -> float:
        z = logits / np.exp(log_t)
        z = z - z.max(axis=1, keepdims=True)
        return float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(y)), y]))

    return float(np.exp(minimize_scalar(nll, bounds=(-5, 5), method="bounded").x))
