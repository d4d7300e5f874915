"""Checks of module 04_pooling: ReLU, max and average pooling, the max-pooling gradient, receptive fields.

References: TensorFlow's ``tf.nn.max_pool2d`` and ``tf.nn.avg_pool2d`` with VALID padding and
``tf.GradientTape`` through ``tf.nn.max_pool2d``, all in float64; ReLU and the receptive field are closed forms.
TensorFlow is imported only when a reference runs. The classic mistakes are modelled by a small NumPy pooling
loop whose window positions, reduction and padding can be set wrong on purpose.

Inputs of the max-pooling checks are random floats or distinct numbers, so no window holds its maximum twice: the
gradient has one right answer whether ties go to the first maximum (TensorFlow) or to all of them.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Callable

import numpy as np

from .core import HIDDEN, Case, Exercise, Mistake, case_rng, checker, close_arrays

RTOL, ATOL = 1e-5, 1e-5
TOLERANCE = f"rtol={RTOL:g}, atol={ATOL:g} (float32 inputs and any order of summation pass)"
DEFAULT_POOL_SIZE, DEFAULT_STRIDE = 2, 2


def _rng(which: str, salt: int) -> np.random.Generator:
    return case_rng(4, which, salt)


@lru_cache(maxsize=1)
def _tensorflow():
    from dlcourse.environment import import_tensorflow

    return import_tensorflow()[0]


def _window(case: Case) -> tuple[int, int]:
    """(pool_size, stride) of a pooling case, with the functions' defaults."""
    return case.kwargs.get("pool_size", DEFAULT_POOL_SIZE), case.kwargs.get("stride", DEFAULT_STRIDE)


# ---------------------------------------------------------------------------------------------------------
# ReLU
# ---------------------------------------------------------------------------------------------------------

def _relu_cases(which: str) -> list[Case]:
    rng = _rng(which, 0)
    if which == HIDDEN:
        return [Case("a float32 batch of feature maps (2, 5, 5, 3)",
                     (rng.normal(size=(2, 5, 5, 3)).astype(np.float32),)),
                Case("a 0-d array", (np.array(-2.5),)),
                Case("all negative: everything becomes 0", (-rng.uniform(0.1, 3, size=(3, 4)),))]
    return [Case("a vector with both signs and a zero", (np.array([-2.0, -0.5, 0.0, 0.5, 2.0]),)),
            Case("feature maps (1, 3, 3, 2)", (np.round(rng.normal(size=(1, 3, 3, 2)), 2),))]


def _as_float(value) -> np.ndarray:
    return np.asarray(value, dtype=np.float64)


RELU = Exercise(
    name="relu",
    cases=_relu_cases,
    reference=lambda case: np.maximum(_as_float(case.args[0]), 0.0),
    compare=close_arrays(RTOL, ATOL),
    tolerance=TOLERANCE,
    mistakes=[Mistake("the negative side was kept: ReLU keeps the positive values, relu(x) = max(x, 0).",
                      lambda case: np.minimum(_as_float(case.args[0]), 0.0)),
              Mistake("that is ReLU's derivative (1 where x > 0, else 0); the function itself returns x where "
                      "x > 0 and 0 elsewhere.",
                      lambda case: (_as_float(case.args[0]) > 0).astype(np.float64)),
              Mistake("negative values must become 0, not change sign: that was |x|.",
                      lambda case: np.abs(_as_float(case.args[0])))],
)


# ---------------------------------------------------------------------------------------------------------
# Pooling: cases, references and the NumPy model of the classic mistakes
# ---------------------------------------------------------------------------------------------------------

# The numbers -8 ... 7 once each; the top-right window holds only negative values.
SMALL_IMAGE = np.array([[-8, 3, -4, -1],
                        [5, 6, -2, -7],
                        [4, -3, 1, -6],
                        [-5, 7, 2, 0]], dtype=np.float64).reshape(1, 4, 4, 1)


def _pool_cases(which: str, salt: int) -> list[Case]:
    rng = _rng(which, salt)
    if which == HIDDEN:
        return [Case("3x3 windows, stride 2, odd sizes (3, 7, 9, 2)", (rng.normal(size=(3, 7, 9, 2)),),
                     {"pool_size": 3, "stride": 2}),
                Case("3x3 windows, stride 1 (windows overlap)", (rng.normal(size=(2, 6, 5, 3)),),
                     {"pool_size": 3, "stride": 1}),
                Case("2x2 windows, stride 3 (gaps between windows)", (rng.normal(size=(1, 8, 7, 2)),),
                     {"pool_size": 2, "stride": 3}),
                Case("float32, all values negative", (-rng.uniform(0.5, 3, size=(2, 6, 4, 4)).astype(np.float32),),
                     {"pool_size": 2, "stride": 2}),
                Case("one window covers the whole 4x4 image", (rng.normal(size=(2, 4, 4, 3)),),
                     {"pool_size": 4, "stride": 4})]
    return [Case("one 4x4 image, one channel, default 2x2 windows with stride 2",
                 (SMALL_IMAGE,)),
            Case("2 images, 3 channels, 5x5: the last row and column fit no window",
                 (np.round(rng.normal(size=(2, 5, 5, 3)), 2),), {"pool_size": 2, "stride": 2}),
            Case("3x3 windows, stride 2 (neighbouring windows share a row/column)",
                 (np.round(rng.normal(size=(1, 5, 7, 2)), 2),), {"pool_size": 3, "stride": 2})]


def _tf_pool(op_name: str) -> Callable[[Case], np.ndarray]:
    def reference(case: Case) -> np.ndarray:
        tf = _tensorflow()
        pool_size, stride = _window(case)
        x = tf.constant(_as_float(case.args[0]))
        return getattr(tf.nn, op_name)(x, ksize=pool_size, strides=stride, padding="VALID").numpy()

    return reference


def _window_max(window: np.ndarray) -> np.ndarray:
    return np.nanmax(window, axis=(1, 2))


def _window_mean(window: np.ndarray) -> np.ndarray:
    return np.nanmean(window, axis=(1, 2))


def _numpy_pool(x, pool_size: int, stride: int, reduce: Callable, same_padding: bool = False) -> np.ndarray:
    """Pooling as a loop over output positions: reduce maps windows (N, k, k, C) to (N, C); NaN marks padding."""
    x = _as_float(x)
    if same_padding:
        x = _pad_same(x, pool_size, stride)
    n, h, w, c = x.shape
    out_h, out_w = (h - pool_size) // stride + 1, (w - pool_size) // stride + 1
    out = np.empty((n, out_h, out_w, c))
    for i in range(out_h):
        for j in range(out_w):
            window = x[:, i * stride:i * stride + pool_size, j * stride:j * stride + pool_size, :]
            out[:, i, j, :] = reduce(window)
    return out


def _pad_same(x: np.ndarray, pool_size: int, stride: int) -> np.ndarray:
    """NaN padding as SAME puts it: output size ceil(size / stride), the odd pixel of padding at the end."""
    pads = [(0, 0)]
    for size in x.shape[1:3]:
        total = max((-(-size // stride) - 1) * stride + pool_size - size, 0)
        pads.append((total // 2, total - total // 2))
    return np.pad(x, pads + [(0, 0)], constant_values=np.nan)


def _pool_mistake(reduce: Callable, axes=(1, 2), same_padding: bool = False, drop_last: bool = False,
                  stride_rule: Callable[[int, int], int] = lambda pool_size, stride: stride):
    """Case -> the output of a pooling done wrong: over other axes, with SAME padding, without the last row and
    column of windows, or with the stride stride_rule(pool_size, stride) instead of the given one."""

    def wrong(case: Case) -> np.ndarray:
        pool_size, stride = _window(case)
        x = np.moveaxis(_as_float(case.args[0]), axes, (1, 2))
        out = np.moveaxis(_numpy_pool(x, pool_size, stride_rule(pool_size, stride), reduce, same_padding), (1, 2), axes)
        return out[:, :-1, :-1, :] if drop_last else out

    return wrong


def _broadcast_over_channels(reduce_all: Callable) -> Callable[[np.ndarray], np.ndarray]:
    """A window reduction that also runs over the channels; its value lands in every channel."""
    return lambda window: np.repeat(reduce_all(window, axis=(1, 2, 3))[:, None], window.shape[3], axis=1)


def _broadcast_over_batch(reduce_all: Callable) -> Callable[[np.ndarray], np.ndarray]:
    """A reduction of the whole slice x[:, rows, cols, :], batch and channels included (no axis= given)."""
    return lambda window: np.full((window.shape[0], window.shape[3]), reduce_all(window))


def _shared_pool_mistakes(reduce: Callable, reduce_all: Callable) -> list[Mistake]:
    """Mistakes max and average pooling share: axes, output size, stride."""
    return [
        Mistake("the pooling ran over the width and the channels: x is NHWC, (N, H, W, C), so the window slides "
                "over axes 1 and 2 and every channel is pooled on its own.", _pool_mistake(reduce, axes=(2, 3))),
        Mistake("each window was reduced over the channels too: reduce over the two window axes only "
                "(axis=(1, 2) of x[:, rows, cols, :]), so every channel keeps its own result.",
                _pool_mistake(_broadcast_over_channels(reduce_all))),
        Mistake("each window was reduced over the whole batch and all channels (a reduction without axis=): "
                "every image and every channel is pooled on its own.",
                _pool_mistake(_broadcast_over_batch(reduce_all))),
        Mistake("that is SAME padding (output size ceil(H / stride)); these functions use VALID padding: only "
                "windows that fit inside the image, H' = (H - pool_size) // stride + 1.",
                _pool_mistake(reduce, same_padding=True)),
        Mistake("the last row and column of windows are missing: H' = (H - pool_size) // stride + 1 "
                "(note the + 1 in the range of your loop).", _pool_mistake(reduce, drop_last=True)),
        Mistake("the stride was ignored: windows start every pool_size pixels here, but they must start every "
                "`stride` pixels (row i of the output starts at i * stride).",
                _pool_mistake(reduce, stride_rule=lambda pool_size, stride: pool_size)),
        Mistake("the stride was ignored: windows start at every pixel here (stride 1), but they must start every "
                "`stride` pixels (row i of the output starts at i * stride).",
                _pool_mistake(reduce, stride_rule=lambda pool_size, stride: 1)),
    ]


MAX_POOL2D = Exercise(
    name="max_pool2d",
    cases=lambda which: _pool_cases(which, 1),
    reference=_tf_pool("max_pool2d"),
    compare=close_arrays(RTOL, ATOL),
    tolerance=TOLERANCE,
    mistakes=[*_shared_pool_mistakes(_window_max, np.nanmax),
              Mistake("windows whose values are all negative came out as 0: start the maximum at -inf (or at "
                      "the window's first value), not at 0.",
                      lambda case: np.maximum(_pool_mistake(_window_max)(case), 0.0)),
              Mistake("that is average pooling: max pooling keeps the largest value of each window.",
                      _pool_mistake(_window_mean))],
)


def _sum_over_window(window: np.ndarray) -> np.ndarray:
    return np.nansum(window, axis=(1, 2))


def _mean_over_rows_only(window: np.ndarray) -> np.ndarray:
    return np.nansum(window, axis=(1, 2)) / window.shape[1]


AVG_POOL2D = Exercise(
    name="avg_pool2d",
    cases=lambda which: _pool_cases(which, 2),
    reference=_tf_pool("avg_pool2d"),
    compare=close_arrays(RTOL, ATOL),
    tolerance=TOLERANCE,
    mistakes=[*_shared_pool_mistakes(_window_mean, np.nanmean),
              Mistake("that is the sum of each window: divide by the number of values in it, pool_size ** 2.",
                      _pool_mistake(_sum_over_window)),
              Mistake("the window sum was divided by pool_size; a window holds pool_size * pool_size values.",
                      _pool_mistake(_mean_over_rows_only)),
              Mistake("that is max pooling: average pooling returns the mean of each window.",
                      _pool_mistake(_window_max))],
)


# ---------------------------------------------------------------------------------------------------------
# The gradient of max pooling
# ---------------------------------------------------------------------------------------------------------

def _backward_case(rng: np.random.Generator, name: str, shape: tuple, pool_size: int, stride: int,
                   dtype=np.float64) -> Case:
    """A gradient case: random x of shape (N, H, W, C) (no ties) and a dout that fits the pooled output."""
    n, h, w, c = shape
    out_shape = (n, (h - pool_size) // stride + 1, (w - pool_size) // stride + 1, c)
    x, dout = rng.normal(size=shape).astype(dtype), np.round(rng.normal(size=out_shape), 2).astype(dtype)
    return Case(name, (dout, x), {"pool_size": pool_size, "stride": stride})


def _backward_cases(which: str) -> list[Case]:
    rng = _rng(which, 3)
    if which == HIDDEN:
        return [_backward_case(rng, "3x3 windows, stride 1: an input can be the maximum of up to 9 windows",
                               (2, 5, 6, 2), 3, 1),
                _backward_case(rng, "3x3 windows, stride 2, odd sizes", (2, 7, 6, 3), 3, 2),
                _backward_case(rng, "2x2 windows, stride 3: some inputs are in no window", (1, 7, 8, 2), 2, 3),
                _backward_case(rng, "float32, 3 images, 4 channels", (3, 4, 6, 4), 2, 2, np.float32),
                _backward_case(rng, "one window covers the whole 4x4 image", (1, 4, 4, 2), 4, 4)]
    dout = np.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 2, 2, 1)
    return [Case("one 4x4 image, default 2x2 windows with stride 2", (dout, SMALL_IMAGE)),
            _backward_case(rng, "2 images, 3 channels", (2, 4, 4, 3), 2, 2),
            _backward_case(rng, "3x3 windows, stride 2: neighbouring windows share inputs (gradients add up)",
                           (1, 5, 5, 2), 3, 2)]


def _max_pool_gradient(case: Case) -> np.ndarray:
    tf = _tensorflow()
    dout, x = (tf.constant(_as_float(a)) for a in case.args)
    pool_size, stride = _window(case)
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = tf.nn.max_pool2d(x, ksize=pool_size, strides=stride, padding="VALID")
    return tape.gradient(out, x, output_gradients=dout).numpy()


def _backward_mistake(route: Callable, accumulate: bool = True) -> Callable[[Case], np.ndarray]:
    """dx of a max-pooling backward pass done wrong.

    route(window (k, k), g) -> what the window's inputs receive (k, k), or (row, col) of the single input that
    receives g. accumulate=False overwrites instead of adding (it differs only where windows overlap).
    """

    def wrong(case: Case) -> np.ndarray:
        dout, x = (_as_float(a) for a in case.args)
        pool_size, stride = _window(case)
        dx = np.zeros_like(x)
        for n, i, j, c in np.ndindex(dout.shape):
            top, left = i * stride, j * stride
            window = x[n, top:top + pool_size, left:left + pool_size, c]
            routed = route(window, dout[n, i, j, c])
            if isinstance(routed, tuple):
                row, col = routed
                target = (n, top + row, left + col, c)
                dx[target] = dx[target] + dout[n, i, j, c] if accumulate else dout[n, i, j, c]
            elif accumulate:
                dx[n, top:top + pool_size, left:left + pool_size, c] += routed
            else:
                dx[n, top:top + pool_size, left:left + pool_size, c] = routed
        return dx

    return wrong


def _argmax_position(window: np.ndarray, g: float) -> tuple[int, int]:
    return np.unravel_index(np.argmax(window), window.shape)


def _argmax_transposed(window: np.ndarray, g: float) -> tuple[int, int]:
    row, col = np.unravel_index(np.argmax(window), window.shape)
    return col, row


def _max_over_channels_too(case: Case) -> np.ndarray:
    """Each window's maximum taken over all its channels: only the channel that holds it gets a gradient."""
    dout, x = (_as_float(a) for a in case.args)
    pool_size, stride = _window(case)
    dx = np.zeros_like(x)
    for n, i, j in np.ndindex(dout.shape[:3]):
        rows, cols = slice(i * stride, i * stride + pool_size), slice(j * stride, j * stride + pool_size)
        window = x[n, rows, cols, :]
        dx[n, rows, cols, :] += (window == window.max()) * dout[n, i, j, :]
    return dx


MAX_POOL2D_BACKWARD = Exercise(
    name="max_pool2d_backward",
    cases=_backward_cases,
    reference=_max_pool_gradient,
    compare=close_arrays(RTOL, ATOL),
    tolerance=TOLERANCE,
    mistakes=[
        Mistake("the gradient was spread evenly over each window (dout / pool_size**2): that is the gradient "
                "of average pooling. Max pooling passes dout only to the input that was the maximum; the other "
                "inputs did not change the output, so their gradient is 0.",
                _backward_mistake(lambda window, g: np.full(window.shape, g / window.size))),
        Mistake("every input of the window received dout: only the maximum of the window did (a mask "
                "window == window.max(), times dout).",
                _backward_mistake(lambda window, g: np.full(window.shape, g))),
        Mistake("the mask of the maxima is right, but it was not multiplied by dout (the chain rule: "
                "dx = mask * dout).", _backward_mistake(lambda window, g: (window == window.max()).astype(float))),
        Mistake("where windows overlap (stride < pool_size) an input can be the maximum of several windows: "
                "add (+=) every window's gradient, do not overwrite it.",
                _backward_mistake(_argmax_position, accumulate=False)),
        Mistake("where windows overlap (stride < pool_size), assigning a whole window's gradient "
                "(dx[window] = mask * dout) wipes what earlier windows put there: add (+=) instead.",
                _backward_mistake(lambda window, g: (window == window.max()) * g, accumulate=False)),
        Mistake("row and column of the maximum are swapped: np.unravel_index(np.argmax(window), window.shape) "
                "gives (row, col) in that order.", _backward_mistake(_argmax_transposed)),
        Mistake("the maximum was taken over the channels too: every channel has its own maximum in each window "
                "(reduce over the two window axes only).", _max_over_channels_too),
    ],
)


# ---------------------------------------------------------------------------------------------------------
# Receptive fields
# ---------------------------------------------------------------------------------------------------------

LENET5 = [(5, 1), (2, 2), (5, 1), (2, 2)]
ALEXNET = [(11, 4), (3, 2), (5, 1), (3, 2), (3, 1), (3, 1), (3, 1), (3, 2)]
VGG16 = ([(3, 1)] * 2 + [(2, 2)]) * 2 + ([(3, 1)] * 3 + [(2, 2)]) * 3


def _receptive_field_cases(which: str) -> list[Case]:
    if which == HIDDEN:
        return [Case("no layers: a pixel sees itself", ([],)),
                Case("AlexNet's convolutions and poolings", (ALEXNET,)),
                Case("VGG-16's convolutions and poolings", (VGG16,)),
                Case("two stride-2 poolings, then a 3x3 convolution", ([(2, 2), (2, 2), (3, 1)],)),
                Case("1x1 strided layers widen only the step", ([(1, 2), (1, 2), (3, 1)],))]
    return [Case("two 3x3 convolutions", ([(3, 1), (3, 1)],)),
            Case("3x3 convolution, 2x2 pooling, 3x3 convolution", ([(3, 1), (2, 2), (3, 1)],)),
            Case("LeNet-5: 5x5 conv, 2x2 pool, 5x5 conv, 2x2 pool", (LENET5,))]


def _receptive_field(layers, jump_first: bool = False, cumulative: bool = True, use_jump: bool = True) -> int:
    size, jump = 1, 1
    for kernel, stride in layers:
        if jump_first:
            jump = jump * stride if cumulative else stride
        size += (kernel - 1) * (jump if use_jump else 1)
        if not jump_first:
            jump = jump * stride if cumulative else stride
    return size


RECEPTIVE_FIELD = Exercise(
    name="receptive_field",
    cases=_receptive_field_cases,
    reference=lambda case: _receptive_field(case.args[0]),
    compare=close_arrays(0, 0),
    tolerance="exact (an int: whole pixels)",
    integer_result=True,
    mistakes=[
        Mistake("the strides were left out: after a stride-s layer, neighbouring units are s input pixels apart, "
                "so a later kernel of size k adds (k - 1) * jump pixels, where jump is the product of the "
                "strides before it.", lambda case: _receptive_field(case.args[0], use_jump=False)),
        Mistake("a layer's own stride does not widen its own window: add (k - 1) * jump first, then update "
                "jump *= s for the layers after it.", lambda case: _receptive_field(case.args[0], jump_first=True)),
        Mistake("strides multiply: after two stride-2 layers, neighbouring units are 4 input pixels apart "
                "(jump *= s, not jump = s).", lambda case: _receptive_field(case.args[0], cumulative=False)),
        Mistake("start from r = 1 (one pixel) and add k - 1 per layer, scaled by the jump; adding whole kernel "
                "sizes counts the centre pixel again in every layer.",
                lambda case: sum(kernel for kernel, _ in case.args[0])),
    ],
)

EXERCISES = (RELU, MAX_POOL2D, AVG_POOL2D, MAX_POOL2D_BACKWARD, RECEPTIVE_FIELD)

check_relu = checker(RELU)
check_max_pool2d = checker(MAX_POOL2D)
check_avg_pool2d = checker(AVG_POOL2D)
check_max_pool2d_backward = checker(MAX_POOL2D_BACKWARD)
check_receptive_field = checker(RECEPTIVE_FIELD)
