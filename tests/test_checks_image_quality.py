"""Module 07's checks: what they refuse beyond wrong numbers, and what their messages say."""
from __future__ import annotations

import numpy as np
import pytest

from dlcourse.checks.core import CheckFailure
from dlcourse.checks.image_quality import (CheckOracle, check_run_active_learning, check_select_for_review,
                                           check_typical_samples, check_uncertainty_scores)
from dlcourse.quality import select_for_review, typical_samples
from implementations.m07_image_quality import (right_select_for_review__sorted_pairs,
                                               right_uncertainty_scores__scipy_and_partition,
                                               wrong_typical_samples__centroids)


def test_calling_the_course_reference_earns_nothing():
    with pytest.raises(CheckFailure, match="course's reference"):
        check_select_for_review(select_for_review)
    with pytest.raises(CheckFailure, match="course's reference"):
        check_typical_samples(typical_samples)

    def wraps_the_reference(probs, k, method="margin", labelled=None):
        return select_for_review(probs, k, method, labelled)

    with pytest.raises(CheckFailure, match="calls select_for_review from dlcourse.quality"):
        check_select_for_review(wraps_the_reference)


def test_a_correct_answer_passes_and_says_hidden_tests_follow(capsys):
    check_uncertainty_scores(right_uncertainty_scores__scipy_and_partition)
    check_select_for_review(right_select_for_review__sorted_pairs, hidden=True)
    assert "More hidden tests run at grading" in capsys.readouterr().out


def test_a_failure_shows_input_expected_got():
    with pytest.raises(CheckFailure) as failure:
        check_typical_samples(wrong_typical_samples__centroids)
    message = str(failure.value)
    assert "input:" in message and "expected:" in message and "not the centroids" in message


def test_the_oracle_refuses_rows_outside_the_pool():
    oracle = CheckOracle(np.array([0, 1, 1]))
    np.testing.assert_array_equal(oracle(np.array([2, 0])), [1, 0])
    with pytest.raises(IndexError, match="are test rows in the pool"):
        oracle(np.array([3]))


def test_a_history_that_is_not_a_list_of_dicts_is_named():
    def returns_arrays(fit, x_pool, x_test, y_test, oracle, initial, k, rounds, method="margin"):
        return np.zeros(rounds)

    with pytest.raises(CheckFailure, match="list with one dict per round"):
        check_run_active_learning(returns_arrays)
