"""The check machinery: messages that teach, the student's exception shown, plain data only, no library ops."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.special as sp

from dlcourse.checks.core import CheckFailure, library_calls, to_plain
from dlcourse.checks.perceptron import SIGMOID, check_binary_cross_entropy, check_sigmoid


def stable_sigmoid(z):
    return 0.5 * (1 + np.tanh(0.5 * np.asarray(z, dtype=np.float64)))


def failure_of(check, *functions) -> str:
    with pytest.raises(CheckFailure) as caught:
        check(*functions)
    return str(caught.value)


def test_success_line_names_the_checks_and_the_hidden_tests(capsys):
    assert check_sigmoid(stable_sigmoid) is None
    out = capsys.readouterr().out
    assert "sigmoid: all 3 public checks passed" in out and "hidden tests run at grading" in out


def test_wrong_answer_shows_input_expected_got_tolerance_and_hint():
    message = failure_of(check_sigmoid, lambda z: stable_sigmoid(-np.asarray(z)))
    for part in ("input:", "expected:", "got:", "tolerance: rtol=", "hint: sigmoid(z) = 1 / (1 + exp(-z))"):
        assert part in message


def test_no_hint_for_an_unrecognised_mistake():
    message = failure_of(check_sigmoid, lambda z: stable_sigmoid(z) * 0.9)
    assert "expected:" in message and "hint:" not in message


def test_sum_instead_of_mean_is_recognised():
    def summed(y_true, y_prob):
        p = np.clip(y_prob, 1e-7, 1 - 1e-7)
        return -np.sum(y_true * np.log(p) + (1 - y_true) * np.log(1 - p))

    assert "the loss is the mean" in failure_of(check_binary_cross_entropy, summed)


def test_the_students_exception_is_shown_with_its_type_and_chained():
    def broken(z):
        raise KeyError("my own bug")

    with pytest.raises(CheckFailure) as caught:
        check_sigmoid(broken)
    assert "sigmoid raised KeyError: 'my own bug'" in str(caught.value)
    assert isinstance(caught.value.__cause__, KeyError)


def test_not_implemented_says_what_to_do():
    def blank(z):
        raise NotImplementedError()

    assert "replace `raise NotImplementedError()`" in failure_of(check_sigmoid, blank)


def test_overflow_warning_fails_with_the_exercise_hint():
    message = failure_of(check_sigmoid, lambda z: 1 / (1 + np.exp(-np.asarray(z, dtype=float))))
    assert "RuntimeWarning: overflow" in message and "np.exp only ever sees values <= 0" in message


class EqualsEverything:
    def __eq__(self, other):
        return True

    __array_priority__ = 1000


def test_an_object_that_equals_anything_is_not_compared():
    assert "expected numbers" in failure_of(check_sigmoid, lambda z: EqualsEverything())
    with pytest.raises(TypeError):
        to_plain(EqualsEverything())


@pytest.mark.parametrize("value", [None, "0.5", {"a": 1}])
def test_non_numbers_are_rejected(value):
    with pytest.raises(TypeError):
        to_plain(value)


def test_plain_data_is_float64_and_tuples_stay_tuples():
    plain = to_plain((np.float32(1.5), [1, 2], np.arange(3)))
    assert isinstance(plain, tuple) and all(p.dtype == np.float64 for p in plain)


def uses_alias(z):
    return sp.expit(z)


def uses_import(z):
    import tensorflow

    return tensorflow.sigmoid(z)


def helper_with_library(z):
    return sp.expit(z)


def uses_helper(z):
    return helper_with_library(z)


def numpy_only(z):
    return stable_sigmoid(z)


@pytest.mark.parametrize("function", [uses_alias, uses_import, uses_helper])
def test_library_calls_are_found(function):
    assert library_calls(function)


def test_numpy_only_code_passes_the_library_scan():
    assert library_calls(numpy_only) == []


def test_forbidden_numpy_names_are_found():
    assert library_calls(lambda x, k: np.convolve(x, k), forbidden_names=("convolve",)) == ["convolve"]


def test_library_answer_is_rejected_with_a_message():
    message = failure_of(check_sigmoid, uses_alias)
    assert "builds the operation from scratch" in message and "sp" in message


def test_hidden_cases_differ_from_public_ones():
    public = [case.args for case in SIGMOID.cases("public")]
    hidden = [case.args for case in SIGMOID.cases("hidden")]
    assert not any(np.array_equal(np.asarray(p[0]), np.asarray(h[0])) for p in public for h in hidden)


def test_cases_are_deterministic():
    first, second = SIGMOID.cases("hidden"), SIGMOID.cases("hidden")
    assert all(np.array_equal(a.args[0], b.args[0]) for a, b in zip(first, second))

