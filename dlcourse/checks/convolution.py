"""Checks of module 03_convolution: 1-D and 2-D convolutions, zero padding, output sizes, the Gaussian kernel
and a multi-channel convolution layer.

Every convolution here is a cross-correlation, like ``tf.nn.conv2d``: the kernel slides over the input as it
is, without being flipped. References are TensorFlow's ops in float64 (imported on first use, silenced) and
closed forms.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from .core import HIDDEN, Case, Exercise, Mistake, case_rng, checker, close_arrays

RTOL, ATOL = 1e-4, 1e-5
TOLERANCE = f"rtol={RTOL:g}, atol={ATOL:g} (float32 arithmetic and any summation order pass)"
FORBIDDEN = ("numpy.convolve", "numpy.correlate")  # they do the whole job (a helper named convolve is fine)

# The deck's example: a 5x5 binary image, a 3x3 kernel, and their 3x3 (valid, stride 1) result.
DECK_IMAGE = np.array([[1, 1, 1, 0, 0],
                       [0, 1, 1, 1, 0],
                       [0, 0, 1, 1, 1],
                       [0, 0, 1, 1, 0],
                       [0, 1, 1, 0, 0]], dtype=np.float64)
DECK_KERNEL = np.array([[1, 0, 1],
                        [0, 1, 0],
                        [1, 0, 1]], dtype=np.float64)
DECK_RESULT = np.array([[4, 3, 4],
                        [2, 4, 3],
                        [2, 3, 4]], dtype=np.float64)

FLIPPED_HINT = ("that is a true convolution: the kernel is flipped. Deep learning libraries (tf.nn.conv2d too) "
                "compute a cross-correlation: multiply each window by the kernel as it is, without reversing it.")


def _rng(which: str, salt: int) -> np.random.Generator:
    return case_rng(3, which, salt)


@functools.lru_cache(maxsize=1)
def _tf():
    from ..environment import import_tensorflow

    return import_tensorflow()[0]


def _stride_padding(case: Case) -> tuple[int, int]:
    return case.kwargs.get("stride", 1), case.kwargs.get("padding", 0)


def _output_size(n: int, k: int, stride: int = 1, padding: int = 0) -> int:
    return (n + 2 * padding - k) // stride + 1


def _correlate_nhwc(x, W, stride: int = 1, padding: int = 0) -> np.ndarray:
    """tf.nn.conv2d in float64 with symmetric zero padding: x (N, H, W, Cin), W (kh, kw, Cin, Cout).

    ValueError when no output exists (negative padding, a kernel larger than the padded input), which a
    mistake's model of a wrong answer can ask for.
    """
    sizes = [_output_size(n, k, stride, padding) for n, k in zip(np.shape(x)[1:3], np.shape(W)[:2])]
    if padding < 0 or min(sizes) < 1:
        raise ValueError(f"no output for padding={padding}, stride={stride}")
    pads = [[0, 0], [padding, padding], [padding, padding], [0, 0]]
    out = _tf().nn.conv2d(np.asarray(x, np.float64), np.asarray(W, np.float64), strides=stride, padding=pads)
    return out.numpy()


def _correlate_2d(image, kernel, stride: int = 1, padding: int = 0) -> np.ndarray:
    """Single-channel cross-correlation (H, W) with (kh, kw) through tf.nn.conv2d."""
    return _correlate_nhwc(np.asarray(image)[None, :, :, None], np.asarray(kernel)[:, :, None, None],
                           stride, padding)[0, :, :, 0]


# ---------------------------------------------------------------------------------------------------------
# conv1d
# ---------------------------------------------------------------------------------------------------------

def _conv1d_cases(which: str) -> list[Case]:
    rng = _rng(which, 0)
    if which == HIDDEN:
        return [Case("L = 20, K = 5, float32", (rng.normal(size=20).astype(np.float32),
                                                 rng.normal(size=5).astype(np.float32))),
                Case("K = L gives one output", (rng.normal(size=6), rng.normal(size=6))),
                Case("K = 1 scales the signal", (rng.normal(size=7), np.array([-2.5])))]
    return [Case("a ramp and the difference kernel [1, 0, -1]",
                 (np.array([1.0, 2.0, 3.0, 4.0, 5.0]), np.array([1.0, 0.0, -1.0]))),
            Case("L = 8, K = 3", (rng.normal(size=8), np.array([0.5, 1.0, -2.0])))]


def _correlate_1d(x, k) -> np.ndarray:
    x, k = np.asarray(x, np.float64), np.asarray(k, np.float64)
    return _tf().nn.convolution(x[None, :, None], k[:, None, None], padding="VALID").numpy()[0, :, 0]


CONV1D = Exercise(
    name="conv1d",
    cases=_conv1d_cases,
    reference=lambda case: _correlate_1d(*case.args),
    compare=close_arrays(RTOL, ATOL),
    tolerance=TOLERANCE,
    forbidden_calls=FORBIDDEN,
    mistakes=[Mistake(FLIPPED_HINT, lambda case: _correlate_1d(case.args[0], case.args[1][::-1])),
              Mistake("the last position is missing: a kernel of length K fits at L - K + 1 positions "
                      "(range(L - K + 1)).", lambda case: _correlate_1d(*case.args)[:-1]),
              Mistake("'valid' means no padding: the output only has the L - K + 1 positions where the kernel "
                      "fits entirely inside x.",
                      lambda case: _correlate_1d(np.pad(case.args[0], (len(case.args[1]) - 1) // 2), case.args[1])),
              Mistake("'valid' means no padding: the output only has the L - K + 1 positions where the kernel "
                      "fits entirely inside x.",
                      lambda case: _correlate_1d(np.pad(case.args[0], len(case.args[1]) - 1), case.args[1]))],
)


# ---------------------------------------------------------------------------------------------------------
# pad2d
# ---------------------------------------------------------------------------------------------------------

def _pad2d_cases(which: str) -> list[Case]:
    rng = _rng(which, 1)
    if which == HIDDEN:
        return [Case("pad = 0 returns the image unchanged", (rng.normal(size=(3, 4)), 0)),
                Case("a (4, 1) float32 column, pad = 3", (rng.normal(size=(4, 1)).astype(np.float32), 3)),
                Case("a single pixel, pad = 1", (np.array([[7.0]]), 1))]
    return [Case("the deck's 5x5 image, pad = 1", (DECK_IMAGE, 1)),
            Case("a (2, 3) image, pad = 2", (rng.integers(1, 10, size=(2, 3)).astype(np.float64), 2))]


PAD_EVERY_SIDE_HINT = ("pad on every side: `pad` zero rows on top AND at the bottom, `pad` zero columns on the left "
                       "AND on the right, giving shape (H + 2*pad, W + 2*pad).")

PAD_PER_SIDE_HINT = "`pad` is the width of the border on EACH side, not the total: the shape grows by 2*pad."


def _split(pad: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """A border of `pad` pixels in total per axis, split between the two sides (a mistake)."""
    return (pad // 2, pad - pad // 2), (pad // 2, pad - pad // 2)


PAD2D = Exercise(
    name="pad2d",
    cases=_pad2d_cases,
    reference=lambda case: np.pad(np.asarray(case.args[0], np.float64), case.args[1]),
    compare=close_arrays(1e-6, 0),
    tolerance="rtol=1e-6, atol=0 (the border must be exactly 0; float32 copies of the pixels pass)",
    forbidden_calls=("numpy.pad",),  # it does the whole job (an attribute named pad is fine)
    mistakes=[Mistake(PAD_EVERY_SIDE_HINT, lambda case: np.pad(case.args[0], ((case.args[1], 0), (case.args[1], 0)))),
              Mistake(PAD_EVERY_SIDE_HINT, lambda case: np.pad(case.args[0], ((0, case.args[1]), (0, case.args[1])))),
              Mistake(PAD_PER_SIDE_HINT, lambda case: np.pad(case.args[0], 2 * case.args[1])),
              Mistake(PAD_PER_SIDE_HINT, lambda case: np.pad(case.args[0], _split(case.args[1]))),
              Mistake("zero padding: the new border is 0, not a copy of the edge pixels.",
                      lambda case: np.pad(case.args[0], case.args[1], mode="edge")),
              Mistake("zero padding: fill the border with 0, not 1.",
                      lambda case: np.pad(case.args[0], case.args[1], constant_values=1))],
)


# ---------------------------------------------------------------------------------------------------------
# conv_output_size
# ---------------------------------------------------------------------------------------------------------

def _output_size_cases(which: str) -> list[Case]:
    if which == HIDDEN:
        settings = [(227, 11, 4, 0), (32, 5, 1, 2), (10, 4, 3, 1), (1, 1, 1, 0), (13, 3, 2, 2), (28, 5, 1, 0)]
    else:
        settings = [(5, 3, 1, 0), (7, 3, 1, 1), (6, 3, 2, 0), (224, 7, 2, 3)]
    return [Case(f"n={n}, k={k}, stride={s}, padding={p}", (n, k), {"stride": s, "padding": p})
            for n, k, s, p in settings]


def _size_args(case: Case) -> tuple[int, int, int, int]:
    (n, k), (stride, padding) = case.args, _stride_padding(case)
    return n, k, stride, padding


CONV_OUTPUT_SIZE = Exercise(
    name="conv_output_size",
    cases=_output_size_cases,
    reference=lambda case: _output_size(*_size_args(case)),
    compare=close_arrays(0, 0),
    tolerance="exact (an int)",
    integer_result=True,
    mistakes=[Mistake("missing +1: the first window already gives one output, then one more per stride: "
                      "floor((n + 2p - k) / s) + 1.", lambda case: _output_size(*_size_args(case)) - 1),
              Mistake("padding forgotten: the padded input has n + 2p pixels (p on each side).",
                      lambda case: _output_size(*_size_args(case)[:3])),
              Mistake("padding counted once: p zeros are added on EACH side, so the padded length is n + 2p.",
                      lambda case: (lambda n, k, s, p: (n + p - k) // s + 1)(*_size_args(case))),
              Mistake("not floored: a window that would stick out of the padded input is dropped, so round "
                      "(n + 2p - k) / s down (use //) before adding 1.",
                      lambda case: (lambda n, k, s, p: (n + 2 * p - k) / s + 1)(*_size_args(case))),
              Mistake("rounded up: a window that would stick out of the padded input is dropped, so round "
                      "(n + 2p - k) / s down (use //), not up.",
                      lambda case: (lambda n, k, s, p: math.ceil((n + 2 * p - k) / s) + 1)(*_size_args(case))),
              Mistake("stride ignored: the window moves s pixels at a time, so divide (n + 2p - k) by s.",
                      lambda case: (lambda n, k, s, p: n + 2 * p - k + 1)(*_size_args(case)))],
)


# ---------------------------------------------------------------------------------------------------------
# conv2d
# ---------------------------------------------------------------------------------------------------------

def _conv2d_cases(which: str) -> list[Case]:
    rng = _rng(which, 2)
    if which == HIDDEN:
        return [Case("a (7, 9) float32 image, (2, 4) kernel, stride=3, padding=2",
                     (rng.normal(size=(7, 9)).astype(np.float32), rng.normal(size=(2, 4)).astype(np.float32)),
                     {"stride": 3, "padding": 2}),
                Case("a (8, 8) image, stride=2 (the last row and column of pixels are not reached)",
                     (rng.normal(size=(8, 8)), rng.normal(size=(3, 3))), {"stride": 2}),
                Case("a 1x1 kernel", (rng.normal(size=(4, 5)), np.array([[-3.0]]))),
                Case("the kernel covers the padded image: one output",
                     (rng.normal(size=(3, 4)), rng.normal(size=(5, 6))), {"padding": 1})]
    return [Case("the deck's example", (DECK_IMAGE, DECK_KERNEL)),
            Case("a (6, 6) image, an asymmetric kernel, padding=1",
                 (rng.integers(0, 5, size=(6, 6)).astype(np.float64), np.array([[1.0, 0, -1], [2, 0, -2], [1, 0, -3]])),
                 {"padding": 1}),
            Case("a (7, 8) image, stride=2, padding=1", (rng.normal(size=(7, 8)), rng.normal(size=(3, 3))),
                 {"stride": 2, "padding": 1})]


def _conv2d_with(case: Case, kernel=None, stride=None, padding=None) -> np.ndarray:
    """The reference on a case with the kernel, stride or padding replaced (to model a mistake)."""
    image, case_kernel = case.args
    case_stride, case_padding = _stride_padding(case)
    return _correlate_2d(image, case_kernel if kernel is None else kernel,
                         case_stride if stride is None else stride, case_padding if padding is None else padding)


def _conv2d_windows_not_strided(case: Case) -> np.ndarray:
    image, kernel = case.args
    stride, padding = _stride_padding(case)
    rows, cols = (_output_size(n, k, stride, padding) for n, k in zip(image.shape, kernel.shape))
    return _conv2d_with(case, stride=1)[:rows, :cols]


def _conv2d_one_sided_padding(case: Case) -> np.ndarray:
    image, kernel = case.args
    stride, padding = _stride_padding(case)
    return _correlate_2d(np.pad(image, ((padding, 0), (padding, 0))), kernel, stride)


STRIDE_HINT = ("stride ignored: output (i, j) looks at the window whose top-left corner is (i*stride, j*stride) "
               "of the padded image, and there are conv_output_size(...) outputs per axis.")

CONV2D = Exercise(
    name="conv2d",
    cases=_conv2d_cases,
    reference=lambda case: _conv2d_with(case),
    compare=close_arrays(RTOL, ATOL),
    tolerance=TOLERANCE,
    forbidden_calls=FORBIDDEN,
    mistakes=[Mistake(FLIPPED_HINT, lambda case: _conv2d_with(case, kernel=case.args[1][::-1, ::-1])),
              Mistake("rows and columns of the kernel are swapped: kernel[a, b] multiplies the pixel a rows down "
                      "and b columns right of the window's corner.", lambda case: _conv2d_with(case, kernel=case.args[1].T)),
              Mistake(STRIDE_HINT, lambda case: _conv2d_with(case, stride=1)),
              Mistake("the output has the right size but the windows move by 1 pixel: the window of output (i, j) "
                      "starts at row i*stride, column j*stride.", _conv2d_windows_not_strided),
              Mistake("padding ignored: first surround the image with `padding` zeros on every side (pad2d), then "
                      "slide the kernel over the padded image.", lambda case: _conv2d_with(case, padding=0)),
              Mistake("padding off by one: add exactly `padding` zeros on each side.",
                      lambda case: _conv2d_with(case, padding=_stride_padding(case)[1] + 1)),
              Mistake("padding off by one: add exactly `padding` zeros on each side.",
                      lambda case: _conv2d_with(case, padding=_stride_padding(case)[1] - 1)),
              Mistake("the image is padded on the top and left only: add `padding` zeros on every side.",
                      _conv2d_one_sided_padding),
              Mistake("the last row and column of outputs are missing: there are (H + 2p - kh) // stride + 1 "
                      "window positions along the rows (mind the +1), likewise along the columns.",
                      lambda case: _conv2d_with(case)[:-1, :-1])],
)


# ---------------------------------------------------------------------------------------------------------
# gaussian_kernel
# ---------------------------------------------------------------------------------------------------------

def _gaussian_cases(which: str) -> list[Case]:
    if which == HIDDEN:
        settings = [(7, 2.0), (1, 1.0), (6, 0.7), (9, 0.5)]
    else:
        settings = [(3, 1.0), (5, 1.5), (4, 0.8)]
    return [Case(f"size={size}, sigma={sigma}", (size, sigma)) for size, sigma in settings]


def _gaussian(size: int, sigma: float, offset: float | None = None, two_sigma_squared: float | None = None,
              normalise: str = "sum", return_1d: bool = False) -> np.ndarray:
    """The centred, normalised Gaussian, or one of its classic variants (to model a mistake)."""
    coords = np.arange(size) - ((size - 1) / 2 if offset is None else offset)
    denominator = 2 * sigma**2 if two_sigma_squared is None else two_sigma_squared
    profile = np.exp(-coords**2 / denominator)
    if return_1d:
        return profile / profile.sum()
    kernel = np.outer(profile, profile)
    if normalise == "sum":
        return kernel / kernel.sum()
    if normalise == "continuous":
        return kernel / (2 * np.pi * sigma**2)
    return kernel


CENTRE_HINT = ("the kernel is not centred: measure x and y from the centre (size - 1) / 2 so that the peak sits in "
               "the middle (for an even size the centre falls between two pixels).")

GAUSSIAN_KERNEL = Exercise(
    name="gaussian_kernel",
    cases=_gaussian_cases,
    reference=lambda case: _gaussian(*case.args),
    compare=close_arrays(1e-5, 1e-8),
    tolerance="rtol=1e-5, atol=1e-8",
    mistakes=[Mistake("not normalised: divide by the kernel's sum so that it sums to 1 and blurring keeps the "
                      "image's brightness.", lambda case: _gaussian(*case.args, normalise="none")),
              Mistake("1/(2 pi sigma^2) normalises the continuous Gaussian; the values on a small grid do not sum "
                      "to exactly 1: divide by the kernel's own sum instead.",
                      lambda case: _gaussian(*case.args, normalise="continuous")),
              Mistake(CENTRE_HINT, lambda case: _gaussian(*case.args, offset=case.args[0] // 2)),
              Mistake(CENTRE_HINT, lambda case: _gaussian(*case.args, offset=0)),
              Mistake(CENTRE_HINT, lambda case: _gaussian(*case.args, offset=case.args[0] / 2)),
              Mistake("use the variance: exp(-(x^2 + y^2) / (2 sigma^2)), with sigma squared.",
                      lambda case: _gaussian(*case.args, two_sigma_squared=2 * case.args[1])),
              Mistake("the exponent is -(x^2 + y^2) / (2 sigma^2): the factor 2 is missing.",
                      lambda case: _gaussian(*case.args, two_sigma_squared=case.args[1] ** 2)),
              Mistake("return the 2-D kernel of shape (size, size): the outer product of the 1-D Gaussian with "
                      "itself, normalised.", lambda case: _gaussian(*case.args, return_1d=True))],
)


# ---------------------------------------------------------------------------------------------------------
# conv2d_layer
# ---------------------------------------------------------------------------------------------------------

def _layer_case(name: str, rng: np.random.Generator, n: int, size: tuple[int, int], kernel: tuple[int, int],
                c_in: int, c_out: int, dtype=np.float64, **kwargs) -> Case:
    x = rng.normal(size=(n, *size, c_in)).astype(dtype)
    W = rng.normal(size=(*kernel, c_in, c_out)).astype(dtype)
    b = rng.normal(size=c_out).astype(dtype)
    return Case(name, (x, W, b), kwargs)


def _layer_cases(which: str) -> list[Case]:
    rng = _rng(which, 4)
    if which == HIDDEN:
        return [_layer_case("one grey image, one filter, padding=1", rng, 1, (5, 6), (3, 3), 1, 1, padding=1),
                _layer_case("float32, a (2, 4) kernel, stride=3, padding=2", rng, 2, (7, 9), (2, 4), 3, 5,
                            dtype=np.float32, stride=3, padding=2),
                _layer_case("a 1x1 convolution mixes channels only", rng, 3, (4, 4), (1, 1), 4, 2),
                _layer_case("8 filters, stride=2", rng, 2, (8, 7), (3, 3), 2, 8, stride=2)]
    return [_layer_case("x (2, 5, 5, 3), W (3, 3, 3, 3)", rng, 2, (5, 5), (3, 3), 3, 3),
            _layer_case("x (2, 6, 7, 2), W (3, 3, 2, 4), stride=2, padding=1", rng, 2, (6, 7), (3, 3), 2, 4,
                        stride=2, padding=1)]


def _layer_with(case: Case, x=None, W=None, b=None, stride=None, padding=None) -> np.ndarray:
    """The reference on a case with some inputs replaced (to model a mistake)."""
    case_x, case_W, case_b = case.args
    case_stride, case_padding = _stride_padding(case)
    out = _correlate_nhwc(case_x if x is None else x, case_W if W is None else W,
                          case_stride if stride is None else stride, case_padding if padding is None else padding)
    return out + np.asarray(case_b if b is None else b, np.float64)


def _layer_bias_per_row(case: Case) -> np.ndarray:
    _, _, b = case.args
    return _layer_with(case, b=0.0) + np.asarray(b, np.float64)[:, None, None]


def _layer_channels_averaged(case: Case) -> np.ndarray:
    _, W, b = case.args
    return _layer_with(case, b=0.0) / W.shape[2] + b


CONV2D_LAYER = Exercise(
    name="conv2d_layer",
    cases=_layer_cases,
    reference=lambda case: _layer_with(case),
    compare=close_arrays(RTOL, ATOL),
    tolerance=TOLERANCE,
    forbidden_calls=FORBIDDEN,
    mistakes=[Mistake(FLIPPED_HINT, lambda case: _layer_with(case, W=case.args[1][::-1, ::-1])),
              Mistake("the bias is missing: add b[c] to every value of output channel c.",
                      lambda case: _layer_with(case, b=0.0)),
              Mistake("the bias is added once per input channel: sum the products over kh, kw and Cin first, "
                      "then add b[c] once.", lambda case: _layer_with(case, b=case.args[1].shape[2] * case.args[2])),
              Mistake("the bias is added per row of the output: b has one value per output channel, so it "
                      "broadcasts along the last axis (out + b, or out[..., c] += b[c]).", _layer_bias_per_row),
              Mistake("the input channels are averaged: a filter SUMS its products over kh, kw and all Cin "
                      "input channels.", _layer_channels_averaged),
              Mistake("only the first input channel is used: each filter W[:, :, :, c] spans all Cin input "
                      "channels, and their products are summed.",
                      lambda case: _layer_with(case, x=case.args[0][..., :1], W=case.args[1][:, :, :1])),
              Mistake(STRIDE_HINT, lambda case: _layer_with(case, stride=1)),
              Mistake("padding ignored: pad the height and width axes of x with `padding` zeros on each side "
                      "(not the batch or channel axes) before sliding the filters.",
                      lambda case: _layer_with(case, padding=0))],
)

EXERCISES = (CONV1D, PAD2D, CONV_OUTPUT_SIZE, CONV2D, GAUSSIAN_KERNEL, CONV2D_LAYER)

check_conv1d = checker(CONV1D)
check_pad2d = checker(PAD2D)
check_conv_output_size = checker(CONV_OUTPUT_SIZE)
check_conv2d = checker(CONV2D)
check_gaussian_kernel = checker(GAUSSIAN_KERNEL)
check_conv2d_layer = checker(CONV2D_LAYER)
