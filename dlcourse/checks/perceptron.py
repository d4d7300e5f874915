"""Checks of module 01_perceptron: the neuron as logistic regression, and the perceptron rule.

References are closed forms in float64 (SciPy's ``expit`` for the sigmoid); tests/ confirms them against
TensorFlow's ops and ``tf.GradientTape``.
"""
from __future__ import annotations

import numpy as np
from scipy.special import expit

from .core import (HIDDEN, LOG_EPSILON, LOG_EPSILON_NOTE, Case, Exercise, Mistake, case_rng, checker, close_arrays,
                   close_tuple, log_loss_between)

# Probabilities are clipped to [EPS, 1 - EPS] before the logarithm (Keras uses 1e-7 too).
EPS = LOG_EPSILON
RTOL, ATOL = 1e-5, 1e-7
TOLERANCE = f"rtol={RTOL:g}, atol={ATOL:g} (float32 inputs pass)"


def _rng(which: str, salt: int) -> np.random.Generator:
    return case_rng(1, which, salt)


def _blobs(which: str, salt: int, n: int, d: int, separable: bool) -> tuple[np.ndarray, np.ndarray]:
    """Two Gaussian blobs: X (n, d) float64, y (n,) int64 in {0, 1}; separable blobs sit far apart."""
    rng = _rng(which, salt)
    y = np.arange(n) % 2
    shift = 3.0 if separable else 0.8
    X = rng.normal(size=(n, d)) + np.where(y[:, None] == 1, shift, -shift)
    order = rng.permutation(n)
    return X[order], y[order].astype(np.int64)


def _bce(y: np.ndarray, p: np.ndarray, reduce=np.mean) -> float:
    p = np.clip(p, EPS, 1 - EPS)
    return float(reduce(-(y * np.log(p) + (1 - y) * np.log(1 - p))))


def _bce_between(case: Case):
    """The reference loss: any epsilon up to EPS in the logarithm passes (core.log_loss_between)."""
    y, p = (np.asarray(a, dtype=np.float64) for a in case.args)
    return log_loss_between(np.where(y == 1, p, 1 - p))


def _sigmoid_cases(which: str) -> list[Case]:
    rng = _rng(which, 0)
    if which == HIDDEN:
        return [Case("a (3, 4) matrix keeps its shape", (rng.normal(scale=4, size=(3, 4)),)),
                Case("extreme values of both signs", (np.array([-1e4, -745.0, 745.0, 1e4, 0.0]),)),
                Case("a float32 vector", (rng.normal(size=6).astype(np.float32),))]
    return [Case("a scalar: sigmoid(0) = 0.5", (np.float64(0.0),)),
            Case("a vector of moderate values", (np.linspace(-6, 6, 7),)),
            Case("large |z| must not overflow", (np.array([-1000.0, -50.0, 50.0, 1000.0]),))]


SIGMOID = Exercise(
    name="sigmoid",
    cases=_sigmoid_cases,
    reference=lambda case: expit(np.asarray(case.args[0], dtype=np.float64)),
    compare=close_arrays(RTOL, ATOL),
    tolerance=TOLERANCE,
    warning_hint="for large negative z, exp(-z) overflows. Split the computation by the sign of z so that "
                 "np.exp only ever sees values <= 0 (np.where evaluates both branches, so use a mask).",
    mistakes=[Mistake("sigmoid(z) = 1 / (1 + exp(-z)): check the sign of the exponent.",
                      lambda case: expit(-np.asarray(case.args[0], dtype=np.float64))),
              Mistake("that is tanh(z); the sigmoid is 1 / (1 + exp(-z)), with values in (0, 1).",
                      lambda case: np.tanh(case.args[0]))],
)


def _neuron_cases(which: str) -> list[Case]:
    rng = _rng(which, 1)
    n, d = (7, 5) if which == HIDDEN else (4, 3)
    cases = [Case(f"X ({n}, {d}), w ({d},), b", (rng.normal(size=(n, d)), rng.normal(size=d), 0.5))]
    if which == HIDDEN:
        cases.append(Case("one sample, large weights", (rng.normal(size=(1, d)), 300 * rng.normal(size=d), -2.0)))
    else:
        cases.append(Case("zero weights give 0.5 everywhere", (rng.normal(size=(2, d)), np.zeros(d), 0.0)))
    return cases


def _logits(case: Case) -> np.ndarray:
    X, w, b = case.args
    return np.asarray(X, np.float64) @ np.asarray(w, np.float64) + b


NEURON_FORWARD = Exercise(
    name="neuron_forward",
    cases=_neuron_cases,
    reference=lambda case: expit(_logits(case)),
    compare=close_arrays(RTOL, ATOL),
    tolerance=TOLERANCE,
    mistakes=[Mistake("these are the logits z = Xw + b; the neuron's output is sigmoid(z).", _logits),
              Mistake("the bias b is missing: z = X @ w + b.", lambda case: expit(case.args[0] @ case.args[1]))],
)


def _bce_cases(which: str) -> list[Case]:
    rng = _rng(which, 2)
    n = 9 if which == HIDDEN else 6
    y = (np.arange(n) % 2).astype(np.float64)
    p = rng.uniform(0.05, 0.95, size=n)
    cases = [Case(f"{n} samples", (y, p))]
    if which == HIDDEN:
        cases += [Case("confident and right: loss is 0 (clip before log)", (np.array([1.0, 0.0]), np.array([1.0, 0.0]))),
                  Case("float32 probabilities", (y.astype(np.float32), p.astype(np.float32)))]
    else:
        cases += [Case("a perfect guess of 0.5 costs log 2", (np.array([0.0, 1.0]), np.array([0.5, 0.5])))]
    return cases


BINARY_CROSS_ENTROPY = Exercise(
    name="binary_cross_entropy",
    cases=_bce_cases,
    reference=_bce_between,
    compare=close_arrays(RTOL, 1e-6),
    tolerance=f"rtol={RTOL:g}, atol=1e-6; {LOG_EPSILON_NOTE}",
    warning_hint=f"log(0) is -inf: clip y_prob to [{EPS:g}, 1 - {EPS:g}] before taking the logarithm.",
    mistakes=[Mistake("that is the sum over samples; the loss is the mean (divide by N).",
                      lambda case: _bce(*case.args, reduce=np.sum)),
              Mistake("the sign is flipped: the loss is -mean(y log p + (1 - y) log(1 - p)), never negative.",
                      lambda case: -_bce(*case.args)),
              Mistake("y_true and y_prob are swapped in the formula: the logarithm is taken of the probabilities.",
                      lambda case: _bce(case.args[1], case.args[0]))],
)


def _gradient_cases(which: str) -> list[Case]:
    X, y = _blobs(which, 3, n=8 if which == HIDDEN else 6, d=3, separable=False)
    rng = _rng(which, 4)
    return [Case("random weights", (X, y, rng.normal(size=3), 0.1)),
            Case("zero weights", (X, y, np.zeros(3), 0.0))]


def _gradients(case: Case, reduce=np.mean, sign: float = 1.0) -> tuple[np.ndarray, float]:
    X, y, w, b = case.args
    error = sign * (expit(X @ w + b) - y)
    scale = len(y) if reduce is np.mean else 1
    return X.T @ error / scale, float(reduce(error))


LOGISTIC_GRADIENTS = Exercise(
    name="logistic_gradients",
    cases=_gradient_cases,
    reference=_gradients,
    compare=close_tuple(close_arrays(RTOL, ATOL), close_arrays(RTOL, ATOL), labels=("dw", "db")),
    tolerance=TOLERANCE,
    mistakes=[Mistake("these are the gradients of the summed loss; divide by the number of samples N.",
                      lambda case: _gradients(case, reduce=np.sum)),
              Mistake("the sign is flipped: dL/dz = p - y (prediction minus target).",
                      lambda case: _gradients(case, sign=-1.0))],
)


def _train_cases(which: str) -> list[Case]:
    X, y = _blobs(which, 5, n=40 if which == HIDDEN else 20, d=2, separable=False)
    return [Case("20 epochs, lr=0.5" if which != HIDDEN else "35 epochs, lr=0.3",
                 (X, y), {"lr": 0.5 if which != HIDDEN else 0.3, "epochs": 20 if which != HIDDEN else 35})]


def _gradient_descent(case: Case, sign: float = 1.0, record_after: bool = False):
    (X, y), lr, epochs = case.args, case.kwargs["lr"], case.kwargs["epochs"]
    w, b, losses = np.zeros(X.shape[1]), 0.0, []
    for _ in range(epochs):
        if not record_after:
            losses.append(_bce(y, expit(X @ w + b)))
        dw, db = _gradients(Case("", (X, y, w, b)))
        w, b = w - sign * lr * dw, b - sign * lr * db
        if record_after:
            losses.append(_bce(y, expit(X @ w + b)))
    return w, b, np.array(losses)


TRAIN_LOGISTIC_REGRESSION = Exercise(
    name="train_logistic_regression",
    cases=_train_cases,
    reference=_gradient_descent,
    compare=close_tuple(close_arrays(1e-4, 1e-6), close_arrays(1e-4, 1e-6), close_arrays(1e-4, 1e-6),
                        labels=("w", "b", "losses")),
    tolerance="rtol=1e-4, atol=1e-6",
    mistakes=[Mistake("record each epoch's loss before the update (losses[0] is the loss of the zero weights).",
                      lambda case: _gradient_descent(case, record_after=True)),
              Mistake("the loss goes up: step against the gradient, w = w - lr * dw.",
                      lambda case: _gradient_descent(case, sign=-1.0))],
)


def _perceptron_cases(which: str) -> list[Case]:
    X, y = _blobs(which, 6, n=30 if which == HIDDEN else 16, d=2, separable=True)
    cases = [Case("separable blobs, 6 epochs", (X, y, 6))]
    if which == HIDDEN:
        cases.append(Case("XOR never converges", (np.array([[0.0, 0], [0, 1], [1, 0], [1, 1]]),
                                                   np.array([0, 1, 1, 0]), 5)))
    return cases


def _perceptron(case: Case, threshold_inclusive: bool = False, cumulative: bool = False, bias_rate: int = 1):
    X, y, epochs = case.args
    w, b, errors = np.zeros(X.shape[1]), 0.0, []
    for _ in range(epochs):
        mistakes = 0
        for x_i, y_i in zip(X, y):
            z = x_i @ w + b
            y_hat = int(z >= 0) if threshold_inclusive else int(z > 0)
            w, b = w + (y_i - y_hat) * x_i, b + bias_rate * (y_i - y_hat)
            mistakes += int(y_hat != y_i)
        errors.append(mistakes)
    errors = np.cumsum(errors) if cumulative else np.array(errors)
    return w, float(b), errors


PERCEPTRON_TRAIN = Exercise(
    name="perceptron_train",
    cases=_perceptron_cases,
    reference=_perceptron,
    compare=close_tuple(close_arrays(1e-9, 1e-9), close_arrays(1e-9, 1e-9), close_arrays(0, 0),
                        labels=("w", "b", "errors_per_epoch")),
    tolerance="exact (the perceptron rule is deterministic)",
    mistakes=[Mistake("predict 1 only when w·x + b > 0 (strictly); at exactly 0 predict 0.",
                      lambda case: _perceptron(case, threshold_inclusive=True)),
              Mistake("errors_per_epoch counts the mistakes within each epoch, not a running total.",
                      lambda case: _perceptron(case, cumulative=True)),
              Mistake("the bias is never updated: on a mistake the rule changes b too, b = b + (y - y_hat), "
                      "like w = w + (y - y_hat) * x (b is the weight of an input that is always 1).",
                      lambda case: _perceptron(case, bias_rate=0))],
)

EXERCISES = (SIGMOID, NEURON_FORWARD, BINARY_CROSS_ENTROPY, LOGISTIC_GRADIENTS, TRAIN_LOGISTIC_REGRESSION,
             PERCEPTRON_TRAIN)

check_sigmoid = checker(SIGMOID)
check_neuron_forward = checker(NEURON_FORWARD)
check_binary_cross_entropy = checker(BINARY_CROSS_ENTROPY)
check_logistic_gradients = checker(LOGISTIC_GRADIENTS)
check_train_logistic_regression = checker(TRAIN_LOGISTIC_REGRESSION)
check_perceptron_train = checker(PERCEPTRON_TRAIN)
