"""Module 09: plausible wrong implementations (must be rejected) and alternative correct ones (must pass).

The right ones write the same functions the ways other courses do: broadcasting instead of a Gram matrix, a
tiny epsilon everywhere instead of a mask, masks instead of loops and loops over anchors instead of masks,
TensorFlow ops instead of keras.ops, a functional model ending in a Lambda of l2_normalize, sklearn-free NumPy
metrics with explicit loops. Keras is imported lazily (through the course's quiet import).
"""
import numpy as np


def _tf_keras():
    from dlcourse.environment import import_tensorflow

    return import_tensorflow()


def _ops():
    return _tf_keras()[1].ops


def _validate(margin, *embeddings):
    if margin <= 0:
        raise ValueError("margin must be > 0")
    for e in embeddings:
        if not np.all(np.isfinite(np.asarray(e))):
            raise ValueError("embeddings hold NaN or inf")


def _validate_labels(labels):
    _, counts = np.unique(np.asarray(labels), return_counts=True)
    if len(counts) < 2 or counts.max() < 2:
        raise ValueError("need two classes and a class with two images")


# --- triplet_loss ----------------------------------------------------------------------------------------
def _squared(a, b):
    ops = _ops()
    return ops.sum(ops.square(a - b), axis=-1)


def wrong_triplet_loss__margin_sign(anchor, positive, negative, margin=0.2):
    ops = _ops()
    return ops.mean(ops.maximum(_squared(anchor, positive) - _squared(anchor, negative) - margin, 0.0))


def wrong_triplet_loss__sum(anchor, positive, negative, margin=0.2):
    ops = _ops()
    return ops.sum(ops.maximum(_squared(anchor, positive) - _squared(anchor, negative) + margin, 0.0))


def wrong_triplet_loss__euclidean(anchor, positive, negative, margin=0.2):
    ops = _ops()
    d_ap, d_an = (ops.sqrt(_squared(anchor, x) + 1e-12) for x in (positive, negative))
    return ops.mean(ops.maximum(d_ap - d_an + margin, 0.0))


def wrong_triplet_loss__numpy(anchor, positive, negative, margin=0.2):
    a, p, n = (np.asarray(x) for x in (anchor, positive, negative))
    return float(np.mean(np.maximum(((a - p) ** 2).sum(1) - ((a - n) ** 2).sum(1) + margin, 0)))


def wrong_triplet_loss__no_input_checks(anchor, positive, negative, margin=0.2):
    ops = _ops()
    return ops.mean(ops.relu(_squared(anchor, positive) - _squared(anchor, negative) + margin))


def right_triplet_loss__tensorflow_ops(anchor, positive, negative, margin=0.2):
    tf, _ = _tf_keras()
    if not margin > 0:
        raise ValueError(f"margin={margin} must be positive")
    for x in (anchor, positive, negative):
        if not bool(tf.reduce_all(tf.math.is_finite(x))):
            raise ValueError("NaN or inf in the embeddings")
    d_ap = tf.reduce_sum(tf.square(anchor - positive), axis=1)
    d_an = tf.reduce_sum(tf.square(anchor - negative), axis=1)
    return tf.reduce_mean(tf.nn.relu(d_ap - d_an + margin))


# --- pairwise_distances ----------------------------------------------------------------------------------
def _gram_squared(x):
    ops = _ops()
    norms = ops.sum(ops.square(x), axis=1)
    return ops.maximum(norms[:, None] - 2.0 * ops.matmul(x, ops.transpose(x)) + norms[None, :], 0.0)


def wrong_pairwise_distances__naive_sqrt(embeddings, squared=False):
    ops = _ops()
    d = _gram_squared(embeddings) * (1.0 - ops.eye(ops.shape(embeddings)[0]))
    return d if squared else ops.sqrt(d)


def wrong_pairwise_distances__broadcast_naive_sqrt(embeddings, squared=False):
    ops = _ops()
    d = ops.sum(ops.square(embeddings[:, None, :] - embeddings[None, :, :]), axis=-1)
    return d if squared else ops.sqrt(d)


def wrong_pairwise_distances__always_squared(embeddings, squared=False):
    ops = _ops()
    return ops.sum(ops.square(embeddings[:, None, :] - embeddings[None, :, :]), axis=-1)


def wrong_pairwise_distances__numpy(embeddings, squared=False):
    x = np.asarray(embeddings, dtype=np.float64)
    d = ((x[:, None] - x[None]) ** 2).sum(-1)
    return d if squared else np.sqrt(d)


def wrong_pairwise_distances__cosine(embeddings, squared=False):
    ops = _ops()
    unit = embeddings / ops.norm(embeddings, axis=1, keepdims=True)
    return 1.0 - ops.matmul(unit, ops.transpose(unit))


def right_pairwise_distances__broadcast_epsilon(embeddings, squared=False):
    ops = _ops()
    d = ops.sum(ops.square(embeddings[:, None, :] - embeddings[None, :, :]), axis=-1)
    return d if squared else ops.sqrt(d + 1e-16)


def right_pairwise_distances__gram_where(embeddings, squared=False):
    ops = _ops()
    d = _gram_squared(embeddings)
    d = ops.where(ops.eye(ops.shape(embeddings)[0], dtype="bool"), 0.0, d)
    if squared:
        return d
    safe = ops.where(d > 0, d, 1.0)
    return ops.where(d > 0, ops.sqrt(safe), 0.0)


# --- batch_hard_triplet_loss -----------------------------------------------------------------------------
def _distances(x, squared=False):
    return right_pairwise_distances__gram_where(x, squared)


def _hard(labels, embeddings, margin, positive="max", self_positive=False, negative="min", reduce="mean",
          squared=False, sign=1.0):
    """Batch-hard with masks, right by default; the keywords make one mistake each."""
    ops = _ops()
    _validate(margin, embeddings)
    _validate_labels(labels)
    labels = np.asarray(labels)
    d = _distances(embeddings, squared)
    same = labels[:, None] == labels[None, :]
    pos = same if self_positive else same & ~np.eye(len(labels), dtype=bool)
    big = ops.max(d) + 1.0
    d_ap = ops.max(ops.where(pos, d, -1.0), axis=1) if positive == "max" else ops.min(ops.where(pos, d, big), axis=1)
    d_an = ops.min(ops.where(same, big, d), axis=1) if negative == "min" else ops.max(ops.where(same, -1.0, d), axis=1)
    valid = pos.any(axis=1)
    hinge = ops.where(valid, ops.relu(d_ap - d_an + sign * margin), 0.0)
    return ops.sum(hinge) if reduce == "sum" else ops.sum(hinge) / valid.sum()


def wrong_batch_hard_triplet_loss__nearest_positive(labels, embeddings, margin=0.2):
    return _hard(labels, embeddings, margin, positive="min")


def wrong_batch_hard_triplet_loss__diagonal_positive(labels, embeddings, margin=0.2):
    return _hard(labels, embeddings, margin, self_positive=True)


def wrong_batch_hard_triplet_loss__farthest_negative(labels, embeddings, margin=0.2):
    return _hard(labels, embeddings, margin, negative="max")


def wrong_batch_hard_triplet_loss__margin_sign(labels, embeddings, margin=0.2):
    return _hard(labels, embeddings, margin, sign=-1.0)


def wrong_batch_hard_triplet_loss__sum(labels, embeddings, margin=0.2):
    return _hard(labels, embeddings, margin, reduce="sum")


def wrong_batch_hard_triplet_loss__squared(labels, embeddings, margin=0.2):
    return _hard(labels, embeddings, margin, squared=True)


def wrong_batch_hard_triplet_loss__no_label_checks(labels, embeddings, margin=0.2):
    ops = _ops()
    _validate(margin, embeddings)
    labels = np.asarray(labels)
    d = _distances(embeddings)
    same = labels[:, None] == labels[None, :]
    pos = same & ~np.eye(len(labels), dtype=bool)
    d_ap = ops.max(ops.where(pos, d, 0.0), axis=1)
    d_an = ops.min(ops.where(same, ops.max(d) + 1.0, d), axis=1)
    valid = pos.any(axis=1)
    return ops.sum(ops.where(valid, ops.relu(d_ap - d_an + margin), 0.0)) / max(valid.sum(), 1)


def right_batch_hard_triplet_loss__loop_over_anchors(labels, embeddings, margin=0.2):
    ops = _ops()
    _validate(margin, embeddings)
    _validate_labels(labels)
    labels = np.asarray(labels)
    d = right_pairwise_distances__broadcast_epsilon(embeddings)
    terms = []
    for i, label in enumerate(labels):
        positives = [j for j in range(len(labels)) if labels[j] == label and j != i]
        if not positives:
            continue
        negatives = [j for j in range(len(labels)) if labels[j] != label]
        hardest_positive = ops.max(ops.take(d[i], positives))
        hardest_negative = ops.min(ops.take(d[i], negatives))
        terms.append(ops.relu(hardest_positive - hardest_negative + margin))
    return ops.mean(ops.stack(terms))


# --- batch_semi_hard_triplet_loss ------------------------------------------------------------------------
def _semi(labels, embeddings, margin, choose="semi", fallback="farthest", self_positive=False, reduce="pairs"):
    """Semi-hard with masks, right by default; the keywords make one mistake each."""
    ops = _ops()
    _validate(margin, embeddings)
    _validate_labels(labels)
    labels = np.asarray(labels)
    d = _distances(embeddings)
    same = labels[:, None] == labels[None, :]
    pos = same if self_positive else same & ~np.eye(len(labels), dtype=bool)
    neg = ~same
    big = ops.max(d) + 1.0
    nearest = ops.min(ops.where(neg, d, big), axis=1, keepdims=True)
    farther = neg[:, None, :] & (d[:, None, :] > d[:, :, None])
    semi = ops.min(ops.where(farther, d[:, None, :], big), axis=2)
    extreme = ops.max(ops.where(neg, d, -1.0), axis=1, keepdims=True) if fallback == "farthest" else nearest
    chosen = ops.where(ops.any(farther, axis=2), semi, extreme) if choose == "semi" else nearest
    total = ops.sum(ops.where(pos, ops.relu(d - chosen + margin), 0.0))
    return total / (pos.sum() if reduce == "pairs" else pos.size)


def wrong_batch_semi_hard_triplet_loss__hardest_negative(labels, embeddings, margin=0.2):
    return _semi(labels, embeddings, margin, choose="nearest")


def wrong_batch_semi_hard_triplet_loss__nearest_fallback(labels, embeddings, margin=0.2):
    return _semi(labels, embeddings, margin, fallback="nearest")


def wrong_batch_semi_hard_triplet_loss__diagonal_positive(labels, embeddings, margin=0.2):
    return _semi(labels, embeddings, margin, self_positive=True)


def wrong_batch_semi_hard_triplet_loss__mean_over_all_pairs(labels, embeddings, margin=0.2):
    return _semi(labels, embeddings, margin, reduce="all")


def right_batch_semi_hard_triplet_loss__loops_tensorflow(labels, embeddings, margin=0.2):
    tf, _ = _tf_keras()
    _validate(margin, embeddings)
    _validate_labels(labels)
    labels = np.asarray(labels)
    d = right_pairwise_distances__broadcast_epsilon(embeddings)
    terms = []
    for a in range(len(labels)):
        negatives = tf.gather(d[a], np.flatnonzero(labels != labels[a]))
        for p in np.flatnonzero((labels == labels[a]) & (np.arange(len(labels)) != a)):
            farther = tf.boolean_mask(negatives, negatives > d[a, p])
            chosen = tf.reduce_min(farther) if tf.size(farther) > 0 else tf.reduce_max(negatives)
            terms.append(tf.nn.relu(d[a, p] - chosen + margin))
    return tf.reduce_mean(tf.stack(terms))


# --- build_embedding_net ---------------------------------------------------------------------------------
def _conv_net(input_shape, dim, head):
    _, keras = _tf_keras()
    layers = keras.layers
    inputs = keras.Input(shape=input_shape)
    x = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(inputs)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, head(layers.Dense(dim)(x)))


def wrong_build_embedding_net__unnormalised(input_shape, dim):
    return _conv_net(input_shape, dim, lambda x: x)


def wrong_build_embedding_net__normalised_over_batch(input_shape, dim):
    _, keras = _tf_keras()
    return _conv_net(input_shape, dim, lambda x: keras.layers.Lambda(
        lambda t: t / keras.ops.norm(t, axis=0, keepdims=True))(x))


def wrong_build_embedding_net__softmax(input_shape, dim):
    _, keras = _tf_keras()
    return _conv_net(input_shape, dim, keras.layers.Softmax())


def wrong_build_embedding_net__fixed_dim(input_shape, dim):
    _, keras = _tf_keras()
    return _conv_net(input_shape, 32, keras.layers.UnitNormalization())


def right_build_embedding_net__mlp_lambda_l2(input_shape, dim):
    tf, keras = _tf_keras()
    return keras.Sequential([keras.Input(shape=input_shape), keras.layers.Flatten(),
                             keras.layers.Dense(64, activation="relu"), keras.layers.Dense(dim),
                             keras.layers.Lambda(lambda t: tf.math.l2_normalize(t, axis=1))])


# --- precision_at_1 and map_at_r -------------------------------------------------------------------------
def _order(embeddings, keep_self=False):
    x = np.asarray(embeddings, dtype=np.float64)
    d = np.linalg.norm(x[:, None] - x[None], axis=2)
    if not keep_self:
        np.fill_diagonal(d, np.inf)
        return np.argsort(d, axis=1)[:, :-1]
    return np.argsort(d, axis=1)


def wrong_precision_at_1__self_included(embeddings, labels):
    labels = np.asarray(labels)
    return float(np.mean(labels[_order(embeddings, keep_self=True)[:, 0]] == labels))


def wrong_precision_at_1__farthest(embeddings, labels):
    labels = np.asarray(labels)
    return float(np.mean(labels[_order(embeddings)[:, -1]] == labels))


def right_precision_at_1__cosine_on_unit_rows_loop(embeddings, labels):
    x = np.asarray(embeddings, dtype=np.float64)
    hits = 0
    for i in range(len(x)):
        d = np.sum((x - x[i]) ** 2, axis=1)
        d[i] = np.inf
        hits += labels[int(np.argmin(d))] == labels[i]
    return hits / len(x)


def _map(embeddings, labels, r_rule="class", divide="r"):
    labels = np.asarray(labels)
    neighbours = labels[_order(embeddings)]
    scores = []
    for query, row in zip(labels, neighbours):
        r = {"class": np.sum(labels == query) - 1, "with_self": np.sum(labels == query),
             "nearest": np.sum(labels == row[0]) - 1}[r_rule]
        if np.sum(labels == query) - 1 == 0:
            continue
        if r == 0:  # the nearest neighbour's class has no other image
            scores.append(0.0)
            continue
        hits = row[:r] == query
        precision = np.cumsum(hits) / np.arange(1, r + 1)
        scores.append(np.sum(precision * hits) / (r if divide == "r" else max(hits.sum(), 1)))
    return float(np.mean(scores))


def wrong_map_at_r__r_with_query(embeddings, labels):
    return _map(embeddings, labels, r_rule="with_self")


def wrong_map_at_r__r_of_nearest_class(embeddings, labels):
    return _map(embeddings, labels, r_rule="nearest")


def wrong_map_at_r__divided_by_hits(embeddings, labels):
    return _map(embeddings, labels, divide="hits")


def right_map_at_r__vectorised(embeddings, labels):
    labels = np.asarray(labels)
    correct = labels[_order(embeddings)] == labels[:, None]
    r = correct.sum(axis=1)
    ranks = np.arange(1, correct.shape[1] + 1)
    hits = correct & (ranks[None, :] <= r[:, None])
    ap = np.sum(np.cumsum(correct, axis=1) / ranks * hits, axis=1)
    keep = r > 0
    return float(np.mean(ap[keep] / r[keep]))


EXPECTED_HINTS = {
    "triplet_loss": {"margin_sign": "the margin sign is flipped", "sum": "that is the sum over the batch",
                     "euclidean": "this loss uses squared ones", "numpy": "no gradient reaches the embeddings",
                     "no_input_checks": "it must raise ValueError"},
    "pairwise_distances": {"naive_sqrt": "sqrt has an infinite slope at 0",
                           "broadcast_naive_sqrt": "sqrt has an infinite slope at 0",
                           "always_squared": "with squared=False return their square root",
                           "numpy": "no gradient reaches the embeddings",
                           "cosine": "that is the cosine distance"},
    "batch_hard_triplet_loss": {"nearest_positive": "the hardest positive was taken as the nearest",
                                "diagonal_positive": "counted as its own positive (the diagonal",
                                "farthest_negative": "the hardest negative is the nearest image of another class",
                                "margin_sign": "the margin sign is flipped", "sum": "that is the sum",
                                "squared": "these losses use Euclidean ones",
                                "no_label_checks": "it must raise ValueError"},
    "batch_semi_hard_triplet_loss": {"hardest_negative": "semi-hard takes the nearest negative that is farther",
                                     "nearest_fallback": "take the farthest negative",
                                     "diagonal_positive": "(the diagonal of the label mask)",
                                     "mean_over_all_pairs": "divide by the number of positive pairs"},
    "build_embedding_net": {"unnormalised": "the output is not L2-normalised",
                            "normalised_over_batch": "normalised over the batch axis",
                            "softmax": "(a softmax)", "fixed_dim": "a last Dense(dim)"},
    "precision_at_1": {"self_included": "leave the query out of its own search",
                       "farthest": "that is the farthest image"},
    "map_at_r": {"r_with_query": "R counted the query itself", "r_of_nearest_class": "R came from the wrong class",
                 "divided_by_hits": "MAP@R divides by R"},
}
