"""The checks of module 08_visual_search: references against libraries, inputs that make the mistakes show,
reachable hints, and the from-scratch rule."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics.pairwise import cosine_similarity as sklearn_cosine

from dlcourse.checks import visual_search
from dlcourse.checks.core import CheckFailure, judge, run_check
from harness import all_cases

EXERCISES = {exercise.name: exercise for exercise in visual_search.EXERCISES}


def test_cosine_reference_matches_scikit_learn():
    for case in all_cases(EXERCISES["cosine_similarity"]):
        a, b = (np.asarray(x, np.float64) for x in case.args)
        np.testing.assert_allclose(EXERCISES["cosine_similarity"].reference(case), sklearn_cosine(a, b), atol=1e-12)


def test_normalize_reference_matches_tensorflow():
    from dlcourse.environment import import_tensorflow

    tf, _ = import_tensorflow()
    for case in all_cases(EXERCISES["l2_normalize"]):
        x = np.asarray(case.args[0], np.float64)
        expected = tf.math.l2_normalize(x, axis=case.kwargs.get("axis", -1), epsilon=1e-24).numpy()
        np.testing.assert_allclose(EXERCISES["l2_normalize"].reference(case), expected, atol=1e-12)


def test_random_duplicate_cases_keep_away_from_the_threshold():
    """Only the cases built for it have similarities at the threshold, and those are exact (0 or 1)."""
    for case in all_cases(EXERCISES["find_near_duplicates"]):
        embeddings, threshold = case.args
        sims = visual_search._similarities(case)[np.triu_indices(len(embeddings), 1)]
        near = np.abs(sims - threshold) < 1e-4
        assert not near.any() or np.all(sims[near] == threshold), case.name
    exact = [c for c in all_cases(EXERCISES["find_near_duplicates"]) if "exactly" in c.name or "right angle" in c.name]
    assert len(exact) == 2


def test_top_k_ties_are_exact_and_inside_the_top_k():
    case = next(c for c in EXERCISES["top_k"].cases("public") if "equal scores" in c.name)
    query, index, k = case.args
    scores = visual_search.similarity.cosine_similarity(query, index)[0]
    assert np.sum(scores == scores.max()) == 3 and np.sort(scores)[::-1][k - 1] < scores.max()
    for case in all_cases(EXERCISES["top_k"]):
        query, index, k = case.args
        ranked = np.sort(visual_search.similarity.cosine_similarity(query, index), axis=1)[:, ::-1]
        if k < ranked.shape[1]:
            assert np.all(ranked[:, k - 1] - ranked[:, k] > 1e-4) or "equal" in case.name, case.name


def test_recall_cases_are_below_one():
    """Counting the query as its own match would give 1.0; the right answer must be lower somewhere."""
    values = [EXERCISES["recall_at_k"].reference(case) for case in all_cases(EXERCISES["recall_at_k"])]
    assert min(values) < 1


def hint_given(exercise, mistake, case) -> bool:
    """Whether the mistake's own output, judged on the case, fails with the mistake's hint."""
    try:
        judge(exercise, case, mistake.wrong_output(case))
    except CheckFailure as failure:
        return mistake.hint in str(failure)
    return False


@pytest.mark.parametrize("exercise", visual_search.EXERCISES, ids=lambda e: e.name)
def test_each_mistake_earns_its_hint_somewhere(exercise):
    unreachable = [m.hint[:60] for m in exercise.mistakes if not any(hint_given(exercise, m, c) for c in all_cases(exercise))]
    assert not unreachable, f"{exercise.name}: hints never given: {unreachable}"


def test_library_calls_are_rejected():
    namespace = {"sklearn_cosine": sklearn_cosine}
    exec("def cosine_similarity(a, b):\n    return sklearn_cosine(a, b)", namespace)
    with pytest.raises(CheckFailure, match="from scratch"):
        run_check(EXERCISES["cosine_similarity"], {"cosine_similarity": namespace["cosine_similarity"]})


def test_embedding_model_that_is_not_a_model_is_named():
    with pytest.raises(CheckFailure, match="not a Keras model"):
        run_check(EXERCISES["embedding_model"], {"embedding_model": lambda classifier, layer=None: classifier.layers[-2]})
