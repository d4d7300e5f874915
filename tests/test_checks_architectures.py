"""Module 05's checks: reference counts, the canonical structure, equivalent forms, hints, and plain-data judging.

The harness (test_harness.py) runs the graded cells against the solution, the release and the implementations
in tests/implementations/m05_architectures.py; these tests pin the pieces underneath.
"""
from __future__ import annotations

import numpy as np
import pytest

from dlcourse import models
from dlcourse.checks import architectures
from dlcourse.checks.core import CheckFailure, to_plain
from dlcourse.environment import import_tensorflow

tf, keras = import_tensorflow()
layers = keras.layers


def structure(model) -> list[models.LayerInfo]:
    return models.canonical_layers(models.summarize(model))


@pytest.fixture
def references_allowed(monkeypatch):
    """Let wrong answers made from the reference builders through the ready-made rule."""
    monkeypatch.setattr(architectures, "ready_made_calls", lambda fn: [])


def failure_of(check, *functions) -> str:
    with pytest.raises(CheckFailure) as caught:
        check(*functions)
    return str(caught.value)


# --- references ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("builder, expected", [
    ("build_lenet5", (61_706, 61_706)),
    ("build_alexnet", (62_378_344, 62_378_344)),
    ("build_vgg19", (143_667_240, 143_667_240)),
    ("build_resnet34", (21_814_696, 21_797_672)),
])
def test_reference_builders_have_the_published_parameter_counts(builder, expected):
    assert models.total_params(models.canonical_layers(models.reference_summary(builder))) == expected


@pytest.mark.parametrize("args", [(), ((64, 64, 3), 10), ((32, 32, 1), 5)])
def test_vgg19_has_the_structure_of_keras_applications(args):
    input_shape, classes = args or ((224, 224, 3), 1000)
    with models.shapes_only():
        applications = models.summarize(keras.applications.VGG19(weights=None, input_shape=input_shape,
                                                                 classes=classes))
    assert architectures.compare_structure(models.reference_summary("build_vgg19", *args), applications) is None


def test_shapes_only_builds_without_weight_values_and_forgets_its_variables():
    from keras.src.backend.common import global_state

    pending = list(global_state.get_global_attribute("uninitialized_variables", None) or [])
    with pytest.raises(ValueError), models.shapes_only():
        model = models.build_vgg19()
        assert model.count_params() == models.VGG19_PARAMS
        assert all(w._value is None for w in model.weights)  # nothing allocated
        raise ValueError("the student's builder failed")
    assert list(global_state.get_global_attribute("uninitialized_variables", None) or []) == pending
    assert models.build_lenet5().predict(np.zeros((1, 32, 32, 1)), verbose=0).shape == (1, 10)


# --- the canonical structure ---------------------------------------------------------------------------------
def test_lenet_as_sequential_and_as_functional_with_conv_c5_are_the_same():
    inputs = keras.Input(shape=(32, 32, 1))
    x = layers.AveragePooling2D(2)(layers.ReLU()(layers.Conv2D(6, 5)(inputs)))
    x = layers.AveragePooling2D(2)(keras.ops.relu(layers.Conv2D(16, 5)(x)))
    x = layers.Flatten()(layers.Conv2D(120, 5, activation="relu")(x))
    x = layers.Dropout(0.5)(layers.Dense(84, activation="relu")(x))
    functional = keras.Model(inputs, layers.Softmax()(layers.Dense(10)(x)))
    assert structure(functional) == structure(models.build_lenet5())
    assert [layer.kind for layer in structure(functional)] == [
        "InputLayer", "Conv2D", "AveragePooling2D", "Conv2D", "AveragePooling2D", "Dense", "Dense", "Dense"]


def test_zero_padding_before_a_valid_layer_equals_same_padding():
    same = keras.Sequential([keras.Input((9, 9, 2)), layers.Conv2D(4, 3, strides=2, padding="same")])
    padded = keras.Sequential([keras.Input((9, 9, 2)), layers.ZeroPadding2D(1), layers.Conv2D(4, 3, strides=2)])
    assert structure(same) == structure(padded)


def test_an_activation_is_not_folded_into_a_layer_that_something_else_reads():
    inputs = keras.Input((4, 4, 2))
    conv = layers.Conv2D(2, 3, padding="same")(inputs)
    model = keras.Model(inputs, layers.Add()([layers.ReLU()(conv), conv]))
    kinds = [(layer.kind, layer.activation) for layer in structure(model)]
    assert ("Activation", "relu") in kinds and ("Conv2D", "none") in kinds


def test_nested_models_are_expanded_and_shared_layers_counted_once():
    inner = keras.Sequential([keras.Input((8,)), layers.Dense(8, activation="relu")])
    inputs = keras.Input((8,))
    nested = keras.Model(inputs, inner(inner(inputs)))
    found = structure(nested)
    assert [(layer.kind, layer.params) for layer in found] == [("InputLayer", 0), ("Dense", 72), ("Dense", 0)]


def test_branch_order_does_not_matter():
    def block(shortcut_first):
        inputs = keras.Input((8, 8, 4))
        branches = [lambda: layers.Conv2D(8, 1, strides=2)(inputs), lambda: layers.Conv2D(8, 3, 2, "same")(inputs)]
        a, b = (branches if shortcut_first else branches[::-1])
        first, second = a(), b()
        return keras.Model(inputs, layers.Add()([first, second]))

    assert structure(block(True)) == structure(block(False))


class DenseUnit(layers.Layer):
    """A layer subclass built from Keras layers: dense -> relu, plus its input (a residual unit in miniature)."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.dense = layers.Dense(units)

    def call(self, inputs, training=None):
        return keras.ops.relu(self.dense(inputs) + inputs)


class OwnWeights(layers.Layer):
    """A layer subclass that keeps a weight of its own: the summary cannot split it into Keras layers."""

    def build(self, input_shape):
        self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones")

    def call(self, inputs):
        return inputs * self.scale


def test_a_layer_subclass_is_traced_into_the_layers_it_calls():
    inputs = keras.Input((8,))
    subclassed = structure(keras.Model(inputs, DenseUnit(8)(inputs)))
    x = keras.Input((8,))
    plain = structure(keras.Model(x, layers.ReLU()(layers.Add()([layers.Dense(8)(x), x]))))
    assert subclassed == plain


def test_a_layer_subclass_with_weights_of_its_own_stays_one_row_with_a_hint():
    inputs = keras.Input((8,))
    found = structure(keras.Model(inputs, layers.Dense(3)(OwnWeights()(inputs))))
    assert [(layer.kind, layer.params) for layer in found] == [("InputLayer", 0), ("Other", 8), ("Dense", 27)]
    x = keras.Input((8,))
    reference = structure(keras.Model(x, layers.Dense(3)(layers.Dense(8)(x))))
    assert "tracing their call on symbolic inputs" in architectures.structure_difference(reference, found)


def test_a_compiled_model_can_be_summarised_without_weight_values():
    with models.shapes_only():
        model = keras.Sequential([keras.Input((4,)), layers.Dense(2, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        assert models.total_params(structure(model)) == (10, 10)
    assert keras.Model.compile is not models.summary._compile_skipped


def test_a_model_without_input_is_reported_with_the_fix():
    with pytest.raises(models.ModelStructureError, match=r"keras.Input\(shape=input_shape\)"):
        models.summarize(keras.Sequential([layers.Dense(3)]))


# --- judging plain data ----------------------------------------------------------------------------------------
def test_the_judge_reads_plain_numbers_only():
    expected = models.reference_summary("build_lenet5")
    as_plain = to_plain(np.array(expected))  # what the kernel sends: float64
    assert as_plain.dtype == np.float64 and architectures.compare_structure(expected, as_plain) is None


@pytest.mark.parametrize("garbage", [
    np.zeros((3, 5)),
    np.full((2, models.NUM_COLUMNS), 99.0),
    np.full((2, models.NUM_COLUMNS), -1.0),
    np.full((2, models.NUM_COLUMNS), np.nan),
    np.vstack([np.zeros(models.NUM_COLUMNS), np.r_[np.zeros(12), 1, 5, -1, -1, -1]]),  # reads a later row
])
def test_malformed_summaries_fail_with_a_reason_not_an_exception(garbage):
    reason = architectures.compare_structure(models.reference_summary("build_lenet5"), garbage)
    assert reason and "could not read" in reason


def test_the_reference_builders_count_as_ready_made():
    message = failure_of(architectures.check_build_lenet5, lambda *args: models.build_lenet5(*args))
    assert "uses models" in message and "ready-made models" in message


def test_the_first_differing_layer_is_shown_with_both_descriptions_and_totals():
    got = models.summarize(models.build_lenet5(pooling="max"))
    reason = architectures.compare_structure(models.reference_summary("build_lenet5"), got)
    assert "layer 2 of 7 differs (total parameters agree: 61,706)" in reason
    assert "expected AveragePooling2D 2x2 stride 2 -> (14, 14, 6)" in reason
    assert "got      MaxPooling2D 2x2 stride 2" in reason


# --- hints ------------------------------------------------------------------------------------------------------
def block_variant(**options):
    return lambda x, filters, stride=1: models.residual_block(x, filters, stride, **options)


@pytest.mark.parametrize("options, hint", [
    ({"relu_after_add": False}, "the ReLU comes after the addition"),
    ({"conv_bias": True}, "pass use_bias=False"),
    ({"shortcut_batchnorm": False}, "the projection's 1x1 convolution is followed by BatchNormalization too"),
])
def test_residual_block_mistakes_get_their_hints(options, hint, references_allowed):
    x = keras.Input((8, 8, 16))
    keras.Model(x, block_variant(**options)(x, 32, 2))  # the variants build
    assert hint in failure_of(architectures.check_residual_block, block_variant(**options))


def test_a_missing_projection_gets_the_projection_hint():
    def identity_shortcut(x, filters, stride=1):
        y = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False)(x)
        y = layers.BatchNormalization()(layers.Conv2D(filters, 3, padding="same", use_bias=False)(
            layers.ReLU()(layers.BatchNormalization()(y))))
        return layers.ReLU()(y + x)

    message = failure_of(architectures.check_residual_block, identity_shortcut)
    assert "the shape changes" in message and "projection shortcut" in message


@pytest.mark.parametrize("check, wrong, hint", [
    (architectures.check_build_lenet5, lambda input_shape=(32, 32, 1), num_classes=10: models.build_lenet5(
        input_shape, num_classes, c1_padding="same"), "this layer uses no padding"),
    (architectures.check_build_lenet5, lambda input_shape=(32, 32, 1), num_classes=10: models.build_lenet5(
        input_shape, num_classes, pooling="max"), "takes the average of each window"),
    (architectures.check_build_lenet5, lambda input_shape=(32, 32, 1), num_classes=10: models.build_lenet5(
        input_shape, num_classes, activation="tanh"), "LeNet-5 of 1998 used a scaled tanh"),
    (architectures.check_build_alexnet, lambda input_shape=(227, 227, 3), num_classes=1000: models.build_alexnet(
        input_shape, num_classes, pool_size=2), "pooling windows overlap"),
    (architectures.check_build_alexnet, lambda input_shape=(227, 227, 3), num_classes=1000: keras.Sequential(
        [keras.Input(input_shape), layers.Conv2D(96, 11, strides=2)]), "kernel_size=11, strides=4"),
    (architectures.check_build_vgg19, lambda input_shape=(224, 224, 3), num_classes=1000: models.build_vgg(
        models.VGG16_CONVS, input_shape, num_classes), "that is VGG-16"),
    (architectures.check_build_resnet34, lambda input_shape=(224, 224, 3), num_classes=1000: models.build_resnet(
        models.RESNET18_BLOCKS, input_shape, num_classes), "that is ResNet-18"),
])
def test_classic_mistakes_get_their_hints(check, wrong, hint, references_allowed):
    assert hint in failure_of(check, wrong)


def test_missing_softmax_is_named():
    def logits(input_shape=(32, 32, 1), num_classes=10):
        return keras.Sequential([
            keras.Input(shape=input_shape), layers.Conv2D(6, 5, activation="relu"), layers.AveragePooling2D(2),
            layers.Conv2D(16, 5, activation="relu"), layers.AveragePooling2D(2), layers.Flatten(),
            layers.Dense(120, activation="relu"), layers.Dense(84, activation="relu"), layers.Dense(num_classes)])

    assert "the last layer gives class probabilities: activation='softmax'" in failure_of(
        architectures.check_build_lenet5, logits)


def test_ready_made_networks_earn_nothing():
    def applications(input_shape=(224, 224, 3), num_classes=1000):
        return keras.applications.VGG19(weights=None, input_shape=input_shape, classes=num_classes)

    message = failure_of(architectures.check_build_vgg19, applications)
    assert "uses keras.applications.VGG19" in message and "ready-made models" in message


def imports_applications(input_shape=(224, 224, 3), num_classes=1000):
    from keras import applications

    return applications.VGG19(weights=None, input_shape=input_shape, classes=num_classes)


def applications_on_a_local(input_shape=(224, 224, 3), num_classes=1000):
    framework = __import__("keras")
    return framework.applications.VGG19(weights=None, input_shape=input_shape, classes=num_classes)


def ready_made_by_default(input_shape=(224, 224, 3), num_classes=1000, build=keras.applications.VGG19):
    return build(weights=None, input_shape=input_shape, classes=num_classes)


def course_builder_in_a_closure(build=models.build_vgg19):
    return lambda input_shape=(224, 224, 3), num_classes=1000: build(input_shape, num_classes)


def own_builder(input_shape=(32, 32, 1), num_classes=10):
    return keras.Sequential([keras.Input(input_shape), layers.Flatten(), layers.Dense(num_classes, "softmax")])


@pytest.mark.parametrize("function, found", [
    (imports_applications, ["keras.applications.VGG19"]),
    (applications_on_a_local, ["applications"]),
    (ready_made_by_default, ["keras.src.applications.vgg19.VGG19"]),
    (course_builder_in_a_closure(), ["dlcourse.models.classic.build_vgg19"]),
    (models.build_lenet5, ["dlcourse.models.classic.build_lenet5"]),
    (own_builder, []),
])
def test_ready_made_networks_are_found_however_they_are_reached(function, found):
    assert architectures.ready_made_calls(function) == found


# --- the training check ---------------------------------------------------------------------------------------
def predictions_with_accuracy(labels: np.ndarray, accuracy: float) -> np.ndarray:
    wrong = int(round((1 - accuracy) * len(labels)))
    return np.r_[(labels[:wrong] + 1) % 10, labels[wrong:]].astype(float)


def test_the_training_judge_counts_right_predictions_against_the_threshold():
    labels = architectures.training_data(0).y_test
    threshold = architectures.TRAIN_ACCURACY_THRESHOLD
    assert architectures.compare_accuracy(labels, predictions_with_accuracy(labels, threshold + 0.01)) is None
    reason = architectures.compare_accuracy(labels, predictions_with_accuracy(labels, threshold - 0.05))
    assert "below the threshold of 80%" in reason and "too slowly" in reason
    assert "did not learn" in architectures.compare_accuracy(labels, np.full(len(labels), 3.0))
    assert "predicted labels" in architectures.compare_accuracy(labels, labels[:10].astype(float))


def test_the_training_check_says_when_build_lenet5_is_missing():
    def blank_build():
        raise NotImplementedError()

    message = failure_of(architectures.check_train_classifier, lambda *args, **kwargs: None, blank_build)
    assert "build_lenet5, whose model this check trains, is not implemented yet" in message


# --- the lecture's picture ----------------------------------------------------------------------------------------
def test_parameter_bars_show_each_layer_and_each_kinds_share():
    from matplotlib.figure import Figure

    from dlcourse.plots import plot_parameter_bars

    ax = Figure().subplots()
    figure = plot_parameter_bars(ax, [10, 1000, 10], ["Conv2D", "Dense", "Conv2D"], title="tiny", total=2040)
    assert figure is ax.figure and len(ax.patches) == 3 and ax.get_yscale() == "log"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Conv2D: 20 (1.0%)", "Dense: 1,000 (49.0%)"]
