"""Full data sets through tensorflow-datasets when they are prepared locally or the network is there."""
from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

DATA_DIR_ENV = "DLCOURSE_DATA_DIR"
DEFAULT_DATA_DIR = "~/tensorflow_datasets"
DOWNLOAD_ADDRESS = ("storage.googleapis.com", 443)  # where tensorflow-datasets downloads from
CONNECT_TIMEOUT_S = 3.0
# Supported data set -> the bundled data that stand in for it offline.
BUNDLED_ALTERNATIVES = {
    "mnist": "load_mnist_subset() - 5,000 real MNIST digits, 28x28, 10 classes",
    "fashion_mnist": "load_mnist_subset() - same 28x28 greyscale shape and 10 classes (digits instead of clothes)",
    "cifar10": "load_digits(size=32) for 32x32 ten-class classification (greyscale), "
               "or make_quality_set() for 64x64 colour photo patches",
    "tf_flowers": "load_photos() for real colour photos (among them 'flower'), "
                  "or load_image_folder() on your own labelled photos",
}


class DatasetUnavailableError(RuntimeError):
    """A full data set is not prepared locally and cannot be downloaded now."""


def resolve_data_dir(data_dir=None) -> Path:
    """Data directory: the argument, else $DLCOURSE_DATA_DIR, else ~/tensorflow_datasets (a Path)."""
    return Path(data_dir or os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR).expanduser()


def network_available(address=None, timeout: float = CONNECT_TIMEOUT_S) -> bool:
    """True when a TCP connection to (host, port), default DOWNLOAD_ADDRESS, opens within `timeout` seconds."""
    address = address or DOWNLOAD_ADDRESS
    outcome = []

    def connect():
        try:
            with socket.create_connection(address, timeout=timeout):
                outcome.append(True)
        except OSError:
            outcome.append(False)

    worker = threading.Thread(target=connect, daemon=True)
    worker.start()
    worker.join(timeout)
    return outcome == [True]


def is_prepared(name: str, data_dir: Path) -> bool:
    """True when tensorflow-datasets has already prepared data set `name` (its current version) in data_dir."""
    import tensorflow_datasets as tfds

    return (Path(tfds.builder(name, data_dir=str(data_dir)).data_dir) / "dataset_info.json").is_file()


def unavailable_message(name: str, data_dir: Path) -> str:
    """What to do when data set `name` is not in data_dir and cannot be downloaded (str)."""
    return (
        f"The data set '{name}' is not prepared in {data_dir} and {DOWNLOAD_ADDRESS[0]} cannot be reached "
        f"(no network?).\n"
        f"Offline, use the bundled alternative from dlcourse.datasets: {BUNDLED_ALTERNATIVES[name]}\n"
        f"To use the full set, prepare it on a machine with network:\n"
        f"    python -c \"import tensorflow_datasets as tfds; "
        f"tfds.builder('{name}', data_dir='{data_dir}').download_and_prepare()\"\n"
        f"then copy the folder {data_dir / name} into this machine's data directory (the data_dir= "
        f"argument, else ${DATA_DIR_ENV}, else {DEFAULT_DATA_DIR})."
    )


def load_tfds(name: str, split=("train", "test"), data_dir=None):
    """A full data set via tensorflow-datasets: tf.data.Dataset(s) of (image (H, W, C) float32 [0, 1], label int64).

    Loads without network when the set is prepared in the data directory (data_dir, else $DLCOURSE_DATA_DIR,
    else ~/tensorflow_datasets); otherwise downloads it, or raises DatasetUnavailableError at once when offline.
    `split` is one split name (one dataset back) or a sequence of them (a tuple back).
    """
    if name not in BUNDLED_ALTERNATIVES:
        raise ValueError(f"Unknown data set {name!r}; supported: {sorted(BUNDLED_ALTERNATIVES)}.")
    directory = resolve_data_dir(data_dir)
    prepared = is_prepared(name, directory)
    if not prepared and not network_available():
        raise DatasetUnavailableError(unavailable_message(name, directory))
    import tensorflow as tf
    import tensorflow_datasets as tfds

    loaded = tfds.load(name, split=split, data_dir=str(directory), download=not prepared, as_supervised=True)

    def scale(image, label):
        return tf.image.convert_image_dtype(image, tf.float32), label

    if isinstance(split, str):
        return loaded.map(scale)
    return tuple(dataset.map(scale) for dataset in loaded)
