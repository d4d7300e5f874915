"""Checks of module 05_architectures: LeNet-5, AlexNet, VGG-19 and ResNet-34 built with Keras, and a trained LeNet.

The kernel computes, the judge compares plain data. A builder check calls the student's function, turns the
returned model into a table of integers with :func:`dlcourse.models.summarize` (one row per operation: layer
type, activation, output shape, kernel and strides, parameter counts, connections) and drops the model; the
judge puts that table and the reference builder's table in canonical form (:func:`dlcourse.models.
canonical_layers`) and compares them layer by layer. Models are built inside :func:`dlcourse.models.shapes_only`
(no weight values: VGG-19 would otherwise take 1.4 GB); structure and counts do not need them.

The training check trains the student's LeNet-5 with the student's training function on a fixed budget and
returns the predicted test labels; the judge computes the accuracy from those labels and compares it with a
threshold that correct answers clear with a wide margin (measured by benchmarks/bench_architectures.py).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ..models import (
    NUM_COLUMNS,
    POOLING,
    RESNET18_BLOCKS,
    VGG16_CONVS,
    LayerInfo,
    build_resnet,
    build_vgg,
    canonical_layers,
    predict_labels,
    reference_summary,
    shapes_only,
    stride_text,
    summarize,
    total_params,
)
from .core import HIDDEN, Case, Exercise, Mistake, accuracy_at_least, calls_into, checker

STRUCTURE_TOLERANCE = ("exact, layer by layer: type, kernel size, strides, activation, output shape, parameters and "
                       "connections; equivalent ways of writing a layer pass (the notebook lists them)")
BUILD_WARNING_HINT = ("a numeric warning while building the model (Keras' own advice and deprecations do not "
                      "count): keep every value finite.")

# The training check: budget, data and threshold. benchmarks/bench_architectures.py runs the check with the
# solution and every correct alternative in tests/implementations over seeds 0-9: the lowest accuracy was 0.881
# (RMSprop with a validation split), the solution's lowest 0.933; answers that do not learn stay near 0.10.
TRAIN_EPOCHS = 5
TRAIN_BATCH_SIZE = 32
TRAIN_ACCURACY_THRESHOLD = 0.80


# ---------------------------------------------------------------------------------------------------------
# Calling the student's builders: the kernel side.
# ---------------------------------------------------------------------------------------------------------

def _keras():
    from dlcourse.environment import import_tensorflow

    return import_tensorflow()[1]


def _summary_of_model(model, name: str) -> np.ndarray:
    __tracebackhide__ = True
    keras = _keras()
    if not isinstance(model, keras.Model):
        raise TypeError(f"{name} returned {_type_name(model)}; return the keras.Model you built")
    return summarize(model)


def _type_name(value) -> str:
    return "None" if value is None else f"a {type(value).__module__}.{type(value).__qualname__}"


# keras.applications builds these networks whole; dlcourse.models holds the course's reference builders.
READY_MADE = ("dlcourse.models", "keras.applications", "keras.src.applications")
# keras.applications reached through any object (tf.keras.applications, an imported keras bound to a local).
READY_MADE_NAMES = ("applications",)


def ready_made_calls(fn) -> list[str]:
    """What fn (and the notebook functions it calls) reaches of keras.applications or dlcourse.models."""
    return calls_into(fn, READY_MADE, names=READY_MADE_NAMES)


def _reject_ready_made(fns: dict, name: str) -> None:
    calls = ready_made_calls(fns[name])
    if calls:
        raise ValueError(f"{name} uses {', '.join(calls)}: this exercise builds the network from Keras layers, "
                         "so ready-made models (keras.applications, the course's reference builders) earn no points")


SHAPE_CHANGE_HINT = ("when the block changes the shape (stride 2, or a new number of filters), x cannot be added "
                     "as it is: the shortcut becomes a 1x1 convolution with the block's stride and filters, "
                     "followed by BatchNormalization (a projection shortcut)")


# Errors Keras raises while building, and what they usually mean in these networks.
BUILD_ERROR_HINTS = {
    "Inputs have incompatible shapes": SHAPE_CHANGE_HINT,  # layers.Add of tensors of different shapes
    "Cannot broadcast shape": SHAPE_CHANGE_HINT,  # the same with the + operator
    "Computed output size would be zero or negative": (
        "the maps shrank to nothing: a layer with padding='valid' (the default) drops kernel - 1 pixels each "
        "time; the layers that keep the size need padding='same'"),
}


def _with_build_hints(build):
    """Run build(); a Keras error listed in BUILD_ERROR_HINTS gets its hint appended."""
    __tracebackhide__ = True
    try:
        return build()
    except ValueError as err:
        hint = next((hint for text, hint in BUILD_ERROR_HINTS.items() if text in str(err)), None)
        if hint:
            raise ValueError(f"{err}\n  hint: {hint}.") from err
        raise


def _call_residual_block(fns: dict, case: Case) -> np.ndarray:
    __tracebackhide__ = True
    keras = _keras()
    _reject_ready_made(fns, "residual_block")
    input_shape, filters = case.args
    with shapes_only():
        x = keras.Input(shape=input_shape)
        y = _with_build_hints(lambda: fns["residual_block"](x, filters, **case.kwargs))
        if not isinstance(y, keras.KerasTensor):
            raise TypeError(f"residual_block returned {_type_name(y)}; return the Keras tensor after the final ReLU")
        return summarize(keras.Model(x, y))


def _call_builder(fns: dict, case: Case, name: str) -> np.ndarray:
    __tracebackhide__ = True
    _reject_ready_made(fns, name)
    with shapes_only():
        return _summary_of_model(_with_build_hints(lambda: fns[name](*case.args, **case.kwargs)), name)


# ---------------------------------------------------------------------------------------------------------
# Judging structures: plain data only.
# ---------------------------------------------------------------------------------------------------------

def compare_structure(expected, got) -> str | None:
    """None when two summaries describe the same architecture; else which layer differs, and how."""
    if isinstance(got, tuple) or np.ndim(got) != 2 or np.shape(got)[1] != NUM_COLUMNS:
        return "the check could not read a model summary from your function's result"
    reference = canonical_layers(expected)
    try:
        layers = canonical_layers(got)
    except (IndexError, ValueError, KeyError):
        return "the check could not read a model summary from your function's result"
    return structure_difference(reference, layers)


def structure_difference(reference: list[LayerInfo], layers: list[LayerInfo]) -> str | None:
    """The first layer at which layers differ from reference (canonical form), described; None if none."""
    totals = _totals_line(reference, layers)
    for position, (want, have) in enumerate(zip(reference, layers)):
        if want != have:
            lines = [f"layer {position} of {len(reference) - 1} differs ({totals})",
                     f"      expected {_describe(want, have)}", f"      got      {_describe(have, want)}"]
            hint = local_hint(position, reference, layers)
            return "\n".join(lines + ([f"    hint: {hint}"] if hint else []))
    if len(layers) != len(reference):
        more = len(layers) > len(reference)
        extra = (layers if more else reference)[min(len(layers), len(reference))]
        return (f"the model has {len(layers) - 1} layers where {len(reference) - 1} are expected ({totals}); "
                f"the first {'extra' if more else 'missing'} one: {extra.describe()}")
    return None


def _describe(layer: LayerInfo, other: LayerInfo) -> str:
    text = layer.describe()
    if layer.inputs != other.inputs:
        text += f", reads layer(s) {', '.join(map(str, layer.inputs)) or 'none'}"
    return text


def _totals_line(reference: list[LayerInfo], layers: list[LayerInfo]) -> str:
    (want, want_trainable), (have, have_trainable) = total_params(reference), total_params(layers)
    if want == have and want_trainable == have_trainable:
        return f"total parameters agree: {want:,}"
    return (f"total parameters: expected {want:,} ({want_trainable:,} trainable), "
            f"got {have:,} ({have_trainable:,} trainable)")


@dataclass(frozen=True)
class Difference:
    """The first layer at which a model differs from the reference: position, both layers, both models."""

    position: int
    reference: list
    layers: list

    @property
    def want(self) -> LayerInfo:
        return self.reference[self.position]

    @property
    def have(self) -> LayerInfo:
        return self.layers[self.position]

    def read_by(self, kind: str, in_reference: bool = True) -> bool:
        """Whether a layer of this kind reads the differing layer (in the reference, or in the model)."""
        model = self.reference if in_reference else self.layers
        return any(layer.kind == kind and self.position in layer.inputs for layer in model)

    @property
    def same_kind(self) -> bool:
        return self.want.kind == self.have.kind

    @property
    def same_channels(self) -> bool:
        return self.want.shape[-1:] == self.have.shape[-1:]

    @property
    def counterparts(self) -> bool:
        """Same layer type reading the same layers: the two differ in their settings, not in their place."""
        return self.same_kind and self.want.inputs == self.have.inputs


def _input_hint(d: Difference) -> str | None:
    if d.want.kind == "InputLayer" and d.same_kind:
        return "the model's input has the shape passed as input_shape: keras.Input(shape=input_shape)"
    return None


def _bias_hint(d: Difference) -> str | None:
    if not (d.counterparts and d.want.kind == "Conv2D" and d.same_channels):
        return None
    bias = d.want.shape[-1]
    if d.have.params - d.want.params == bias and d.read_by("BatchNormalization"):
        if not d.read_by("BatchNormalization", in_reference=False):
            return ("here the reference has conv (no bias) -> BatchNormalization -> ReLU: add the "
                    "BatchNormalization layer and pass use_bias=False to the convolution")
        return ("this convolution has a bias, but BatchNormalization right after it subtracts the mean and adds "
                "its own offset beta, so the bias does nothing: pass use_bias=False to a Conv2D followed by BN")
    if d.want.params - d.have.params == bias:
        return "this convolution has no bias; only convolutions followed by BatchNormalization leave it out"
    return None


def _padding_hint(d: Difference) -> str | None:
    want, have = d.want, d.have
    if not (d.counterparts and want.kernel and (want.kernel, want.strides) == (have.kernel, have.strides)
            and d.same_channels and want.shape != have.shape):
        return None
    if have.shape[0] < want.shape[0]:
        return ("the output is smaller than expected: padding='valid' (the default) drops kernel - 1 pixels; "
                "this layer keeps the size (up to the stride) with padding='same'")
    return ("the output is larger than expected: this layer uses no padding (padding='valid') and shrinks the "
            "maps by kernel - 1 pixels")


def _pooling_kind_hint(d: Difference) -> str | None:
    if {d.want.kind, d.have.kind} != set(POOLING):
        return None
    kind = "average" if d.want.kind == "AveragePooling2D" else "max"
    return f"this subsampling layer takes the {kind} of each window: keras.layers.{d.want.kind}"


def _window_hint(d: Difference) -> str | None:
    want, have = d.want, d.have
    if not (d.counterparts and d.same_channels and want.kernel
            and (want.kernel, want.strides) != (have.kernel, have.strides)):
        return None
    stride = stride_text(want.strides)
    if want.kind in POOLING and want.kernel[0] > want.strides[0]:
        return (f"these pooling windows overlap: {want.kernel[0]}x{want.kernel[1]} windows every {stride} pixels "
                f"(pool_size={want.kernel[0]}, strides={stride}), as in AlexNet")
    size = "kernel_size" if want.kind == "Conv2D" else "pool_size"
    return (f"this layer's window is {want.kernel[0]}x{want.kernel[1]} with stride {stride}: "
            f"{size}={want.kernel[0]}, strides={stride}")


def _activation_hint(d: Difference) -> str | None:
    want, have = d.want, d.have
    if not d.counterparts or want.activation == have.activation:
        return None
    if want.activation == "softmax":
        return "the last layer gives class probabilities: activation='softmax'"
    if d.read_by("Add") and have.activation == "relu":
        return ("the ReLU comes after the addition: out = relu(F(x) + shortcut); the second BatchNormalization's "
                "output goes into the Add as it is")
    if want.kind == "Add":
        return "apply ReLU to the sum: out = relu(F(x) + shortcut)"
    if want.activation == "relu" and have.activation == "tanh":
        return "this course's networks use ReLU after every hidden layer (LeNet-5 of 1998 used a scaled tanh)"
    if want.activation == "none" and d.read_by("BatchNormalization"):
        return "the activation comes after BatchNormalization: conv -> BN -> ReLU"
    return f"expected activation '{want.activation}', got '{have.activation}'"


def _projection_hint(d: Difference) -> str | None:
    if d.want.kind == "Conv2D" and d.want.kernel == (1, 1) and d.have.kernel != (1, 1):
        return SHAPE_CHANGE_HINT
    if d.want.kind == "BatchNormalization" and not d.counterparts:
        source = d.reference[d.want.inputs[0]] if d.want.inputs else None
        if source is not None and source.kernel == (1, 1):
            return "the projection's 1x1 convolution is followed by BatchNormalization too: shortcut = BN(conv(x))"
        return "BatchNormalization follows every convolution here: conv -> BN (-> ReLU)"
    return None


def _foreign_layer_hint(d: Difference) -> str | None:
    if d.have.kind == "Other":
        return ("a layer the check cannot see inside. Layer subclasses are read by tracing their call on symbolic "
                "inputs: build them from Keras layers and keras.ops (not tf.* functions), keep the weights in "
                "those sub-layers, and take only the input tensor (and training=) as call arguments")
    if d.have.kind in {layer.kind for layer in d.reference}:
        return None
    return f"this network has no {d.have.kind} layer at all: remove it (here the reference has a {d.want.kind})"


HINT_RULES = (_input_hint, _bias_hint, _padding_hint, _pooling_kind_hint, _window_hint, _activation_hint,
              _projection_hint, _foreign_layer_hint)


def local_hint(position: int, reference: list[LayerInfo], layers: list[LayerInfo]) -> str | None:
    """A teaching hint for the first layer at which layers differ from reference; None when no rule applies."""
    difference = Difference(position, reference, layers)
    return next((hint for rule in HINT_RULES if (hint := rule(difference))), None)


# ---------------------------------------------------------------------------------------------------------
# The builder exercises.
# ---------------------------------------------------------------------------------------------------------

def _reference(builder_name: str):
    return lambda case: reference_summary(builder_name, *case.args, **case.kwargs)


def _variant(builder, *args, **options):
    """A mistake's wrong output: the summary of a reference builder called with other arguments.

    Whole-network mistakes (a VGG-16 for a VGG-19) are recognised this way; single-layer ones get their hint
    from local_hint at the first layer that differs.
    """

    @functools.lru_cache(maxsize=8)
    def summary_of(case_args: tuple, case_kwargs: tuple) -> np.ndarray:
        with shapes_only():
            return summarize(builder(*args, *case_args, **dict(case_kwargs), **options))

    return lambda case: summary_of(case.args, tuple(sorted(case.kwargs.items())))


def _builder_exercise(name: str, cases, mistakes=()) -> Exercise:
    return Exercise(name=name, cases=cases, reference=_reference(name), compare=compare_structure,
                    call=lambda fns, case: _call_builder(fns, case, name), mistakes=mistakes,
                    from_scratch=False, tolerance=STRUCTURE_TOLERANCE, warning_hint=BUILD_WARNING_HINT)


def _lenet_cases(which: str) -> list[Case]:
    if which == HIDDEN:
        return [Case("colour 32x32 images, 7 classes", ((32, 32, 3), 7)),
                Case("two classes, keyword arguments", (), {"input_shape": (32, 32, 1), "num_classes": 2})]
    return [Case("build_lenet5() with its default arguments: 32x32x1, 10 classes, 61,706 parameters", ()),
            Case("32x32 grey digits, 10 classes", ((32, 32, 1), 10))]


BUILD_LENET5 = _builder_exercise("build_lenet5", _lenet_cases)


def _alexnet_cases(which: str) -> list[Case]:
    if which == HIDDEN:
        return [Case("227x227x3, 10 classes", ((227, 227, 3), 10)),
                Case("131x131 grey images, 5 classes", ((131, 131, 1), 5))]
    return [Case("build_alexnet() with its default arguments: 227x227x3, 1000 classes, 62,378,344 parameters", ())]


BUILD_ALEXNET = _builder_exercise("build_alexnet", _alexnet_cases)


def _vgg_cases(which: str) -> list[Case]:
    if which == HIDDEN:
        return [Case("64x64x3, 10 classes", ((64, 64, 3), 10)),
                Case("32x32 grey images, 5 classes (one pixel left after the fifth pool)", ((32, 32, 1), 5))]
    return [Case("build_vgg19() with its default arguments: 224x224x3, 1000 classes, 143,667,240 parameters", ())]


BUILD_VGG19 = _builder_exercise("build_vgg19", _vgg_cases, mistakes=[
    Mistake("that is VGG-16 (2, 2, 3, 3, 3 convolutions per block). VGG-19 has 2, 2, 4, 4, 4: 16 convolutions "
            "and 3 dense layers make its 19 weight layers.", _variant(build_vgg, VGG16_CONVS)),
    Mistake("19 counts the weight layers: 16 convolutions (2, 2, 4, 4, 4 per block) plus 3 dense layers.",
            _variant(build_vgg, (2, 2, 5, 5, 5))),
])


def _block_cases(which: str) -> list[Case]:
    if which == HIDDEN:
        return [Case("x (9, 9, 8), filters=8, stride=1", ((9, 9, 8), 8), {"stride": 1}),
                Case("x (7, 7, 8), filters=16, stride=2: odd size, 7 -> 4", ((7, 7, 8), 16), {"stride": 2}),
                Case("x (6, 6, 8), filters=16, stride=1: more channels", ((6, 6, 8), 16)),
                Case("x (8, 8, 4), filters=4, default stride", ((8, 8, 4), 4))]
    return [Case("x (8, 8, 16), filters=16, stride=1: the shape is kept", ((8, 8, 16), 16), {"stride": 1}),
            Case("x (8, 8, 16), filters=32, stride=2: the shape changes", ((8, 8, 16), 32), {"stride": 2})]


RESIDUAL_BLOCK = Exercise(
    name="residual_block",
    cases=_block_cases,
    call=_call_residual_block,
    reference=_reference("build_residual_block_model"),
    compare=compare_structure,
    from_scratch=False,
    tolerance=STRUCTURE_TOLERANCE,
    warning_hint=BUILD_WARNING_HINT,
)


def _resnet_cases(which: str) -> list[Case]:
    if which == HIDDEN:
        return [Case("64x64x3, 10 classes", ((64, 64, 3), 10)),
                Case("100x100 grey images, 7 classes (odd sizes after the second stage)", ((100, 100, 1), 7))]
    return [Case("build_resnet34() with its default arguments: 224x224x3, 1000 classes, 21,797,672 trainable", ())]


BUILD_RESNET34 = _builder_exercise("build_resnet34", _resnet_cases, mistakes=[
    Mistake("that is ResNet-18 (2, 2, 2, 2 blocks). ResNet-34 stacks 3, 4, 6, 3 basic blocks: "
            "2 x 16 convolutions + the stem + the dense layer = 34 weight layers.",
            _variant(build_resnet, RESNET18_BLOCKS)),
])


# ---------------------------------------------------------------------------------------------------------
# Training LeNet-5 on a fixed budget.
# ---------------------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=4)
def training_data(seed: int):
    """The 32x32 digits split of the training check: dlcourse.datasets.load_digits(size=32, seed=seed)."""
    from dlcourse.datasets import load_digits

    return load_digits(size=32, seed=seed)


def _train_cases(which: str) -> list[Case]:
    seed = 1 if which == HIDDEN else 0
    return [Case(f"LeNet-5 on the 32x32 digits (split and initialisation seed {seed}), {TRAIN_EPOCHS} epochs of "
                 f"batches of {TRAIN_BATCH_SIZE}", (), {"seed": seed})]


def _call_training(fns: dict, case: Case) -> np.ndarray:
    """Build the student's LeNet-5, train it with the student's function, return its test predictions (N,)."""
    __tracebackhide__ = True
    keras = _keras()
    _reject_ready_made(fns, "train_classifier")
    data = training_data(case.kwargs["seed"])
    keras.utils.set_random_seed(case.kwargs["seed"])
    try:
        model = fns["build_lenet5"]()
    except NotImplementedError:
        raise RuntimeError("build_lenet5, whose model this check trains, is not implemented yet") from None
    fns["train_classifier"](model, data.x_train.copy(), data.y_train.copy(), epochs=TRAIN_EPOCHS,
                            batch_size=TRAIN_BATCH_SIZE)
    return predict_labels(model, data.x_test)


def _training_advice(accuracy: float) -> str:
    """Why a trained LeNet-5 fell below the threshold, from its test accuracy."""
    chance = accuracy < 0.2
    advice = ("the network did not learn: check the loss ('sparse_categorical_crossentropy' for integer labels), "
              "the learning rate (Adam's default, 1e-3, works) and that fit runs on x_train and y_train as given, "
              "with the epochs and batch_size passed in"
              if chance else
              "it learns, but too slowly for the budget: use Adam with its default learning rate (1e-3) and the "
              "batch size passed in")
    return (f"test accuracy {accuracy:.1%} after training, below the threshold of {TRAIN_ACCURACY_THRESHOLD:.0%} "
            f"(correct answers reach about 95%); {advice}")


compare_accuracy = accuracy_at_least(TRAIN_ACCURACY_THRESHOLD, _training_advice)


TRAIN_CLASSIFIER = Exercise(
    name="train_classifier",
    cases=_train_cases,
    call=_call_training,
    reference=lambda case: training_data(case.kwargs["seed"]).y_test,
    compare=compare_accuracy,
    needs=("build_lenet5",),
    from_scratch=False,
    tolerance=f"test accuracy >= {TRAIN_ACCURACY_THRESHOLD:.0%} on the check's held-out digits",
    warning_hint="a numeric warning during training (Keras' own advice and deprecations do not count): check the "
                 "learning rate and the inputs.",
)

EXERCISES = (BUILD_LENET5, BUILD_ALEXNET, BUILD_VGG19, RESIDUAL_BLOCK, BUILD_RESNET34, TRAIN_CLASSIFIER)

check_build_lenet5 = checker(BUILD_LENET5)
check_build_alexnet = checker(BUILD_ALEXNET)
check_build_vgg19 = checker(BUILD_VGG19)
check_residual_block = checker(RESIDUAL_BLOCK)
check_build_resnet34 = checker(BUILD_RESNET34)
check_train_classifier = checker(TRAIN_CLASSIFIER)
