"""Module 03: plausible wrong implementations (must be rejected) and alternative correct ones (must pass)."""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def _zero_pad(image, top, bottom, left, right):
    image = np.asarray(image, dtype=np.float64)
    out = np.zeros((image.shape[0] + top + bottom, image.shape[1] + left + right))
    out[top:top + image.shape[0], left:left + image.shape[1]] = image
    return out


def _correlate_loops(image, kernel, stride=1, rows=None, cols=None):
    """Valid cross-correlation of a (padded) image with loops; rows/cols override the output size."""
    kh, kw = kernel.shape
    rows = (image.shape[0] - kh) // stride + 1 if rows is None else rows
    cols = (image.shape[1] - kw) // stride + 1 if cols is None else cols
    out = np.zeros((rows, cols))
    for i in range(rows):
        for j in range(cols):
            window = image[i * stride:i * stride + kh, j * stride:j * stride + kw]
            out[i, j] = np.sum(window * kernel)
    return out


def _layer_no_bias(x, W, stride, padding):
    """Cross-correlation of x (N, H, W, Cin) with W (kh, kw, Cin, Cout), no bias, via tensordot per position."""
    x = np.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    kh, kw = W.shape[:2]
    rows, cols = (x.shape[1] - kh) // stride + 1, (x.shape[2] - kw) // stride + 1
    out = np.zeros((x.shape[0], rows, cols, W.shape[3]))
    for i in range(rows):
        for j in range(cols):
            window = x[:, i * stride:i * stride + kh, j * stride:j * stride + kw, :]
            out[:, i, j, :] = np.tensordot(window, W, axes=([1, 2, 3], [0, 1, 2]))
    return out


# --- conv1d ----------------------------------------------------------------------------------------------
def wrong_conv1d__flipped_kernel(x, k):
    k = k[::-1]
    return np.array([np.dot(x[i:i + len(k)], k) for i in range(len(x) - len(k) + 1)])


def wrong_conv1d__last_position_missing(x, k):
    return np.array([np.dot(x[i:i + len(k)], k) for i in range(len(x) - len(k))])


def wrong_conv1d__same_length(x, k):
    padded = np.concatenate([np.zeros((len(k) - 1) // 2), x, np.zeros(len(k) // 2)])
    return np.array([np.dot(padded[i:i + len(k)], k) for i in range(len(x))])


def right_conv1d__loops_float32(x, k):
    x, k = np.asarray(x, np.float32), np.asarray(k, np.float32)
    out = np.zeros(len(x) - len(k) + 1, np.float32)
    for i in range(len(out)):
        for t in range(len(k)):
            out[i] += x[i + t] * k[t]
    return out


def right_conv1d__sliding_window(x, k):
    return sliding_window_view(x, len(k)) @ k


# --- pad2d -----------------------------------------------------------------------------------------------
def wrong_pad2d__top_left_only(image, pad):
    return _zero_pad(image, pad, 0, pad, 0)


def wrong_pad2d__edge_values(image, pad):
    rows = np.concatenate([np.repeat(image[:1], pad, axis=0), image, np.repeat(image[-1:], pad, axis=0)])
    return np.concatenate([np.repeat(rows[:, :1], pad, axis=1), rows, np.repeat(rows[:, -1:], pad, axis=1)], axis=1)


def wrong_pad2d__half_on_each_side(image, pad):
    return _zero_pad(image, pad // 2, pad - pad // 2, pad // 2, pad - pad // 2)


def right_pad2d__concatenate(image, pad):
    height, width = image.shape
    side = np.zeros((height, pad), dtype=image.dtype)
    rows = np.concatenate([side, image, side], axis=1)
    cap = np.zeros((pad, width + 2 * pad), dtype=image.dtype)
    return np.concatenate([cap, rows, cap], axis=0)


def right_pad2d__float32_slice(image, pad):
    out = np.zeros((image.shape[0] + 2 * pad, image.shape[1] + 2 * pad), np.float32)
    out[pad:out.shape[0] - pad, pad:out.shape[1] - pad] = image
    return out


class _Border:
    """Padding settings kept on an object, the way some courses pass options around."""

    def __init__(self, pad, value=0.0):
        self.pad, self.value = pad, value


def right_pad2d__attribute_named_pad(image, pad):
    border = _Border(pad)
    out = np.full((image.shape[0] + 2 * border.pad, image.shape[1] + 2 * border.pad), border.value)
    out[border.pad:border.pad + image.shape[0], border.pad:border.pad + image.shape[1]] = image
    return out


# --- conv_output_size ------------------------------------------------------------------------------------
def wrong_conv_output_size__no_plus_one(n, k, stride=1, padding=0):
    return (n + 2 * padding - k) // stride


def wrong_conv_output_size__true_division(n, k, stride=1, padding=0):
    return (n + 2 * padding - k) / stride + 1


def wrong_conv_output_size__padding_forgotten(n, k, stride=1, padding=0):
    return (n - k) // stride + 1


def wrong_conv_output_size__floor_returns_float(n, k, stride=1, padding=0):
    return np.floor((n + 2 * padding - k) / stride) + 1


def wrong_conv_output_size__padding_counted_once(n, k, stride=1, padding=0):
    return (n + padding - k) // stride + 1


def right_conv_output_size__count_windows(n, k, stride=1, padding=0):
    count, start = 0, 0
    while start + k <= n + 2 * padding:
        count, start = count + 1, start + stride
    return count


def right_conv_output_size__int_truncation(n, k, stride=1, padding=0):
    return int((n + 2 * padding - k) / stride) + 1


# --- conv2d ----------------------------------------------------------------------------------------------
def wrong_conv2d__flipped_kernel(image, kernel, stride=1, padding=0):
    return _correlate_loops(_zero_pad(image, *[padding] * 4), kernel[::-1, ::-1], stride)


def wrong_conv2d__stride_ignored(image, kernel, stride=1, padding=0):
    return _correlate_loops(_zero_pad(image, *[padding] * 4), kernel)


def wrong_conv2d__padding_off_by_one(image, kernel, stride=1, padding=0):
    return _correlate_loops(_zero_pad(image, *[padding + 1] * 4), kernel, stride)


def wrong_conv2d__last_window_dropped(image, kernel, stride=1, padding=0):
    padded = _zero_pad(image, *[padding] * 4)
    rows, cols = ((n - k) // stride for n, k in zip(padded.shape, kernel.shape))
    return _correlate_loops(padded, kernel, stride, rows, cols)


def right_conv2d__loops_float32(image, kernel, stride=1, padding=0):
    padded = _zero_pad(image, *[padding] * 4).astype(np.float32)
    return _correlate_loops(padded, np.asarray(kernel, np.float32), stride).astype(np.float32)


def right_conv2d__im2col(image, kernel, stride=1, padding=0):
    padded = _zero_pad(image, *[padding] * 4)
    windows = sliding_window_view(padded, kernel.shape)[::stride, ::stride]
    return windows.reshape(*windows.shape[:2], -1) @ kernel.ravel()


def right_conv2d__subsample_stride_one(image, kernel, stride=1, padding=0):
    return _correlate_loops(_zero_pad(image, *[padding] * 4), kernel)[::stride, ::stride]


# --- gaussian_kernel -------------------------------------------------------------------------------------
def _gaussian_2d(size, sigma, offset):
    coords = np.arange(size) - offset
    return np.exp(-(coords[:, None] ** 2 + coords[None, :] ** 2) / (2 * sigma**2))


def wrong_gaussian_kernel__not_normalised(size, sigma):
    return _gaussian_2d(size, sigma, (size - 1) / 2)


def wrong_gaussian_kernel__not_centred(size, sigma):
    kernel = _gaussian_2d(size, sigma, size // 2)
    return kernel / kernel.sum()


def wrong_gaussian_kernel__continuous_constant(size, sigma):
    return _gaussian_2d(size, sigma, (size - 1) / 2) / (2 * np.pi * sigma**2)


def right_gaussian_kernel__outer_float32(size, sigma):
    coords = np.linspace(-(size - 1) / 2, (size - 1) / 2, size, dtype=np.float32)
    profile = np.exp(-coords**2 / np.float32(2 * sigma**2))
    profile /= profile.sum()
    return np.outer(profile, profile)


def right_gaussian_kernel__loops(size, sigma):
    kernel = np.zeros((size, size))
    centre = (size - 1) / 2
    for i in range(size):
        for j in range(size):
            kernel[i, j] = np.exp(-((i - centre) ** 2 + (j - centre) ** 2) / (2 * sigma**2))
    return kernel / kernel.sum()


# --- conv2d_layer ----------------------------------------------------------------------------------------
def wrong_conv2d_layer__flipped_kernel(x, W, b, stride=1, padding=0):
    return _layer_no_bias(x, W[::-1, ::-1], stride, padding) + b


def wrong_conv2d_layer__bias_per_row(x, W, b, stride=1, padding=0):
    return _layer_no_bias(x, W, stride, padding) + b[:, None, None]


def wrong_conv2d_layer__channels_averaged(x, W, b, stride=1, padding=0):
    return _layer_no_bias(x, W, stride, padding) / W.shape[2] + b


def wrong_conv2d_layer__bias_per_input_channel(x, W, b, stride=1, padding=0):
    return _layer_no_bias(x, W, stride, padding) + W.shape[2] * b


def right_conv2d_layer__all_loops(x, W, b, stride=1, padding=0):
    x = np.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    kh, kw, c_in, c_out = W.shape
    rows, cols = (x.shape[1] - kh) // stride + 1, (x.shape[2] - kw) // stride + 1
    out = np.zeros((x.shape[0], rows, cols, c_out))
    for n in range(x.shape[0]):
        for i in range(rows):
            for j in range(cols):
                for c in range(c_out):
                    window = x[n, i * stride:i * stride + kh, j * stride:j * stride + kw, :]
                    out[n, i, j, c] = np.sum(window * W[:, :, :, c]) + b[c]
    return out


def convolve(window, kernel):
    """The student's own helper: the sum of the products of a window and a kernel of the same shape."""
    return np.sum(window * kernel)


def right_conv2d_layer__helper_named_convolve(x, W, b, stride=1, padding=0):
    n, height, width, _ = x.shape
    kh, kw, _, c_out = W.shape
    padded = np.zeros((n, height + 2 * padding, width + 2 * padding, x.shape[3]))
    padded[:, padding:padding + height, padding:padding + width, :] = x
    rows, cols = (height + 2 * padding - kh) // stride + 1, (width + 2 * padding - kw) // stride + 1
    out = np.zeros((n, rows, cols, c_out))
    for i in range(rows):
        for j in range(cols):
            window = padded[:, i * stride:i * stride + kh, j * stride:j * stride + kw, :]
            for sample in range(n):
                for c in range(c_out):
                    out[sample, i, j, c] = convolve(window[sample], W[..., c]) + b[c]
    return out


def right_conv2d_layer__im2col_einsum_float32(x, W, b, stride=1, padding=0):
    x = np.pad(np.asarray(x, np.float32), ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    windows = sliding_window_view(x, W.shape[:2], axis=(1, 2))[:, ::stride, ::stride]  # (N, H', W', Cin, kh, kw)
    return np.einsum("nijcab,abcd->nijd", windows, np.asarray(W, np.float32)) + np.asarray(b, np.float32)


def right_conv2d_layer__sum_of_single_channel_convs(x, W, b, stride=1, padding=0):
    kh, kw, c_in, c_out = W.shape
    maps = [[sum(_correlate_loops(_zero_pad(image[:, :, ci], *[padding] * 4), W[:, :, ci, co], stride)
                 for ci in range(c_in)) + b[co] for co in range(c_out)] for image in x]
    return np.moveaxis(np.array(maps), 1, -1)


# The hint (a fragment of the check's message) each wrong implementation must get.
EXPECTED_HINTS = {
    "conv1d": {"flipped_kernel": "kernel is flipped", "last_position_missing": "last position",
               "same_length": "'valid' means no padding"},
    "pad2d": {"top_left_only": "every side", "edge_values": "copy of the edge pixels",
              "half_on_each_side": "side"},
    "conv_output_size": {"no_plus_one": "missing +1", "true_division": "not an int",
                         "floor_returns_float": "np.floor returns a float", "padding_counted_once": "padding counted once",
                         "padding_forgotten": "padding forgotten"},
    "conv2d": {"flipped_kernel": "kernel is flipped", "stride_ignored": "stride ignored",
               "padding_off_by_one": "off by one", "last_window_dropped": "last row and column"},
    "gaussian_kernel": {"not_normalised": "not normalised", "not_centred": "not centred",
                        "continuous_constant": "continuous Gaussian"},
    "conv2d_layer": {"flipped_kernel": "kernel is flipped", "bias_per_row": "per row",
                     "channels_averaged": "averaged", "bias_per_input_channel": "once per input channel"},
}
