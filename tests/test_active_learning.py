"""The loop of module 07: selection, rounds and history, cleanlab's suspects, features, calibration."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from dlcourse.quality import (active_learning_round, expected_calibration_error, fit_logistic, fit_temperature,
                              handmade_features, label_oracle, labels_to_reach, review_batch, run_active_learning,
                              select_for_review, softmax, strategy_curve, suspected_label_errors, typical_samples,
                              uncertainty_scores, warm_logistic)
from dlcourse.quality import features as quality_features


def two_classes(n=200, dim=5, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    return rng.normal(size=(n, dim)) + np.outer(y, np.ones(dim)), y


def test_uncertainty_scores_known_values_and_no_warning_at_zero():
    probs = np.array([[0.55, 0.45], [1.0, 0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(uncertainty_scores(probs, "least_confident"), [0.45, 0.0])
        np.testing.assert_allclose(uncertainty_scores(probs, "margin"), [0.9, 0.0])
        np.testing.assert_allclose(uncertainty_scores(probs, "entropy"), [0.6881388, 0.0], rtol=1e-6)
    three = np.array([[0.1, 0.5, 0.4]])
    np.testing.assert_allclose(uncertainty_scores(three, "margin"), [0.9])


@pytest.mark.parametrize("probs, message", [(np.ones(3) / 3, "shape"), (np.array([[0.7, 0.7]]), "summing to 1")])
def test_uncertainty_scores_bad_input(probs, message):
    with pytest.raises(ValueError, match=message):
        uncertainty_scores(probs)
    with pytest.raises(ValueError, match="unknown uncertainty method"):
        uncertainty_scores(np.array([[0.5, 0.5]]), "variance")


def test_select_for_review_skips_labelled_keeps_ties_in_order_and_returns_what_is_left():
    probs = np.array([[0.5, 0.5], [0.9, 0.1], [0.5, 0.5], [0.6, 0.4], [0.5, 0.5]])
    assert select_for_review(probs, 3).tolist() == [0, 2, 4]
    assert select_for_review(probs, 3, labelled=[0, 4]).tolist() == [2, 3, 1]
    assert select_for_review(probs, 10, labelled=[0, 1, 2]).tolist() == [4, 3]
    with pytest.raises(ValueError, match="whole number"):
        select_for_review(probs, -1)
    with pytest.raises(ValueError, match="row indices between 0 and 4"):
        select_for_review(probs, 1, labelled=[7])


def test_typical_samples_are_distinct_and_cover_the_clusters():
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [50, 0], [0, 50]])
    x = np.concatenate([c + rng.normal(size=(20, 2)) for c in centres])
    rows = typical_samples(x, 3, seed=0)
    assert len(set(rows.tolist())) == 3 and sorted(rows // 20) == [0, 1, 2]
    with pytest.raises(ValueError, match="cannot be drawn from 60 rows"):
        typical_samples(x, 61)


def test_a_round_labels_k_new_rows_through_the_oracle():
    x, y = two_classes()
    asked = []

    def oracle(rows):
        asked.append(np.asarray(rows).copy())
        return y[rows]

    labelled, y_labelled, model = active_learning_round(fit_logistic, x, np.arange(10), y[:10], oracle, 5)
    assert len(labelled) == 15 and not set(asked[0]) & set(range(10))
    np.testing.assert_array_equal(y_labelled, y[labelled])
    assert hasattr(model, "predict_proba")


def test_the_loop_history_and_its_learning_curve():
    x, y = two_classes(300)
    x_test, y_test = two_classes(100, seed=1)
    history = run_active_learning(fit_logistic, x, x_test, y_test, label_oracle(y), np.arange(10), 10, 5)
    assert [h["n_labels"] for h in history] == [10, 20, 30, 40, 50]
    chosen = np.concatenate([h["selected"] for h in history])
    assert len(set(chosen.tolist())) == 50 and not set(chosen.tolist()) & set(range(10))
    assert history[-1]["accuracy"] > 0.8 and all(h["seconds"] >= 0 for h in history)
    assert labels_to_reach([10, 20], [0.5, 0.9], 0.8) == 20 and np.isnan(labels_to_reach([10], [0.5], 0.8))


def test_the_loop_refuses_a_budget_larger_than_the_pool_and_a_single_class():
    x, y = two_classes(40)
    with pytest.raises(ValueError, match="pool holds 40"):
        run_active_learning(fit_logistic, x, x, y, label_oracle(y), np.arange(10), 10, 4)
    with pytest.raises(ValueError, match="examples of both classes"):
        fit_logistic(x[y == 0], y[y == 0])


def test_strategy_curves_share_the_budgets():
    x, y = two_classes(200)
    x_test, y_test = two_classes(80, seed=2)
    for strategy in ("random", "margin", "typical"):
        n_labels, accuracy = strategy_curve(strategy, fit_logistic, x, y, x_test, y_test, 20, 10, 3)
        assert n_labels.tolist() == [20, 30, 40] and accuracy.shape == (3,)
    with pytest.raises(ValueError, match="unknown strategy"):
        strategy_curve("greedy", fit_logistic, x, y, x_test, y_test, 20, 10, 3)
    with pytest.raises(ValueError, match="unknown strategy"):
        strategy_curve("typical+greedy", fit_logistic, x, y, x_test, y_test, 20, 10, 3)


def test_typical_start_then_margin_begins_with_the_typical_samples(monkeypatch):
    from dlcourse.quality import loop

    x, y = two_classes(200)
    x_test, y_test = two_classes(80, seed=2)
    started_with = []
    real = loop.run_active_learning
    monkeypatch.setattr(loop, "run_active_learning",
                        lambda *args, **kw: started_with.append((args[5], kw["method"])) or real(*args, **kw))
    n_labels, accuracy = strategy_curve("typical+margin", fit_logistic, x, y, x_test, y_test, 20, 10, 3, seed=1)
    assert n_labels.tolist() == [20, 30, 40] and accuracy.min() > 0.7
    np.testing.assert_array_equal(started_with[0][0], typical_samples(x, 20, 1))
    assert started_with[0][1] == "margin"


def test_warm_logistic_standardises_with_the_pool_and_refits_every_round():
    x, y = two_classes(300)
    x = x * [1, 10, 100, 1000, 1e4]  # very different scales: the pool's statistics even them out
    fit = warm_logistic(x, C=0.1)
    first = fit(x[:20], y[:20]).named_steps["logisticregression"].coef_.copy()
    model = fit(x[:200], y[:200])
    assert not np.allclose(model.named_steps["logisticregression"].coef_, first)  # retrained on the new labels
    np.testing.assert_allclose(model.named_steps["standardscaler"].mean_, x.mean(axis=0))
    assert model.score(x[200:], y[200:]) > 0.85
    reference = fit_logistic(x[:200], y[:200], C=0.1)
    assert np.mean(model.predict(x[200:]) == reference.predict(x[200:])) > 0.95
    with pytest.raises(ValueError, match="examples of both classes"):
        fit(x[y == 0], y[y == 0])


def test_cleanlab_finds_flipped_labels():
    x, y = two_classes(200, dim=8)
    flipped = np.argsort(-np.abs(x.sum(axis=1) - 4))[:3]  # far from the boundary: plainly in their class
    noisy = y.copy()
    noisy[flipped] = 1 - noisy[flipped]
    suspects = suspected_label_errors(fit_logistic, x, noisy)
    assert set(flipped) <= set(suspects[:10].tolist())


def test_review_batch_puts_doubtful_then_suspects_and_checks_k():
    x, y = two_classes(120, dim=8)
    labelled = np.arange(60)
    noisy = y[labelled].copy()
    noisy[:3] = 1 - noisy[:3]
    batch = review_batch(fit_logistic, x, labelled, noisy, k=5)
    assert batch.reasons[:5] == ("doubtful",) * 5 and set(batch.indices[:5]) & set(labelled) == set()
    assert "label may be wrong" in batch.reasons and len(batch) == len(batch.guesses) == len(batch.confidences)
    with pytest.raises(ValueError, match="larger than the 60 unlabelled images"):
        review_batch(fit_logistic, x, labelled, noisy, k=61)


def test_calibration_error_and_temperature():
    rng = np.random.default_rng(0)
    logits = np.stack([np.zeros(4000), rng.normal(scale=3, size=4000)], axis=1)
    y = (rng.uniform(size=4000) < softmax(logits)[:, 1]).astype(int)
    assert expected_calibration_error(softmax(logits), y) < 0.03
    assert expected_calibration_error(softmax(logits * 3), y) > 0.1
    assert fit_temperature(logits * 3, y) == pytest.approx(3, rel=0.15)


def test_handmade_features_see_blur_and_exposure():
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(0)
    sharp = rng.uniform(size=(4, 32, 32, 3))
    blurred = gaussian_filter(sharp, sigma=(0, 2, 2, 0))
    features = handmade_features(np.concatenate([sharp, blurred, sharp * 0.2]))
    assert features.shape == (12, 16) and np.isfinite(features).all()
    assert (features[:4, 0] > features[4:8, 0]).all()  # laplacian variance drops with blur
    assert (features[:4, 5] > features[8:, 5]).all()  # mean brightness drops when darker


def test_imagenet_features_are_cached_per_layers_and_size(tmp_path, monkeypatch):
    monkeypatch.setenv("DLCOURSE_CACHE_DIR", str(tmp_path))
    calls = []

    def fake(images, name, image_size, layers):
        calls.append((image_size, layers))
        return np.full((len(images), len(layers)), float(image_size), np.float32)

    monkeypatch.setattr(quality_features, "mid_level_features", fake)
    images = np.random.default_rng(0).uniform(size=(3, 16, 16, 3))
    first = quality_features.imagenet_features(images)
    assert first.shape == (3, len(quality_features.MID_LEVEL_LAYERS)) and len(calls) == 1
    np.testing.assert_array_equal(quality_features.imagenet_features(images), first)
    assert len(calls) == 1  # read back from the cache
    quality_features.imagenet_features(images, image_size=128)
    quality_features.imagenet_features(images, layers=("block4_add",))
    assert len(calls) == 3 and len(list((tmp_path / "features").glob("*.npy"))) == 3
    paths = {quality_features.features_cache_path(images.astype(np.float32), "efficientnet_lite0", size, layers)
             for size, layers in ((96, ("block4_add",)), (96, ("block6_add",)), (128, ("block4_add",)),
                                  (96, None))}
    assert len(paths) == 4


def test_mid_level_features_name_their_backbone_and_shape():
    from dlcourse.environment import import_tensorflow

    import_tensorflow()
    images = np.random.default_rng(0).uniform(size=(2, 32, 32, 3))
    features = quality_features.imagenet_features(images, image_size=48, cache=False)
    assert features.shape == (2, 424) and features.dtype == np.float32 and np.isfinite(features).all()
    with pytest.raises(ValueError, match="pass layers=None"):
        quality_features.imagenet_features(images, name="mobilenet_v2", cache=False)
