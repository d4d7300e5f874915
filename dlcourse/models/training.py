"""Training recipes shared by the lectures, the checks' references and the benchmarks."""
from __future__ import annotations

import math

import numpy as np

from .backend import keras_module as _keras


LENET5_EPOCHS = 30  # the recipe the lecture and the benchmark train LeNet-5 with on the 32x32 digits


def augmentation_layers(shift=0.1, rotation=0.05, zoom=0.1):
    """Random shifts (fraction of the size), rotations (fraction of a turn) and zooms, active only in training."""
    layers = _keras().layers
    return [layers.RandomTranslation(shift, shift, fill_mode="constant"),
            layers.RandomRotation(rotation, fill_mode="constant"),
            layers.RandomZoom(zoom, fill_mode="constant")]


def fit_classifier(model, x_train, y_train, epochs, batch_size=32, learning_rate=2e-3, augment=False,
                   validation_data=None, verbose=1):
    """Train a classifier in place and return its History.

    Adam with a learning rate decaying from learning_rate to 0 along a cosine, sparse categorical
    cross-entropy (integer labels), accuracy. With augment=True the images pass through augmentation_layers()
    first (training only; the model itself is unchanged).

    Arguments:
    model -- Keras classifier, input (N, H, W, C), output (N, K) probabilities
    x_train -- images (N, H, W, C); y_train -- labels (N,) in 0..K-1
    epochs, batch_size -- the training budget
    validation_data -- optional (x_val, y_val), evaluated after every epoch

    Returns:
    history -- keras.callbacks.History; history.history holds 'loss', 'accuracy' (and 'val_*') per epoch
    """
    keras = _keras()
    trainer = model
    if augment:
        trainer = keras.Sequential([keras.Input(shape=model.inputs[0].shape[1:]), *augmentation_layers(), model])
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, epochs * math.ceil(len(x_train) / batch_size))
    trainer.compile(optimizer=keras.optimizers.Adam(schedule), loss="sparse_categorical_crossentropy",
                    metrics=["accuracy"])
    return trainer.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, validation_data=validation_data,
                       verbose=verbose)


def accuracy(model, x, y) -> float:
    """Fraction of images x (N, H, W, C) whose most probable class is y (N,)."""
    return float(np.mean(predict_labels(model, x) == y))


def predict_labels(model, x, batch_size=256) -> np.ndarray:
    """Most probable class of each image x (N, H, W, C): int64 (N,)."""
    return np.argmax(model.predict(x, batch_size=batch_size, verbose=0), axis=1).astype(np.int64)


def shift_images(x, dx=0, dy=0) -> np.ndarray:
    """Images x (N, H, W, C) moved dx pixels right and dy down, the uncovered border filled with 0."""
    shifted = np.zeros_like(x)
    height, width = x.shape[1:3]
    shifted[:, max(dy, 0):height + min(dy, 0), max(dx, 0):width + min(dx, 0)] = \
        x[:, max(-dy, 0):height - max(dy, 0), max(-dx, 0):width - max(dx, 0)]
    return shifted


SHIFTS = ((2, 0), (-2, 0), (0, 2), (0, -2))


def shifted_accuracy(model, x, y, shifts=SHIFTS) -> float:
    """Mean accuracy over copies of x (N, H, W, C) shifted by each (dx, dy) in shifts."""
    return float(np.mean([accuracy(model, shift_images(x, dx, dy), y) for dx, dy in shifts]))

