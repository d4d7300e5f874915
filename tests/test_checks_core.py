"""The check machinery: messages that teach, the student's exception shown, plain data only, no library ops."""
from __future__ import annotations

import functools
import warnings

import numpy as np
import pytest
import scipy.special as sp

from dlcourse.checks.backprop import SOFTMAX_CROSS_ENTROPY, check_softmax_cross_entropy
from dlcourse.checks.convolution import check_conv_output_size
from dlcourse import quality
from dlcourse.checks.core import (LOG_EPSILON, LOG_EPSILON_NOTE, Case, CheckFailure, calls_into, counts_as_numeric,
                                  judge, library_calls, log_loss_between, to_plain)
from dlcourse.checks.perceptron import BINARY_CROSS_ENTROPY, SIGMOID, check_binary_cross_entropy, check_sigmoid
from dlcourse.checks.pooling import check_relu
from dlcourse.quality import select_for_review as pick_for_review


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
    assert "sigmoid raised KeyError on the check" in str(caught.value)
    assert "error:    KeyError: 'my own bug'" in str(caught.value)
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


def test_forbidden_numpy_functions_are_found_by_what_they_are():
    assert library_calls(lambda x, k: np.convolve(x, k), ("numpy.convolve",)) == ["np.convolve"]


def convolve(window, kernel):
    return np.sum(window * kernel)


def conv_with_own_helper_named_convolve(x, k):
    return np.array([convolve(x[i:i + len(k)], k) for i in range(len(x) - len(k) + 1)])


class Settings:
    pad = 1


def pad_reading_an_attribute_named_pad(image, settings=Settings()):
    out = np.zeros((image.shape[0] + 2 * settings.pad, image.shape[1] + 2 * settings.pad))
    out[settings.pad:-settings.pad, settings.pad:-settings.pad] = image
    return out


def own_helper_calling_np_pad(image):
    return np.pad(image, 1)


def pads_through_own_helper(image):
    return own_helper_calling_np_pad(image)


def imports_pad_from_numpy(image):
    from numpy import pad

    return pad(image, 1)


def imports_numpy_locally(image):
    import numpy

    return numpy.pad(image, 1)


def imports_scipy_signal_as_alias(x, k):
    import scipy.signal as signal

    return signal.correlate(x, k, mode="valid")


@pytest.mark.parametrize("function", [conv_with_own_helper_named_convolve, pad_reading_an_attribute_named_pad])
def test_own_helpers_and_attributes_with_library_names_are_not_library_calls(function):
    assert library_calls(function, ("numpy.pad", "numpy.convolve", "numpy.correlate")) == []


@pytest.mark.parametrize("function, found", [(pads_through_own_helper, "np.pad"), (imports_pad_from_numpy, "numpy.pad"),
                                             (imports_numpy_locally, "numpy.pad"),
                                             (imports_scipy_signal_as_alias, "scipy.signal.correlate")])
def test_library_calls_are_found_however_they_are_reached(function, found):
    assert found in library_calls(function, ("numpy.pad", "numpy.correlate"))


# --- calls_into: the course's own reference implementations -------------------------------------------------
REFERENCE = ("dlcourse.quality",)


def through_an_alias(probs, k, method, labelled):
    return pick_for_review(probs, k, method, labelled)


def through_a_module_attribute(probs, k, method, labelled):
    return quality.select_for_review(probs, k, method, labelled)


def through_a_local_import(probs, k, method, labelled):
    from dlcourse.quality import selection as chosen

    return chosen.select_for_review(probs, k, method, labelled)


def through_a_default_argument(probs, k, method, labelled, pick=pick_for_review):
    return pick(probs, k, method, labelled)


def closure_over(pick):
    def through_a_closure(probs, k, method, labelled):
        return pick(probs, k, method, labelled)

    return through_a_closure


def through_an_own_helper(probs, k, method, labelled):
    return through_a_module_attribute(probs, k, method, labelled)


class Reviewer:
    @staticmethod
    def pick(probs, k, method, labelled):
        return quality.select_for_review(probs, k, method, labelled)


def through_an_own_class(probs, k, method, labelled):
    return Reviewer.pick(probs, k, method, labelled)


def through_objects_made_at_run_time(probs, k, method, labelled):
    package = __import__("dlcourse.quality")
    return package.quality.selection.select_for_review(probs, k, method, labelled)


def own_selection(probs, k, method, labelled):
    scores = 1 - np.max(probs, axis=1)
    scores[np.asarray(labelled if labelled is not None else [], dtype=int)] = -np.inf
    return np.argsort(-scores, kind="stable")[:k]


def quiet_keras_only(probs, k, method, labelled):
    from dlcourse.environment import import_tensorflow

    return import_tensorflow, own_selection(probs, k, method, labelled)


@pytest.mark.parametrize("function, found", [
    (through_an_alias, ["pick_for_review"]),
    (through_a_module_attribute, ["quality.select_for_review"]),
    (through_a_local_import, ["dlcourse.quality.selection.select_for_review"]),
    (through_a_default_argument, ["dlcourse.quality.selection.select_for_review"]),
    (closure_over(pick_for_review), ["dlcourse.quality.selection.select_for_review"]),
    (lambda probs, k, method, labelled: quality.select_for_review(probs, k, method, labelled),
     ["quality.select_for_review"]),
    (through_an_own_helper, ["quality.select_for_review"]),
    (through_an_own_class, ["quality.select_for_review"]),
    (pick_for_review, ["dlcourse.quality.selection.select_for_review"]),
])
def test_calls_into_finds_the_reference_however_it_is_reached(function, found):
    assert calls_into(function, REFERENCE) == found


@pytest.mark.parametrize("function", [own_selection, closure_over(own_selection), quiet_keras_only,
                                      lambda probs, k, method, labelled: own_selection(probs, k, method, labelled)])
def test_calls_into_passes_code_that_does_not_reach_the_reference(function):
    assert calls_into(function, REFERENCE) == []
    assert calls_into(function, ("dlcourse",), allowed=("dlcourse.environment",)) == []


def test_calls_into_counts_a_module_on_the_way_and_not_what_is_allowed():
    assert calls_into(quiet_keras_only, ("dlcourse",)) == ["dlcourse.environment.import_tensorflow"]
    assert calls_into(lambda: quality.UNCERTAINTY_METHODS, ("dlcourse",), allowed=("dlcourse.environment",)) == [
        "quality.UNCERTAINTY_METHODS"]


def test_calls_into_reads_names_on_objects_it_cannot_resolve_as_globals_and_by_the_names_given():
    """package.quality: a global named quality is the reference module; selection only counts when named."""
    assert calls_into(through_objects_made_at_run_time, REFERENCE) == ["quality"]
    assert calls_into(through_objects_made_at_run_time, REFERENCE, names=("selection",)) == ["quality", "selection"]


def test_library_calls_see_default_arguments_closures_and_library_functions_passed_as_the_answer():
    def convolve_by_default(x, k, op=np.convolve):
        return op(x, k, mode="valid")

    assert library_calls(convolve_by_default, ("numpy.convolve",)) == ["numpy.convolve"]
    assert library_calls(closure_over(sp.logsumexp)) == ["scipy.special._logsumexp.logsumexp"]
    assert library_calls(sp.logsumexp) == ["scipy.special._logsumexp.logsumexp"]


def test_library_ufuncs_that_do_not_say_their_module_are_found_passed_as_the_answer_or_held():
    assert getattr(sp.expit, "__module__", None) is None  # what made them slip through
    assert library_calls(sp.expit) == ["scipy.special.expit"]
    assert library_calls(closure_over(sp.expit)) == ["scipy.special.expit"]
    assert library_calls(np.exp) == [] and library_calls(np.frompyfunc(lambda z: z, 1, 1)) == []
    message = failure_of(check_sigmoid, sp.expit)
    assert "builds the operation from scratch" in message and "scipy.special.expit" in message


class CallsExpitWhenCalled:
    def __call__(self, z):
        return sp.expit(z)


class HasAnExpitMethod:
    def run(self, z):
        return sp.expit(z)


@pytest.mark.parametrize("wrapped", [functools.partial(sp.expit), functools.partial(closure_over(np.tanh), sp.expit),
                                     np.vectorize(sp.expit), CallsExpitWhenCalled(), HasAnExpitMethod().run,
                                     sp.expit.__call__],
                         ids=["partial", "partial argument", "vectorize", "callable object", "bound method",
                              "method of the ufunc"])
def test_library_calls_see_through_wrappers_of_the_answer(wrapped):
    assert library_calls(wrapped), "the wrapper hides scipy.special.expit"
    assert "builds the operation from scratch" in failure_of(check_sigmoid, wrapped)


def test_wrappers_of_own_code_are_still_own_code():
    assert library_calls(functools.partial(numpy_only)) == []
    assert library_calls(np.vectorize(numpy_only)) == []
    assert library_calls(np.exp.__call__) == [] and library_calls(len) == []


def test_library_answer_is_rejected_with_a_message():
    message = failure_of(check_sigmoid, uses_alias)
    assert "builds the operation from scratch" in message and "sp.expit" in message


def test_hidden_cases_differ_from_public_ones():
    public = [case.args for case in SIGMOID.cases("public")]
    hidden = [case.args for case in SIGMOID.cases("hidden")]
    assert not any(np.array_equal(np.asarray(p[0]), np.asarray(h[0])) for p in public for h in hidden)


def test_cases_are_deterministic():
    first, second = SIGMOID.cases("hidden"), SIGMOID.cases("hidden")
    assert all(np.array_equal(a.args[0], b.args[0]) for a, b in zip(first, second))



def test_an_object_array_of_plain_numbers_is_read_as_numbers():
    frompyfunc_sigmoid = np.frompyfunc(lambda v: float(stable_sigmoid(v)), 1, 1)
    assert frompyfunc_sigmoid(np.zeros(2)).dtype == object
    assert check_sigmoid(frompyfunc_sigmoid) is None


def test_an_object_array_of_other_things_names_the_dtype():
    message = failure_of(check_sigmoid, lambda z: np.array(["0.5"] * np.size(z), dtype=object))
    assert "dtype object" in message and "str" in message


def test_a_framework_warning_does_not_fail_a_check_but_a_numeric_one_does():
    keras_file = "/venv/lib/python3.11/site-packages/keras/src/layers/core/input_layer.py"
    framework = warnings.WarningMessage("Do not pass an `input_shape`", UserWarning, keras_file, 1)
    deprecation = warnings.WarningMessage("deprecated", DeprecationWarning, "/home/me/cell.py", 1)
    numeric = warnings.WarningMessage("overflow encountered in exp", RuntimeWarning, keras_file, 1)
    own = warnings.WarningMessage("careful", UserWarning, "<ipython-input-3>", 1)
    assert [counts_as_numeric(w) for w in (framework, deprecation, numeric, own)] == [False, False, True, True]


def test_a_function_that_changes_its_input_fails_with_the_contract():
    def relu_in_place(x):
        x = np.asarray(x)
        x[x < 0] = 0
        return x

    message = failure_of(check_relu, relu_in_place)
    assert "changed its input in place" in message and "inputs are not modified" in message


def test_a_float_where_the_contract_says_an_int_fails():
    message = failure_of(check_conv_output_size, lambda n, k, stride=1, padding=0: float((n + 2 * padding - k) // stride + 1))
    assert "not an int" in message and "returned a builtins.float" in message


def test_an_epsilon_in_the_logarithm_is_accepted_alike_by_both_cross_entropies():
    def bce(y_true, y_prob):
        return -np.mean(y_true * np.log(y_prob + LOG_EPSILON) + (1 - y_true) * np.log(1 - y_prob + LOG_EPSILON))

    def softmax_ce(logits, y):
        shifted = logits - logits.max(axis=1, keepdims=True)
        probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
        dlogits = probs.copy()
        dlogits[np.arange(len(y)), y] -= 1
        return -np.mean(np.log(probs[np.arange(len(y)), y] + LOG_EPSILON)), dlogits / len(y)

    for check, function in ((check_binary_cross_entropy, bce), (check_softmax_cross_entropy, softmax_ce)):
        check(function)
        check(function, hidden=True)
        assert LOG_EPSILON_NOTE in check.exercise.tolerance


def test_the_bounds_of_a_log_loss_cover_clipping_and_adding_epsilon():
    bounds = log_loss_between(np.array([1e-4, 0.5, 1.0]))
    for variant in (np.log(np.array([1e-4, 0.5, 1.0]) + LOG_EPSILON), np.log(np.clip([1e-4, 0.5, 1.0], 1e-7, 1 - 1e-7))):
        assert bounds.low <= -variant.mean() <= bounds.high
    assert bounds.high - bounds.low < 1e-3


def test_a_hint_is_only_given_for_a_mistake_that_would_have_passed_the_earlier_cases():
    def padding_counted_once(n, k, stride=1, padding=0):
        return (n + padding - k) // stride + 1

    message = failure_of(check_conv_output_size, padding_counted_once)
    assert "padding counted once" in message and "missing +1" not in message


def test_a_failure_in_a_notebook_says_how_to_go_on():
    assert "Run All stops at the first failing check" in failure_of(check_sigmoid, lambda z: stable_sigmoid(z) * 0.9)


def test_the_first_line_of_a_failure_is_short_and_the_details_follow():
    lines = failure_of(check_sigmoid, lambda z: stable_sigmoid(z) * 0.9).splitlines()
    assert lines[0].startswith("sigmoid gives a wrong result on the check") and len(lines[0]) <= 100
    assert [line.split(":")[0].strip() for line in lines[1:5]] == ["why", "input", "expected", "got"]


def ipython_shows(setup: str, cell: str) -> str:
    """What IPython prints (colours and all) when it runs cell after setup."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    shell = InteractiveShell.instance()
    shell.run_cell(setup)
    with capture_output() as captured:
        shell.run_cell(cell)
    return captured.stdout + captured.stderr


def test_ipython_shows_the_message_without_the_checks_own_frames():
    shown = ipython_shows("import numpy as np\nfrom dlcourse.checks.perceptron import check_sigmoid",
                          "check_sigmoid(lambda z: np.tanh(z))")
    assert shown.lstrip().startswith("CheckFailure: sigmoid gives a wrong result") and "that is tanh(z)" in shown
    assert "checks/core.py" not in shown


def test_ipython_shows_the_students_own_error_after_the_message():
    shown = ipython_shows("from dlcourse.checks.perceptron import check_sigmoid\ndef broken(z):\n"
                          "    return z.no_such_thing", "check_sigmoid(broken)")
    assert shown.index("sigmoid raised AttributeError") < shown.index("no_such_thing", shown.index("raised it here"))
    assert "def call_student" not in shown and "def run_check" not in shown


def test_an_epsilon_in_the_logarithm_passes_even_where_a_true_class_probability_is_small():
    """Where p is 1e-4, log(p + 1e-7) differs from log(p) by 1e-3: more than rtol allows, within the bounds."""
    logits, labels = np.array([[0.0, 9.2], [0.0, 9.2], [1.0, 0.0]]), np.array([0, 0, 0])
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(probs[np.arange(3), labels] + LOG_EPSILON))
    dlogits = (probs - np.eye(2)[labels]) / 3
    judge(SOFTMAX_CROSS_ENTROPY, Case("small true-class probabilities", (logits, labels)), (loss, dlogits))
    y_true, y_prob = np.array([1.0, 0.0, 1.0]), np.array([1e-4, 0.3, 0.8])
    bce = -np.mean(y_true * np.log(y_prob + LOG_EPSILON) + (1 - y_true) * np.log(1 - y_prob + LOG_EPSILON))
    judge(BINARY_CROSS_ENTROPY, Case("a small probability of the true class", (y_true, y_prob)), bce)


class RefusesToBeLookedAt:
    """A callable answer whose attributes all raise, __class__ included."""

    def __getattribute__(self, name):
        raise RuntimeError("no peeking")

    def __call__(self, z):
        return sp.expit(z)


def test_an_answer_object_that_refuses_to_be_looked_at_is_still_scanned_through_its_class():
    assert library_calls(RefusesToBeLookedAt()) == ["sp.expit"]
