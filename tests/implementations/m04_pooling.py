"""Module 04: plausible wrong implementations (must be rejected) and alternative correct ones (must pass)."""
import numpy as np


# --- relu ------------------------------------------------------------------------------------------------
def wrong_relu__minimum(x):
    return np.minimum(x, 0)


def wrong_relu__derivative(x):
    return (np.asarray(x) > 0).astype(float)


def wrong_relu__absolute_value(x):
    return np.abs(x)


def wrong_relu__flattened_list(x):
    return [max(value, 0.0) for value in np.ravel(x)]


def wrong_relu__zeroes_input_in_place(x):
    x[x < 0] = 0
    return x


def right_relu__mask_float32(x):
    x = np.asarray(x, dtype=np.float32)
    return x * (x > 0)


def right_relu__copy_and_clip(x):
    out = np.array(x, dtype=float, copy=True)
    out[out < 0] = 0
    return out


# --- max_pool2d and avg_pool2d ---------------------------------------------------------------------------
def _output_size(size, pool_size, stride):
    return (size - pool_size) // stride + 1


def _pool_loops(x, pool_size, stride, reduce, extra_rows=1):
    """The usual loop over output positions; extra_rows=0 drops the last row and column of windows."""
    n, h, w, c = x.shape
    out_h = (h - pool_size) // stride + extra_rows
    out_w = (w - pool_size) // stride + extra_rows
    out = np.zeros((n, out_h, out_w, c))
    for i in range(out_h):
        for j in range(out_w):
            out[:, i, j, :] = reduce(x[:, i * stride:i * stride + pool_size, j * stride:j * stride + pool_size, :])
    return out


def _windows(x, pool_size, stride):
    """All pooling windows at once: (N, H', W', C, k, k), a view of x."""
    view = np.lib.stride_tricks.sliding_window_view(x, (pool_size, pool_size), axis=(1, 2))
    return view[:, ::stride, ::stride]


def wrong_max_pool2d__whole_slice_max(x, pool_size=2, stride=2):
    return _pool_loops(x, pool_size, stride, lambda window: window.max())


def wrong_max_pool2d__stride_is_pool_size(x, pool_size=2, stride=2):
    n, h, w, c = x.shape
    out_h, out_w = h // pool_size, w // pool_size
    cropped = x[:, :out_h * pool_size, :out_w * pool_size, :]
    return cropped.reshape(n, out_h, pool_size, out_w, pool_size, c).max(axis=(2, 4))


def wrong_max_pool2d__zero_start(x, pool_size=2, stride=2):
    n, h, w, c = x.shape
    out = np.zeros((n, _output_size(h, pool_size, stride), _output_size(w, pool_size, stride), c))
    for di in range(pool_size):
        for dj in range(pool_size):
            out = np.maximum(out, x[:, di::stride, dj::stride, :][:, :out.shape[1], :out.shape[2], :])
    return out


def wrong_max_pool2d__range_off_by_one(x, pool_size=2, stride=2):
    return _pool_loops(x, pool_size, stride, lambda window: window.max(axis=(1, 2)), extra_rows=0)


def wrong_max_pool2d__channels_first(x, pool_size=2, stride=2):
    n, c, h, w = x.shape  # reads NHWC as NCHW
    out = np.zeros((n, c, (h - pool_size) // stride + 1, (w - pool_size) // stride + 1))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            window = x[:, :, i * stride:i * stride + pool_size, j * stride:j * stride + pool_size]
            out[:, :, i, j] = window.max(axis=(2, 3))
    return out


def right_max_pool2d__sliding_window_view(x, pool_size=2, stride=2):
    return _windows(x, pool_size, stride).max(axis=(-2, -1))


def right_max_pool2d__offsets_float32(x, pool_size=2, stride=2):
    x = np.asarray(x, dtype=np.float32)
    n, h, w, c = x.shape
    out_h, out_w = _output_size(h, pool_size, stride), _output_size(w, pool_size, stride)
    out = np.full((n, out_h, out_w, c), -np.inf, dtype=np.float32)
    for di in range(pool_size):
        for dj in range(pool_size):
            rows = slice(di, di + stride * (out_h - 1) + 1, stride)
            cols = slice(dj, dj + stride * (out_w - 1) + 1, stride)
            out = np.maximum(out, x[:, rows, cols])
    return out


def right_max_pool2d__four_loops(x, pool_size=2, stride=2):
    n, h, w, c = x.shape
    out = np.empty((n, _output_size(h, pool_size, stride), _output_size(w, pool_size, stride), c))
    for b, i, j, ch in np.ndindex(out.shape):
        out[b, i, j, ch] = np.max(x[b, i * stride:i * stride + pool_size, j * stride:j * stride + pool_size, ch])
    return out


def wrong_avg_pool2d__sum(x, pool_size=2, stride=2):
    return _pool_loops(x, pool_size, stride, lambda window: window.sum(axis=(1, 2)))


def wrong_avg_pool2d__stride_one(x, pool_size=2, stride=2):
    return _windows(x, pool_size, 1).mean(axis=(-2, -1))


def wrong_avg_pool2d__same_padding(x, pool_size=2, stride=2):
    n, h, w, c = x.shape
    out_h, out_w = -(-h // stride), -(-w // stride)
    pad_h = max((out_h - 1) * stride + pool_size - h, 0)
    pad_w = max((out_w - 1) * stride + pool_size - w, 0)
    padded = np.pad(x.astype(float), [(0, 0), (pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2),
                                      (0, 0)], constant_values=np.nan)
    return _pool_loops(padded, pool_size, stride, lambda window: np.nanmean(window, axis=(1, 2)))


def wrong_avg_pool2d__mean_over_channels_too(x, pool_size=2, stride=2):
    means = _pool_loops(x, pool_size, stride, lambda window: window.mean(axis=(1, 2, 3))[:, None])
    return np.broadcast_to(means[..., :1], means.shape[:3] + (x.shape[3],))


def right_avg_pool2d__sliding_window_view_float32(x, pool_size=2, stride=2):
    return _windows(np.asarray(x, np.float32), pool_size, stride).mean(axis=(-2, -1))


def right_avg_pool2d__integral_image(x, pool_size=2, stride=2):
    n, h, w, c = x.shape
    integral = np.zeros((n, h + 1, w + 1, c))
    integral[:, 1:, 1:, :] = x.cumsum(axis=1).cumsum(axis=2)
    top = np.arange(_output_size(h, pool_size, stride)) * stride
    left = np.arange(_output_size(w, pool_size, stride)) * stride
    bottom, right = top + pool_size, left + pool_size
    sums = (integral[:, bottom][:, :, right] - integral[:, top][:, :, right]
            - integral[:, bottom][:, :, left] + integral[:, top][:, :, left])
    return sums / pool_size ** 2


# --- max_pool2d_backward ---------------------------------------------------------------------------------
def _backward_loops(dout, x, pool_size, stride, route, accumulate=True):
    """Loop over every output value; route(window (k, k), g) -> the window's share of the gradient (k, k)."""
    dx = np.zeros(x.shape)
    for n, i, j, c in np.ndindex(dout.shape):
        rows = slice(i * stride, i * stride + pool_size)
        cols = slice(j * stride, j * stride + pool_size)
        share = route(x[n, rows, cols, c], dout[n, i, j, c])
        if accumulate:
            dx[n, rows, cols, c] += share
        else:
            dx[n, rows, cols, c] = share
    return dx


def _to_max(window, g):
    return (window == window.max()) * g


def wrong_max_pool2d_backward__spread_evenly(dout, x, pool_size=2, stride=2):
    return _backward_loops(dout, x, pool_size, stride, lambda window, g: np.full(window.shape, g / window.size))


def wrong_max_pool2d_backward__overwrite(dout, x, pool_size=2, stride=2):
    return _backward_loops(dout, x, pool_size, stride, _to_max, accumulate=False)


def wrong_max_pool2d_backward__row_col_swapped(dout, x, pool_size=2, stride=2):
    dx = np.zeros(x.shape)
    for n, i, j, c in np.ndindex(dout.shape):
        window = x[n, i * stride:i * stride + pool_size, j * stride:j * stride + pool_size, c]
        col, row = divmod(int(np.argmax(window)), pool_size)
        dx[n, i * stride + row, j * stride + col, c] += dout[n, i, j, c]
    return dx


def wrong_max_pool2d_backward__mask_without_dout(dout, x, pool_size=2, stride=2):
    return _backward_loops(dout, x, pool_size, stride, lambda window, g: (window == window.max()).astype(float))


def right_max_pool2d_backward__all_maxima_mask(dout, x, pool_size=2, stride=2):
    return _backward_loops(dout, x, pool_size, stride, _to_max)


def right_max_pool2d_backward__four_loops_float32(dout, x, pool_size=2, stride=2):
    x, dout = np.asarray(x, np.float32), np.asarray(dout, np.float32)
    dx = np.zeros_like(x)
    for n, i, j, c in np.ndindex(dout.shape):
        best_row, best_col = i * stride, j * stride
        for row in range(i * stride, i * stride + pool_size):
            for col in range(j * stride, j * stride + pool_size):
                if x[n, row, col, c] > x[n, best_row, best_col, c]:
                    best_row, best_col = row, col
        dx[n, best_row, best_col, c] += dout[n, i, j, c]
    return dx


def right_max_pool2d_backward__add_at_all_windows(dout, x, pool_size=2, stride=2):
    windows = _windows(x, pool_size, stride)  # (N, H', W', C, k, k)
    n, out_h, out_w, c = dout.shape
    flat = windows.reshape(n, out_h, out_w, c, -1).argmax(axis=-1)
    row = np.arange(out_h)[None, :, None, None] * stride + flat // pool_size
    col = np.arange(out_w)[None, None, :, None] * stride + flat % pool_size
    batch = np.arange(n)[:, None, None, None]
    channel = np.arange(c)[None, None, None, :]
    dx = np.zeros(x.shape)
    np.add.at(dx, (batch, row, col, channel), dout)
    return dx


# --- receptive_field -------------------------------------------------------------------------------------
def wrong_receptive_field__no_jump(layers):
    return 1 + sum(kernel - 1 for kernel, _ in layers)


def wrong_receptive_field__sum_of_kernels(layers):
    return sum(kernel for kernel, _ in layers)


def wrong_receptive_field__stride_applied_first(layers):
    size, jump = 1, 1
    for kernel, stride in layers:
        jump *= stride
        size += (kernel - 1) * jump
    return size


def wrong_receptive_field__last_stride_only(layers):
    size, jump = 1, 1
    for kernel, stride in layers:
        size += (kernel - 1) * jump
        jump = stride
    return size


def right_receptive_field__from_the_top(layers):
    size = 1
    for kernel, stride in reversed(layers):
        size = (size - 1) * stride + kernel
    return size


def right_receptive_field__cumulative_product(layers):
    if not layers:
        return 1
    kernels, strides = np.array(layers).T
    jumps = np.concatenate([[1], np.cumprod(strides)[:-1]])
    return int(1 + np.sum((kernels - 1) * jumps))


# The hint (a fragment of the check's message) each wrong implementation must get.
EXPECTED_HINTS = {
    "relu": {"minimum": "negative side was kept", "derivative": "ReLU's derivative",
             "absolute_value": "not change sign", "flattened_list": "shape",
             "zeroes_input_in_place": "changed its input in place"},
    "max_pool2d": {"whole_slice_max": "whole batch and all channels", "stride_is_pool_size": "every pool_size pixels",
                   "zero_start": "start the maximum at -inf", "range_off_by_one": "last row and column",
                   "channels_first": "width and the channels"},
    "avg_pool2d": {"sum": "the sum of each window", "stride_one": "at every pixel here (stride 1)",
                   "same_padding": "SAME padding", "mean_over_channels_too": "over the channels too"},
    "max_pool2d_backward": {"spread_evenly": "spread evenly", "overwrite": "do not overwrite",
                            "row_col_swapped": "swapped", "mask_without_dout": "not multiplied by dout"},
    "receptive_field": {"no_jump": "strides were left out", "sum_of_kernels": "start from r = 1",
                        "stride_applied_first": "own stride", "last_stride_only": "strides multiply"},
}
