"""Checks of module 02_backprop: layers with a forward and a backward pass, softmax cross-entropy, gradient
checking, parameter counts, and a two-layer network trained on the 8x8 digits.

Forward passes and the numerical gradient are checked against closed forms in float64; every backward pass
against TensorFlow's gradients (``tf.GradientTape`` in float64), imported only when a check first needs them.
ReLU's derivative at exactly 0 is 0, as in TensorFlow.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .core import (HIDDEN, LOG_EPSILON_NOTE, Case, Exercise, Mistake, case_rng, checker, close_arrays, close_tuple,
                   log_loss_between)

RTOL, ATOL = 1e-5, 1e-6
TOLERANCE = f"rtol={RTOL:g}, atol={ATOL:g} (float32 inputs pass)"
LOSS_RTOL, LOSS_ATOL = 1e-4, 1e-6
LOSS_TOLERANCE = f"rtol={LOSS_RTOL:g}, atol={LOSS_ATOL:g} (float32 inputs pass); for the loss, {LOG_EPSILON_NOTE}"
GRADIENT_RTOL, GRADIENT_ATOL = 1e-6, 1e-8
DEFAULT_H = 1e-5
PARAM_NAMES = ("W1", "b1", "W2", "b2")


def _rng(which: str, salt: int) -> np.random.Generator:
    return case_rng(2, which, salt)


def _f64(value) -> np.ndarray:
    return np.asarray(value, dtype=np.float64)


# ---------------------------------------------------------------------------------------------------------
# Shared pieces: TensorFlow gradients, layers returning (out, cache), the softmax cross-entropy.
# ---------------------------------------------------------------------------------------------------------

def _tensorflow():
    from dlcourse.environment import import_tensorflow

    return import_tensorflow()[0]


def _tape_gradients(fn, inputs, upstream=None) -> tuple[np.ndarray, ...]:
    """Gradients of fn(*inputs) by tf.GradientTape in float64: of a scalar, or of sum(upstream * fn(...))."""
    tf = _tensorflow()
    tensors = [tf.constant(_f64(value)) for value in inputs]
    with tf.GradientTape() as tape:
        for tensor in tensors:
            tape.watch(tensor)
        output = fn(*tensors)
    weights = None if upstream is None else tf.constant(_f64(upstream))
    return tuple(g.numpy() + 0.0 for g in tape.gradient(output, tensors, output_gradients=weights))  # no -0.0


def _out_of_pair(name: str):
    """A call of the student's forward function `name`: out from its (out, cache), or the whole result when it
    is not a pair, as a tuple (so that the comparison can say what is wrong). The cache is never judged."""

    def call(fns: dict, case: Case):
        __tracebackhide__ = True
        result = fns[name](*case.args)
        if isinstance(result, (tuple, list)):
            return result[0] if len(result) == 2 else tuple(result)
        return (result,)

    return call


def _pair_judged_by(name: str, compare):
    """compare on out, or the reason why the forward function did not return a pair (out, cache)."""

    def compare_out(expected, got):
        if isinstance(got, tuple):
            return f"{name} must return a pair (out, cache); this one returned {len(got)} value(s)"
        return compare(expected, got)

    return compare_out


def _cache_of(fns: dict, name: str, *args):
    """The cache of a student's forward function: the second item of its (out, cache)."""
    __tracebackhide__ = True
    result = fns[name](*args)
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise TypeError(f"the backward pass needs the cache of {name}, which must return a pair (out, cache)")
    return result[1]


def _log_softmax(logits: np.ndarray, axis: int = 1) -> np.ndarray:
    shifted = logits - logits.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def _softmax_ce(logits, y, axis: int = 1, loss_scale: float = 1.0, grad_scale: float = 1.0,
                subtract_one_hot: bool = True) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of logits (N, C) and labels y (N,), and its gradient; the other arguments make the
    classic wrong variants (softmax over axis 0, loss or gradient scaled by N, no one-hot subtracted)."""
    logits, rows, n = _f64(logits), np.arange(len(y)), len(y)
    log_probs = _log_softmax(logits, axis)
    dlogits = np.exp(log_probs)
    if subtract_one_hot:
        dlogits[rows, y] -= 1
    return loss_scale * float(-log_probs[rows, y].mean()), grad_scale * dlogits / n


# ---------------------------------------------------------------------------------------------------------
# dense_forward, dense_backward
# ---------------------------------------------------------------------------------------------------------

def _dense_inputs(which: str) -> list[tuple[str, tuple]]:
    rng = _rng(which, 0)

    def layer(n, d, m, dtype=np.float64):
        return tuple(a.astype(dtype) for a in (rng.normal(size=(n, d)), rng.normal(size=(d, m)), rng.normal(size=m)))

    if which == HIDDEN:
        return [("one sample: x (1, 6), W (6, 3)", layer(1, 6, 3)),
                ("a square W (3, 3), float32", layer(4, 3, 3, np.float32)),
                ("x (8, 10), W (10, 7)", layer(8, 10, 7))]
    readable = (np.array([[1.0, 2.0, 3.0], [-1.0, 0.0, 2.0]]), np.round(rng.normal(size=(3, 4)), 1),
                np.array([0.5, -1.0, 0.0, 2.0]))
    return [("x (2, 3), W (3, 4), b (4,)", readable), ("x (5, 4), W (4, 2), b (2,)", layer(5, 4, 2))]


def _dense_forward_cases(which: str) -> list[Case]:
    return [Case(name, args) for name, args in _dense_inputs(which)]


def _affine(case: Case) -> np.ndarray:
    x, W, b = (_f64(a) for a in case.args[:3])
    return x @ W + b


DENSE_FORWARD = Exercise(
    name="dense_forward",
    cases=_dense_forward_cases,
    call=_out_of_pair("dense_forward"),
    reference=_affine,
    compare=_pair_judged_by("dense_forward", close_arrays(RTOL, ATOL)),
    tolerance=TOLERANCE,
    mistakes=[Mistake("the bias is missing: out = x @ W + b, with b added to every row.",
                      lambda case: _f64(case.args[0]) @ _f64(case.args[1])),
              Mistake("a dense layer is linear: out = x @ W + b. The ReLU is a layer of its own (relu_forward).",
                      lambda case: np.maximum(_affine(case), 0))],
)


def _dense_backward_cases(which: str) -> list[Case]:
    rng = _rng(which, 1)
    cases = []
    for name, (x, W, b) in _dense_inputs(which):
        dout = rng.normal(size=(len(x), W.shape[1])).astype(x.dtype)
        cases.append(Case(f"{name}, dout {dout.shape}", (x, W, b, dout)))
    return cases


def _call_dense_backward(fns: dict, case: Case):
    __tracebackhide__ = True
    x, W, b, dout = case.args
    return fns["dense_backward"](dout, _cache_of(fns, "dense_forward", x, W, b))


def _dense_gradients_by_tape(case: Case) -> tuple[np.ndarray, ...]:
    x, W, b, dout = case.args
    return _tape_gradients(lambda x, W, b: x @ W + b, (x, W, b), upstream=dout)


def _dense_gradients(case: Case, dx_weights=lambda W: W.T, reduce_db=np.sum, dW_scale=1.0):
    """Closed-form dx, dW, db, and (with the arguments) the classic wrong variants."""
    x, W, _, dout = (_f64(a) for a in case.args)
    return dout @ dx_weights(W), dW_scale * x.T @ dout, reduce_db(dout, axis=0)


DENSE_BACKWARD = Exercise(
    name="dense_backward",
    cases=_dense_backward_cases,
    call=_call_dense_backward,
    needs=("dense_forward",),
    reference=_dense_gradients_by_tape,
    compare=close_tuple(*[close_arrays(RTOL, ATOL)] * 3, labels=("dx", "dW", "db")),
    tolerance=TOLERANCE,
    mistakes=[Mistake("dW is transposed: it has W's shape (D, M), dW = x.T @ dout.",
                      lambda case: (lambda dx, dW, db: (dx, dW.T, db))(*_dense_gradients(case))),
              Mistake("db has b's shape (M,): sum dout over the batch axis (axis=0), one value per output unit.",
                      lambda case: _dense_gradients(case, reduce_db=lambda dout, axis: dout)),
              Mistake("db is the sum of dout over the batch, not the mean: the 1/N of a mean loss is already "
                      "inside dout.",
                      lambda case: _dense_gradients(case, reduce_db=np.mean)),
              Mistake("dW = x.T @ dout, without dividing by N: the 1/N of a mean loss is already inside dout.",
                      lambda case: _dense_gradients(case, dW_scale=1 / len(case.args[0]))),
              Mistake("dW and db are divided by N once more. That is the convention of deeplearning.ai's course "
                      "(Andrew Ng: dW = 1/m dZ A_prev.T, db = 1/m sum(dZ)), where dZ leaves the 1/m out; here dout "
                      "comes from the mean loss and already holds it, so dW = x.T @ dout and db = dout.sum(axis=0).",
                      lambda case: _dense_gradients(case, reduce_db=np.mean, dW_scale=1 / len(case.args[0]))),
              Mistake("dx has x's shape (N, D): dx = dout @ W.T (the transpose of W).",
                      lambda case: _dense_gradients(case, dx_weights=lambda W: W))],
)


# ---------------------------------------------------------------------------------------------------------
# relu_forward, relu_backward
# ---------------------------------------------------------------------------------------------------------

def _relu_inputs(which: str) -> list[tuple[str, np.ndarray]]:
    rng = _rng(which, 2)
    if which == HIDDEN:
        feature_maps = rng.normal(size=(2, 3, 3, 2))
        feature_maps[0, 1] = 0.0
        return [("feature maps (2, 3, 3, 2) with some exact zeros", feature_maps),
                ("a float32 matrix (4, 5) with exact zeros", np.round(rng.normal(size=(4, 5)), 0).astype(np.float32))]
    matrix = rng.normal(size=(3, 4))
    matrix[1, 2] = 0.0
    return [("a vector with an exact 0", np.array([-2.0, -0.5, 0.0, 0.5, 2.0])),
            ("a matrix (3, 4) with one exact 0", matrix)]


RELU_FORWARD = Exercise(
    name="relu_forward",
    cases=lambda which: [Case(name, (x,)) for name, x in _relu_inputs(which)],
    call=_out_of_pair("relu_forward"),
    reference=lambda case: np.maximum(_f64(case.args[0]), 0.0),
    compare=_pair_judged_by("relu_forward", close_arrays(RTOL, ATOL)),
    tolerance=TOLERANCE,
    mistakes=[Mistake("ReLU returns the values max(x, 0), not the 0/1 mask of where x > 0.",
                      lambda case: (_f64(case.args[0]) > 0).astype(float)),
              Mistake("negative inputs become 0, not |x|: out = max(x, 0).",
                      lambda case: np.abs(_f64(case.args[0]))),
              Mistake("that is a leaky ReLU; ReLU sets every negative input to exactly 0.",
                      lambda case: np.where(_f64(case.args[0]) > 0, _f64(case.args[0]), 0.01 * _f64(case.args[0]))),
              Mistake("ReLU keeps the positive part: max(x, 0), not min(x, 0).",
                      lambda case: np.minimum(_f64(case.args[0]), 0.0))],
)


def _relu_backward_cases(which: str) -> list[Case]:
    rng = _rng(which, 3)
    return [Case(f"{name}, dout of the same shape", (x, rng.normal(size=x.shape).astype(x.dtype)))
            for name, x in _relu_inputs(which)]


def _call_relu_backward(fns: dict, case: Case):
    __tracebackhide__ = True
    x, dout = case.args
    return fns["relu_backward"](dout, _cache_of(fns, "relu_forward", x))


def _relu_gradient_by_tape(case: Case) -> np.ndarray:
    x, dout = case.args
    return _tape_gradients(lambda x: _tensorflow().nn.relu(x), (x,), upstream=dout)[0]


def _masked(case: Case, mask=lambda x, dout: x > 0, times_dout: bool = True) -> np.ndarray:
    x, dout = _f64(case.args[0]), _f64(case.args[1])
    gate = mask(x, dout).astype(float)
    return gate * dout if times_dout else gate


RELU_BACKWARD = Exercise(
    name="relu_backward",
    cases=_relu_backward_cases,
    call=_call_relu_backward,
    needs=("relu_forward",),
    reference=_relu_gradient_by_tape,
    compare=close_arrays(RTOL, ATOL),
    tolerance=TOLERANCE,
    mistakes=[Mistake("at exactly x = 0 the derivative of ReLU is 0 in this course, as in TensorFlow: let dout "
                      "through where x > 0, not where x >= 0.",
                      lambda case: _masked(case, mask=lambda x, dout: x >= 0)),
              Mistake("multiply the upstream gradient: dx = dout * (x > 0), not the mask alone.",
                      lambda case: _masked(case, times_dout=False)),
              Mistake("the mask comes from the forward input x (keep it in the cache), not from dout.",
                      lambda case: _masked(case, mask=lambda x, dout: dout > 0)),
              Mistake("ReLU's derivative is 0 where x < 0: dout passes only where x > 0.",
                      lambda case: _f64(case.args[1])),
              Mistake("the derivative of max(x, 0) is 1 for x > 0 and 0 otherwise: multiply dout by that mask, "
                      "not by max(x, 0).",
                      lambda case: np.maximum(_f64(case.args[0]), 0) * _f64(case.args[1]))],
)


# ---------------------------------------------------------------------------------------------------------
# softmax_cross_entropy
# ---------------------------------------------------------------------------------------------------------

def _softmax_cases(which: str) -> list[Case]:
    rng = _rng(which, 4)
    if which == HIDDEN:
        return [Case("float32 logits (5, 4), int32 labels",
                     (rng.normal(scale=3, size=(5, 4)).astype(np.float32), np.array([3, 0, 1, 1, 2], np.int32))),
                Case("one sample, two classes", (np.array([[2.0, -1.0]]), np.array([1]))),
                Case("N == C: logits (3, 3)", (rng.normal(size=(3, 3)), np.array([2, 2, 0]))),
                Case("equal logits give log C", (np.zeros((2, 6)), np.array([5, 0]))),
                Case("rows of logits near +5000 and -5000",
                     (np.array([[5000.0], [-5000.0], [5000.0], [-5000.0]])
                      + np.round(rng.normal(scale=20, size=(4, 3))) / 4,  # quarters: exact in float32 too
                      np.array([0, 1, 2, 0])))]
    return [Case("logits (2, 3)", (np.array([[1.0, 2.0, 3.0], [1.0, -1.0, 0.0]]), np.array([2, 0]))),
            Case("logits (4, 5)", (rng.normal(size=(4, 5)), np.array([0, 4, 2, 2]))),
            Case("logits in the 1000s must not overflow",
                 (np.array([[1000.0, 1001.0, 1002.0], [-1000.0, -1003.0, -1001.0]]), np.array([1, 2])))]


def _softmax_ce_by_tape(case: Case) -> tuple[float, np.ndarray]:
    logits, y = case.args
    tf = _tensorflow()
    labels = tf.constant(np.asarray(y, np.int64))

    def mean_loss(z):
        return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=z))

    (dlogits,) = _tape_gradients(mean_loss, (logits,))
    return _loss_between(logits, y), dlogits


def _loss_between(logits, y):
    """The mean softmax cross-entropy, with any epsilon up to LOG_EPSILON in the logarithm (core.log_loss_between)."""
    log_probs = _log_softmax(_f64(logits))
    return log_loss_between(np.exp(log_probs[np.arange(len(y)), np.asarray(y)]))


def _max_without_keepdims(case: Case) -> tuple[float, np.ndarray]:
    logits, y = _f64(case.args[0]), case.args[1]
    return _softmax_ce(logits - logits.max(axis=1), y)  # broadcasts only when N == C, along the wrong axis


SOFTMAX_CROSS_ENTROPY = Exercise(
    name="softmax_cross_entropy",
    cases=_softmax_cases,
    reference=_softmax_ce_by_tape,
    compare=close_tuple(close_arrays(LOSS_RTOL, LOSS_ATOL), close_arrays(LOSS_RTOL, LOSS_ATOL),
                        labels=("loss", "dlogits")),
    tolerance=LOSS_TOLERANCE,
    warning_hint="exp of logits in the 1000s overflows: subtract each row's maximum first, "
                 "shifted = logits - logits.max(axis=1, keepdims=True) (softmax does not change), and take "
                 "log-probabilities as shifted - log(sum(exp(shifted))).",
    mistakes=[Mistake("the softmax runs over the wrong axis: each row (one sample) must sum to 1, so normalise "
                      "over the classes, axis=1.",
                      lambda case: _softmax_ce(*case.args, axis=0)),
              Mistake("that is the sum over the batch; the loss is the mean, and dlogits = (softmax - one_hot) / N.",
                      lambda case: _softmax_ce(*case.args, loss_scale=len(case.args[1]),
                                               grad_scale=len(case.args[1]))),
              Mistake("the loss is the mean over the batch, so its gradient carries the 1/N too: "
                      "dlogits = (softmax - one_hot) / N.",
                      lambda case: _softmax_ce(*case.args, grad_scale=len(case.args[1]))),
              Mistake("subtract 1 at each sample's true class: dlogits = (softmax - one_hot) / N.",
                      lambda case: _softmax_ce(*case.args, subtract_one_hot=False)),
              Mistake("the loss is -log of the true class's probability: check its sign.",
                      lambda case: _softmax_ce(*case.args, loss_scale=-1.0)),
              Mistake("keep the reduced axis when you subtract the maximum: logits.max(axis=1, keepdims=True) "
                      "has shape (N, 1) and is subtracted from each row.", _max_without_keepdims)],
)


# ---------------------------------------------------------------------------------------------------------
# numerical_gradient
# ---------------------------------------------------------------------------------------------------------

def sum_of_cubes(x):
    """f(x) = sum(x ** 3): its central difference is 3 x**2 + h**2, exactly."""
    return np.sum(x ** 3)


def log_sum_exp(x):
    """f(x) = log(sum(exp(x))): every entry's derivative depends on all the others."""
    top = np.max(x)
    return top + np.log(np.sum(np.exp(x - top)))


def cube_of_mean(x):
    """f(x) = mean(x) ** 3."""
    return np.mean(x) ** 3


def _central_difference(f, x, h) -> np.ndarray:
    point = _f64(x).copy()
    grad = np.zeros_like(point)
    for index in np.ndindex(point.shape):
        original = point[index]
        point[index] = original + h
        above = f(point)
        point[index] = original - h
        below = f(point)
        point[index] = original
        grad[index] = (above - below) / (2 * h)
    return grad


def _forward_difference(f, x, h) -> np.ndarray:
    point, base = _f64(x).copy(), f(_f64(x))
    grad = np.zeros_like(point)
    for index in np.ndindex(point.shape):
        original = point[index]
        point[index] = original + h
        grad[index] = (f(point) - base) / h
        point[index] = original
    return grad


def _numerical_gradient_cases(which: str) -> list[Case]:
    rng = _rng(which, 5)
    if which == HIDDEN:
        return [Case("sum_of_cubes of a (2, 2, 3) array, h=1e-3", (sum_of_cubes, rng.uniform(-2, 2, size=(2, 2, 3))),
                     {"h": 1e-3}),
                Case("cube_of_mean of a (3, 2) array", (cube_of_mean, rng.uniform(0.5, 2, size=(3, 2)))),
                Case("log_sum_exp of a (7,) vector, h=0.5", (log_sum_exp, rng.normal(size=7)), {"h": 0.5})]
    return [Case("sum_of_cubes of a (2, 3) array", (sum_of_cubes, rng.uniform(-2, 2, size=(2, 3)))),
            Case("log_sum_exp of a (5,) vector", (log_sum_exp, rng.normal(size=5))),
            Case("sum_of_cubes with a large step h=0.1", (sum_of_cubes, rng.uniform(-2, 2, size=(4,))), {"h": 0.1})]


def _call_numerical_gradient(fns: dict, case: Case):
    """The gradient; paired with x's change when the call left x changed."""
    __tracebackhide__ = True
    f, x = case.args
    before = x.copy()
    grad = fns["numerical_gradient"](f, x, **case.kwargs)
    changed = not np.allclose(x, before, rtol=0, atol=1e-12)
    return (grad, x - before) if changed else grad


def _judge_numerical_gradient(expected, got):
    if isinstance(got, tuple) and len(got) == 2 and getattr(got[1], "shape", None) == expected.shape:
        return (f"x is not the same after the call (an entry moved by up to {np.abs(got[1]).max():.3g}): put "
                "each entry back after evaluating f at x + h and x - h")
    return close_arrays(GRADIENT_RTOL, GRADIENT_ATOL)(expected, got)


def _step(case: Case) -> float:
    return case.kwargs.get("h", DEFAULT_H)


NUMERICAL_GRADIENT = Exercise(
    name="numerical_gradient",
    cases=_numerical_gradient_cases,
    call=_call_numerical_gradient,
    reference=lambda case: _central_difference(*case.args, _step(case)),
    compare=_judge_numerical_gradient,
    tolerance=f"rtol={GRADIENT_RTOL:g}, atol={GRADIENT_ATOL:g} against the central difference with the same h",
    keeps_inputs=False,  # x may change during the call if it is put back: _call_numerical_gradient judges that
    mistakes=[Mistake("that is the forward difference (f(x + h) - f(x)) / h, whose error shrinks only like h; "
                      "use the central difference (f(x + h) - f(x - h)) / (2h), whose error shrinks like h**2.",
                      lambda case: _forward_difference(*case.args, _step(case))),
              Mistake("x + h and x - h are 2h apart: divide their difference by 2h, not by h.",
                      lambda case: 2 * _central_difference(*case.args, _step(case))),
              Mistake("use the step h you are given (default 1e-5), not a fixed one.",
                      lambda case: _central_difference(*case.args, DEFAULT_H)),
              Mistake("return an array shaped like x (np.zeros_like(x), then one entry per index, e.g. with "
                      "np.ndindex(x.shape)).",
                      lambda case: _central_difference(*case.args, _step(case)).ravel())],
)


# ---------------------------------------------------------------------------------------------------------
# count_dense_params
# ---------------------------------------------------------------------------------------------------------

def _count_cases(which: str) -> list[Case]:
    if which == HIDDEN:
        return [Case("a 224x224x3 image into 128 hidden units and 10 classes", ([224 * 224 * 3, 128, 10],)),
                Case("VGG's fully connected head", ([7 * 7 * 512, 4096, 4096, 1000],)),
                Case("a tuple (3, 1)", ((3, 1),)),
                Case("an input alone has no layers", ([5],))]
    return [Case("[784, 128, 10]", ([784, 128, 10],)), Case("[2, 3]", ([2, 3],)), Case("[4, 5, 6, 2]", ([4, 5, 6, 2],))]


def _count(case: Case, biases=lambda n_in, n_out: n_out, extra=lambda sizes: 0) -> int:
    """Weights and biases of dense layers of the case's sizes; the arguments make the classic wrong counts."""
    sizes = [int(n) for n in case.args[0]]
    return sum(n_in * n_out + biases(n_in, n_out) for n_in, n_out in zip(sizes[:-1], sizes[1:])) + extra(sizes)


COUNT_DENSE_PARAMS = Exercise(
    name="count_dense_params",
    cases=_count_cases,
    reference=_count,
    compare=close_arrays(0, 0),
    tolerance="exact (an int)",
    integer_result=True,
    mistakes=[Mistake("count the biases too: a dense layer from n_in to n_out units has n_in * n_out weights "
                      "and n_out biases.",
                      lambda case: _count(case, biases=lambda n_in, n_out: 0)),
              Mistake("the input layer has no biases: each layer that computes something has one bias per unit "
                      "(the sizes after the first).",
                      lambda case: _count(case, extra=lambda sizes: sizes[0])),
              Mistake("one bias per output unit: a layer from n_in to n_out units has n_out biases, not n_in.",
                      lambda case: _count(case, biases=lambda n_in, n_out: n_in)),
              Mistake("parameters add up layer by layer: the sum of n_in * n_out + n_out over consecutive sizes, "
                      "not their product.",
                      lambda case: int(np.prod(case.args[0])))],
)


# ---------------------------------------------------------------------------------------------------------
# two_layer_net
# ---------------------------------------------------------------------------------------------------------

def _net_case(name: str, rng: np.random.Generator, n: int, d: int, h: int, c: int, dtype=np.float64) -> Case:
    X = rng.normal(size=(n, d))
    params = {"W1": rng.normal(scale=0.7, size=(d, h)), "b1": rng.normal(scale=0.3, size=h),
              "W2": rng.normal(scale=0.7, size=(h, c)), "b2": rng.normal(scale=0.3, size=c)}
    y = rng.integers(0, c, size=n)
    return Case(name, (X.astype(dtype), y, {key: value.astype(dtype) for key, value in params.items()}))


def _two_layer_cases(which: str) -> list[Case]:
    rng = _rng(which, 6)
    if which == HIDDEN:
        return [_net_case("X (7, 4), 10 hidden units, 5 classes, float32", rng, 7, 4, 10, 5, np.float32),
                _net_case("one sample, X (1, 6), 3 hidden units, 2 classes", rng, 1, 6, 3, 2)]
    return [_net_case("X (4, 5), 6 hidden units, 3 classes", rng, 4, 5, 6, 3)]


def _in_order(params, what: str) -> list:
    if not isinstance(params, dict) or any(key not in params for key in PARAM_NAMES):
        raise TypeError(f"{what} must be a dict with the keys {', '.join(PARAM_NAMES)}")
    return [params[key] for key in PARAM_NAMES]


def _call_two_layer_net(fns: dict, case: Case):
    __tracebackhide__ = True
    X, y, params = case.args
    result = fns["two_layer_net"](X, y, {key: value.copy() for key, value in params.items()})
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise TypeError("two_layer_net must return a pair (loss, grads)")
    loss, grads = result
    return (loss, *_in_order(grads, "grads"))


def _two_layer_by_tape(case: Case) -> tuple:
    X, y, params = case.args
    tf = _tensorflow()
    labels = tf.constant(np.asarray(y, np.int64))

    def mean_loss(W1, b1, W2, b2):
        logits = tf.nn.relu(tf.constant(_f64(X)) @ W1 + b1) @ W2 + b2
        return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))

    weights = _in_order(params, "params")
    W1, b1, W2, b2 = (_f64(w) for w in weights)
    logits = np.maximum(_f64(X) @ W1 + b1, 0) @ W2 + b2
    return (_loss_between(logits, y), *_tape_gradients(mean_loss, weights))


def _two_layer(case: Case, hidden_relu: bool = True, relu_mask_in_backward: bool = True,
               relu_on_logits: bool = False) -> tuple:
    """Closed-form loss and gradients of dense -> relu -> dense -> softmax CE, and classic wrong variants."""
    X, y, params = case.args
    X, (W1, b1, W2, b2) = _f64(X), (_f64(w) for w in _in_order(params, "params"))
    pre = X @ W1 + b1
    hidden = np.maximum(pre, 0) if hidden_relu else pre
    scores = hidden @ W2 + b2
    logits = np.maximum(scores, 0) if relu_on_logits else scores
    loss, dlogits = _softmax_ce(logits, y)
    dscores = dlogits * (scores > 0) if relu_on_logits else dlogits
    dhidden = dscores @ W2.T
    dpre = dhidden * (pre > 0) if hidden_relu and relu_mask_in_backward else dhidden
    return loss, X.T @ dpre, dpre.sum(axis=0), hidden.T @ dscores, dscores.sum(axis=0)


TWO_LAYER_NET = Exercise(
    name="two_layer_net",
    cases=_two_layer_cases,
    call=_call_two_layer_net,
    reference=_two_layer_by_tape,
    compare=close_tuple(*[close_arrays(LOSS_RTOL, LOSS_ATOL)] * 5,
                        labels=("loss", *(f"grads['{key}']" for key in PARAM_NAMES))),
    tolerance=LOSS_TOLERANCE,
    mistakes=[Mistake("the gradient must flow back through the ReLU too: relu_backward zeroes it wherever the "
                      "first layer's output was <= 0, before dense_backward of the first layer.",
                      lambda case: _two_layer(case, relu_mask_in_backward=False)),
              Mistake("the hidden layer needs its ReLU: dense -> relu -> dense -> softmax cross-entropy. Without "
                      "it, two dense layers are just one linear map.",
                      lambda case: _two_layer(case, hidden_relu=False)),
              Mistake("no ReLU after the second dense layer: its outputs are the logits and go straight into "
                      "softmax_cross_entropy.",
                      lambda case: _two_layer(case, relu_on_logits=True))],
)


# ---------------------------------------------------------------------------------------------------------
# train_two_layer_net
# ---------------------------------------------------------------------------------------------------------

MIN_TEST_ACCURACY = 0.90


@lru_cache(maxsize=None)
def _flat_digits(split_seed: int) -> tuple[np.ndarray, ...]:
    """The 8x8 digits split with split_seed, flattened: X_train (N, 64) float64, y_train, X_test, y_test."""
    from dlcourse.datasets import load_digits

    split = load_digits(size=8, seed=split_seed)
    flat = [_f64(x.reshape(len(x), -1)) for x in (split.x_train, split.x_test)]
    return flat[0], split.y_train, flat[1], split.y_test


@dataclass(frozen=True, eq=False)
class TrainingGoal:
    """What a training run must reach: the held-out digits to classify and the accuracy to get on them."""

    x_test: np.ndarray
    y_test: np.ndarray
    num_epochs: int
    hidden_size: int
    seed: int
    min_accuracy: float = MIN_TEST_ACCURACY

    def __repr__(self) -> str:
        return (f"{self.hidden_size} hidden units, test accuracy >= {self.min_accuracy:.2f} on {len(self.y_test)} "
                f"held-out digits, a falling loss ({self.num_epochs} values, one per epoch), and runs that follow "
                f"the seed (seed={self.seed} twice: the same W1; seed={self.seed + 1}: another)")


def _training_cases(which: str) -> list[Case]:
    """One training run: args (X_train, y_train, goal), kwargs the hyperparameters."""
    settings = (dict(hidden_size=32, lr=0.1, num_epochs=30, batch_size=16, seed=7) if which == HIDDEN
                else dict(hidden_size=64, lr=0.05, num_epochs=30, batch_size=16, seed=0))
    X, y, x_test, y_test = _flat_digits(1 if which == HIDDEN else 0)
    name = (f"{len(X)} training digits of 8x8 = 64 pixels, {settings['hidden_size']} hidden units, "
            f"{settings['num_epochs']} epochs of mini-batches of {settings['batch_size']}, lr={settings['lr']}")
    goal = TrainingGoal(x_test, y_test, settings["num_epochs"], settings["hidden_size"], settings["seed"])
    return [Case(name, (X, y, goal), settings)]


def _call_training(fns: dict, case: Case):
    """The run of the case: (W1, b1, W2, b2, losses), then W1 of three one-epoch runs: seed, seed again, seed + 1."""
    __tracebackhide__ = True
    X, y, _ = case.args
    params, losses = _training_run(fns, X, y, case.kwargs)
    seed = case.kwargs["seed"]
    short = [_training_run(fns, X, y, {**case.kwargs, "num_epochs": 1, "seed": s})[0]["W1"]
             for s in (seed, seed, seed + 1)]
    return (*_in_order(params, "params"), losses, *short)


def _training_run(fns: dict, X, y, settings: dict) -> tuple:
    __tracebackhide__ = True
    result = fns["train_two_layer_net"](X.copy(), y.copy(), **settings)
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise TypeError("train_two_layer_net must return a pair (params, losses)")
    params, losses = result
    _in_order(params, "params")
    return params, losses


def _judge_training(goal: TrainingGoal, got) -> str | None:
    try:
        W1, b1, W2, b2, losses, *seeded = (np.asarray(value, dtype=np.float64) for value in got)
    except (TypeError, ValueError):
        return "return (params, losses): params a dict of four arrays, losses one number per epoch"
    D, C, H = goal.x_test.shape[1], int(goal.y_test.max()) + 1, goal.hidden_size
    for label, value, shape in (("params['W1']", W1, (D, H)), ("params['b1']", b1, (H,)),
                                ("params['W2']", W2, (H, C)), ("params['b2']", b2, (C,)),
                                ("losses", losses, (goal.num_epochs,))):
        if value.shape != shape:
            return (f"{label} has shape {value.shape}, expected {shape} (D={D} pixels, hidden_size={H}, "
                    f"C={C} classes): build the layers with the hidden_size you are given")
    if not all(np.isfinite(value).all() for value in (W1, b1, W2, b2, losses)):
        return "the parameters or losses contain NaN or inf: is the learning rate used as given?"
    if not W1.any() or not W2.any():
        return ("a weight matrix is all zeros: initialise W1 and W2 randomly (with zero weights every hidden "
                "unit gets a zero gradient, and the network never learns)")
    seed_problem = _seed_problem(goal, seeded)
    if seed_problem:
        return seed_problem
    if losses[-1] >= losses[0]:
        return (f"the loss did not fall (first epoch {losses[0]:.3g}, last {losses[-1]:.3g}): step against the "
                "gradient, params[k] -= lr * grads[k], and keep the result in params")
    logits = np.maximum(goal.x_test @ W1 + b1, 0) @ W2 + b2
    accuracy = float(np.mean(np.argmax(logits, axis=1) == goal.y_test))
    if accuracy < goal.min_accuracy:
        return (f"test accuracy {accuracy:.3f} is below {goal.min_accuracy:.2f} (loss of the last epoch "
                f"{losses[-1]:.3f}): use every mini-batch of every epoch and He initialisation")
    return None


def _seed_problem(goal: TrainingGoal, seeded: list) -> str | None:
    """Why the one-epoch runs (seed, seed, seed + 1) do not follow the seed; None when they do."""
    if len(seeded) != 3 or any(w.shape != seeded[0].shape for w in seeded):
        return "the check could not read W1 of the one-epoch runs it makes to test the seed"
    if not np.array_equal(seeded[0], seeded[1]):
        return (f"two runs with seed={goal.seed} (one epoch each) gave different weights: draw every random number "
                "(initialisation and shuffling) from one generator made from the seed, "
                "rng = np.random.default_rng(seed)")
    if np.array_equal(seeded[0], seeded[2]):
        return (f"runs with seed={goal.seed} and seed={goal.seed + 1} gave the same weights: the seed is ignored; "
                "make the generator from it, rng = np.random.default_rng(seed)")
    return None


TRAIN_TWO_LAYER_NET = Exercise(
    name="train_two_layer_net",
    cases=_training_cases,
    call=_call_training,
    reference=lambda case: case.args[2],
    compare=_judge_training,
    tolerance=f"test accuracy >= {MIN_TEST_ACCURACY:.2f} (correct solutions reach about 0.95 with any seed)",
    keeps_inputs=False,  # the check hands each run copies of X and y: shuffling them in place is harmless
)

EXERCISES = (DENSE_FORWARD, DENSE_BACKWARD, RELU_FORWARD, RELU_BACKWARD, SOFTMAX_CROSS_ENTROPY,
             NUMERICAL_GRADIENT, COUNT_DENSE_PARAMS, TWO_LAYER_NET, TRAIN_TWO_LAYER_NET)

check_dense_forward = checker(DENSE_FORWARD)
check_dense_backward = checker(DENSE_BACKWARD)
check_relu_forward = checker(RELU_FORWARD)
check_relu_backward = checker(RELU_BACKWARD)
check_softmax_cross_entropy = checker(SOFTMAX_CROSS_ENTROPY)
check_numerical_gradient = checker(NUMERICAL_GRADIENT)
check_count_dense_params = checker(COUNT_DENSE_PARAMS)
check_two_layer_net = checker(TWO_LAYER_NET)
check_train_two_layer_net = checker(TRAIN_TWO_LAYER_NET)
