"""The checks of module 02_backprop: TensorFlow references against the closed forms, reachable hints, inputs that
test what they claim (exact zeros for ReLU, no ReLU kink near a sample), the training threshold, and the
messages for a missing cache or a changed input."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from dlcourse.checks import backprop
from dlcourse.checks.core import Between, CheckFailure, judge, to_plain
from dlcourse.environment import import_tensorflow
from harness import all_cases, failure_message
from implementations import m02_backprop as implementations

EXERCISES = {exercise.name: exercise for exercise in backprop.EXERCISES}
CLOSED_FORMS = {
    "dense_backward": backprop._dense_gradients,
    "relu_backward": backprop._masked,
    "softmax_cross_entropy": lambda case: backprop._softmax_ce(*case.args),
    "two_layer_net": backprop._two_layer,
}


def parts(value) -> tuple:
    return value if isinstance(value, tuple) else (value,)


@pytest.mark.parametrize("name", CLOSED_FORMS)
def test_tensorflow_references_match_the_closed_forms(name):
    """The NumPy model of the mistakes, with nothing set wrong, is the GradientTape reference."""
    exercise = EXERCISES[name]
    for case in all_cases(exercise):
        expected, got = parts(exercise.reference(case)), parts(CLOSED_FORMS[name](case))
        assert len(expected) == len(got), case.name
        for part_expected, part_got in zip(expected, got):
            if isinstance(part_expected, Between):  # a loss: the exact value is within the epsilon's bounds
                assert part_expected.low - 1e-12 <= part_got <= part_expected.high + 1e-12, case.name
            else:
                np.testing.assert_allclose(part_got, part_expected, rtol=1e-12, atol=1e-12, err_msg=case.name)


@pytest.mark.parametrize("exercise", [e for e in backprop.EXERCISES if e.mistakes], ids=lambda e: e.name)
def test_every_hint_can_be_given(exercise):
    """Each mistake, fed back as the student's answer, earns its own hint on at least one case."""
    for mistake in exercise.mistakes:
        given = set()
        for case in all_cases(exercise):
            try:
                wrong = mistake.wrong_output(case)
            except ValueError:  # a mistake that needs other shapes (N == C) than this case has
                continue
            try:
                judge(exercise, case, wrong)
            except CheckFailure as failure:
                given.add(mistake.hint in str(failure))
        assert True in given, f"{exercise.name}: the hint '{mistake.hint[:60]}...' is never given"


def test_relu_cases_hold_exact_zeros():
    """Every ReLU case has inputs at exactly 0, where x > 0 and x >= 0 differ."""
    for name in ("relu_forward", "relu_backward"):
        for case in all_cases(EXERCISES[name]):
            assert np.any(case.args[0] == 0), case.name


def test_two_layer_cases_keep_away_from_the_relu_kink():
    """No hidden pre-activation is near 0, so float32 rounding cannot flip a unit on or off."""
    for case in all_cases(EXERCISES["two_layer_net"]):
        X, _, params = case.args
        pre = np.asarray(X, np.float64) @ np.asarray(params["W1"], np.float64) + params["b1"]
        assert np.abs(pre).min() > 1e-3, case.name


def test_large_logits_do_not_underflow_the_true_class():
    """Max-subtraction is all the big-logit cases ask for: log p of every true class stays above -50."""
    for case in all_cases(EXERCISES["softmax_cross_entropy"]):
        logits, y = np.asarray(case.args[0], np.float64), case.args[1]
        assert backprop._log_softmax(logits)[np.arange(len(y)), y].min() > -50, case.name


def test_forward_pass_without_a_pair_is_named_in_the_backward_check():
    namespace = {"dense_forward": implementations.wrong_dense_forward__only_out,
                 "dense_backward": implementations.right_dense_backward__per_sample_loop}
    message = failure_message(EXERCISES["dense_backward"], namespace)
    assert message is not None and "must return a pair (out, cache)" in message


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_training_threshold_holds_for_other_seeds(seed):
    """The reference trainer with other seeds clears the accuracy threshold on both training cases."""
    exercise = EXERCISES["train_two_layer_net"]
    trainer = {"train_two_layer_net": implementations._train}
    for case in all_cases(exercise):
        X, y, goal = case.args
        reseeded = backprop.Case(case.name, (X, y, replace(goal, seed=seed)), {**case.kwargs, "seed": seed})
        got = to_plain(backprop._call_training(trainer, reseeded))
        assert backprop._judge_training(reseeded.args[2], got) is None, (case.name, seed)


def test_count_of_the_photo_classifier():
    count = EXERCISES["count_dense_params"].reference(backprop.Case("", ([224 * 224 * 3, 128, 10],)))
    assert count == 150_528 * 128 + 128 + 128 * 10 + 10 == 19_269_002


LIBRARY_ANSWERS = {
    "dense_backward": "def dense_backward(dout, cache):\n"
                      "    x, W = (tf.constant(a) for a in cache)\n"
                      "    with tf.GradientTape() as tape:\n"
                      "        tape.watch([x, W])\n"
                      "        out = x @ W\n"
                      "    dx, dW = tape.gradient(out, [x, W], output_gradients=tf.constant(dout))\n"
                      "    return dx.numpy(), dW.numpy(), dout.sum(axis=0)",
    "softmax_cross_entropy": "def softmax_cross_entropy(logits, y):\n"
                             "    probs = scipy.special.softmax(logits, axis=1)\n"
                             "    probs[np.arange(len(y)), y] -= 1\n"
                             "    loss = -np.mean(scipy.special.log_softmax(logits, axis=1)[np.arange(len(y)), y])\n"
                             "    return loss, probs / len(y)",
}


@pytest.mark.parametrize("name", LIBRARY_ANSWERS)
def test_library_answers_are_rejected(name):
    import scipy.special

    tf, _ = import_tensorflow()
    namespace = {"np": np, "tf": tf, "scipy": scipy}
    exec(LIBRARY_ANSWERS[name], namespace)
    functions = {name: namespace[name], **implementations.COMPANIONS.get(name, {})}
    message = failure_message(EXERCISES[name], functions)
    assert message is not None and "from scratch" in message, message
