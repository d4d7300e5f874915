"""The checks of module 03_convolution: references, reachable hints, and the from-scratch rule."""
from __future__ import annotations

import numpy as np
import pytest

from dlcourse.checks import convolution
from dlcourse.checks.core import PUBLIC, CheckFailure, judge
from dlcourse.environment import import_tensorflow
from harness import all_cases, failure_message
from implementations import m03_convolution as implementations

EXERCISES = {exercise.name: exercise for exercise in convolution.EXERCISES}


def test_reference_gives_the_deck_example():
    case = convolution.CONV2D.cases(PUBLIC)[0]
    np.testing.assert_array_equal(convolution.CONV2D.reference(case), convolution.DECK_RESULT)


def test_output_size_formula_matches_tensorflow_shapes():
    tf, _ = import_tensorflow()
    for case in all_cases(convolution.CONV_OUTPUT_SIZE):
        n, k = case.args
        stride, padding = case.kwargs["stride"], case.kwargs["padding"]
        out = tf.nn.conv2d(tf.zeros((1, n, 1, 1)), tf.zeros((k, 1, 1, 1)), strides=stride,
                           padding=[[0, 0], [padding, padding], [0, 0], [0, 0]])
        assert out.shape[1] == convolution.CONV_OUTPUT_SIZE.reference(case), case.name


def test_gaussian_reference_is_normalised_symmetric_and_centred():
    for case in all_cases(convolution.GAUSSIAN_KERNEL):
        kernel = convolution.GAUSSIAN_KERNEL.reference(case)
        assert kernel.sum() == pytest.approx(1.0)
        np.testing.assert_allclose(kernel, kernel.T)
        np.testing.assert_allclose(kernel, kernel[::-1, ::-1])


def test_layer_reference_is_the_single_channel_reference_summed_over_channels():
    for case in all_cases(convolution.CONV2D_LAYER):
        x, W, b = case.args
        stride, padding = case.kwargs.get("stride", 1), case.kwargs.get("padding", 0)
        expected = np.array([[[sum(convolution._correlate_2d(image[:, :, ci], W[:, :, ci, co], stride, padding)
                                   for ci in range(W.shape[2])) + b[co] for co in range(W.shape[3])]
                              for image in x]])[0]
        np.testing.assert_allclose(convolution.CONV2D_LAYER.reference(case), np.moveaxis(expected, 1, -1),
                                   rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("exercise", convolution.EXERCISES, ids=lambda e: e.name)
def test_every_hint_can_be_given(exercise):
    """Each mistake, fed back as the student's answer, earns its own hint on at least one case."""
    for mistake in exercise.mistakes:
        given = set()
        for case in all_cases(exercise):
            try:
                wrong = mistake.wrong_output(case)
            except ValueError:
                continue
            try:
                judge(exercise, case, wrong)
            except CheckFailure as failure:
                given.add(mistake.hint in str(failure))
        assert True in given, f"{exercise.name}: the hint '{mistake.hint[:60]}...' is never given"


LIBRARY_ANSWERS = {
    "conv1d": "def conv1d(x, k):\n    return np.correlate(x, k, mode='valid')",
    "pad2d": "def pad2d(image, pad):\n    return np.pad(image, pad)",
    "conv2d": "def conv2d(image, kernel, stride=1, padding=0):\n"
              "    return scipy.signal.correlate2d(np.pad(image, padding), kernel, 'valid')[::stride, ::stride]",
    "conv2d_layer": "def conv2d_layer(x, W, b, stride=1, padding=0):\n"
                    "    pads = [[0, 0], [padding, padding], [padding, padding], [0, 0]]\n"
                    "    return tf.nn.conv2d(x, W, stride, pads).numpy() + b",
}


@pytest.mark.parametrize("name", LIBRARY_ANSWERS)
def test_library_answers_are_rejected(name):
    import scipy.signal

    tf, keras = import_tensorflow()
    namespace = {"np": np, "scipy": scipy, "tf": tf, "keras": keras}
    exec(LIBRARY_ANSWERS[name], namespace)
    message = failure_message(EXERCISES[name], {name: namespace[name]})
    assert message is not None and "from scratch" in message


def test_keras_layer_answer_is_rejected():
    _, keras = import_tensorflow()
    namespace = {"np": np, "keras": keras}
    exec("def conv2d_layer(x, W, b, stride=1, padding=0):\n"
         "    layer = keras.layers.Conv2D(W.shape[-1], W.shape[:2], strides=stride)\n"
         "    layer.build(x.shape)\n"
         "    layer.set_weights([W, b])\n"
         "    return layer(np.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))).numpy()",
         namespace)
    assert "from scratch" in failure_message(convolution.CONV2D_LAYER, namespace)


def test_helper_calling_np_convolve_is_rejected():
    namespace = {"np": np}
    exec("def flip_and_convolve(x, k):\n    return np.convolve(x, k[::-1], mode='valid')\n"
         "def conv1d(x, k):\n    return flip_and_convolve(x, k)", namespace)
    assert "convolve" in failure_message(convolution.CONV1D, namespace)
