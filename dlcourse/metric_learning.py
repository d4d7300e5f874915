"""Metric learning with the triplet loss: losses, mining, embedding nets, training loops, retrieval metrics.

The losses are written in Keras 3 ops, so that they train; the retrieval metrics in NumPy. Embeddings live on
the unit sphere (rows of unit L2 norm), where the squared Euclidean distance is 2 - 2 cos(angle).

Public loss functions check their input when they run eagerly (a margin <= 0, NaN embeddings, a batch without
negatives or without any positive pair raise ValueError); the training loops call the unchecked cores inside
``tf.function`` and check the batch composition once, with NumPy, before training. TensorFlow is imported only
when a function that needs it runs.
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from dlcourse.models.backend import keras_module as _keras

def _ops():
    """keras.ops, importing TensorFlow quietly the first time (safe to call inside tf.function)."""
    if "keras" not in sys.modules:
        _keras()
    import keras

    return keras.ops


# A distance below this square root counts as zero: sqrt gets an epsilon there, so its gradient stays finite.
ZERO_DISTANCE = 1e-12
DEFAULT_MARGIN = 0.2


# ---------------------------------------------------------------------------------------------------------
# Bad input: one clear message each.
# ---------------------------------------------------------------------------------------------------------

def check_margin(margin) -> None:
    """ValueError unless margin is a number > 0 (a margin <= 0 makes every triplet satisfied at zero loss)."""
    if not np.isfinite(margin) or margin <= 0:
        raise ValueError(f"margin={margin!r}: the margin must be a number > 0 (e.g. 0.2 on the unit sphere). With "
                         "margin <= 0 the loss is 0 as soon as d(a, p) <= d(a, n), so collapsed embeddings "
                         "would already be 'perfect'.")


def check_finite(*arrays) -> None:
    """ValueError if any embedding holds NaN or inf (eager tensors or arrays)."""
    for array in arrays:
        if not np.all(np.isfinite(np.asarray(array))):
            raise ValueError("the embeddings contain NaN or inf: the network diverged or its input holds NaN. "
                             "Lower the learning rate, check the input images, and make sure distances use a "
                             "safe square root (see pairwise_distances).")


def check_batch_labels(labels) -> np.ndarray:
    """The labels (B,) as int64; ValueError when the batch has no negatives or no positive pair at all."""
    labels = np.asarray(labels).reshape(-1)
    classes, counts = np.unique(labels, return_counts=True)
    if len(classes) < 2:
        raise ValueError(f"the batch holds one class only (label {classes[0] if len(classes) else None}): no "
                         "anchor has a negative. Sample batches with P >= 2 classes (see pk_batches).")
    if counts.max() < 2:
        raise ValueError("every class in the batch has a single image: no anchor has a positive. Sample batches "
                         "with K >= 2 images per class (see pk_batches).")
    return labels.astype(np.int64)


def check_batch_input(labels, embeddings, margin) -> None:
    """The checks of a batch loss: margin > 0, finite embeddings, negatives and at least one positive pair."""
    check_margin(margin)
    check_finite(embeddings)
    check_batch_labels(labels)


# ---------------------------------------------------------------------------------------------------------
# Losses (Keras 3 ops).
# ---------------------------------------------------------------------------------------------------------

def triplet_loss(anchor, positive, negative, margin=DEFAULT_MARGIN):
    """Mean over the batch of max(||a - p||^2 - ||a - n||^2 + margin, 0); a, p, n: (B, D) -> scalar tensor."""
    check_margin(margin)
    check_finite(anchor, positive, negative)
    return triplet_loss_core(anchor, positive, negative, margin)


def triplet_loss_core(anchor, positive, negative, margin):
    """triplet_loss without input checks (usable inside tf.function)."""
    ops = _ops()
    d_ap = ops.sum(ops.square(anchor - positive), axis=-1)
    d_an = ops.sum(ops.square(anchor - negative), axis=-1)
    return ops.mean(ops.relu(d_ap - d_an + margin))


def pairwise_distances(embeddings, squared=False):
    """Euclidean distance matrix of embeddings (B, D) -> (B, B), finite gradient where a distance is 0."""
    ops = _ops()
    squared_norms = ops.sum(ops.square(embeddings), axis=1)
    gram = ops.matmul(embeddings, ops.transpose(embeddings))
    distances = ops.relu(squared_norms[:, None] - 2.0 * gram + squared_norms[None, :])
    distances = distances * (1.0 - ops.eye(ops.shape(embeddings)[0], dtype=distances.dtype))
    if squared:
        return distances
    zero = ops.cast(distances < ZERO_DISTANCE, distances.dtype)
    return ops.sqrt(distances + zero * ZERO_DISTANCE) * (1.0 - zero)


def label_masks(labels):
    """(positive, negative) float masks (B, B) of labels (B,): same label and not the diagonal; other label."""
    ops = _ops()
    labels = ops.reshape(labels, (-1,))
    same = ops.cast(ops.equal(labels[:, None], labels[None, :]), "float32")
    positive = same * (1.0 - ops.eye(ops.shape(labels)[0], dtype="float32"))
    return positive, 1.0 - same


def distances_and_masks(labels, embeddings):
    """Euclidean distances (B, B) of embeddings (B, D) and the positive and negative masks of labels, same dtype."""
    ops = _ops()
    distances = pairwise_distances(embeddings)
    positive, negative = (ops.cast(m, distances.dtype) for m in label_masks(labels))
    return distances, positive, negative


def _masked_max(values, mask, axis):
    """Max of values where mask == 1 along axis (mask 0 everywhere gives the minimum of values)."""
    ops = _ops()
    lowest = ops.min(values, axis=axis, keepdims=True)
    return ops.max((values - lowest) * mask, axis=axis, keepdims=True) + lowest


def _masked_min(values, mask, axis):
    """Min of values where mask == 1 along axis (mask 0 everywhere gives the maximum of values)."""
    ops = _ops()
    highest = ops.max(values, axis=axis, keepdims=True)
    return ops.min((values - highest) * mask, axis=axis, keepdims=True) + highest


def batch_hard_triplet_loss(labels, embeddings, margin=DEFAULT_MARGIN):
    """Batch-hard triplet loss (Hermans et al. 2017), Euclidean distances: labels (B,), embeddings (B, D) -> scalar.

    Per anchor: the farthest positive and the nearest negative; mean of the hinge over anchors that have a positive.
    """
    check_batch_input(labels, embeddings, margin)
    return batch_hard_core(labels, embeddings, margin)


def batch_hard_core(labels, embeddings, margin):
    """batch_hard_triplet_loss without input checks (usable inside tf.function)."""
    ops = _ops()
    distances, positive, negative = distances_and_masks(labels, embeddings)
    hardest_positive = _masked_max(distances, positive, axis=1)[:, 0]
    hardest_negative = _masked_min(distances, negative, axis=1)[:, 0]
    has_positive = ops.cast(ops.sum(positive, axis=1) > 0, distances.dtype)
    hinge = ops.relu(hardest_positive - hardest_negative + margin) * has_positive
    return ops.sum(hinge) / ops.maximum(ops.sum(has_positive), 1.0)


def batch_semi_hard_triplet_loss(labels, embeddings, margin=DEFAULT_MARGIN):
    """Semi-hard triplet loss (Schroff et al. 2015, as TensorFlow Addons defines it): labels (B,), (B, D) -> scalar.

    Per positive pair (a, p): the nearest negative farther than p, or the farthest negative if none is; mean of
    the hinge over all positive pairs. Euclidean distances.
    """
    check_batch_input(labels, embeddings, margin)
    return semi_hard_core(labels, embeddings, margin)


def semi_hard_core(labels, embeddings, margin):
    """batch_semi_hard_triplet_loss without input checks (usable inside tf.function)."""
    ops = _ops()
    distances, positive, negative = distances_and_masks(labels, embeddings)
    d_ap = distances[:, :, None]  # (anchor, positive, 1)
    d_an = distances[:, None, :]  # (anchor, 1, negative)
    negatives = negative[:, None, :]
    farther = negatives * ops.cast(d_an > d_ap, distances.dtype)  # (anchor, positive, negative)
    semi_hard = _masked_min(ops.broadcast_to(d_an, ops.shape(farther)), farther, axis=2)[:, :, 0]
    fallback = _masked_max(distances, negative, axis=1)  # (anchor, 1): the farthest negative
    has_farther = ops.cast(ops.sum(farther, axis=2) > 0, distances.dtype)
    chosen = has_farther * semi_hard + (1.0 - has_farther) * fallback
    hinge = ops.relu(distances - chosen + margin) * positive
    return ops.sum(hinge) / ops.maximum(ops.sum(positive), 1.0)


def random_triplet_core(labels, embeddings, margin, seed_generator):
    """A random positive and a random negative per anchor (anchors without a positive left out) -> scalar."""
    ops = _ops()
    import keras

    positive, negative = label_masks(labels)
    noise = keras.random.uniform(ops.shape(positive), seed=seed_generator)
    pick_positive = ops.argmax((noise + 1.0) * positive, axis=1)
    pick_negative = ops.argmax((noise + 1.0) * negative, axis=1)
    anchors_ok = ops.cast(ops.sum(positive, axis=1) > 0, embeddings.dtype)
    d_ap = ops.sum(ops.square(embeddings - ops.take(embeddings, pick_positive, axis=0)), axis=1)
    d_an = ops.sum(ops.square(embeddings - ops.take(embeddings, pick_negative, axis=0)), axis=1)
    hinge = ops.relu(d_ap - d_an + margin) * anchors_ok
    return ops.sum(hinge) / ops.maximum(ops.sum(anchors_ok), 1.0)


MINING = ("random", "batch_hard", "semi_hard")


def mining_loss(mining: str, margin: float, seed: int = 0) -> Callable:
    """The unchecked loss (labels, embeddings) -> scalar of one mining strategy in MINING."""
    if mining not in MINING:
        raise ValueError(f"mining={mining!r}: choose one of {MINING}")
    check_margin(margin)
    if mining == "random":
        seeds = _keras().random.SeedGenerator(seed)
        return lambda labels, embeddings: random_triplet_core(labels, embeddings, margin, seeds)
    core = batch_hard_core if mining == "batch_hard" else semi_hard_core
    return lambda labels, embeddings: core(labels, embeddings, margin)


# ---------------------------------------------------------------------------------------------------------
# Embedding nets and training.
# ---------------------------------------------------------------------------------------------------------

def embedding_trunk(input_shape, width: int = 16):
    """A small CNN without head: images (N, H, W, C) -> flattened features (N, 2 * width * H/4 * W/4)."""
    keras = _keras()
    layers = keras.layers
    return keras.Sequential([
        keras.Input(shape=input_shape),
        layers.Conv2D(width, 3, strides=2, padding="same", activation="relu"),
        layers.Conv2D(2 * width, 3, strides=2, padding="same", activation="relu"),
        layers.Flatten(),
    ], name="trunk")


def embedding_net(input_shape, dim: int = 32, width: int = 16):
    """Small CNN -> Dense(dim) -> unit L2 norm: images (N, H, W, C) -> embeddings (N, dim) on the unit sphere."""
    keras = _keras()
    trunk = embedding_trunk(input_shape, width)
    return keras.Sequential([trunk, keras.layers.Dense(dim), keras.layers.UnitNormalization()], name="embedding")


def pk_batches(labels, p: int, k: int, steps: int, seed: int = 0):
    """Index batches (p * k,) of P classes times K images each (with replacement when a class is small)."""
    labels = np.asarray(labels)
    classes = np.unique(labels)
    if p < 2 or k < 2 or p > len(classes):
        raise ValueError(f"P={p}, K={k}: need 2 <= P <= {len(classes)} classes and K >= 2 images per class")
    rng = np.random.default_rng(seed)
    members = {c: np.flatnonzero(labels == c) for c in classes}
    for _ in range(steps):
        chosen = rng.choice(classes, size=p, replace=False)
        yield np.concatenate([rng.choice(members[c], size=k, replace=len(members[c]) < k) for c in chosen])


@dataclass
class TrainingLog:
    """What a training run recorded every `every` steps: the loss, and the mean distance between embeddings."""

    step: list = field(default_factory=list)
    loss: list = field(default_factory=list)
    spread: list = field(default_factory=list)


def train_triplet(model, x, y, mining="batch_hard", margin=DEFAULT_MARGIN, steps=300, p=5, k=12,
                  learning_rate=1e-3, seed=0, every=10) -> TrainingLog:
    """Train model (images -> embeddings) in place on P x K batches with one mining strategy; returns the log.

    x: images (N, H, W, C); y: labels (N,). Adam, custom train step in tf.function.
    """
    import tensorflow as tf

    keras = _keras()
    keras.utils.set_random_seed(seed)
    loss_fn = mining_loss(mining, margin, seed)
    optimizer = keras.optimizers.Adam(learning_rate)

    @tf.function
    def step(images, labels):
        with tf.GradientTape() as tape:
            embeddings = model(images, training=True)
            loss = loss_fn(labels, embeddings)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss, tf.reduce_mean(pairwise_distances(embeddings))

    log = TrainingLog()
    for i, batch in enumerate(pk_batches(y, p, k, steps, seed)):
        loss, spread = step(tf.constant(x[batch]), tf.constant(y[batch]))
        if i % every == 0 or i == steps - 1:
            log.step.append(i)
            log.loss.append(float(loss))
            log.spread.append(float(spread))
    return log


def train_softmax_embedding(x, y, dim=32, epochs=8, batch_size=64, learning_rate=2e-3, seed=0, width=16):
    """A classifier over y's classes on the same trunk; returns its embedding model (penultimate layer, unit norm).

    x: images (N, H, W, C); y: labels (N,) (any integers, re-indexed to 0..K-1 here).
    """
    import tensorflow as tf

    keras = _keras()
    keras.utils.set_random_seed(seed)
    classes, targets = np.unique(y, return_inverse=True)
    trunk = embedding_trunk(x.shape[1:], width)
    features = keras.layers.Dense(dim, activation="relu")
    classifier = keras.Sequential([trunk, features, keras.layers.Dense(len(classes))])
    optimizer = keras.optimizers.Adam(learning_rate)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def step(images, labels):
        with tf.GradientTape() as tape:
            loss = loss_fn(labels, classifier(images, training=True))
        grads = tape.gradient(loss, classifier.trainable_variables)
        optimizer.apply_gradients(zip(grads, classifier.trainable_variables))

    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x) - batch_size + 1, batch_size):
            batch = order[start:start + batch_size]
            step(tf.constant(x[batch]), tf.constant(targets[batch]))
    return keras.Sequential([trunk, features, keras.layers.UnitNormalization()], name="softmax_embedding")


def embed(model, x, batch_size=512) -> np.ndarray:
    """Embeddings of images x (N, H, W, C) by model: float32 (N, D)."""
    return np.concatenate([np.asarray(model(x[i:i + batch_size], training=False))
                           for i in range(0, len(x), batch_size)]).astype(np.float32)


def pixel_embedding(x) -> np.ndarray:
    """Raw pixels as embeddings: images (N, H, W, C) -> flattened rows of unit norm (N, H*W*C) float32."""
    flat = np.asarray(x, np.float32).reshape(len(x), -1)
    return flat / np.maximum(np.linalg.norm(flat, axis=1, keepdims=True), 1e-12)


# ---------------------------------------------------------------------------------------------------------
# Retrieval metrics (NumPy), leave-one-out: every image is a query, all the others the index.
# ---------------------------------------------------------------------------------------------------------

def _neighbour_labels(embeddings, labels) -> tuple[np.ndarray, np.ndarray]:
    """Labels (N,) and the labels of every query's other images, nearest first (N, N - 1)."""
    embeddings = np.asarray(embeddings, np.float64)
    labels = np.asarray(labels).reshape(-1)
    if len(embeddings) != len(labels) or len(labels) < 2:
        raise ValueError(f"need at least 2 embeddings and one label each; got {len(embeddings)} embeddings and "
                         f"{len(labels)} labels")
    check_finite(embeddings)
    squared = np.sum(embeddings ** 2, axis=1)
    distances = squared[:, None] - 2 * embeddings @ embeddings.T + squared[None, :]
    np.fill_diagonal(distances, np.inf)
    order = np.argsort(distances, axis=1, kind="stable")[:, :-1]
    return labels, labels[order]


def precision_at_1(embeddings, labels) -> float:
    """Fraction of images whose nearest other image (Euclidean) has the same label; embeddings (N, D), labels (N,)."""
    labels, neighbours = _neighbour_labels(embeddings, labels)
    return float(np.mean(neighbours[:, 0] == labels))


def map_at_r(embeddings, labels) -> float:
    """MAP@R (Musgrave et al. 2020): R = other images of the query's class; mean over queries of
    (1/R) * sum over the R nearest of precision@i where neighbour i is correct. Queries with R = 0 are skipped."""
    labels, neighbours = _neighbour_labels(embeddings, labels)
    correct = neighbours == labels[:, None]
    r = correct.sum(axis=1)
    ranks = np.arange(1, correct.shape[1] + 1)
    within = ranks[None, :] <= r[:, None]
    precision = np.cumsum(correct, axis=1) / ranks[None, :]
    scores = np.sum(precision * correct * within, axis=1) / np.maximum(r, 1)
    return float(np.mean(scores[r > 0]))


def retrieval_scores(embeddings, labels) -> dict[str, float]:
    """{'P@1': ..., 'MAP@R': ...} of embeddings (N, D) with labels (N,)."""
    return {"P@1": precision_at_1(embeddings, labels), "MAP@R": map_at_r(embeddings, labels)}


# ---------------------------------------------------------------------------------------------------------
# Seen and unseen classes.
# ---------------------------------------------------------------------------------------------------------

SEEN_CLASSES = (0, 1, 2, 3, 4)


@dataclass(frozen=True)
class SeenUnseen:
    """Training images of the seen classes, and two evaluation sets: held-out seen images and unseen classes."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_seen: np.ndarray
    y_seen: np.ndarray
    x_unseen: np.ndarray
    y_unseen: np.ndarray


def seen_unseen_split(split, seen_classes=SEEN_CLASSES) -> SeenUnseen:
    """From a dlcourse Split: train on split.x_train of seen_classes; evaluate on x_test of seen and of the rest."""
    seen_train = np.isin(split.y_train, seen_classes)
    seen_test = np.isin(split.y_test, seen_classes)
    return SeenUnseen(split.x_train[seen_train], split.y_train[seen_train], split.x_test[seen_test],
                      split.y_test[seen_test], split.x_test[~seen_test], split.y_test[~seen_test])


def retrieval_table(models: dict, data: SeenUnseen) -> dict[str, dict[str, float]]:
    """name -> {'seen P@1', 'seen MAP@R', 'unseen P@1', 'unseen MAP@R'}; a model is a callable images -> (N, D)."""
    table = {}
    for name, embedder in models.items():
        row = {}
        for where, x, y in (("seen", data.x_seen, data.y_seen), ("unseen", data.x_unseen, data.y_unseen)):
            row.update({f"{where} {metric}": value for metric, value in retrieval_scores(embedder(x), y).items()})
        table[name] = row
    return table


def format_table(table: dict[str, dict[str, float]]) -> str:
    """A retrieval table as aligned text, one row per method."""
    columns = list(next(iter(table.values())))
    width = max(len(name) for name in table)
    lines = [" " * width + "".join(f"{c:>14s}" for c in columns)]
    lines += [f"{name:<{width}s}" + "".join(f"{row[c]:14.3f}" for c in columns) for name, row in table.items()]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------
# Self-supervised triplet: two augmented views of one photo crop are the positive pair.
# ---------------------------------------------------------------------------------------------------------

SELF_SUPERVISED_SIZE = 48  # the net sees images resized to this side


def photo_crops(count: int, size: int = 96, seed: int = 0, output_size: int | None = None) -> np.ndarray:
    """Random square crops of the bundled photos, side size, resized to output_size (default size):
    (count, output_size, output_size, 3) float32 in [0, 1]."""
    from dlcourse.data.duplicates import resize_to
    from dlcourse.datasets import load_photos

    rng = np.random.default_rng(seed)
    photos = list(load_photos().values())
    output_size = output_size or size
    crops = np.empty((count, output_size, output_size, 3), np.float32)
    for i in range(count):
        photo = photos[rng.integers(len(photos))]
        top, left = (rng.integers(0, photo.shape[d] - size + 1) for d in (0, 1))
        crops[i] = resize_to(photo[top:top + size, left:left + size], output_size) / 255
    return crops


def augment(images, seed, size=SELF_SUPERVISED_SIZE, crop_range=(0.6, 1.0)):
    """A random edit of each image (B, S, S, 3) in [0, 1]: crop, flip, colour, brightness, blur, a patch, noise.

    seed: a (2,) int tensor; the same images with another seed give another view. crop_range: side of the kept
    window, as a fraction of the image side. Output (B, size, size, 3).
    """
    import tensorflow as tf

    batch = tf.shape(images)[0]
    seeds = tf.random.experimental.stateless_split(seed, 9)

    def uniform(shape, i, low=0.0, high=1.0):
        return tf.random.stateless_uniform(shape, seeds[i], low, high)

    side = uniform((batch, 1), 0, *crop_range)
    corner = uniform((batch, 2), 1) * (1.0 - side)
    views = tf.image.crop_and_resize(images, tf.concat([corner, corner + side], axis=1), tf.range(batch),
                                     (size, size))
    views = tf.where(uniform((batch, 1, 1, 1), 2) < 0.5, views[:, :, ::-1], views)
    views = views * uniform((batch, 1, 1, 3), 3, 0.75, 1.25) * tf.exp(uniform((batch, 1, 1, 1), 4, -0.45, 0.45))
    blurred = tf.image.resize(tf.image.resize(views, (size // 3, size // 3), antialias=True), (size, size))
    views = tf.where(uniform((batch, 1, 1, 1), 5) < 0.3, blurred, views)
    rows = tf.range(size, dtype=tf.float32)[None, :, None, None] / size
    top, left = uniform((batch, 1, 1, 1), 6, 0.0, 0.7), uniform((batch, 1, 1, 1), 7, 0.0, 0.7)
    cols = tf.transpose(rows, (0, 2, 1, 3))
    patch = (rows >= top) & (rows < top + 0.3) & (cols >= left) & (cols < left + 0.3)
    patch &= uniform((batch, 1, 1, 1), 8) < 0.3
    views = tf.where(patch, uniform((batch, 1, 1, 3), 8), views)
    noise = tf.random.stateless_normal(tf.shape(views), seeds[0] + 1) * 0.03
    return tf.clip_by_value(views + noise, 0.0, 1.0)


def train_self_supervised(crops, dim=64, steps=300, batch_size=64, margin=DEFAULT_MARGIN, learning_rate=2e-3,
                          seed=0, width=16, image_size=SELF_SUPERVISED_SIZE):
    """Train a triplet embedding where two augmented views of one crop are a positive pair (semi-hard mining).

    crops: (N, S, S, 3) float32 in [0, 1]. One view keeps nearly the whole crop, the other a part of it (a search
    query is often a part of an indexed photo). Returns (model on image_size x image_size images, TrainingLog).
    """
    import tensorflow as tf

    keras = _keras()
    keras.utils.set_random_seed(seed)
    model = embedding_net((image_size, image_size, 3), dim, width)
    optimizer = keras.optimizers.Adam(learning_rate)
    labels = tf.concat([tf.range(batch_size)] * 2, axis=0)

    @tf.function
    def step(images, seed_pair):
        whole = augment(images, seed_pair, image_size, crop_range=(0.9, 1.0))
        views = tf.concat([whole, augment(images, seed_pair + 7, image_size)], axis=0)
        with tf.GradientTape() as tape:
            embeddings = model(views, training=True)
            loss = semi_hard_core(labels, embeddings, margin)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss, tf.reduce_mean(pairwise_distances(embeddings))

    rng = np.random.default_rng(seed)
    log = TrainingLog()
    for i in range(steps):
        batch = rng.choice(len(crops), size=batch_size, replace=False)
        loss, spread = step(tf.constant(crops[batch]), tf.constant([seed, i], tf.int32))
        if i % 10 == 0 or i == steps - 1:
            log.step.append(i)
            log.loss.append(float(loss))
            log.spread.append(float(spread))
    return model, log


def image_embedder(model, image_size=SELF_SUPERVISED_SIZE, batch_size=256) -> Callable[[np.ndarray], np.ndarray]:
    """The callable module 08's search tools take: images [0, 1] (N, H, W, 3) -> (N, D) float32 embeddings.

    Its ``image_size`` and ``name`` attributes tell dlcourse.search's folder tool what size to read photos at and
    what to record in an index.
    """

    def embedder(images: np.ndarray) -> np.ndarray:
        import tensorflow as tf

        images = np.asarray(images, np.float32)
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"images must be (N, H, W, 3) RGB in [0, 1]; got shape {images.shape}")
        resized = tf.image.resize(images, (image_size, image_size), antialias=True).numpy()
        return embed(model, resized, batch_size)

    embedder.image_size = image_size
    embedder.name = f"dlcourse.metric_learning self-supervised triplet ({model.name}, {image_size}px)"
    return embedder


# ---------------------------------------------------------------------------------------------------------
# Pictures.
# ---------------------------------------------------------------------------------------------------------

def plot_projection(embeddings, labels, ax, title=""):
    """Scatter of the first two principal components of embeddings (N, D), coloured by labels (N,)."""
    from sklearn.decomposition import PCA

    points = PCA(n_components=2, random_state=0).fit_transform(np.asarray(embeddings, np.float64))
    scatter = ax.scatter(points[:, 0], points[:, 1], c=labels, cmap="tab10", s=6, vmin=0, vmax=9)
    ax.set(title=title, xticks=[], yticks=[])
    return scatter


def plot_training_logs(logs: dict[str, TrainingLog], margin=DEFAULT_MARGIN):
    """Loss and mean pairwise distance per step of several runs, side by side; returns the figure."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3))
    for name, log in logs.items():
        left.plot(log.step, log.loss, label=name)
        right.plot(log.step, log.spread, label=name)
    left.axhline(margin, color="grey", ls=":", lw=1)
    left.set(xlabel="step", ylabel="loss", title=f"triplet loss (dotted: the margin {margin})")
    right.set(xlabel="step", ylabel="mean distance", title="mean distance between embeddings")
    right.legend(fontsize=8)
    fig.tight_layout()
    return fig


def unit_circle_picture(margin=DEFAULT_MARGIN):
    """The triplet loss on the unit circle: an anchor, a positive and negatives inside and outside the margin."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 4))
    angles = np.linspace(0, 2 * math.pi, 200)
    ax.plot(np.cos(angles), np.sin(angles), color="lightgrey")
    points = {"anchor": 0.0, "positive": 0.5, "hard negative": 0.35, "semi-hard negative": 0.62,
              "easy negative": 2.2}
    colours = {"anchor": "k", "positive": "tab:green", "hard negative": "tab:red",
               "semi-hard negative": "tab:orange", "easy negative": "tab:blue"}
    d_ap = 2 - 2 * math.cos(points["positive"])
    for name, angle in points.items():
        x, y = math.cos(angle), math.sin(angle)
        loss = max(d_ap - (2 - 2 * math.cos(angle)) + margin, 0) if "negative" in name else None
        ax.scatter([x], [y], color=colours[name], s=50, zorder=3)
        text = name if loss is None else f"{name}\nloss {loss:.2f}"
        ax.annotate(text, (x, y), textcoords="offset points", xytext=(8, 4), fontsize=8)
    limit = math.acos(1 - (d_ap + margin) / 2)
    band = np.linspace(-limit, limit, 50)
    ax.plot(np.cos(band), np.sin(band), color="tab:orange", alpha=0.3, lw=6)
    ax.set(aspect="equal", xticks=[], yticks=[],
           title="unit circle: negatives inside the shaded arc\nviolate d(a,p) + margin < d(a,n)")
    return fig
