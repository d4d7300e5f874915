"""dlcourse.metric_learning: the losses against plain loops, bad input, mining batches, training (the collapse and
its cure), retrieval metrics on a hand-computed case, the self-supervised embedder in module 08's tools."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from dlcourse import metric_learning as ml
from dlcourse.datasets import load_mnist_subset, make_near_duplicates
from dlcourse.environment import import_tensorflow

tf, keras = import_tensorflow()


def unit_rows(n, dim, seed):
    x = np.random.default_rng(seed).normal(size=(n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float64)


def loop_batch_hard(labels, x, margin):
    d = cdist(x, x)
    terms = []
    for a in range(len(x)):
        positives = [p for p in range(len(x)) if labels[p] == labels[a] and p != a]
        if positives:
            negatives = [n for n in range(len(x)) if labels[n] != labels[a]]
            terms.append(max(d[a, positives].max() - d[a, negatives].min() + margin, 0))
    return np.mean(terms)


def loop_semi_hard(labels, x, margin):
    d = cdist(x, x)
    terms = []
    for a in range(len(x)):
        negatives = d[a, labels != labels[a]]
        for p in range(len(x)):
            if p != a and labels[p] == labels[a]:
                farther = negatives[negatives > d[a, p]]
                chosen = farther.min() if farther.size else negatives.max()
                terms.append(max(d[a, p] - chosen + margin, 0))
    return np.mean(terms)


LABELS = np.array([0, 1, 0, 2, 1, 0, 2, 3, 1, 2])  # class 3 has one image


@pytest.mark.parametrize("seed", range(3))
def test_batch_losses_match_loops(seed):
    x = unit_rows(len(LABELS), 4, seed)
    for margin in (0.1, 0.5):
        assert float(ml.batch_hard_triplet_loss(LABELS, x, margin)) == pytest.approx(
            loop_batch_hard(LABELS, x, margin), abs=1e-9)
        assert float(ml.batch_semi_hard_triplet_loss(LABELS, x, margin)) == pytest.approx(
            loop_semi_hard(LABELS, x, margin), abs=1e-9)


def test_triplet_loss_and_distances_match_numpy():
    a, p, n = (unit_rows(6, 3, seed) for seed in (1, 2, 3))
    expected = np.mean(np.maximum(((a - p) ** 2).sum(1) - ((a - n) ** 2).sum(1) + 0.3, 0))
    assert float(ml.triplet_loss(a, p, n, margin=0.3)) == pytest.approx(expected, abs=1e-12)
    np.testing.assert_allclose(ml.pairwise_distances(a), cdist(a, a), atol=1e-7)
    np.testing.assert_allclose(ml.pairwise_distances(a, squared=True), cdist(a, a) ** 2, atol=1e-7)


def test_distance_gradient_is_finite_where_a_distance_is_zero():
    x = tf.constant(np.repeat(unit_rows(2, 3, 0), 2, axis=0))  # rows 0, 1 equal; rows 2, 3 equal
    with tf.GradientTape() as tape:
        tape.watch(x)
        total = tf.reduce_sum(ml.pairwise_distances(x))
    gradient = tape.gradient(total, x).numpy()
    assert np.all(np.isfinite(gradient))


@pytest.mark.parametrize("call, message", [
    (lambda x: ml.triplet_loss(x, x, x, margin=0.0), "margin must be a number > 0"),
    (lambda x: ml.batch_hard_triplet_loss(LABELS, x, margin=-0.1), "margin must be a number > 0"),
    (lambda x: ml.batch_semi_hard_triplet_loss(LABELS, np.full_like(x, np.nan)), "NaN or inf"),
    (lambda x: ml.batch_hard_triplet_loss(np.zeros(len(x)), x), "one class only"),
    (lambda x: ml.batch_semi_hard_triplet_loss(np.arange(len(x)), x), "no anchor has a positive"),
    (lambda x: ml.mining_loss("hardest", 0.2), "choose one of"),
])
def test_bad_input_raises_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call(unit_rows(len(LABELS), 3, 0))


def test_pk_batches_hold_p_classes_of_k_images():
    labels = np.repeat(np.arange(6), [5, 1, 8, 8, 8, 8])
    for batch in ml.pk_batches(labels, p=3, k=4, steps=20, seed=0):
        classes, counts = np.unique(labels[batch], return_counts=True)
        assert len(classes) == 3 and set(counts) == {4}
    with pytest.raises(ValueError, match="K >= 2"):
        next(ml.pk_batches(labels, p=3, k=1, steps=1))


def test_retrieval_metrics_on_the_hand_computed_case():
    from dlcourse.checks.triplet import HAND_LABELS, HAND_POINTS

    assert ml.precision_at_1(HAND_POINTS, HAND_LABELS) == pytest.approx(0.5)
    assert ml.map_at_r(HAND_POINTS, HAND_LABELS) == pytest.approx(1.75 / 6)
    separated = np.repeat(np.eye(3) * 10, 4, axis=0) + 0.01 * np.arange(12)[:, None]
    assert ml.retrieval_scores(separated, np.repeat(np.arange(3), 4)) == {"P@1": 1.0, "MAP@R": 1.0}


def test_embedding_net_is_on_the_unit_sphere_and_embedder_checks_its_input():
    net = ml.embedding_net((32, 32, 3), dim=8)
    images = np.random.default_rng(0).uniform(size=(5, 40, 40, 3)).astype(np.float32)
    embeddings = ml.image_embedder(net, image_size=32)(images)
    assert embeddings.shape == (5, 8) and embeddings.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1, atol=1e-5)
    with pytest.raises(ValueError, match=r"\(N, H, W, 3\)"):
        ml.image_embedder(net)(images[..., 0])


@pytest.fixture(scope="module")
def digits():
    return ml.seen_unseen_split(load_mnist_subset())


def test_seen_unseen_split_keeps_the_classes_apart(digits):
    assert set(digits.y_train) == set(digits.y_seen) == set(ml.SEEN_CLASSES)
    assert set(digits.y_unseen) == {5, 6, 7, 8, 9}


def test_hard_mining_with_a_high_learning_rate_collapses_and_semi_hard_does_not(digits):
    logs = {mining: ml.train_triplet(ml.embedding_net(digits.x_train.shape[1:]), digits.x_train, digits.y_train,
                                     mining=mining, steps=150, learning_rate=3e-2, seed=0)
            for mining in ("batch_hard", "semi_hard")}
    assert logs["batch_hard"].spread[-1] < 0.05 and logs["batch_hard"].loss[-1] == pytest.approx(0.2, abs=0.01)
    assert logs["semi_hard"].spread[-1] > 0.5


def test_triplet_training_beats_raw_pixels_on_seen_classes(digits):
    net = ml.embedding_net(digits.x_train.shape[1:])
    ml.train_triplet(net, digits.x_train, digits.y_train, mining="semi_hard", steps=150, seed=0)
    trained = ml.map_at_r(ml.embed(net, digits.x_seen), digits.y_seen)
    assert trained > ml.map_at_r(ml.pixel_embedding(digits.x_seen), digits.y_seen) + 0.2


def test_augment_gives_seeded_views_in_range():
    crops = ml.photo_crops(3, size=64, seed=0, output_size=40)
    assert crops.shape == (3, 40, 40, 3) and 0 <= crops.min() and crops.max() <= 1
    first, again, other = (ml.augment(tf.constant(crops), tf.constant(s), size=24).numpy()
                           for s in ([0, 1], [0, 1], [0, 2]))
    assert first.shape == (3, 24, 24, 3) and 0 <= first.min() and first.max() <= 1
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)


def test_self_supervised_embedder_feeds_module_08s_near_duplicate_recall():
    from dlcourse.search import near_duplicate_recall_at_1
    from dlcourse.search.embedders import embedder_image_size

    net, log = ml.train_self_supervised(ml.photo_crops(40, seed=0, output_size=48), dim=16, steps=3,
                                        batch_size=8, image_size=24)
    assert len(log.loss) == 2 and np.all(np.isfinite(log.loss))
    embedder = ml.image_embedder(net, image_size=24)
    data = make_near_duplicates(n_originals=6, copies_per_original=2, n_distractors=4, size=32)
    recall = near_duplicate_recall_at_1(embedder, data)
    assert 0 <= recall["overall"] <= 1 and set(recall) == {"overall", *data.transform[data.query_idx]}
    assert embedder_image_size(embedder) == 24
