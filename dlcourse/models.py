"""The classic CNNs of module 05 as Keras builders, and a plain-data summary of any Keras model.

Builders: LeNet-5 (this course's variant: ReLU, average pooling, softmax), AlexNet (one stream, no local
response normalisation), VGG-16/19 (the structure of ``keras.applications.VGG19``), ResNet-18/34 with basic
residual blocks (projection shortcuts where the shape changes), a fully connected net, and small plain or
residual nets for experiments on 8x8 or 32x32 digits.

Summaries: :func:`summarize` turns a model into a table of integers, one row per operation of its graph
(nested models expanded); :func:`canonical_layers` turns that table into :class:`LayerInfo` records in a
canonical order, folding away what does not change the architecture (activation layers vs ``activation=``,
Dropout, Flatten, ZeroPadding2D before a 'valid' layer, the order in which branches were written). The checks
of module 05 compare architectures in that form; the lectures count parameters with it.

TensorFlow is imported lazily, inside the functions that need it.
"""
from __future__ import annotations

import contextlib
import functools
import math
from dataclasses import dataclass, replace

import numpy as np

LENET5_PARAMS = 61_706
ALEXNET_PARAMS = 62_378_344
VGG19_PARAMS = 143_667_240
RESNET34_TRAINABLE_PARAMS = 21_797_672

VGG16_CONVS = (2, 2, 3, 3, 3)
VGG19_CONVS = (2, 2, 4, 4, 4)
VGG_FILTERS = (64, 128, 256, 512, 512)
RESNET18_BLOCKS = (2, 2, 2, 2)
RESNET34_BLOCKS = (3, 4, 6, 3)
RESNET_FILTERS = (64, 128, 256, 512)


def _keras():
    from dlcourse.environment import import_tensorflow

    return import_tensorflow()[1]


# ---------------------------------------------------------------------------------------------------------
# Builders.
# ---------------------------------------------------------------------------------------------------------

def build_lenet5(input_shape=(32, 32, 1), num_classes=10, pooling="average", activation="relu", c1_padding="valid"):
    """LeNet-5 (LeCun et al., 1998) as this course builds it: a keras.Sequential with 61,706 parameters.

    C1 6@5x5 'valid' (32 -> 28), S2 2x2 pooling (-> 14), C3 16@5x5 (-> 10, every C3 map sees all six S2 maps),
    S4 2x2 pooling (-> 5), C5 Dense(120) on the flattened 5x5x16 maps, F6 Dense(84), softmax output.
    Differences from 1998: ReLU instead of the scaled tanh, plain average pooling (no trainable coefficient),
    full C3 connectivity, softmax instead of RBF units. pooling ('average' | 'max'), activation and c1_padding
    exist to build the classic variants and mistakes.

    Arguments:
    input_shape -- (H, W, C) of the images, (32, 32, 1) for the original
    num_classes -- number of output classes

    Returns:
    model -- keras.Sequential, input (N, H, W, C), output (N, num_classes) class probabilities
    """
    keras = _keras()
    layers = keras.layers
    pool = layers.AveragePooling2D if pooling == "average" else layers.MaxPooling2D
    return keras.Sequential([
        keras.Input(shape=input_shape),
        layers.Conv2D(6, 5, padding=c1_padding, activation=activation, name="C1"),
        pool(2, name="S2"),
        layers.Conv2D(16, 5, activation=activation, name="C3"),
        pool(2, name="S4"),
        layers.Flatten(),
        layers.Dense(120, activation=activation, name="C5"),
        layers.Dense(84, activation=activation, name="F6"),
        layers.Dense(num_classes, activation="softmax", name="output"),
    ], name="lenet5")


def build_alexnet(input_shape=(227, 227, 3), num_classes=1000, pool_size=3, dropout=0.5):
    """AlexNet (Krizhevsky et al., 2012) in one stream, without local response normalisation: 62,378,344 params.

    conv 96@11x11 stride 4 'valid' (227 -> 55), max pool 3x3 stride 2 (-> 27, overlapping windows),
    conv 256@5x5 'same', pool (-> 13), conv 384@3x3, 384@3x3, 256@3x3 'same', pool (-> 6),
    Dense 4096, Dropout, Dense 4096, Dropout, softmax. ReLU after every conv and hidden dense layer.

    Arguments:
    input_shape -- (H, W, C), at least (67, 67, C) so that three poolings fit
    num_classes -- number of output classes
    pool_size -- pooling window (3 overlaps with stride 2; 2 gives the non-overlapping variant)
    dropout -- dropout rate before each of the two hidden dense layers' successors

    Returns:
    model -- keras.Sequential, output (N, num_classes) class probabilities
    """
    keras = _keras()
    layers = keras.layers

    def conv(filters, size, **kwargs):
        return layers.Conv2D(filters, size, activation="relu", **kwargs)

    return keras.Sequential([
        keras.Input(shape=input_shape),
        conv(96, 11, strides=4), layers.MaxPooling2D(pool_size, strides=2),
        conv(256, 5, padding="same"), layers.MaxPooling2D(pool_size, strides=2),
        conv(384, 3, padding="same"), conv(384, 3, padding="same"), conv(256, 3, padding="same"),
        layers.MaxPooling2D(pool_size, strides=2),
        layers.Flatten(),
        layers.Dense(4096, activation="relu"), layers.Dropout(dropout),
        layers.Dense(4096, activation="relu"), layers.Dropout(dropout),
        layers.Dense(num_classes, activation="softmax"),
    ], name="alexnet")


def build_vgg(convs_per_block=VGG19_CONVS, input_shape=(224, 224, 3), num_classes=1000, padding="same"):
    """VGG (Simonyan and Zisserman, 2014): blocks of 3x3 'same' convolutions + ReLU, each closed by a 2x2 max pool.

    The block filters are 64, 128, 256, 512, 512; then Flatten, Dense 4096, Dense 4096, softmax, exactly as
    ``keras.applications.VGG19(weights=None)`` (VGG19_CONVS) or VGG16 (VGG16_CONVS).

    Arguments:
    convs_per_block -- five numbers of convolutions, one per block
    input_shape -- (H, W, C), at least (32, 32, C)
    num_classes -- number of output classes
    padding -- padding of the convolutions ('same' in VGG)

    Returns:
    model -- keras.Sequential, output (N, num_classes) class probabilities
    """
    keras = _keras()
    layers = keras.layers
    stack = [keras.Input(shape=input_shape)]
    for block, (count, filters) in enumerate(zip(convs_per_block, VGG_FILTERS), start=1):
        stack += [layers.Conv2D(filters, 3, padding=padding, activation="relu", name=f"block{block}_conv{i}")
                  for i in range(1, count + 1)]
        stack.append(layers.MaxPooling2D(2, strides=2, name=f"block{block}_pool"))
    stack += [layers.Flatten(name="flatten"), layers.Dense(4096, activation="relu", name="fc1"),
              layers.Dense(4096, activation="relu", name="fc2"),
              layers.Dense(num_classes, activation="softmax", name="predictions")]
    return keras.Sequential(stack, name=f"vgg{sum(convs_per_block) + 3}")


def build_vgg19(input_shape=(224, 224, 3), num_classes=1000):
    """VGG-19: 16 convolutions in blocks of 2, 2, 4, 4, 4 and three dense layers; 143,667,240 params at 224x224."""
    return build_vgg(VGG19_CONVS, input_shape, num_classes)


def residual_block(x, filters, stride=1, shortcut=True, conv_bias=False, relu_after_add=True,
                   shortcut_batchnorm=True):
    """Basic residual block of ResNet-18/34 (He et al., 2015), functional API.

    Main path: conv 3x3 (stride) -> BN -> ReLU -> conv 3x3 -> BN. Shortcut: x itself when the shape is kept;
    a 1x1 convolution with the same stride followed by BN (a projection) when stride != 1 or the number of
    channels changes. Output: ReLU(main + shortcut). Convolutions have no bias: BatchNormalization follows them.
    The keyword options build the variants the lecture compares (shortcut=False: a plain block) and the
    classic mistakes the checks recognise.

    Arguments:
    x -- Keras tensor (N, H, W, C)
    filters -- number of output channels F
    stride -- stride of the first convolution and of the projection

    Returns:
    y -- Keras tensor (N, ceil(H / stride), ceil(W / stride), F)
    """
    layers = _keras().layers
    y = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=conv_bias)(x)
    y = layers.BatchNormalization()(y)
    y = layers.ReLU()(y)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=conv_bias)(y)
    y = layers.BatchNormalization()(y)
    if not relu_after_add:
        y = layers.ReLU()(y)
    if shortcut:
        skip = x
        if stride != 1 or x.shape[-1] != filters:
            skip = layers.Conv2D(filters, 1, strides=stride, use_bias=conv_bias)(x)
            if shortcut_batchnorm:
                skip = layers.BatchNormalization()(skip)
        y = layers.Add()([y, skip])
    return layers.ReLU()(y) if relu_after_add else y


def build_residual_block_model(input_shape, filters, stride=1, **block_options):
    """keras.Model around one residual_block: input (N, *input_shape), output (N, H', W', filters)."""
    keras = _keras()
    inputs = keras.Input(shape=input_shape)
    return keras.Model(inputs, residual_block(inputs, filters, stride, **block_options), name="residual_block")


def build_resnet(blocks_per_stage=RESNET34_BLOCKS, input_shape=(224, 224, 3), num_classes=1000, stem=True,
                 filters=RESNET_FILTERS, **block_options):
    """ResNet with basic blocks: stem, stages of residual blocks, global average pooling, softmax.

    Stem (stem=True): conv 64@7x7 stride 2 'same' (no bias) -> BN -> ReLU -> max pool 3x3 stride 2 'same'
    (224 -> 56); without it (small images) a conv filters[0]@3x3 -> BN -> ReLU. Stage s has
    blocks_per_stage[s] blocks of filters[s] channels; the first block of every stage after the first has
    stride 2. (3, 4, 6, 3) is ResNet-34 (21,797,672 trainable parameters at 1000 classes), (2, 2, 2, 2)
    ResNet-18. block_options go to residual_block (shortcut=False builds the plain network of the same depth).

    Arguments:
    blocks_per_stage -- number of residual blocks per stage
    input_shape -- (H, W, C)
    num_classes -- number of output classes
    stem -- the ImageNet stem (7x7/2 conv and max pool) or a 3x3 conv for small images
    filters -- channels per stage

    Returns:
    model -- keras.Model, output (N, num_classes) class probabilities
    """
    keras = _keras()
    layers = keras.layers
    inputs = keras.Input(shape=input_shape)
    if stem:
        x = layers.Conv2D(64, 7, strides=2, padding="same", use_bias=block_options.get("conv_bias", False))(inputs)
    else:
        x = layers.Conv2D(filters[0], 3, padding="same", use_bias=False)(inputs)
    x = layers.ReLU()(layers.BatchNormalization()(x))
    if stem:
        x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
    for stage, (count, channels) in enumerate(zip(blocks_per_stage, filters)):
        for block in range(count):
            x = residual_block(x, channels, stride=2 if stage > 0 and block == 0 else 1, **block_options)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    depth = 2 * sum(blocks_per_stage) + 2
    return keras.Model(inputs, outputs, name=f"{'' if block_options.get('shortcut', True) else 'plain'}resnet{depth}")


def build_resnet34(input_shape=(224, 224, 3), num_classes=1000):
    """ResNet-34: stages of 3, 4, 6, 3 basic blocks with 64, 128, 256, 512 channels (21,797,672 trainable)."""
    return build_resnet(RESNET34_BLOCKS, input_shape, num_classes)


def build_mlp(input_shape=(32, 32, 1), num_classes=10, hidden=(256, 128)):
    """Fully connected classifier: Flatten, Dense+ReLU per hidden size, softmax. Output (N, num_classes)."""
    keras = _keras()
    layers = keras.layers
    return keras.Sequential([keras.Input(shape=input_shape), layers.Flatten(),
                             *[layers.Dense(units, activation="relu") for units in hidden],
                             layers.Dense(num_classes, activation="softmax")], name="mlp")


# ---------------------------------------------------------------------------------------------------------
# Training recipes shared by the lecture, the checks' reference and the benchmark.
# ---------------------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------------------
# Summaries: a model as plain integers, one row per operation of its graph.
# ---------------------------------------------------------------------------------------------------------

KINDS = ("Other", "InputLayer", "Conv2D", "Dense", "MaxPooling2D", "AveragePooling2D", "BatchNormalization",
         "Add", "GlobalAveragePooling2D", "GlobalMaxPooling2D", "Activation", "Dropout", "Flatten", "Reshape",
         "ZeroPadding2D", "Identity", "Concatenate", "Multiply", "DepthwiseConv2D", "SeparableConv2D",
         "LayerNormalization", "LocalResponseNormalization")
ACTIVATIONS = ("none", "relu", "softmax", "tanh", "sigmoid", "other")

# Operation class name -> (kind, activation) for the classes whose name is not already a kind.
_ACTIVATION_CLASSES = {"ReLU": "relu", "Relu": "relu", "Softmax": "softmax", "Tanh": "tanh", "Sigmoid": "sigmoid",
                       "LeakyReLU": "other", "ELU": "other", "PReLU": "other", "Elu": "other", "Gelu": "other"}
_KIND_ALIASES = {"Conv2d": "Conv2D", "Convolution2D": "Conv2D", "MaxPool2D": "MaxPooling2D",
                 "AveragePool2D": "AveragePooling2D", "AvgPool2D": "AveragePooling2D", "Subtract": "Other"}
# Activation function names (``fn.__name__``) -> activation code.
_ACTIVATION_NAMES = {"linear": "none", "relu": "relu", "softmax": "softmax", "softmax_v2": "softmax",
                     "tanh": "tanh", "sigmoid": "sigmoid"}

MAX_INPUTS = 4
# Column layout of a summary row.
KIND, ACTIVATION, RANK, DIMS, KERNEL, STRIDES, PARAMS, TRAINABLE, NUM_INPUTS, INPUTS = (
    0, 1, 2, slice(3, 6), slice(6, 8), slice(8, 10), 10, 11, 12, slice(13, 13 + MAX_INPUTS))
NUM_COLUMNS = 13 + MAX_INPUTS


class ModelStructureError(ValueError):
    """A model whose graph cannot be read (no defined input, several inputs or outputs)."""


@contextlib.contextmanager
def shapes_only():
    """Build models in the block without initialising their weights: variables get shapes, no values.

    Inside Keras' StatelessScope, variable initialisation is deferred; the variables made in the block are
    dropped from Keras' list of variables to initialise on exit, so they never take memory. Layer types,
    output shapes and parameter counts are all there: VGG-19 builds in a fraction of a second instead of
    taking 1.4 GB of initialiser temporaries. The models built in the block cannot run.
    """
    keras = _keras()
    from keras.src.backend.common import global_state

    pending = list(global_state.get_global_attribute("uninitialized_variables", None) or [])
    try:
        with keras.StatelessScope(initialize_variables=False):
            yield
    finally:
        global_state.set_global_attribute("uninitialized_variables", pending)


def summarize(model) -> np.ndarray:
    """Graph of a Keras model as plain integers: int64 (L, NUM_COLUMNS), one row per operation, parents first.

    Columns: kind (index into KINDS), activation (index into ACTIVATIONS, for layers with ``activation=``
    or activation layers/ops), rank of the output without the batch axis, its first three sizes (0 beyond the
    rank, -1 unknown), kernel or pool size (2), strides (2), parameters, trainable parameters, number of inputs,
    and the row indices of up to MAX_INPUTS inputs (-1 beyond). Works on Sequential and functional models,
    operators such as ``x + y`` and ``keras.ops.relu``, shared layers (parameters counted once) and nested
    models (expanded); a layer subclass is one opaque row of kind 'Other'.
    """
    keras = _keras()
    tracer = _GraphTracer(keras)
    inputs, outputs = _model_io(model)
    if len(inputs) != 1 or len(outputs) != 1:
        raise ModelStructureError(f"the model has {len(inputs)} input(s) and {len(outputs)} output(s); "
                                  "the classifiers of this module have one of each")
    tracer.resolve(outputs[0], tracer.root)
    return np.array(tracer.rows, dtype=np.int64).reshape(-1, NUM_COLUMNS)


def _model_io(model):
    try:
        return list(model.inputs), list(model.outputs)
    except (AttributeError, ValueError, TypeError):
        raise ModelStructureError(
            "the model has no defined input, so its layers have no shapes yet: start it with "
            "keras.Input(shape=input_shape) (first item of a Sequential, or the input of a functional model)"
        ) from None


class _Scope:
    """The graph of one (possibly nested) model: which tensors stand for the rows of its inputs."""

    def __init__(self, substitutions: dict[int, int]):
        self.substitutions = substitutions
        self.rows_of_nodes: dict[int, int] = {}


class _GraphTracer:
    """Walks a model's graph from its output back to its input, depth first without recursion."""

    def __init__(self, keras):
        self.keras = keras
        self.rows: list[list[int]] = []
        self.counted_layers: set[int] = set()
        self.root = _Scope({})
        self.inner_scopes: dict[int, _Scope] = {}

    def resolve(self, tensor, scope: _Scope) -> int:
        stack = [(tensor, scope)]
        while stack:
            current, current_scope = stack[-1]
            if self.row_of(current, current_scope) is not None:
                stack.pop()
                continue
            missing = self.expand(current, current_scope)
            if missing:
                stack.extend(missing)
            else:
                stack.pop()
        return self.row_of(tensor, scope)

    def row_of(self, tensor, scope: _Scope) -> int | None:
        if id(tensor) in scope.substitutions:
            return scope.substitutions[id(tensor)]
        operation, node_index, tensor_index = tensor._keras_history
        node = operation._inbound_nodes[node_index]
        if self._is_graph_model(operation):
            inner = self.inner_scopes.get(id(node))
            return None if inner is None else self.row_of(operation.outputs[tensor_index], inner)
        return scope.rows_of_nodes.get(id(node))

    def expand(self, tensor, scope: _Scope) -> list:
        """Add the row of tensor's node once its inputs have rows; else return the (tensor, scope) pairs missing."""
        operation, node_index, tensor_index = tensor._keras_history
        node = operation._inbound_nodes[node_index]
        parents = list(node.input_tensors)
        missing = [(parent, scope) for parent in parents if self.row_of(parent, scope) is None]
        if missing:
            return missing
        parent_rows = [self.row_of(parent, scope) for parent in parents]
        if self._is_graph_model(operation):
            if id(node) not in self.inner_scopes:
                inner_inputs = list(operation.inputs)
                self.inner_scopes[id(node)] = _Scope({id(t): row for t, row in zip(inner_inputs, parent_rows)})
            return [(operation.outputs[tensor_index], self.inner_scopes[id(node)])]
        scope.rows_of_nodes[id(node)] = len(self.rows)
        self.rows.append(self._row(operation, tensor, parent_rows))
        return []

    def _is_graph_model(self, operation) -> bool:
        if not isinstance(operation, self.keras.Model):
            return False
        try:
            return bool(operation.inputs) and bool(operation.outputs)
        except (AttributeError, ValueError):
            return False

    def _row(self, operation, tensor, parent_rows: list[int]) -> list[int]:
        kind, activation = _kind_and_activation(operation)
        shape = [-1 if size is None else int(size) for size in tuple(tensor.shape)[1:]]
        params = trainable = 0
        if isinstance(operation, self.keras.layers.Layer) and id(operation) not in self.counted_layers:
            self.counted_layers.add(id(operation))
            params = int(sum(np.prod(w.shape) for w in operation.weights))
            trainable = int(sum(np.prod(w.shape) for w in operation.trainable_weights))
        kernel = getattr(operation, "kernel_size", None) or getattr(operation, "pool_size", None) or (0, 0)
        strides = getattr(operation, "strides", None) or (0, 0)
        inputs = (parent_rows + [-1] * MAX_INPUTS)[:MAX_INPUTS]
        return [KINDS.index(kind), ACTIVATIONS.index(activation), len(shape), *(shape + [0, 0, 0])[:3],
                *_pair(kernel), *_pair(strides), params, trainable, len(parent_rows), *inputs]


def _pair(value) -> tuple[int, int]:
    values = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    return (int(values[0]), int(values[-1])) if values else (0, 0)


def _kind_and_activation(operation) -> tuple[str, str]:
    name = type(operation).__name__
    if name in _ACTIVATION_CLASSES:
        return "Activation", _relu_code(operation) if name == "ReLU" else _ACTIVATION_CLASSES[name]
    kind = _KIND_ALIASES.get(name, name)
    kind = kind if kind in KINDS else "Other"
    function = getattr(operation, "activation", None)
    activation = "none"
    if callable(function):
        activation = _ACTIVATION_NAMES.get(getattr(function, "__name__", ""), "other")
    return kind, activation


def _relu_code(operation) -> str:
    """'relu' for a plain ReLU layer or op; 'other' for a leaky, capped or shifted one."""
    plain = (getattr(operation, "negative_slope", 0) in (0, None) and getattr(operation, "max_value", None) is None
             and getattr(operation, "threshold", 0) in (0, None))
    return "relu" if plain else "other"


# ---------------------------------------------------------------------------------------------------------
# Canonical structure: what the checks compare and the lectures count.
# ---------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LayerInfo:
    """One layer of a model in canonical form.

    kind:       layer type ('Conv2D', 'Dense', 'MaxPooling2D', 'BatchNormalization', 'Add', ...).
    activation: activation applied to its output ('none', 'relu', 'softmax' ...), whether written as
                ``activation=`` or as a separate layer.
    shape:      output shape without the batch axis, e.g. (28, 28, 6).
    kernel:     kernel or pool size (kh, kw); () when the layer has none.
    strides:    (sh, sw); () when the layer has none.
    params:     number of parameters (trainable + non-trainable).
    trainable:  number of trainable parameters.
    inputs:     positions of the layers it reads, in canonical order (sorted).
    """

    kind: str
    activation: str
    shape: tuple
    kernel: tuple
    strides: tuple
    params: int
    trainable: int
    inputs: tuple

    def describe(self) -> str:
        """One line, e.g. "Conv2D 5x5 stride 1 + relu -> (28, 28, 6), 156 params"."""
        parts = [self.kind]
        if self.kernel:
            parts.append(f"{self.kernel[0]}x{self.kernel[1]} stride {stride_text(self.strides)}")
        if self.activation != "none":
            parts.append(f"+ {self.activation}")
        frozen = self.params - self.trainable
        counts = f"{self.params:,} params" + (f" ({frozen:,} non-trainable)" if frozen else "")
        return f"{' '.join(parts)} -> {self.shape}, {counts}"


def stride_text(strides: tuple) -> str:
    """Strides as written in a message: '2' for (2, 2), '1x2' otherwise."""
    return str(strides[0]) if len(set(strides)) == 1 else "x".join(map(str, strides))


# Layers that pass their input on unchanged in what the checks compare: shapes are judged at the next layer.
PASS_THROUGH = ("Dropout", "Flatten", "Reshape", "ZeroPadding2D", "Identity")
POOLING = ("MaxPooling2D", "AveragePooling2D")


@dataclass
class _Node:
    kind: str
    activation: str
    shape: tuple
    kernel: tuple
    strides: tuple
    params: int
    trainable: int
    inputs: list


def canonical_layers(summary) -> list[LayerInfo]:
    """A summary (from :func:`summarize`, plain numbers) as LayerInfo records in canonical order.

    Equivalent forms become equal: activation layers/ops fold into the layer before them (when it has no
    activation and nothing else reads it); Dropout, Flatten, Reshape, ZeroPadding2D and Identity vanish (their
    effect shows in the next layer's shape); a Conv2D whose kernel covers its whole input and outputs 1x1
    becomes the Dense layer it equals (LeNet's C5). Layers are ordered by their depth from the input (longest
    path), then by their attributes, so the order in which parallel branches were written does not matter.
    """
    nodes = _parse(np.asarray(summary))
    nodes = _drop_pass_through(nodes)
    nodes = _fold_activations(nodes)
    nodes = [_conv_as_dense(node, nodes) for node in nodes]
    return _canonical_order(nodes)


def _parse(summary: np.ndarray) -> list[_Node]:
    """Rows as nodes; ValueError unless the table is well formed (known codes, parents before children)."""
    if summary.ndim != 2 or summary.shape[1] != NUM_COLUMNS or not np.all(np.isfinite(summary)):
        raise ValueError(f"a summary is a finite (L, {NUM_COLUMNS}) table")
    nodes = []
    for index, row in enumerate(summary.astype(np.int64)):
        rank = int(row[RANK])
        kernel, strides = tuple(int(v) for v in row[KERNEL]), tuple(int(v) for v in row[STRIDES])
        inputs = [int(i) for i in row[INPUTS][:max(0, min(int(row[NUM_INPUTS]), MAX_INPUTS))]]
        if not (0 <= row[KIND] < len(KINDS) and 0 <= row[ACTIVATION] < len(ACTIVATIONS) and rank >= 0
                and all(0 <= i < index for i in inputs)):
            raise ValueError(f"row {index} of the summary is malformed")
        nodes.append(_Node(KINDS[int(row[KIND])], ACTIVATIONS[int(row[ACTIVATION])],
                           tuple(int(v) for v in row[DIMS][:min(rank, 3)]), kernel if any(kernel) else (),
                           strides if any(strides) else (), int(row[PARAMS]), int(row[TRAINABLE]), inputs))
    return nodes


def _drop_pass_through(nodes: list[_Node]) -> list[_Node]:
    """Remove parameter-free pass-through layers, rewiring their readers to their input."""
    target = list(range(len(nodes)))
    for index, node in enumerate(nodes):
        node.inputs = [target[i] for i in node.inputs]
        if node.kind in PASS_THROUGH and node.params == 0 and len(node.inputs) == 1:
            target[index] = node.inputs[0]
    return _compact(nodes, keep=[target[i] == i for i in range(len(nodes))])


def _fold_activations(nodes: list[_Node]) -> list[_Node]:
    """Merge each activation layer into the layer it reads when that layer has no activation and no other reader."""
    readers = [0] * len(nodes)
    for node in nodes:
        for i in node.inputs:
            readers[i] += 1
    target = list(range(len(nodes)))
    for index, node in enumerate(nodes):
        node.inputs = [target[i] for i in node.inputs]
        if node.kind != "Activation" or len(node.inputs) != 1:
            continue
        parent = nodes[node.inputs[0]]
        if node.activation == "none":
            target[index] = node.inputs[0]
        elif parent.activation == "none" and readers[node.inputs[0]] == 1 and parent.kind != "InputLayer":
            parent.activation = node.activation
            target[index] = node.inputs[0]
    return _compact(nodes, keep=[target[i] == i for i in range(len(nodes))])


def _compact(nodes: list[_Node], keep: list[bool]) -> list[_Node]:
    new_index = np.cumsum(keep) - 1
    kept = [node for node, k in zip(nodes, keep) if k]
    for node in kept:
        node.inputs = [int(new_index[i]) for i in node.inputs]
    return kept


def _conv_as_dense(node: _Node, nodes: list[_Node]) -> _Node:
    if node.kind != "Conv2D" or len(node.inputs) != 1 or node.shape[:2] != (1, 1):
        return node
    if nodes[node.inputs[0]].shape[:2] != node.kernel:
        return node
    return replace(node, kind="Dense", shape=node.shape[2:], kernel=(), strides=())


def _canonical_order(nodes: list[_Node]) -> list[LayerInfo]:
    depth = []
    for node in nodes:
        depth.append(1 + max((depth[i] for i in node.inputs), default=-1))
    order = sorted(range(len(nodes)), key=lambda i: (depth[i], _attributes(nodes[i]), i))
    position = {old: new for new, old in enumerate(order)}
    return [LayerInfo(n.kind, n.activation, n.shape, n.kernel, n.strides, n.params, n.trainable,
                      tuple(sorted(position[i] for i in n.inputs)))
            for n in (nodes[i] for i in order)]


def _attributes(node: _Node) -> tuple:
    return (node.kind, node.activation, node.shape, node.kernel, node.strides, node.params, node.trainable)


def total_params(layers: list[LayerInfo]) -> tuple[int, int]:
    """(all, trainable) parameters of canonical layers."""
    return sum(layer.params for layer in layers), sum(layer.trainable for layer in layers)


@functools.lru_cache(maxsize=32)
def reference_summary(builder_name: str, *args, **kwargs) -> np.ndarray:
    """summarize() of a builder of this module (by name, e.g. 'build_vgg19'), built shapes_only(); cached.

    The array is read-only: copies are made by whoever changes it.
    """
    builder = globals()[builder_name]
    with shapes_only():
        model = builder(*args, **kwargs)
        summary = summarize(model)
    del model
    summary.setflags(write=False)
    return summary
