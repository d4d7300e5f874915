"""Module 06's judges on plain data, and the Keras behaviour its checks and lecture rely on."""
from __future__ import annotations

import numpy as np
import pytest

from dlcourse.checks import transfer as checks


def facts(**changes) -> np.ndarray:
    values = dict(uses_backbone=1, base_frozen=1, head_inputs=1280, dense_layers=1, classes=3, dropout=0.2,
                  pooling=1, probabilities=1, batch_independent=1)
    values.update(changes)
    return np.array([float(values[name]) for name in checks.MODEL_FACTS])


@pytest.mark.parametrize("changes, fragment", [
    ({"head_inputs": 1000}, "include_top=True"),
    ({"base_frozen": 0}, "backbone.trainable = False"),
    ({"batch_independent": 0}, "training=True"),
    ({"pooling": 3}, "GlobalAveragePooling2D"),
    ({"dropout": 0.0}, "the rate passed in"),
    ({"probabilities": 0}, "activation='softmax'"),
    ({"uses_backbone": 0, "head_inputs": 1280}, "the backbone passed in"),
])
def test_model_facts_name_the_mistake(changes, fragment):
    assert checks.compare_model_facts(facts(), facts()) is None
    assert fragment in checks.compare_model_facts(facts(), facts(**changes))


def table(head, counts, kinds) -> np.ndarray:
    return np.array([[head, *counts], [0, *kinds]], dtype=float)


KINDS = [0, 2, 1, 0, 2, 1, 2]  # input, conv, BN, relu, conv, BN, conv
EXPECTED = table(2, [0, 0, 0, 0, 1, 0, 1], KINDS)


@pytest.mark.parametrize("counts, head, fragment", [
    ([0] * 7, 2, "`layer.trainable = None` is read as False"),
    ([0, 0, 0, 0, 1, 2, 1], 2, "keep every BatchNormalization layer frozen"),
    ([0, 1, 0, 0, 1, 0, 1], 2, "the whole base trains"),
    ([0, 0, 0, 0, 0, 0, 1], 2, "base.layers[-n_layers:]"),
    ([0, 0, 0, 0, 1, 0, 1], 0, "the new head is frozen"),
])
def test_trainable_tables_name_the_mistake(counts, head, fragment):
    assert checks.compare_trainable(EXPECTED, EXPECTED) is None
    assert fragment in checks.compare_trainable(EXPECTED, table(head, counts, KINDS))


@pytest.mark.parametrize("got, fragment", [
    ([0, 1e-4, 1.0], "not recompiled"),
    ([1, 1e-3, 1.0], "the rate was not lowered"),
    ([1, 1e-5, 1.0], "learning rate 1e-05"),
    ([1, 1e-4, 2.0], "from_logits=False"),
])
def test_compile_facts_name_the_mistake(got, fragment):
    expected = np.array([1, 1e-4, 1.0])
    assert checks.compare_compile(expected, expected) is None
    assert fragment in checks.compare_compile(expected, np.array(got, dtype=float))


def test_accuracy_threshold():
    truth = np.arange(8).repeat(10)
    good = truth.copy()
    good[:int(len(truth) * (1 - checks.TRAIN_ACCURACY_THRESHOLD))] = 7
    assert checks.compare_accuracy(truth, good.astype(float)) is None
    assert "below the threshold" in checks.compare_accuracy(truth, np.zeros_like(truth, dtype=float))
    assert "expected 80 predicted labels" in checks.compare_accuracy(truth, np.zeros(3))


def test_training_flag_of_a_nested_call_is_overridden_by_the_outer_one():
    """What the lecture states about Keras 3: fit's training=True reaches a base called with training=False,
    and a trainable BatchNormalization then uses batch statistics; a frozen one never does."""
    from dlcourse.models.backend import keras_module

    keras = keras_module()
    inner_input = keras.Input((4,))
    inner = keras.Model(inner_input, keras.layers.BatchNormalization()(inner_input))
    outer_input = keras.Input((4,))
    outer = keras.Model(outer_input, inner(outer_input, training=False))
    x = np.random.default_rng(0).normal(3.0, 2.0, (16, 4)).astype(np.float32)
    as_built = keras.ops.convert_to_numpy(outer(x))
    in_fit = keras.ops.convert_to_numpy(outer(x, training=True))
    assert np.allclose(as_built, x / np.sqrt(1 + 1e-3), atol=1e-4)  # moving statistics: mean 0, variance 1
    assert abs(in_fit.mean()) < 1e-3  # batch statistics
    drifted = keras.ops.convert_to_numpy(outer(x))
    assert not np.allclose(drifted, as_built, atol=1e-3)  # that call moved the moving statistics
    inner.layers[-1].trainable = False
    assert np.allclose(keras.ops.convert_to_numpy(outer(x, training=True)), drifted, atol=1e-5)


def reference_model(backbone, num_classes, dropout=0.2):
    from dlcourse.models.transfer import transfer_model

    return transfer_model(backbone, num_classes, dropout)


def reference_through_a_local_import(model, n_layers, unfreeze=None):
    from dlcourse.models import transfer

    return (unfreeze or transfer.unfreeze_top_layers)(model, n_layers)


@pytest.mark.parametrize("exercise, answer, named", [
    (checks.BUILD_TRANSFER_MODEL, reference_model, "dlcourse.models.transfer.transfer_model"),
    (checks.UNFREEZE_TOP, reference_through_a_local_import, "dlcourse.models.transfer"),
    (checks.EXTRACT_FEATURES, lambda backbone, images, batch_size: checks.pooled_features(backbone, images, batch_size),
     "checks.pooled_features"),
])
def test_the_course_reference_earns_no_points(exercise, answer, named):
    """Refused before anything is built: the course's own implementations are what the checks compare with."""
    with pytest.raises(ValueError, match="the course's reference implementations earn no points") as refused:
        exercise.call({exercise.name: answer}, exercise.cases("public")[0])
    assert f"uses {named}" in str(refused.value)
