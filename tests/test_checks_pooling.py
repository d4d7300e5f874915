"""The checks of module 04_pooling: references, the model of the mistakes, reachable hints, tie-free inputs and
the from-scratch rule."""
from __future__ import annotations

import numpy as np
import pytest

from dlcourse.checks import pooling
from dlcourse.checks.core import HIDDEN, CheckFailure, judge
from dlcourse.environment import import_tensorflow
from harness import all_cases, failure_message
from implementations import m04_pooling as implementations

EXERCISES = {exercise.name: exercise for exercise in pooling.EXERCISES}
POOLINGS = {"max_pool2d": ("max_pool2d", pooling._window_max), "avg_pool2d": ("avg_pool2d", pooling._window_mean)}


@pytest.mark.parametrize("name", POOLINGS)
@pytest.mark.parametrize("padding", ["VALID", "SAME"])
def test_numpy_model_of_the_mistakes_matches_tensorflow(name, padding):
    """With nothing set wrong the NumPy loop is TensorFlow's VALID pooling; with SAME padding, TensorFlow's SAME."""
    tf, _ = import_tensorflow()
    op, reduce = POOLINGS[name]
    for case in all_cases(EXERCISES[name]):
        pool_size, stride = pooling._window(case)
        expected = getattr(tf.nn, op)(tf.constant(np.asarray(case.args[0], np.float64)), pool_size, stride, padding)
        got = pooling._pool_mistake(reduce, same_padding=padding == "SAME")(case)
        np.testing.assert_allclose(got, expected.numpy(), rtol=1e-12, atol=1e-12, err_msg=case.name)


def test_numpy_model_of_the_gradient_matches_the_tape():
    exercise = EXERCISES["max_pool2d_backward"]
    for case in all_cases(exercise):
        np.testing.assert_allclose(pooling._backward_mistake(pooling._argmax_position)(case),
                                   exercise.reference(case), rtol=1e-12, atol=1e-12, err_msg=case.name)


def test_gradient_inputs_have_no_ties():
    """No window holds its maximum twice, so 'first maximum' and 'every maximum' give the same gradient."""
    for case in all_cases(EXERCISES["max_pool2d_backward"]):
        dout, x = case.args
        pool_size, stride = pooling._window(case)
        for n, i, j, c in np.ndindex(dout.shape):
            window = x[n, i * stride:i * stride + pool_size, j * stride:j * stride + pool_size, c]
            assert np.sum(window == window.max()) == 1, case.name


def test_overlapping_windows_are_checked_where_gradients_add_up():
    """Some hidden gradient case routes more than one window's gradient to the same input."""
    exercise = EXERCISES["max_pool2d_backward"]
    counts = [exercise.reference(pooling.Case(case.name, (np.ones_like(case.args[0]), case.args[1]), case.kwargs))
              for case in exercise.cases(HIDDEN)]
    assert max(count.max() for count in counts) >= 2


def test_receptive_fields_of_the_brief_and_of_known_networks():
    field = lambda layers: EXERCISES["receptive_field"].reference(pooling.Case("", (layers,)))
    assert field([(3, 1), (3, 1)]) == 5
    assert field([(3, 1), (2, 2), (3, 1)]) == 8
    assert field([]) == 1
    assert field(pooling.ALEXNET) == 195  # AlexNet's pool5
    assert field(pooling.VGG16) == 212  # VGG-16's pool5


@pytest.mark.parametrize("exercise", pooling.EXERCISES, ids=lambda e: e.name)
def test_every_hint_can_be_given(exercise):
    """Each mistake, fed back as the student's answer, earns its own hint on at least one case."""
    for mistake in exercise.mistakes:
        given = set()
        for case in all_cases(exercise):
            try:
                judge(exercise, case, mistake.wrong_output(case))
            except CheckFailure as failure:
                given.add(mistake.hint in str(failure))
        assert True in given, f"{exercise.name}: the hint '{mistake.hint[:60]}...' is never given"


LIBRARY_ANSWERS = {
    "tf.nn": ("max_pool2d", "def max_pool2d(x, pool_size=2, stride=2):\n"
                            "    return tf.nn.max_pool2d(x, pool_size, stride, 'VALID').numpy()"),
    "keras layer": ("max_pool2d", "def max_pool2d(x, pool_size=2, stride=2):\n"
                                  "    return np.asarray(keras.layers.MaxPooling2D(pool_size, stride)(x))"),
    "keras.ops": ("avg_pool2d", "def avg_pool2d(x, pool_size=2, stride=2):\n"
                                "    return np.asarray(keras.ops.average_pool(x, pool_size, stride))"),
    "block_reduce by name": ("avg_pool2d", "from skimage.measure import block_reduce\n"
                                           "def avg_pool2d(x, pool_size=2, stride=2):\n"
                                           "    return block_reduce(x, (1, pool_size, pool_size, 1), np.mean)"),
    "skimage.measure": ("max_pool2d", "import skimage.measure\n"
                                      "def max_pool2d(x, pool_size=2, stride=2):\n"
                                      "    window = (1, pool_size, pool_size, 1)\n"
                                      "    return skimage.measure.block_reduce(x, window, np.max)"),
    "GradientTape": ("max_pool2d_backward",
                     "def max_pool2d_backward(dout, x, pool_size=2, stride=2):\n"
                     "    x = tf.constant(x)\n"
                     "    with tf.GradientTape() as tape:\n"
                     "        tape.watch(x)\n"
                     "        out = tf.nn.max_pool2d(x, pool_size, stride, 'VALID')\n"
                     "    return tape.gradient(out, x, output_gradients=dout).numpy()"),
}


@pytest.mark.parametrize("answer", LIBRARY_ANSWERS)
def test_library_answers_are_rejected(answer):
    tf, keras = import_tensorflow()
    name, source = LIBRARY_ANSWERS[answer]
    namespace = {"np": np, "tf": tf, "keras": keras}
    exec(source, namespace)
    message = failure_message(EXERCISES[name], {name: namespace[name]})
    assert message is not None and "from scratch" in message, message


def test_backward_may_call_the_students_own_forward_pass():
    namespace = {"np": np, "max_pool2d": implementations.right_max_pool2d__sliding_window_view}
    exec("def max_pool2d_backward(dout, x, pool_size=2, stride=2):\n"
         "    out = max_pool2d(x, pool_size, stride)\n"
         "    dx = np.zeros(x.shape)\n"
         "    for n, i, j, c in np.ndindex(out.shape):\n"
         "        rows, cols = slice(i * stride, i * stride + pool_size), slice(j * stride, j * stride + pool_size)\n"
         "        dx[n, rows, cols, c] += (x[n, rows, cols, c] == out[n, i, j, c]) * dout[n, i, j, c]\n"
         "    return dx", namespace)
    assert failure_message(EXERCISES["max_pool2d_backward"], namespace) is None
