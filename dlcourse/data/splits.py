"""Seeded, stratified train/validation/test splits and their tf.data pipelines."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_FRACTIONS = (0.7, 0.15, 0.15)
SPLIT_NAMES = ("train", "val", "test")


@dataclass(frozen=True, eq=False, repr=False)
class Split:
    """Train/validation/test arrays: x_* (N, H, W, C) float32 in [0, 1], y_* (N,) int64 class indices."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]

    @property
    def num_classes(self) -> int:
        """Number of classes (int)."""
        return len(self.class_names)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{name}={getattr(self, 'x_' + name).shape}" for name in SPLIT_NAMES)
        return f"Split({shapes}, classes={list(self.class_names)})"


def check_fractions(fractions) -> tuple[float, float, float]:
    """Validate (train, val, test) fractions: three numbers >= 0 summing to 1 with train > 0."""
    values = tuple(float(f) for f in fractions)
    if len(values) != 3 or min(values) < 0 or values[0] == 0 or abs(sum(values) - 1) > 1e-6:
        raise ValueError(
            f"split={tuple(fractions)!r} is not a valid (train, val, test) triple: give three fractions "
            "that are >= 0, sum to 1 and have train > 0, e.g. (0.7, 0.15, 0.15) or (0.8, 0.0, 0.2)."
        )
    return values


def split_indices(labels, fractions=DEFAULT_FRACTIONS, seed: int = 0, stratify: bool = True):
    """Seeded split of labels (N,) into three disjoint int64 index arrays (train, val, test), stratified by label."""
    from sklearn.model_selection import train_test_split

    labels = np.asarray(labels)
    _, val_fraction, test_fraction = check_fractions(fractions)

    def cut(indices, n_out):
        if n_out == 0:
            return indices, indices[:0]
        return train_test_split(indices, test_size=n_out, random_state=seed,
                                stratify=labels[indices] if stratify else None)

    everything = np.arange(len(labels), dtype=np.int64)
    rest, test = cut(everything, round(test_fraction * len(labels)))
    train, val = cut(rest, round(val_fraction * len(labels)))
    return train, val, test


def make_split(x: np.ndarray, y: np.ndarray, class_names, fractions=DEFAULT_FRACTIONS, seed: int = 0) -> Split:
    """Stratified seeded Split of x (N, H, W, C) float32 and y (N,) int64."""
    train, val, test = split_indices(y, fractions, seed)
    return split_from_indices(x, y, class_names, train, val, test)


def split_from_indices(x, y, class_names, train, val, test) -> Split:
    """Split built from three index arrays into x (N, H, W, C) and y (N,)."""
    return Split(x[train], y[train], x[val], y[val], x[test], y[test], tuple(class_names))


def to_tf_dataset(x: np.ndarray, y: np.ndarray, batch_size: int = 32, shuffle: bool = True, seed: int = 0):
    """tf.data pipeline of (x (B, H, W, C) float32, y (B,) int64) batches, shuffled with `seed`, prefetching."""
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        dataset = dataset.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def to_tf_datasets(split: Split, batch_size: int = 32, seed: int = 0):
    """(train, val, test) tf.data pipelines of a Split; only train is shuffled."""
    return (
        to_tf_dataset(split.x_train, split.y_train, batch_size, shuffle=True, seed=seed),
        to_tf_dataset(split.x_val, split.y_val, batch_size, shuffle=False),
        to_tf_dataset(split.x_test, split.y_test, batch_size, shuffle=False),
    )
