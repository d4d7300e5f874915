"""Checks of module 08_visual_search: embeddings, cosine similarity, top-k search, near duplicates, recall@k.

References: the cosine geometry of :mod:`dlcourse.search.similarity` (float64) and, for the embedding model, the
chosen layer's output computed through Keras. Inputs are built so that the classic mistakes change the answer:
rows of very different norms (a plain dot product ranks them differently from the cosine), zero vectors (their
cosine is 0, never NaN), exactly equal scores inside the top k (ties go to the lower row), a threshold that some
pairs meet exactly (orthogonal vectors have similarity exactly 0, whatever the arithmetic) and labels that make
recall below 1 (so counting the query as its own match shows). Scores in the random cases stay at least 1e-4
away from every threshold and from each other, so float32, einsum or argpartition answers agree with the
reference. Keras is imported only when an embedding model is built.
"""
from __future__ import annotations

import warnings
from functools import lru_cache

import numpy as np

from ..search import similarity
from .core import HIDDEN, Case, CheckFailure, Exercise, Mistake, case_rng, checker, close_arrays, close_tuple

RTOL, ATOL = 1e-5, 1e-6
TOLERANCE = f"rtol={RTOL:g}, atol={ATOL:g} (float32 and any order of summation pass)"
ZERO_VECTOR_HINT = ("a zero vector has norm 0 and no direction: divide by np.maximum(norm, eps) so that it stays "
                    "a zero vector (and its cosine with anything is 0) instead of 0/0 = NaN.")
NO_NORMALISATION_HINT = ("those are plain dot products: a long vector beats a similar short one. L2-normalise the "
                         "rows first (a_hat = a / ||a||), then the dot product is the cosine.")


def _rng(which: str, salt: int) -> np.random.Generator:
    return case_rng(8, which, salt)


def _unit_free(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def _dot(a, b) -> np.ndarray:
    return _unit_free(a) @ _unit_free(b).T


def _nan_normalize(x, axis=-1) -> np.ndarray:
    x = _unit_free(x)
    with np.errstate(invalid="ignore", divide="ignore"):
        return x / np.linalg.norm(x, axis=axis, keepdims=True)


def _clusters(rng: np.random.Generator, n_clusters: int, per_cluster: int, dim: int, spread: float = 0.15):
    """Embeddings around random directions with random lengths: (n_clusters * per_cluster, dim), labels."""
    centres = rng.normal(size=(n_clusters, dim))
    labels = np.repeat(np.arange(n_clusters), per_cluster)
    points = centres[labels] + spread * rng.normal(size=(len(labels), dim))
    return points * rng.uniform(0.2, 5.0, size=(len(labels), 1)), labels


# ---------------------------------------------------------------------------------------------------------
# l2_normalize
# ---------------------------------------------------------------------------------------------------------

def _normalize_cases(which: str) -> list[Case]:
    rng = _rng(which, 0)
    if which == HIDDEN:
        batch = rng.normal(size=(2, 4, 3))
        batch[1, 2] = 0.0
        return [Case("a (2, 4, 3) batch normalised along axis=1", (batch,), {"axis": 1}),
                Case("float32 embeddings (6, 16)", (rng.normal(size=(6, 16)).astype(np.float32),)),
                Case("one vector (5,)", (rng.normal(size=5) * 7,))]
    rows = rng.normal(size=(4, 6)) * rng.uniform(0.1, 10, size=(4, 1))
    rows[2] = 0.0
    return [Case("three rows", (np.array([[3.0, 4.0], [1.0, 0.0], [0.0, -0.5]]),)),
            Case("rows of different lengths; row 2 is a zero vector", (rows,)),
            Case("columns normalised (axis=0)", (rng.normal(size=(3, 4)),), {"axis": 0})]


def _axis(case: Case) -> int:
    return case.kwargs.get("axis", -1)


L2_NORMALIZE = Exercise(
    name="l2_normalize",
    cases=_normalize_cases,
    reference=lambda case: similarity.l2_normalize(_unit_free(case.args[0]), axis=_axis(case)),
    compare=close_arrays(RTOL, ATOL),
    tolerance=TOLERANCE,
    warning_hint=ZERO_VECTOR_HINT,
    mistakes=[
        Mistake(ZERO_VECTOR_HINT, lambda case: _nan_normalize(case.args[0], _axis(case))),
        Mistake("normalise along `axis` (here not the last one): pass axis=axis and keepdims=True to the sum.",
                lambda case: similarity.l2_normalize(_unit_free(case.args[0]))),
        Mistake("divide by the norm, the square root of the sum of squares, not by the sum of squares itself.",
                lambda case: _unit_free(case.args[0]) / np.maximum(
                    np.sum(_unit_free(case.args[0]) ** 2, axis=_axis(case), keepdims=True), 1e-12)),
        Mistake("that is the L1 norm (sum of absolute values); the L2 norm is sqrt(sum of squares).",
                lambda case: _unit_free(case.args[0]) / np.maximum(
                    np.sum(np.abs(case.args[0]), axis=_axis(case), keepdims=True), 1e-12)),
        Mistake("each vector is normalised on its own: the norm is taken along `axis` (keepdims=True), not over "
                "the whole array.", lambda case: _unit_free(case.args[0]) / np.linalg.norm(case.args[0])),
    ],
)


# ---------------------------------------------------------------------------------------------------------
# cosine_similarity
# ---------------------------------------------------------------------------------------------------------

def _cosine_cases(which: str) -> list[Case]:
    rng = _rng(which, 1)
    if which == HIDDEN:
        a, _ = _clusters(rng, 3, 2, 12)
        return [Case("float32 (6, 12) against itself", (a.astype(np.float32), a.astype(np.float32))),
                Case("one query against 7 rows", (rng.normal(size=(1, 5)), rng.normal(size=(7, 5)) * 3))]
    b = rng.normal(size=(5, 6)) * rng.uniform(0.1, 10, size=(5, 1))
    b[3] = 0.0
    return [Case("a (3, 2) against b (4, 2)",
                 (np.array([[1.0, 0.0], [3.0, 4.0], [0.0, -2.0]]),
                  np.array([[2.0, 0.0], [0.0, 1.0], [-1.0, -1.0], [10.0, 10.0]]))),
            Case("a (4, 6) against b (5, 6) with rows of different lengths; b's row 3 is a zero vector",
                 (rng.normal(size=(4, 6)) * rng.uniform(0.1, 10, size=(4, 1)), b))]


COSINE_SIMILARITY = Exercise(
    name="cosine_similarity",
    cases=_cosine_cases,
    reference=lambda case: similarity.cosine_similarity(*map(_unit_free, case.args)),
    compare=close_arrays(RTOL, ATOL),
    tolerance=TOLERANCE,
    warning_hint=ZERO_VECTOR_HINT,
    mistakes=[
        Mistake(NO_NORMALISATION_HINT, lambda case: _dot(*case.args)),
        Mistake("only a was normalised: normalise the rows of b too.",
                lambda case: _dot(similarity.l2_normalize(_unit_free(case.args[0])), case.args[1])),
        Mistake("only b was normalised: normalise the rows of a too.",
                lambda case: _dot(case.args[0], similarity.l2_normalize(_unit_free(case.args[1])))),
        Mistake("that is the cosine distance 1 - cos; return the similarity itself (1 = same direction).",
                lambda case: 1 - similarity.cosine_similarity(*map(_unit_free, case.args))),
        Mistake(ZERO_VECTOR_HINT, lambda case: _nan_normalize(case.args[0]) @ _nan_normalize(case.args[1]).T),
        Mistake("rows of the result belong to a, columns to b: the result is a_hat @ b_hat.T, shape (N, M).",
                lambda case: similarity.cosine_similarity(*map(_unit_free, case.args)).T),
    ],
)


# ---------------------------------------------------------------------------------------------------------
# top_k
# ---------------------------------------------------------------------------------------------------------

def _top_k_cases(which: str) -> list[Case]:
    rng = _rng(which, 2)
    if which == HIDDEN:
        index, _ = _clusters(rng, 6, 5, 16)
        query = index[::7] + 0.05 * rng.normal(size=index[::7].shape)
        return [Case("5 float32 queries, 30 rows, k=5", (query.astype(np.float32), index.astype(np.float32), 5)),
                Case("one query, k=1", (query[:1], index, 1))]
    tied = np.array([[0.0, 1.0], [2.0, 0.0], [1.0, 1.0], [0.5, 0.0], [-1.0, 0.0], [4.0, 0.0], [1.0, -2.0]])
    index, _ = _clusters(rng, 3, 3, 8)
    return [Case("2 queries, rows of different lengths, k=3",
                 (np.array([[1.0, 0.0], [0.0, 1.0]]),
                  np.array([[5.0, 5.0], [0.9, 0.1], [0.0, 0.3], [3.0, -3.0], [0.2, 0.95]]), 3)),
            Case("rows 1, 3 and 5 point the query's way (equal scores 1.0), k=4", (np.array([[3.0, 0.0]]), tied, 4)),
            Case("3 queries, all 9 rows ranked (k = M)", (index[[0, 4, 8]] + 0.1, index, 9))]


def _ranking(case: Case, order: np.ndarray):
    """(indices, scores) of the reference scores picked in a given order."""
    query, index, k = case.args
    scores = similarity.cosine_similarity(_unit_free(query), _unit_free(index))
    return order[:, :k], np.take_along_axis(scores, order[:, :k], axis=1)


def _top_k_mistake(order_of) -> callable:
    def wrong(case: Case):
        query, index, k = case.args
        return _ranking(case, order_of(similarity.cosine_similarity(_unit_free(query), _unit_free(index)), k))

    return wrong


def _top_k_unnormalised(case: Case):
    query, index, k = case.args
    dots = _dot(query, index)
    order = np.argsort(-dots, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(dots, order, axis=1)


_close_ranking = close_tuple(close_arrays(0, 0), close_arrays(RTOL, ATOL), labels=["indices", "scores"])


def compare_ranking(expected, got) -> str | None:
    """Indices exact and scores close; rows swapped among equal scores get a reason of their own."""
    reason = _close_ranking(expected, got)
    if reason and reason.startswith("indices: values") and close_arrays(RTOL, ATOL)(expected[1], got[1]) is None:
        return ("the scores are right but rows with equal scores are in another order: ties keep the order of "
                "the rows, lower row first (np.argsort(-scores, kind='stable'); reversing an ascending argsort "
                "puts tied rows backwards)")
    return reason


TOP_K = Exercise(
    name="top_k",
    cases=_top_k_cases,
    reference=lambda case: similarity.top_k(_unit_free(case.args[0]), _unit_free(case.args[1]), case.args[2]),
    compare=compare_ranking,
    tolerance="indices exact; scores " + TOLERANCE,
    warning_hint=ZERO_VECTOR_HINT,
    mistakes=[
        Mistake("np.argsort sorts ascending, so that was the k *least* similar rows: sort by -scores (or reverse "
                "the order) to get the best first.",
                _top_k_mistake(lambda s, k: np.argsort(s, axis=1, kind="stable"))),
        Mistake("the queries are not part of the index here: keep the best match, do not skip the first result.",
                _top_k_mistake(lambda s, k: np.argsort(-s, axis=1, kind="stable")[:, 1:])),
        Mistake(NO_NORMALISATION_HINT, _top_k_unnormalised),
    ],
)


# ---------------------------------------------------------------------------------------------------------
# find_near_duplicates
# ---------------------------------------------------------------------------------------------------------

def _duplicate_cases(which: str) -> list[Case]:
    rng = _rng(which, 3)
    if which == HIDDEN:
        points, _ = _clusters(rng, 5, 3, 10, spread=0.05)
        return [Case("15 float32 embeddings in 5 tight groups, threshold 0.95",
                     (points.astype(np.float32), 0.95)),
                Case("nothing similar enough: no pairs, shape (0, 2)", (np.eye(4) * 3, 0.5)),
                Case("the same direction at different lengths, threshold 1.0 (exactly)",
                     (np.array([[0.0, 2.0, 0.0], [0.0, 0.5, 0.0], [1.0, 0.0, 0.0], [0.0, 8.0, 0.0]]), 1.0))]
    points, _ = _clusters(rng, 3, 3, 8, spread=0.08)
    right_angles = np.array([[1.0, 0.0, 0.0], [0.0, 3.0, 0.0], [-2.0, 0.0, 0.0], [0.0, 0.0, 0.5], [1.0, 1.0, 0.0]])
    return [Case("9 embeddings in 3 groups of different lengths, threshold 0.9", (points, 0.9)),
            Case("threshold 0: pairs at a right angle (cosine exactly 0) count", (right_angles, 0.0))]


def _similarities(case: Case) -> np.ndarray:
    embeddings, _ = case.args
    return similarity.cosine_similarity(_unit_free(embeddings), _unit_free(embeddings))


def _pairs_where(mask: np.ndarray) -> np.ndarray:
    return np.argwhere(mask).astype(np.int64).reshape(-1, 2)


def compare_pairs(expected, got) -> str | None:
    """Same set of (i, j) rows, in any order; an empty answer may have any empty shape."""
    if isinstance(got, tuple):
        return f"expected one (P, 2) array of pairs, got a tuple of {len(got)}"
    expected = np.asarray(expected, dtype=np.float64).reshape(-1, 2)
    if got.size == 0:
        got = got.reshape(0, 2)
    if got.ndim != 2 or got.shape[1] != 2:
        return f"expected an array of pairs of shape (P, 2), got shape {got.shape}"
    if len(got) != len(expected):
        return f"{len(got)} pairs instead of {len(expected)}"
    order = lambda pairs: pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]
    if not np.array_equal(order(got), order(expected)):
        return "the pairs differ"
    return None


def _call_find_near_duplicates(fns: dict, case: Case):
    """The student's pairs; a list of (i, j) tuples counts like a (P, 2) array."""
    pairs = fns["find_near_duplicates"](*case.args)
    return np.asarray(pairs) if isinstance(pairs, list) else pairs


FIND_NEAR_DUPLICATES = Exercise(
    name="find_near_duplicates",
    cases=_duplicate_cases,
    call=_call_find_near_duplicates,
    reference=lambda case: similarity.find_near_duplicates(_unit_free(case.args[0]), case.args[1]),
    compare=compare_pairs,
    tolerance="exact pairs, in any order; no similarity lies within 1e-4 of the threshold except exact ties",
    warning_hint=ZERO_VECTOR_HINT,
    mistakes=[
        Mistake("an image is not its own duplicate: the diagonal (i == j, similarity 1) must be left out; keep "
                "only i < j (np.triu(..., k=1)).",
                lambda case: _pairs_where(np.triu(_similarities(case) >= case.args[1]))),
        Mistake("each pair once, with i < j: (i, j) and (j, i) are the same pair.",
                lambda case: _pairs_where((_similarities(case) >= case.args[1]) & ~np.eye(len(case.args[0]), dtype=bool))),
        Mistake("a similarity equal to the threshold counts as a duplicate: use >= threshold, not >.",
                lambda case: _pairs_where(np.triu(_similarities(case) > case.args[1], k=1))),
        Mistake(NO_NORMALISATION_HINT, lambda case: _pairs_where(np.triu(_dot(case.args[0], case.args[0]) >= case.args[1], k=1))),
    ],
)


# ---------------------------------------------------------------------------------------------------------
# recall_at_k
# ---------------------------------------------------------------------------------------------------------

def _recall_cases(which: str) -> list[Case]:
    rng = _rng(which, 4)
    if which == HIDDEN:
        points, labels = _clusters(rng, 6, 3, 12, spread=0.9)
        return [Case("18 float32 embeddings, labels 10, 20, ..., k=5",
                     (points.astype(np.float32), (labels + 1) * 10, 5)),
                Case("the same, k=1", (points, labels, 1))]
    points, labels = _clusters(rng, 4, 3, 6, spread=0.8)
    distractors = rng.normal(size=(4, 6)) * 4
    embeddings = np.concatenate([points, distractors])
    labels = np.concatenate([labels, np.arange(100, 104)])
    small = np.array([[1.0, 0.0], [0.8, 0.3], [9.0, 9.0], [0.0, 1.0], [0.2, 0.9], [4.0, -1.0]])
    return [Case("6 points in the plane, labels [0, 0, 1, 1, 2, 2], k=1", (small, np.array([0, 0, 1, 1, 2, 2]), 1)),
            Case("4 groups of 3 plus 4 distractors with labels of their own, k=1", (embeddings, labels, 1)),
            Case("the same embeddings, k=3", (embeddings, labels, 3))]


def _recall(case: Case, scores=similarity.cosine_similarity, exclude_self=True, precision=False,
            all_queries=False, k=None) -> float:
    """recall@k as the reference computes it, with one step changed on purpose."""
    embeddings, labels, case_k = case.args
    k = case_k if k is None else k
    labels = np.asarray(labels)
    sim = scores(_unit_free(embeddings), _unit_free(embeddings))
    same = labels[:, None] == labels[None, :]
    if exclude_self:
        np.fill_diagonal(sim, -np.inf)
        np.fill_diagonal(same, False)
    nearest = np.argsort(-sim, axis=1, kind="stable")[:, :k]
    found = np.take_along_axis(same, nearest, axis=1)
    per_query = found.mean(axis=1) if precision else found.any(axis=1)
    others = (labels[:, None] == labels[None, :]).sum(axis=1) > 1
    return float(per_query.mean() if all_queries else per_query[others].mean())


RECALL_AT_K = Exercise(
    name="recall_at_k",
    cases=_recall_cases,
    reference=lambda case: similarity.recall_at_k(_unit_free(case.args[0]), case.args[1], case.args[2]),
    compare=close_arrays(1e-9, 1e-9),
    tolerance="1e-9 (a share of the queries)",
    warning_hint=ZERO_VECTOR_HINT,
    mistakes=[
        Mistake("the query was counted as its own match: every item is its own nearest neighbour (similarity 1), "
                "so leave it out of its own ranking (e.g. set the diagonal to -inf).",
                lambda case: _recall(case, exclude_self=False)),
        Mistake(NO_NORMALISATION_HINT, lambda case: _recall(case, scores=_dot)),
        Mistake("a query is found when at least one of its k nearest others has its label; that was the share of "
                "the k neighbours with its label (precision@k).", lambda case: _recall(case, precision=True)),
        Mistake("only items whose label another item shares are queries: an item alone in its label has nothing "
                "to find and does not count.", lambda case: _recall(case, all_queries=True)),
        Mistake("use the k nearest neighbours, not only the nearest one.", lambda case: _recall(case, k=1)),
    ],
)


# ---------------------------------------------------------------------------------------------------------
# embedding_model
# ---------------------------------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _keras():
    from dlcourse.environment import import_tensorflow

    return import_tensorflow()[1]


def build_check_classifier(kind: str):
    """The small classifiers the embedding_model check hands to the student (fixed seeded weights)."""
    keras = _keras()
    layers = keras.layers
    init = lambda seed: {"kernel_initializer": keras.initializers.GlorotUniform(seed=seed),
                         "bias_initializer": keras.initializers.RandomNormal(stddev=0.1, seed=seed + 100)}
    if kind == "cnn":
        inputs = keras.Input((8, 8, 3), name="image")
        x = layers.Conv2D(6, 3, activation="relu", name="conv", **init(1))(inputs)
        x = layers.GlobalAveragePooling2D(name="pool")(x)
        x = layers.Dense(5, activation="relu", name="embedding", **init(2))(x)
        return keras.Model(inputs, layers.Dense(3, activation="softmax", name="probabilities", **init(3))(x))
    if kind == "mlp":
        return keras.Sequential([keras.Input((10,)), layers.Dense(12, activation="relu", name="hidden", **init(4)),
                                 layers.Dense(7, activation="tanh", name="features", **init(5)),
                                 layers.Dropout(0.5, name="dropout"),
                                 layers.Dense(4, activation="softmax", name="probabilities", **init(6))])
    if kind == "logits":
        inputs = keras.Input((6,))
        x = layers.Dense(8, activation="relu", name="hidden", **init(7))(inputs)
        x = layers.Dense(5, name="logits", **init(8))(x)
        return keras.Model(inputs, layers.Softmax(name="softmax")(x))
    raise ValueError(f"unknown check classifier {kind!r}")


CLASSIFIER_INPUTS = {"cnn": (4, 8, 8, 3), "mlp": (5, 10), "logits": (3, 6)}
CLASSIFIER_NAMES = {"cnn": "a small CNN: conv, pool, Dense 'embedding' (5), Dense 'probabilities' (softmax)",
                    "mlp": "a Sequential MLP: Dense 'hidden', Dense 'features', Dropout, Dense softmax",
                    "logits": "a functional MLP: Dense 'hidden', Dense 'logits', a Softmax layer"}


def _embedding_cases(which: str) -> list[Case]:
    if which == HIDDEN:
        return [Case(CLASSIFIER_NAMES["logits"] + " (default layer)", ("logits",)),
                Case(CLASSIFIER_NAMES["mlp"] + ", layer='hidden'", ("mlp",), {"layer": "hidden"}),
                Case(CLASSIFIER_NAMES["cnn"] + ", layer='conv'", ("cnn",), {"layer": "conv"})]
    return [Case(CLASSIFIER_NAMES["cnn"] + " (default layer)", ("cnn",)),
            Case(CLASSIFIER_NAMES["cnn"] + ", layer='pool'", ("cnn",), {"layer": "pool"}),
            Case(CLASSIFIER_NAMES["mlp"] + " (default layer)", ("mlp",))]


def _check_inputs(kind: str) -> np.ndarray:
    return np.random.default_rng(8).uniform(size=CLASSIFIER_INPUTS[kind]).astype(np.float32)


def _outputs_of(model, kind: str) -> np.ndarray:
    """What a Keras model (the student's or a reference) outputs on the check's fixed inputs."""
    if not (hasattr(model, "outputs") and callable(model)):
        raise CheckFailure(f"embedding_model returned {type(model).__name__}, not a Keras model: build one with "
                           "keras.Model(classifier.inputs, <the chosen layer>.output).")
    with warnings.catch_warnings():  # Keras warns when a one-input model built on a list gets a plain array
        warnings.simplefilter("ignore", UserWarning)
        outputs = model(_check_inputs(kind), training=False)
    if isinstance(outputs, (list, tuple, dict)):
        raise CheckFailure("the embedding model has several outputs; it should output the one chosen layer.")
    return np.asarray(outputs)


def _layer_model(kind: str, pick) -> np.ndarray:
    """Outputs of the model from the classifier's input to the layer that pick(classifier) returns."""
    classifier = build_check_classifier(kind)
    return _outputs_of(_keras().Model(classifier.inputs, pick(classifier).output), kind)


def _default_or_named(classifier, layer):
    return classifier.layers[-2] if layer is None else classifier.get_layer(layer)


def _call_embedding_model(fns: dict, case: Case) -> np.ndarray:
    kind = case.args[0]
    return _outputs_of(fns["embedding_model"](build_check_classifier(kind), **case.kwargs), kind)


EMBEDDING_MODEL = Exercise(
    name="embedding_model",
    cases=_embedding_cases,
    reference=lambda case: _layer_model(case.args[0], lambda m: _default_or_named(m, case.kwargs.get("layer"))),
    compare=close_arrays(1e-5, 1e-6),
    call=_call_embedding_model,
    from_scratch=False,
    tolerance="rtol=1e-5, atol=1e-6 on the model's outputs for fixed inputs",
    mistakes=[
        Mistake("that is the classifier's output, the softmax probabilities: they sum to 1 and only say which "
                "class, not what the image looks like. Output the layer before it (classifier.layers[-2]).",
                lambda case: _layer_model(case.args[0], lambda m: m.layers[-1])),
        Mistake("one layer too early: by default the embedding is the last layer before the output layer, "
                "classifier.layers[-2].",
                lambda case: _layer_model(case.args[0], lambda m: m.layers[-3])),
        Mistake("use the layer named by `layer` when it is given: classifier.get_layer(layer).output.",
                lambda case: _layer_model(case.args[0], lambda m: m.layers[-2])),
    ],
)

EXERCISES = (EMBEDDING_MODEL, L2_NORMALIZE, COSINE_SIMILARITY, TOP_K, FIND_NEAR_DUPLICATES, RECALL_AT_K)

check_embedding_model = checker(EMBEDDING_MODEL)
check_l2_normalize = checker(L2_NORMALIZE)
check_cosine_similarity = checker(COSINE_SIMILARITY)
check_top_k = checker(TOP_K)
check_find_near_duplicates = checker(FIND_NEAR_DUPLICATES)
check_recall_at_k = checker(RECALL_AT_K)
