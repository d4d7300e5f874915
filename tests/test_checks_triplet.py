"""The checks of module 09_triplet_loss: references against the course's library, bad input, gradients, the rule
against the course's own code, and the hand-computed metric case."""
from __future__ import annotations

import numpy as np
import pytest

from dlcourse import metric_learning as ml
from dlcourse.checks import exercises_of, triplet
from dlcourse.environment import import_tensorflow
from harness import all_cases, failure_message
from implementations import m09_triplet_loss as implementations

EXERCISES = {exercise.name: exercise for exercise in triplet.EXERCISES}
LOSSES = ("triplet_loss", "batch_hard_triplet_loss", "batch_semi_hard_triplet_loss")
tf, keras = import_tensorflow()


def test_module_registers_its_exercises():
    assert set(exercises_of("09_triplet_loss")) == set(EXERCISES)


@pytest.mark.parametrize("name", ["batch_hard_triplet_loss", "batch_semi_hard_triplet_loss"])
def test_check_references_equal_the_library(name):
    """The references written inside the checks and the library's losses agree on every value case."""
    exercise = EXERCISES[name]
    library = getattr(ml, name)
    for case in all_cases(exercise):
        if triplet.is_bad_input(case):
            continue
        labels, embeddings = case.args
        expected = float(library(labels, tf.constant(embeddings, tf.float64), **case.kwargs))
        assert exercise.reference(case)[0] == pytest.approx(expected, abs=1e-9), case.name


@pytest.mark.parametrize("name", LOSSES)
def test_every_loss_check_has_bad_input_cases_after_the_value_cases(name):
    for which in ("public", "hidden"):
        flags = [triplet.is_bad_input(case) for case in EXERCISES[name].cases(which)]
        assert any(flags) and flags == sorted(flags), which


@pytest.mark.parametrize("name", LOSSES)
def test_the_course_library_earns_no_points(name):
    message = failure_message(EXERCISES[name], {name: getattr(ml, name)})
    assert message is not None and "reference implementations earn no points" in message


def test_another_exception_on_bad_input_is_named():
    def loss(anchor, positive, negative, margin=0.2):
        if not margin > 0:
            raise ZeroDivisionError("bad margin")
        if not bool(keras.ops.all(keras.ops.isfinite(anchor))):
            raise RuntimeError("nan")
        return implementations.right_triplet_loss__tensorflow_ops(anchor, positive, negative, margin)

    message = failure_message(EXERCISES["triplet_loss"], {"triplet_loss": loss})
    assert "raised another kind of exception" in message


def test_nan_gradient_of_a_batch_loss_is_named():
    """Batch-hard written with a plain sqrt: the value is right, the gradient NaN on the duplicated case."""

    def loss(labels, embeddings, margin=0.2):
        ops = keras.ops
        labels = np.asarray(labels)
        implementations._validate(margin, embeddings)
        implementations._validate_labels(labels)
        d = ops.sqrt(ops.sum(ops.square(embeddings[:, None] - embeddings[None]), axis=-1))
        same = labels[:, None] == labels[None, :]
        positive = same & ~np.eye(len(labels), dtype=bool)
        hardest_positive = ops.max(ops.where(positive, d, -1.0), axis=1)
        hardest_negative = ops.min(ops.where(same, 10.0, d), axis=1)
        valid = positive.any(axis=1)
        hinge = ops.where(valid, ops.relu(hardest_positive - hardest_negative + margin), 0.0)
        return ops.sum(hinge) / valid.sum()

    message = failure_message(EXERCISES["batch_hard_triplet_loss"], {"batch_hard_triplet_loss": loss})
    assert "sqrt has an infinite slope at 0" in message


def test_the_semi_hard_cases_need_the_fallback():
    """At least one public case has a positive pair with no negative beyond it (the fallback rule is tested)."""
    found = False
    for case in EXERCISES["batch_semi_hard_triplet_loss"].cases("public"):
        if triplet.is_bad_input(case):
            continue
        labels, x = case.args
        d = np.linalg.norm(x[:, None] - x[None], axis=2)
        for a in range(len(x)):
            negatives = d[a, labels != labels[a]]
            found |= any(not np.any(negatives > d[a, p]) for p in np.flatnonzero(labels == labels[a]) if p != a)
    assert found


def test_hand_case_is_the_first_metric_case_and_has_no_ties():
    for name in ("precision_at_1", "map_at_r"):
        first = EXERCISES[name].cases("public")[0]
        np.testing.assert_array_equal(first.args[0], triplet.HAND_POINTS)
    d = np.abs(triplet.HAND_POINTS - triplet.HAND_POINTS.T)
    for row in d:
        assert len(set(np.round(row, 9))) == len(row)
    assert EXERCISES["map_at_r"].reference(EXERCISES["map_at_r"].cases("public")[0]) == pytest.approx(1.75 / 6)


def test_embedding_net_check_reads_the_output_not_the_code():
    """A normalised output passes whatever the layers; the course's builder is rejected as course code."""
    exercise = EXERCISES["build_embedding_net"]
    assert failure_message(exercise, {"build_embedding_net": implementations.right_build_embedding_net__mlp_lambda_l2}) is None
    message = failure_message(exercise, {"build_embedding_net": lambda shape, dim: ml.embedding_net(shape, dim)})
    assert "reference implementations earn no points" in message
