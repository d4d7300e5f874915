"""Embedders: callables images [0, 1] (N, H, W, 3) -> (N, D) float32 that the search tools accept.

The default is the ImageNet backbone of module 06 (EfficientNet-Lite0), average-pooled at one of its middle
layers: the last layers of a classifier learn *which class* an image shows, a middle layer still keeps *what it
looks like*, which is what finding copies needs (the lecture and benchmarks/bench_search.py measure both).
Any callable works; one with a ``name`` attribute gets that name in the index's manifest, so an index built with
one embedder is never searched with another.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

DEFAULT_BACKBONE = "efficientnet_lite0"
DEFAULT_LAYER = "block13_add"  # the second-to-last 192-channel block: stride 32, before the 1280-channel head
DEFAULT_IMAGE_SIZE = 160


class BackboneEmbedder:
    """Average-pooled output of one layer of a pretrained ImageNet backbone (None: the pooled head features).

    Calling it on images [0, 1] (N, H, W, 3) of any size resizes them to image_size and returns (N, C) float32,
    batch_size images at a time.
    """

    def __init__(self, backbone: str = DEFAULT_BACKBONE, layer: str | None = DEFAULT_LAYER,
                 image_size: int = DEFAULT_IMAGE_SIZE, batch_size: int = 16):
        self.backbone, self.layer, self.image_size, self.batch_size = backbone, layer, image_size, batch_size

    @property
    def name(self) -> str:
        """Identity stored in an index's manifest, e.g. 'efficientnet_lite0/block13_add/avg@160'."""
        return f"{self.backbone}/{self.layer or 'head'}/avg@{self.image_size}"

    def __repr__(self) -> str:
        return f"BackboneEmbedder({self.name!r})"

    def __call__(self, images) -> np.ndarray:
        from dlcourse.models.backbones import bilinear_resized, image_features

        if self.layer is None:
            return image_features(images, self.backbone, self.image_size, self.batch_size)
        images = np.asarray(images, dtype=np.float32)
        model = self.network()
        batches = (bilinear_resized(images[start:start + self.batch_size], self.image_size)
                   for start in range(0, len(images), self.batch_size))
        out = [np.asarray(model(batch, training=False)) for batch in batches]
        return np.concatenate(out).astype(np.float32) if out else np.zeros((0, model.output_shape[-1]), np.float32)

    def network(self):
        """keras.Model: images [0, 1] (N, S, S, 3), S = image_size -> the pooled embedding (N, C), built once."""
        return _pooled_model(self.backbone, self.layer, self.image_size)

    def export_tflite(self, path) -> None:
        """Write network() to path as a float32 LiteRT model (no quantisation: its embeddings match __call__'s).

        Uses TensorFlow's converter on the Keras model; what the conversion prints is kept off the screen.
        """
        import contextlib
        import io

        from dlcourse.environment import import_tensorflow

        tf, _ = import_tensorflow()
        with contextlib.redirect_stdout(io.StringIO()):
            data = tf.lite.TFLiteConverter.from_keras_model(self.network()).convert()
        Path(path).write_bytes(data)


@lru_cache(maxsize=4)
def _pooled_model(backbone: str, layer: str | None, image_size: int):
    """keras.Model: images (N, S, S, 3) -> one layer's feature map of the pretrained backbone, average-pooled.

    layer None: the backbone's own pooled head features (the classifier's last layer before its output).
    """
    from dlcourse.models import keras_module
    from dlcourse.models.backbones import pooled_backbone, pretrained_backbone

    if layer is None:
        return pooled_backbone(backbone, image_size)
    keras = keras_module()
    net = pretrained_backbone(backbone, input_shape=(image_size, image_size, 3))
    pooled = keras.layers.GlobalAveragePooling2D(name="embedding")(net.get_layer(layer).output)
    return keras.Model(net.input, pooled, name=f"{backbone}_{layer}_avg")


def default_embedder() -> BackboneEmbedder:
    """The embedder the search tools use when none is given."""
    return BackboneEmbedder()


def embedder_name(embedder) -> str:
    """The name an index records for an embedder: its ``name`` attribute, else its module and qualified name."""
    name = getattr(embedder, "name", None)
    if isinstance(name, str) and name:
        return name
    return f"{getattr(embedder, '__module__', '?')}.{getattr(embedder, '__qualname__', type(embedder).__name__)}"


def embedder_image_size(embedder) -> int:
    """Side of the square images files are read at for this embedder (its ``image_size``, else the default)."""
    return int(getattr(embedder, "image_size", DEFAULT_IMAGE_SIZE))
