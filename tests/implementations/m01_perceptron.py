"""Module 01: plausible wrong implementations (must be rejected) and alternative correct ones (must pass)."""
import math

import numpy as np


# --- sigmoid ---------------------------------------------------------------------------------------------
def wrong_sigmoid__naive_overflows(z):
    return 1 / (1 + np.exp(-np.asarray(z, dtype=np.float64)))


def wrong_sigmoid__sign_flipped(z):
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, e / (1 + e), 1 / (1 + e))


def wrong_sigmoid__clipped_tanh(z):
    return np.tanh(np.clip(z, -50, 50))


def right_sigmoid__masked_float32(z):
    z = np.asarray(z, dtype=np.float32)
    out = np.empty_like(z)
    positive = z >= 0
    out[positive] = 1 / (1 + np.exp(-z[positive]))
    exp_z = np.exp(z[~positive])
    out[~positive] = exp_z / (1 + exp_z)
    return out


def right_sigmoid__tanh_identity(z):
    return 0.5 * (1 + np.tanh(0.5 * np.asarray(z, dtype=np.float64)))


def _scalar_sigmoid(v):
    return 1 / (1 + math.exp(-v)) if v >= 0 else math.exp(v) / (1 + math.exp(v))


def right_sigmoid__frompyfunc(z):
    return np.frompyfunc(_scalar_sigmoid, 1, 1)(z)


# --- neuron_forward --------------------------------------------------------------------------------------
def _stable_sigmoid(z):
    return 0.5 * (1 + np.tanh(0.5 * z))


def wrong_neuron_forward__logits(X, w, b):
    return X @ w + b


def wrong_neuron_forward__no_bias(X, w, b):
    return _stable_sigmoid(X @ w)


def wrong_neuron_forward__column_vector(X, w, b):
    return _stable_sigmoid(X @ w + b).reshape(-1, 1)


def right_neuron_forward__einsum(X, w, b):
    return _stable_sigmoid(np.einsum("nd,d->n", X, w) + b)


# --- binary_cross_entropy --------------------------------------------------------------------------------
def wrong_binary_cross_entropy__sum(y_true, y_prob):
    p = np.clip(y_prob, 1e-7, 1 - 1e-7)
    return -np.sum(y_true * np.log(p) + (1 - y_true) * np.log(1 - p))


def wrong_binary_cross_entropy__unclipped(y_true, y_prob):
    return -np.mean(y_true * np.log(y_prob) + (1 - y_true) * np.log(1 - y_prob))


def wrong_binary_cross_entropy__no_minus(y_true, y_prob):
    p = np.clip(y_prob, 1e-7, 1 - 1e-7)
    return np.mean(y_true * np.log(p) + (1 - y_true) * np.log(1 - p))


def right_binary_cross_entropy__loop_float32(y_true, y_prob):
    total = np.float32(0)
    for y, p in zip(np.asarray(y_true, np.float32), np.asarray(y_prob, np.float32)):
        p = min(max(p, np.float32(1e-12)), np.float32(1) - np.float32(1e-7))
        total += -np.log(p) if y == 1 else -np.log(1 - p)
    return total / len(y_true)


def right_binary_cross_entropy__log_plus_epsilon(y_true, y_prob):
    eps = 1e-7
    return -np.mean(y_true * np.log(y_prob + eps) + (1 - y_true) * np.log(1 - y_prob + eps))


# --- logistic_gradients ----------------------------------------------------------------------------------
def wrong_logistic_gradients__summed(X, y, w, b):
    error = _stable_sigmoid(X @ w + b) - y
    return X.T @ error, np.sum(error)


def wrong_logistic_gradients__sign(X, y, w, b):
    error = y - _stable_sigmoid(X @ w + b)
    return X.T @ error / len(y), np.mean(error)


def wrong_logistic_gradients__no_transpose(X, y, w, b):
    error = _stable_sigmoid(X @ w + b) - y
    return np.full(X.shape[1], error.mean()), np.mean(error)


def right_logistic_gradients__per_sample_loop(X, y, w, b):
    dw, db = np.zeros_like(w, dtype=np.float64), 0.0
    for x_i, y_i in zip(X, y):
        error = _stable_sigmoid(x_i @ w + b) - y_i
        dw += error * x_i
        db += error
    return dw / len(y), db / len(y)


# --- train_logistic_regression ---------------------------------------------------------------------------
def _bce(y, p):
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


def _descend(X, y, lr, epochs, sign=1.0, record_after=False, w0=0.0):
    w, b, losses = np.full(X.shape[1], w0), 0.0, []
    for _ in range(epochs):
        if not record_after:
            losses.append(_bce(y, _stable_sigmoid(X @ w + b)))
        error = _stable_sigmoid(X @ w + b) - y
        w, b = w - sign * lr * X.T @ error / len(y), b - sign * lr * error.mean()
        if record_after:
            losses.append(_bce(y, _stable_sigmoid(X @ w + b)))
    return w, b, np.array(losses)


def wrong_train_logistic_regression__loss_after_update(X, y, lr, epochs):
    return _descend(X, y, lr, epochs, record_after=True)


def wrong_train_logistic_regression__ascent(X, y, lr, epochs):
    return _descend(X, y, lr, epochs, sign=-1.0)


def wrong_train_logistic_regression__ones_init(X, y, lr, epochs):
    return _descend(X, y, lr, epochs, w0=1.0)


def right_train_logistic_regression__augmented_matrix(X, y, lr, epochs):
    Xb = np.hstack([X, np.ones((len(X), 1))]).astype(np.float32)
    theta, losses = np.zeros(Xb.shape[1], np.float32), []
    for _ in range(epochs):
        p = _stable_sigmoid(Xb @ theta)
        losses.append(_bce(y, p))
        theta = theta - np.float32(lr) * Xb.T @ (p - y).astype(np.float32) / len(y)
    return theta[:-1], theta[-1], losses


# --- perceptron_train ------------------------------------------------------------------------------------
def _perceptron(X, y, epochs, inclusive=False, cumulative=False, signed_labels=False, bias=True):
    w, b, errors = np.zeros(X.shape[1]), 0.0, []
    for _ in range(epochs):
        count = 0
        for x_i, y_i in zip(X, y):
            z = x_i @ w + b
            y_hat = int(z >= 0) if inclusive else int(z > 0)
            if signed_labels:
                if y_hat != y_i:
                    w, b = w + y_i * x_i, b + y_i
            else:
                w, b = w + (y_i - y_hat) * x_i, b + (y_i - y_hat) * bias
            count += int(y_hat != y_i)
        errors.append(count)
    return w, b, np.cumsum(errors) if cumulative else errors


def wrong_perceptron_train__inclusive_threshold(X, y, epochs):
    return _perceptron(X, y, epochs, inclusive=True)


def wrong_perceptron_train__cumulative_errors(X, y, epochs):
    return _perceptron(X, y, epochs, cumulative=True)


def wrong_perceptron_train__labels_as_signs(X, y, epochs):
    return _perceptron(X, y, epochs, signed_labels=True)


def wrong_perceptron_train__bias_not_updated(X, y, epochs):
    return _perceptron(X, y, epochs, bias=False)


def right_perceptron_train__signed_internally(X, y, epochs):
    t = 2 * np.asarray(y) - 1
    w, b, errors = np.zeros(X.shape[1]), 0.0, []
    for _ in range(epochs):
        mistakes = 0
        for x_i, t_i in zip(X, t):
            predicted = 1 if x_i @ w + b > 0 else -1
            if predicted != t_i:
                w, b, mistakes = w + t_i * x_i, b + t_i, mistakes + 1
        errors.append(mistakes)
    return w, b, errors


# The hint (a fragment of the check's message) each wrong implementation must get.
EXPECTED_HINTS = {
    "sigmoid": {"naive_overflows": "np.exp only ever sees values <= 0", "sign_flipped": "sign of the exponent",
                "clipped_tanh": "that is tanh(z)"},
    "neuron_forward": {"logits": "these are the logits", "no_bias": "the bias b is missing",
                       "column_vector": "shape (4, 1) differs from the expected (4,)"},
    "binary_cross_entropy": {"sum": "the loss is the mean", "unclipped": "clip y_prob",
                             "no_minus": "the sign is flipped"},
    "logistic_gradients": {"summed": "divide by the number of samples", "sign": "the sign is flipped",
                           "no_transpose": "dw: values differ"},
    "train_logistic_regression": {"loss_after_update": "before the update", "ascent": "the loss goes up",
                                  "ones_init": "w: values differ"},
    "perceptron_train": {"inclusive_threshold": "(strictly)", "cumulative_errors": "not a running total",
                         "labels_as_signs": "values differ", "bias_not_updated": "the bias is never updated"},
}
