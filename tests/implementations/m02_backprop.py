"""Module 02: plausible wrong implementations (must be rejected) and alternative correct ones (must pass)."""
import numpy as np


# --- dense_forward ---------------------------------------------------------------------------------------
def wrong_dense_forward__no_bias(x, W, b):
    return x @ W, (x, W)


def wrong_dense_forward__relu_inside(x, W, b):
    return np.maximum(x @ W + b, 0), (x, W)


def wrong_dense_forward__only_out(x, W, b):
    return x @ W + b


def right_dense_forward__loops_float32(x, W, b):
    x32, W32 = np.asarray(x, np.float32), np.asarray(W, np.float32)
    out = np.zeros((x32.shape[0], W32.shape[1]), np.float32)
    for n in range(x32.shape[0]):
        for m in range(W32.shape[1]):
            out[n, m] = np.dot(x32[n], W32[:, m]) + b[m]
    return out, {"x": x, "W": W, "b": b}


def right_dense_forward__einsum_list(x, W, b):
    return [np.einsum("nd,dm->nm", x, W) + b[None, :], [x, W]]


# --- dense_backward --------------------------------------------------------------------------------------
def wrong_dense_backward__dW_transposed(dout, cache):
    x, W = cache
    return dout @ W.T, dout.T @ x, dout.sum(axis=0)


def wrong_dense_backward__db_not_summed(dout, cache):
    x, W = cache
    return dout @ W.T, x.T @ dout, dout


def wrong_dense_backward__db_mean(dout, cache):
    x, W = cache
    return dout @ W.T, x.T @ dout, dout.mean(axis=0)


def wrong_dense_backward__averaged_dW(dout, cache):
    x, W = cache
    return dout @ W.T, x.T @ dout / len(x), dout.sum(axis=0)


def wrong_dense_backward__deeplearning_ai_one_over_m(dout, cache):
    x, W = cache
    m = len(x)
    return dout @ W.T, x.T @ dout / m, np.sum(dout, axis=0) / m


def right_dense_backward__per_sample_loop(dout, cache):
    x, W = cache
    dx = np.zeros(x.shape)
    dW = np.zeros(W.shape)
    db = np.zeros(W.shape[1])
    for x_n, dout_n in zip(x, dout):
        dW += np.outer(x_n, dout_n)
        db += dout_n
    for n in range(len(x)):
        dx[n] = W @ dout[n]
    return dx, dW, db


def right_dense_backward__float32_einsum(dout, cache):
    x, W = (np.asarray(a, np.float32) for a in cache)
    dout = np.asarray(dout, np.float32)
    return np.einsum("nm,dm->nd", dout, W), np.einsum("nd,nm->dm", x, dout), np.einsum("nm->m", dout)


# --- relu_forward ----------------------------------------------------------------------------------------
def wrong_relu_forward__mask(x):
    return (x > 0).astype(float), x


def wrong_relu_forward__abs(x):
    return np.abs(x), x


def wrong_relu_forward__leaky(x):
    return np.where(x > 0, x, 0.01 * x), x


def right_relu_forward__multiply_by_mask(x):
    mask = x > 0
    return x * mask, mask


def wrong_relu_forward__zeroes_input_in_place(x):
    x[x < 0] = 0
    return x, x > 0


# --- relu_backward ---------------------------------------------------------------------------------------
def wrong_relu_backward__inclusive_at_zero(dout, cache):
    return dout * (cache >= 0)


def wrong_relu_backward__mask_only(dout, cache):
    return (cache > 0).astype(float)


def wrong_relu_backward__mask_from_dout(dout, cache):
    return dout * (dout > 0)


def wrong_relu_backward__times_relu(dout, cache):
    return dout * np.maximum(cache, 0)


def right_relu_backward__where_float32(dout, cache):
    return np.where(np.asarray(cache) > 0, np.asarray(dout, np.float32), np.float32(0))


def right_relu_backward__copy_and_zero(dout, cache):
    dx = np.array(dout, dtype=np.float64)
    dx[cache <= 0] = 0
    return dx


# --- softmax_cross_entropy -------------------------------------------------------------------------------
def _log_softmax(logits, axis=1):
    shifted = logits - np.max(logits, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _cross_entropy(log_probs, y, reduce_by):
    rows = np.arange(len(y))
    dlogits = np.exp(log_probs)
    dlogits[rows, y] -= 1
    return -np.sum(log_probs[rows, y]) / reduce_by, dlogits / reduce_by


def wrong_softmax_cross_entropy__axis0(logits, y):
    return _cross_entropy(_log_softmax(logits, axis=0), y, len(y))


def wrong_softmax_cross_entropy__no_max_subtraction(logits, y):
    probs = np.exp(logits) / np.sum(np.exp(logits), axis=1, keepdims=True)
    return _cross_entropy(np.log(probs), y, len(y))


def wrong_softmax_cross_entropy__sum(logits, y):
    return _cross_entropy(_log_softmax(logits), y, 1)


def wrong_softmax_cross_entropy__gradient_not_averaged(logits, y):
    loss, dlogits = _cross_entropy(_log_softmax(logits), y, len(y))
    return loss, dlogits * len(y)


def right_softmax_cross_entropy__probs_float32_one_hot(logits, y):
    z = np.asarray(logits, np.float32)
    exp = np.exp(z - z.max(axis=1, keepdims=True))
    probs = exp / exp.sum(axis=1, keepdims=True)
    one_hot = np.eye(z.shape[1], dtype=np.float32)[y]
    loss = -np.mean(np.log(np.sum(probs * one_hot, axis=1)))
    return loss, (probs - one_hot) / len(y)


def right_softmax_cross_entropy__log_sum_exp_loop(logits, y):
    logits = np.asarray(logits, np.float64)
    loss, dlogits = 0.0, np.zeros_like(logits)
    for n, (row, label) in enumerate(zip(logits, y)):
        top = row.max()
        log_total = top + np.log(np.sum(np.exp(row - top)))
        loss += log_total - row[label]
        dlogits[n] = np.exp(row - log_total)
        dlogits[n, label] -= 1
    return loss / len(y), dlogits / len(y)


def right_softmax_cross_entropy__log_plus_epsilon(logits, y):
    shifted = logits - logits.max(axis=1, keepdims=True)
    probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    rows = np.arange(len(y))
    loss = -np.mean(np.log(probs[rows, y] + 1e-7))
    dlogits = probs.copy()
    dlogits[rows, y] -= 1
    return loss, dlogits / len(y)


# --- numerical_gradient ----------------------------------------------------------------------------------
def wrong_numerical_gradient__forward_difference(f, x, h=1e-5):
    grad, base = np.zeros_like(x), f(x)
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original + h
        grad[index] = (f(x) - base) / h
        x[index] = original
    return grad


def wrong_numerical_gradient__x_not_restored(f, x, h=1e-5):
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        x[index] += h
        above = f(x)
        x[index] -= 2 * h
        grad[index] = (above - f(x)) / (2 * h)
    return grad


def wrong_numerical_gradient__divides_by_h(f, x, h=1e-5):
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original + h
        above = f(x)
        x[index] = original - h
        grad[index] = (above - f(x)) / h
        x[index] = original
    return grad


def wrong_numerical_gradient__fixed_step(f, x, h=1e-5):
    step = 1e-5
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original + step
        above = f(x)
        x[index] = original - step
        grad[index] = (above - f(x)) / (2 * step)
        x[index] = original
    return grad


def right_numerical_gradient__nditer_cs231n(f, x, h=1e-5):
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    while not it.finished:
        index = it.multi_index
        old = x[index]
        x[index] = old + h
        fxph = f(x)
        x[index] = old - h
        fxmh = f(x)
        x[index] = old
        grad[index] = (fxph - fxmh) / (2 * h)
        it.iternext()
    return grad


def right_numerical_gradient__perturbed_copies(f, x, h=1e-5):
    flat = np.asarray(x, np.float64).ravel()
    grad = np.empty_like(flat)
    for i in range(flat.size):
        step = np.zeros_like(flat)
        step[i] = h
        grad[i] = (f((flat + step).reshape(np.shape(x))) - f((flat - step).reshape(np.shape(x)))) / (2 * h)
    return grad.reshape(np.shape(x))


# --- count_dense_params ----------------------------------------------------------------------------------
def wrong_count_dense_params__weights_only(layer_sizes):
    return sum(a * b for a, b in zip(layer_sizes[:-1], layer_sizes[1:]))


def wrong_count_dense_params__input_bias(layer_sizes):
    return sum(a * b for a, b in zip(layer_sizes[:-1], layer_sizes[1:])) + sum(layer_sizes)


def wrong_count_dense_params__bias_per_input(layer_sizes):
    return sum(a * (b + 1) for a, b in zip(layer_sizes[:-1], layer_sizes[1:]))


def right_count_dense_params__numpy(layer_sizes):
    sizes = np.asarray(layer_sizes, dtype=np.int64)
    return int(np.sum((sizes[:-1] + 1) * sizes[1:]))


def right_count_dense_params__loop(layer_sizes):
    total = 0
    for i in range(1, len(layer_sizes)):
        total += layer_sizes[i - 1] * layer_sizes[i]
        total += layer_sizes[i]
    return total


# --- two_layer_net ---------------------------------------------------------------------------------------
def _net(X, y, params, mask_in_backward=True, hidden_relu=True, sum_loss=False):
    W1, b1, W2, b2 = (params[k] for k in ("W1", "b1", "W2", "b2"))
    pre = X @ W1 + b1
    hidden = np.maximum(pre, 0) if hidden_relu else pre
    logits = hidden @ W2 + b2
    loss, dlogits = _cross_entropy(_log_softmax(logits), y, 1 if sum_loss else len(y))
    dhidden = dlogits @ W2.T
    dpre = dhidden * (pre > 0) if hidden_relu and mask_in_backward else dhidden
    return loss, {"W1": X.T @ dpre, "b1": dpre.sum(axis=0), "W2": hidden.T @ dlogits, "b2": dlogits.sum(axis=0)}


def wrong_two_layer_net__no_relu_backward(X, y, params):
    return _net(X, y, params, mask_in_backward=False)


def wrong_two_layer_net__no_hidden_relu(X, y, params):
    return _net(X, y, params, hidden_relu=False)


def wrong_two_layer_net__summed_loss(X, y, params):
    return _net(X, y, params, sum_loss=True)


def right_two_layer_net__float32_one_hot(X, y, params):
    X = np.asarray(X, np.float32)
    W1, b1, W2, b2 = (np.asarray(params[k], np.float32) for k in ("W1", "b1", "W2", "b2"))
    pre = X @ W1 + b1
    hidden = pre * (pre > 0)
    logits = hidden @ W2 + b2
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = exp / exp.sum(axis=1, keepdims=True)
    one_hot = np.eye(W2.shape[1], dtype=np.float32)[y]
    loss = -np.mean(np.log(np.sum(probs * one_hot, axis=1)))
    dlogits = (probs - one_hot) / len(X)
    dpre = np.where(pre > 0, dlogits @ W2.T, 0)
    return loss, {"W2": hidden.T @ dlogits, "b2": dlogits.sum(axis=0), "W1": X.T @ dpre, "b1": dpre.sum(axis=0)}


# --- train_two_layer_net ---------------------------------------------------------------------------------
def _train(X, y, hidden_size, lr, num_epochs, batch_size, seed, scale=None, sign=1.0, batches=None,
           shuffle=True, dtype=np.float64):
    rng = np.random.default_rng(seed)
    D, C = X.shape[1], int(y.max()) + 1
    std1, std2 = (np.sqrt(2 / D), np.sqrt(2 / hidden_size)) if scale is None else (scale, scale)
    params = {"W1": (rng.standard_normal((D, hidden_size)) * std1).astype(dtype), "b1": np.zeros(hidden_size, dtype),
              "W2": (rng.standard_normal((hidden_size, C)) * std2).astype(dtype), "b2": np.zeros(C, dtype)}
    X = X.astype(dtype)
    losses = []
    for _ in range(num_epochs):
        order = rng.permutation(len(X)) if shuffle else np.arange(len(X))
        starts = list(range(0, len(X), batch_size))[:batches]
        epoch_loss = 0.0
        for start in starts:
            batch = order[start:start + batch_size]
            loss, grads = _net(X[batch], y[batch], params)
            for name in params:
                params[name] = params[name] - dtype(sign * lr) * grads[name].astype(dtype)
            epoch_loss += loss
        losses.append(epoch_loss / len(starts))
    return params, losses


def wrong_train_two_layer_net__gradient_ascent(X, y, hidden_size, lr, num_epochs, batch_size, seed=0):
    return _train(X, y, hidden_size, lr, num_epochs, batch_size, seed, sign=-1.0)


def wrong_train_two_layer_net__zero_init(X, y, hidden_size, lr, num_epochs, batch_size, seed=0):
    return _train(X, y, hidden_size, lr, num_epochs, batch_size, seed, scale=0.0)


def wrong_train_two_layer_net__first_batch_only(X, y, hidden_size, lr, num_epochs, batch_size, seed=0):
    return _train(X, y, hidden_size, lr, num_epochs, batch_size, seed, batches=1)


def wrong_train_two_layer_net__updates_lost(X, y, hidden_size, lr, num_epochs, batch_size, seed=0):
    params, _ = _train(X, y, hidden_size, lr, 0, batch_size, seed)
    losses = []
    for _ in range(num_epochs):
        loss, grads = _net(X, y, params)
        for name, value in params.items():
            value = value - lr * grads[name]  # rebinds the loop variable; params never changes
        losses.append(loss)
    return params, losses


def wrong_train_two_layer_net__hidden_size_ignored(X, y, hidden_size, lr, num_epochs, batch_size, seed=0):
    return _train(X, y, 50, lr, num_epochs, batch_size, seed)


def wrong_train_two_layer_net__seed_ignored(X, y, hidden_size, lr, num_epochs, batch_size, seed=0):
    return _train(X, y, hidden_size, lr, num_epochs, batch_size, 0)


def wrong_train_two_layer_net__global_random_state(X, y, hidden_size, lr, num_epochs, batch_size, seed=0):
    return _train(X, y, hidden_size, lr, num_epochs, batch_size, np.random.randint(2**31))


def right_train_two_layer_net__float32_no_shuffle(X, y, hidden_size, lr, num_epochs, batch_size, seed=0):
    return _train(X, y, hidden_size, lr, num_epochs, batch_size, seed, shuffle=False, dtype=np.float32)


def right_train_two_layer_net__small_gaussian_init(X, y, hidden_size, lr, num_epochs, batch_size, seed=0):
    return _train(X, y, hidden_size, lr, num_epochs, batch_size, seed, scale=0.01)


def _relu_forward_caching_x(x):
    return np.maximum(x, 0), x


# The other student functions a graded function's implementations run with (the cache layout they expect).
COMPANIONS = {"dense_backward": {"dense_forward": right_dense_forward__einsum_list},
              "relu_backward": {"relu_forward": _relu_forward_caching_x}}


# The hint (a fragment of the check's message) each wrong implementation must get.
EXPECTED_HINTS = {
    "dense_forward": {"no_bias": "bias is missing", "relu_inside": "layer is linear",
                      "only_out": "must return a pair (out, cache)"},
    "dense_backward": {"dW_transposed": "dW is transposed", "db_not_summed": "sum dout over the batch axis",
                       "db_mean": "not the mean", "averaged_dW": "without dividing by N",
                       "deeplearning_ai_one_over_m": "convention of deeplearning.ai's course"},
    "relu_forward": {"mask": "not the 0/1 mask", "abs": "not |x|", "leaky": "leaky ReLU",
                     "zeroes_input_in_place": "changed its input in place"},
    "relu_backward": {"inclusive_at_zero": "at exactly x = 0", "mask_only": "not the mask alone",
                      "mask_from_dout": "not from dout", "times_relu": "not by max(x, 0)"},
    "softmax_cross_entropy": {"axis0": "wrong axis", "no_max_subtraction": "subtract each row's maximum",
                              "sum": "the loss is the mean", "gradient_not_averaged": "carries the 1/N too"},
    "numerical_gradient": {"forward_difference": "central difference", "x_not_restored": "x is not the same",
                           "divides_by_h": "divide their difference by 2h", "fixed_step": "the step h you are given"},
    "count_dense_params": {"weights_only": "count the biases too", "input_bias": "input layer has no biases",
                           "bias_per_input": "one bias per output unit"},
    "two_layer_net": {"no_relu_backward": "through the ReLU too", "no_hidden_relu": "needs its ReLU",
                      "summed_loss": "loss: values differ"},
    "train_two_layer_net": {"gradient_ascent": "the loss did not fall", "zero_init": "all zeros",
                            "first_batch_only": "test accuracy", "updates_lost": "the loss did not fall",
                            "hidden_size_ignored": "with the hidden_size you are given",
                            "seed_ignored": "the seed is ignored", "global_random_state": "gave different weights"},
}
