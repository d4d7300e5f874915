"""Embedding a query photo without TensorFlow: the index's embedder kept beside it as a LiteRT (.tflite) file.

Importing TensorFlow takes seconds, longer than a whole query should. At index time TensorFlow is loaded
anyway, so the embedder's network (backbone, layer, input size, average pooling) is converted once to a float32
.tflite file in the index folder, its name and sha256 in the manifest. A query then needs only NumPy, Pillow,
FAISS and ``ai_edge_litert``; this module imports nothing heavier.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..environment import stderr_captured
from ..models.backbones import sha256_of

LITE_PREFIX = "embedder-"
LITE_SUFFIX = ".tflite"


class LiteModelError(ValueError):
    """A .tflite file that is missing, altered since it was written, or not a model LiteRT can load."""


class LiteEmbedder:
    """The embedder an index was built with, run by LiteRT: images [0, 1] (N, S, S, 3) -> (N, D) float32.

    path: the .tflite file; sha256: its expected digest (a changed byte can still load, so it is checked first);
    name and image_size: as the Keras embedder it was exported from, so the index accepts it as that embedder.
    """

    def __init__(self, path, sha256: str, name: str, image_size: int, threads: int | None = None):
        from ai_edge_litert.interpreter import Interpreter

        path = Path(path)
        if not path.is_file():
            raise LiteModelError(f"{path} is missing")
        if sha256_of(path) != sha256:
            raise LiteModelError(f"{path} has changed since it was written (its sha256 differs from the manifest's)")
        try:
            self.interpreter = Interpreter(model_path=str(path), num_threads=threads or len(os.sched_getaffinity(0)))
        except (ValueError, RuntimeError) as err:
            raise LiteModelError(f"LiteRT cannot load {path} ({err})") from None
        self.name, self.image_size, self._batch = name, int(image_size), None
        self._input = self.interpreter.get_input_details()[0]["index"]
        self._output = self.interpreter.get_output_details()[0]["index"]

    def __repr__(self) -> str:
        return f"LiteEmbedder({self.name!r})"

    def __call__(self, images) -> np.ndarray:
        images = np.ascontiguousarray(images, dtype=np.float32)
        expected = (self.image_size, self.image_size, 3)
        if images.ndim != 4 or images.shape[1:] != expected:
            raise ValueError(f"LiteEmbedder takes images (N, {self.image_size}, {self.image_size}, 3); "
                             f"got shape {images.shape}")
        if self._batch != len(images):
            self.interpreter.resize_tensor_input(self._input, images.shape)
            with stderr_captured():  # LiteRT announces its CPU delegate on stderr
                self.interpreter.allocate_tensors()
            self._batch = len(images)
        self.interpreter.set_tensor(self._input, images)
        self.interpreter.invoke()
        return np.array(self.interpreter.get_tensor(self._output), dtype=np.float32)

