"""Checks of module 09_triplet_loss: the triplet loss, distances, batch-hard and semi-hard mining, an embedding net on
the unit sphere, precision@1 and MAP@R.

The losses must train, so their checks run the student's function on float32 TensorFlow tensors under a
``tf.GradientTape`` and compare the value *and* the gradient with respect to the embeddings with references in
float64 (the course's Keras-ops implementations in :mod:`dlcourse.metric_learning`, themselves tested against
plain loops). A result without a gradient (NumPy inside) or with a NaN gradient fails with its own message.
Bad input (a margin <= 0, NaN embeddings, a batch without negatives or without any positive pair) must raise
ValueError: such cases come last, after the value cases, and returning a number there fails.

The retrieval metrics are NumPy exercises, checked against the definitions of the metric-learning literature
(Musgrave et al. 2020, "A Metric Learning Reality Check"), and on the hand-computed case of the notebook.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np

from dlcourse import metric_learning as ml

from .core import HIDDEN, Case, CheckFailure, Exercise, Mistake, case_rng, checker, close_arrays, course_code_calls

RTOL, ATOL = 1e-4, 1e-5  # loss values (float32 inputs)
GRAD_RTOL, GRAD_ATOL = 1e-3, 1e-3  # gradients: float32 Gram matrices lose a few digits near zero distances
DISTANCE_ATOL = 2e-3  # sqrt of a float32 rounding error near 0 is ~3e-4
LOSS_TOLERANCE = (f"loss rtol={RTOL:g}, atol={ATOL:g}; gradient rtol={GRAD_RTOL:g}, atol={GRAD_ATOL:g} "
                  "(float32 inputs; Gram-matrix and broadcasting distances both pass)")
RAISED, RETURNED, OTHER_ERROR = 1.0, 0.0, 2.0

NO_GRADIENT = ("no gradient reaches the embeddings: the result was computed outside TensorFlow's reach (NumPy "
               "or Python numbers?). Use keras.ops (ops.sum, ops.maximum, ops.sqrt ...) on the tensors you get, "
               "so that training can differentiate the loss")
NAN_GRADIENT = ("the gradient holds NaN although the value is fine: sqrt has an infinite slope at 0, and a "
                "distance is 0 on the diagonal and between identical embeddings. Take the square root of "
                "(d + eps) where d == 0 and set those distances back to 0 (or add a tiny eps everywhere)")


def _rng(which: str, salt: int) -> np.random.Generator:
    return case_rng(9, which, salt)


@lru_cache(maxsize=1)
def _tensorflow():
    from dlcourse.environment import import_tensorflow

    return import_tensorflow()[0]


# ---------------------------------------------------------------------------------------------------------
# Cases that must raise, and the student's code must not be the course's own.
# ---------------------------------------------------------------------------------------------------------

BAD_INPUT = "bad input: "


def bad_input(reason: str, args: tuple, kwargs: dict | None = None) -> Case:
    """A case on which the graded function must raise ValueError; reason says why the input is bad."""
    return Case(BAD_INPUT + reason, args, kwargs or {})


def is_bad_input(case: Case) -> bool:
    return case.name.startswith(BAD_INPUT)


@dataclass(frozen=True)
class MustRaise:
    """The expected outcome of a bad-input case."""

    reason: str


def _guarded(run: Callable[[dict, Case], object], name: str) -> Callable[[dict, Case], object]:
    """A call that rejects the course's own code and turns a bad-input case into RAISED / RETURNED / OTHER_ERROR."""

    def call(fns: dict, case: Case):
        used = course_code_calls(fns[name])
        if used:
            raise ValueError(f"{name} uses {', '.join(used)}: the course's reference implementations earn no "
                             "points; write the function with keras.ops / NumPy")
        if not is_bad_input(case):
            return run(fns, case)
        try:
            run(fns, case)
        except ValueError:
            return RAISED
        except Exception:  # noqa: BLE001 - any other exception is judged (it is the wrong kind of message)
            return OTHER_ERROR
        return RETURNED

    return call


def _judging_bad_input(compare: Callable) -> Callable:
    """compare for value cases; for MustRaise cases, whether ValueError was raised."""

    def judged(expected, got):
        if not isinstance(expected, MustRaise):
            return compare(expected, got)
        if isinstance(got, np.ndarray) and got.shape == () and got == RAISED:
            return None
        if isinstance(got, np.ndarray) and got.shape == () and got == OTHER_ERROR:
            return (f"bad input ({expected.reason}) must raise ValueError with a message saying what to do; "
                    "your function raised another kind of exception")
        return (f"bad input ({expected.reason}): your function returned a value; it must raise ValueError with "
                "a message saying what to do (a silent loss of 0 or NaN would train on nonsense)")

    return judged


def _reference_or_raise(reference: Callable[[Case], object]) -> Callable[[Case], object]:
    return lambda case: MustRaise(case.name.removeprefix(BAD_INPUT)) if is_bad_input(case) else reference(case)


# ---------------------------------------------------------------------------------------------------------
# Values and gradients of a loss under GradientTape.
# ---------------------------------------------------------------------------------------------------------

def _value_and_gradient(fn: Callable, tensors: list, rest: tuple, kwargs: dict, dtype, weights=None):
    """(value, gradient w.r.t. tensors concatenated, has_gradient) of fn(*tensors, *rest, **kwargs) as NumPy.

    weights: upstream gradient for a non-scalar value (else the value is summed). A missing gradient gives
    NaN gradients and has_gradient 0.
    """
    tf = _tensorflow()
    watched = [tf.constant(np.asarray(t), dtype=dtype) for t in tensors]
    with tf.GradientTape() as tape:
        for tensor in watched:
            tape.watch(tensor)
        value = fn(*watched, *rest, **kwargs)
        is_tensor = tf.is_tensor(value)
        target = tf.reduce_sum(value * tf.cast(weights, value.dtype)) if is_tensor and weights is not None else value
    grads = tape.gradient(target, watched) if is_tensor else [None] * len(watched)
    value = value.numpy() if is_tensor else np.asarray(value)
    if any(g is None for g in grads):
        return value, np.full(sum(np.size(t) for t in tensors), np.nan), 0.0
    return value, np.concatenate([np.ravel(tf.convert_to_tensor(g).numpy()) for g in grads]), 1.0


def compare_value_and_gradient(value_atol: float = ATOL) -> Callable:
    """Comparison of (value, gradient, has_gradient) triples: missing gradient, value, NaN gradient, gradient."""
    values, gradients = close_arrays(RTOL, value_atol), close_arrays(GRAD_RTOL, GRAD_ATOL)

    def compare(expected, got):
        if not isinstance(got, tuple) or len(got) != 3:
            return "the check could not read a value and a gradient from your function's result"
        if got[2] == 0:
            return NO_GRADIENT
        reason = values(expected[0], got[0])
        if reason:
            return reason
        if np.isnan(got[1]).any() and not np.isnan(expected[1]).any():
            return NAN_GRADIENT
        reason = gradients(expected[1], got[1])
        return f"the value is right but its gradient differs: {reason}" if reason else None

    return compare


def _as_float64(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)


# ---------------------------------------------------------------------------------------------------------
# Inputs.
# ---------------------------------------------------------------------------------------------------------

def unit_rows(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    """n random unit vectors (n, dim), float32."""
    x = rng.normal(size=(n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def clustered(rng: np.random.Generator, labels, dim: int, spread: float = 0.6) -> np.ndarray:
    """Unit embeddings (len(labels), dim) float32 around one random centre per label: classes overlap a little."""
    labels = np.asarray(labels)
    centres = unit_rows(rng, labels.max() + 1, dim)
    x = centres[labels] + spread * rng.normal(size=(len(labels), dim)) / np.sqrt(dim)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


# ---------------------------------------------------------------------------------------------------------
# triplet_loss
# ---------------------------------------------------------------------------------------------------------

def _triplet_cases(which: str) -> list[Case]:
    rng = _rng(which, 0)
    if which == HIDDEN:
        a, p, n = (unit_rows(rng, 16, 8) for _ in range(3))
        near = unit_rows(rng, 6, 3)
        return [Case("16 random triplets in 8-D, margin 0.5", (a, p, n), {"margin": 0.5}),
                Case("positives equal to their anchors (zero distance)", (near, near.copy(), unit_rows(rng, 6, 3))),
                Case("a single triplet, margin 1.0", (a[:1], p[:1], n[:1]), {"margin": 1.0}),
                bad_input("a negative margin", (a, p, n), {"margin": -0.2}),
                bad_input("inf in the negatives", (a, p, np.where(n > 0.5, np.inf, n).astype(np.float32)))]
    a = np.array([[1, 0], [0, 1], [0.6, 0.8], [1, 0]], np.float32)
    p = np.array([[0.8, 0.6], [0, 1], [0.6, 0.8], [0, 1]], np.float32)
    n = np.array([[0, 1], [1, 0], [0.8, 0.6], [0.8, 0.6]], np.float32)
    r = [unit_rows(rng, 8, 4) for _ in range(3)]
    return [Case("4 triplets on the unit circle (default margin 0.2)", (a, p, n)),
            Case("8 random triplets in 4-D, margin 0.3", tuple(r), {"margin": 0.3}),
            bad_input("margin 0", tuple(r), {"margin": 0.0}),
            bad_input("NaN in the anchors", (np.where(r[0] > 0.3, np.nan, r[0]).astype(np.float32), r[1], r[2]))]


def _triplet_call(fns: dict, case: Case):
    return _value_and_gradient(fns["triplet_loss"], list(case.args), (), case.kwargs, "float32")


def _triplet_variant(distance="squared", reduce="mean", sign=1.0, hinge="each", swapped=False):
    """A triplet loss in float64 TensorFlow, right by default or with one classic mistake."""

    def loss(a, p, n, margin=ml.DEFAULT_MARGIN):
        tf = _tensorflow()
        if swapped:
            p, n = n, p
        d_ap, d_an = (tf.reduce_sum(tf.square(a - other), axis=1) for other in (p, n))
        if distance == "euclidean":
            d_ap, d_an = tf.sqrt(d_ap + 1e-12), tf.sqrt(d_an + 1e-12)
        raw = d_ap - d_an + sign * margin
        per_triplet = tf.nn.relu(raw) if hinge == "each" else raw
        total = tf.reduce_sum(per_triplet) if reduce == "sum" else tf.reduce_mean(per_triplet)
        return tf.nn.relu(total) if hinge == "after_mean" else total

    return loss


def _triplet_outcome(loss: Callable) -> Callable[[Case], object]:
    def outcome(case: Case):
        if is_bad_input(case):
            return MustRaise(case.name.removeprefix(BAD_INPUT))
        return _value_and_gradient(loss, list(case.args), (), case.kwargs, "float64")

    return outcome


TRIPLET_LOSS = Exercise(
    name="triplet_loss",
    cases=_triplet_cases,
    reference=_triplet_outcome(_triplet_variant()),
    compare=_judging_bad_input(compare_value_and_gradient()),
    call=_guarded(_triplet_call, "triplet_loss"),
    from_scratch=False,
    tolerance=LOSS_TOLERANCE,
    mistakes=[
        Mistake("the margin sign is flipped: the loss is max(d(a,p) - d(a,n) + margin, 0), so a triplet costs "
                "nothing only when the negative is farther than the positive by at least the margin.",
                _triplet_outcome(_triplet_variant(sign=-1.0))),
        Mistake("that is the sum over the batch; the loss is the mean (ops.mean), so it does not grow with the "
                "batch size.", _triplet_outcome(_triplet_variant(reduce="sum"))),
        Mistake("those are Euclidean distances; this loss uses squared ones, ||a - p||^2 = sum((a - p)^2) "
                "(no square root).", _triplet_outcome(_triplet_variant(distance="euclidean"))),
        Mistake("the hinge max(., 0) is missing: triplets that are already satisfied would push embeddings apart "
                "for ever.", _triplet_outcome(_triplet_variant(hinge="none"))),
        Mistake("max(., 0) was applied after averaging: clip each triplet's term first, then take the mean.",
                _triplet_outcome(_triplet_variant(hinge="after_mean"))),
        Mistake("positive and negative are swapped: the loss pulls the positive closer, d(a,p) comes first.",
                _triplet_outcome(_triplet_variant(swapped=True))),
    ],
)


# ---------------------------------------------------------------------------------------------------------
# pairwise_distances
# ---------------------------------------------------------------------------------------------------------

def _distance_cases(which: str) -> list[Case]:
    rng = _rng(which, 1)
    if which == HIDDEN:
        x = unit_rows(rng, 9, 5)
        x[4] = x[1]
        wide = (2.0 * rng.normal(size=(7, 3))).astype(np.float32)
        return [Case("9 unit rows in 5-D, rows 1 and 4 identical", (x,)),
                Case("the same, squared", (x,), {"squared": True}),
                Case("7 rows of larger norm (not on the sphere)", (wide,)),
                Case("two identical rows only", (np.repeat(x[:1], 2, axis=0),))]
    x = unit_rows(rng, 6, 3)
    x[3] = x[0]
    return [Case("4 points in 2-D (3-4-5 triangles)", (np.array([[0, 0], [3, 0], [0, 4], [3, 4]], np.float32) / 5,)),
            Case("6 unit rows in 3-D, rows 0 and 3 identical (a zero distance off the diagonal)", (x,)),
            Case("the same, squared=True", (x,), {"squared": True})]


def _upstream(n: int) -> np.ndarray:
    """Fixed weights (n, n) of the distances in the gradient check, none of them 0."""
    return 1.5 + np.cos(np.arange(n * n, dtype=np.float64)).reshape(n, n)


def _distance_outcome(fn: Callable, dtype) -> Callable:
    def outcome(case: Case):
        n = len(case.args[0])
        return _value_and_gradient(fn, [case.args[0]], (), case.kwargs, dtype, weights=_upstream(n))

    return outcome


def _distance_variant(kind="right", ignore_flag=None):
    """pairwise distances in float64: right (safe sqrt), cosine, a flipped cross term, or ignoring `squared`."""

    def distances(x, squared=False):
        tf = _tensorflow()
        if ignore_flag is not None:
            squared = ignore_flag
        if kind == "cosine":
            unit = x / tf.norm(x, axis=1, keepdims=True)
            return 1.0 - unit @ tf.transpose(unit)
        norms = tf.reduce_sum(x * x, axis=1)
        cross = -2.0 if kind == "right" else 2.0
        d = tf.nn.relu(norms[:, None] + cross * (x @ tf.transpose(x)) + norms[None, :])
        d = d * (1 - tf.eye(tf.shape(x)[0], dtype=x.dtype))
        if squared:
            return d
        zero = tf.cast(d < ml.ZERO_DISTANCE, d.dtype)
        return tf.sqrt(d + zero * ml.ZERO_DISTANCE) * (1 - zero)

    return distances


PAIRWISE_DISTANCES = Exercise(
    name="pairwise_distances",
    cases=_distance_cases,
    reference=lambda case: _distance_outcome(_distance_variant(), "float64")(case),
    compare=compare_value_and_gradient(DISTANCE_ATOL),
    call=_guarded(lambda fns, case: _distance_outcome(fns["pairwise_distances"], "float32")(case),
                  "pairwise_distances"),
    from_scratch=False,
    tolerance=f"distances atol={DISTANCE_ATOL:g}; gradient rtol={GRAD_RTOL:g}, atol={GRAD_ATOL:g} (float32)",
    mistakes=[
        Mistake("those are squared distances: with squared=False return their square root (the Euclidean "
                "distance).", _distance_outcome(_distance_variant(ignore_flag=True), "float64")),
        Mistake("squared=True asks for the squared distances, without the square root.",
                _distance_outcome(_distance_variant(ignore_flag=False), "float64")),
        Mistake("the cross term has the wrong sign: ||a - b||^2 = ||a||^2 - 2 a.b + ||b||^2.",
                _distance_outcome(_distance_variant(kind="plus"), "float64")),
        Mistake("that is the cosine distance 1 - cos; this function returns Euclidean distances.",
                _distance_outcome(_distance_variant(kind="cosine"), "float64")),
    ],
)


# ---------------------------------------------------------------------------------------------------------
# batch_hard_triplet_loss and batch_semi_hard_triplet_loss
# ---------------------------------------------------------------------------------------------------------

# Angles 0 and 2 rad (class 0), 0.5 and 0.8 rad (class 1) on the unit circle.
CIRCLE_CASE = np.stack([np.cos([0.0, 2.0, 0.5, 0.8]), np.sin([0.0, 2.0, 0.5, 0.8])], axis=1).astype(np.float32)


def _batch_cases(which: str, salt: int) -> list[Case]:
    rng = _rng(which, salt)
    if which == HIDDEN:
        labels = np.array([5, 1, 5, 3, 1, 3, 5, 1, 7])  # class 7: a single image, no positive
        big = np.repeat(np.arange(4), 6)
        rng.shuffle(big)
        duplicated = clustered(rng, [0, 0, 1, 1, 2, 2], 4)
        duplicated[1] = duplicated[0]
        x = clustered(rng, labels, 6)
        return [Case("9 images, labels 1, 3, 5 and a single 7, margin 0.3", (labels, x), {"margin": 0.3}),
                Case("4 classes x 6 images in 8-D, margin 0.1", (big, clustered(rng, big, 8, 0.9)), {"margin": 0.1}),
                Case("identical embeddings inside a class", (np.array([0, 0, 1, 1, 2, 2]), duplicated),
                     {"margin": 0.2}),
                bad_input("every image its own class, no anchor has a positive", (np.arange(5), unit_rows(rng, 5, 3)),
                          {"margin": 0.2}),
                bad_input("a negative margin", (labels, x), {"margin": -1.0})]
    labels = np.array([0, 1, 0, 2, 1, 0, 2, 3])  # class 3 has a single image
    x = clustered(rng, labels, 4)
    few = np.array([0, 0, 1, 1])
    duplicated = clustered(rng, few, 3)
    duplicated[1] = duplicated[0]
    return [Case("8 images, 4 classes (class 3 has one image), margin 0.5", (labels, x), {"margin": 0.5}),
            Case("2 classes x 2 images, the two images of class 0 identical; margin 2.5, more than any distance on "
                 "the sphere, so every hinge is active", (few, duplicated), {"margin": 2.5}),
            Case("on the unit circle: class 0 at 0 and 2 rad, class 1 between them (no negative is farther than "
                 "the positive)", (few, CIRCLE_CASE), {"margin": 0.2}),
            bad_input("one class only, no anchor has a negative", (np.zeros(4, np.int64), unit_rows(rng, 4, 3)),
                      {"margin": 0.2}),
            bad_input("NaN embeddings", (labels, np.where(x > 0.4, np.nan, x).astype(np.float32)), {"margin": 0.2}),
            bad_input("margin 0", (labels, x), {"margin": 0.0})]


def _batch_outcome(loss: Callable, dtype="float64") -> Callable[[Case], object]:
    def outcome(case: Case):
        labels, embeddings = case.args
        return _value_and_gradient(lambda e, **kw: loss(labels, e, **kw), [embeddings], (), case.kwargs, dtype)

    return outcome


def _batch_call(name: str) -> Callable:
    def call(fns: dict, case: Case):
        return _batch_outcome(fns[name], "float32")(case)

    return call


def _distances_and_masks(labels, x, squared=False, self_positive=False):
    """(distances (B, B), positive mask, negative mask) of a batch, the masks as float tensors of the distances'
    dtype; self_positive counts the diagonal as a positive."""
    tf = _tensorflow()
    d = _distance_variant()(x, squared=squared)
    labels = np.asarray(labels)
    same = labels[:, None] == labels[None, :]
    positive = same if self_positive else same & ~np.eye(len(labels), dtype=bool)
    return d, tf.constant(positive, d.dtype), tf.constant(~same, d.dtype)


def _batch_hard_variant(positive="farthest", negative="nearest", self_positive=False, sign=1.0, reduce="mean",
                        squared=False):
    """Batch-hard loss in float64 TensorFlow, right by default or with one classic mistake."""

    def loss(labels, x, margin=ml.DEFAULT_MARGIN):
        tf = _tensorflow()
        d, pos, neg = _distances_and_masks(labels, x, squared, self_positive)
        if negative == "any":
            neg = 1 - tf.eye(tf.shape(x)[0], dtype=d.dtype)
        pick = {"farthest": ml._masked_max, "nearest": ml._masked_min}
        d_ap = pick[positive](d, pos, 1)[:, 0]
        d_an = pick[negative if negative != "any" else "nearest"](d, neg, 1)[:, 0]
        valid = tf.cast(tf.reduce_sum(pos, axis=1) > 0, d.dtype)
        hinge = tf.nn.relu(d_ap - d_an + sign * margin) * valid
        return tf.reduce_sum(hinge) if reduce == "sum" else tf.reduce_sum(hinge) / tf.reduce_sum(valid)

    return loss


DIAGONAL_HINT = ("the anchor itself was counted as its own positive (the diagonal of the label mask): positives are "
                 "the other images of the same class, and an anchor without one is left out of the mean.")
SUM_HINT = "that is the sum; the loss is the mean over the anchors that have a positive."
SQUARED_HINT = "those are squared distances; these losses use Euclidean ones, pairwise_distances(embeddings)."
MARGIN_SIGN_HINT = "the margin sign is flipped: the hinge is max(d(a,p) - d(a,n) + margin, 0)."

def _batch_exercise(name: str, salt: int, variant: Callable, mistakes: list[Mistake]) -> Exercise:
    """A batch loss exercise: value and gradient against the right variant, then the bad-input cases."""
    return Exercise(name=name, cases=lambda which: _batch_cases(which, salt),
                    reference=_reference_or_raise(_batch_outcome(variant())),
                    compare=_judging_bad_input(compare_value_and_gradient()), call=_guarded(_batch_call(name), name),
                    from_scratch=False, tolerance=LOSS_TOLERANCE, mistakes=mistakes)


BATCH_HARD = _batch_exercise(
    "batch_hard_triplet_loss", 2, _batch_hard_variant, [
        Mistake("the hardest positive was taken as the nearest one: batch-hard takes the farthest positive "
                "(max over the positive mask) and the nearest negative.",
                _batch_outcome(_batch_hard_variant(positive="nearest"))),
        Mistake(DIAGONAL_HINT, _batch_outcome(_batch_hard_variant(self_positive=True))),
        Mistake(DIAGONAL_HINT, _batch_outcome(_batch_hard_variant(positive="nearest", self_positive=True))),
        Mistake("the hardest negative is the nearest image of another class (min over the negative mask), not "
                "the farthest.", _batch_outcome(_batch_hard_variant(negative="farthest"))),
        Mistake("the nearest 'negative' was searched among all other images: it must have another label (mask "
                "the positives out before taking the minimum).", _batch_outcome(_batch_hard_variant(negative="any"))),
        Mistake(MARGIN_SIGN_HINT, _batch_outcome(_batch_hard_variant(sign=-1.0))),
        Mistake(SUM_HINT, _batch_outcome(_batch_hard_variant(reduce="sum"))),
        Mistake(SQUARED_HINT, _batch_outcome(_batch_hard_variant(squared=True))),
    ])


def _semi_hard_variant(fallback="farthest", choose="semi_hard", self_positive=False, sign=1.0, reduce="pairs",
                       squared=False):
    """Semi-hard loss in float64 TensorFlow (TensorFlow Addons' rule), right by default or with one mistake."""

    def loss(labels, x, margin=ml.DEFAULT_MARGIN):
        tf = _tensorflow()
        d, pos, neg = _distances_and_masks(labels, x, squared, self_positive)
        n = d.shape[0]
        d_an = tf.broadcast_to(d[:, None, :], (n, n, n))
        negatives = tf.broadcast_to(neg[:, None, :], d_an.shape)
        farther = negatives * tf.cast(d_an > d[:, :, None], d.dtype)
        nearest_negative = ml._masked_min(d, neg, 1)
        extreme = ml._masked_max(d, neg, 1) if fallback == "farthest" else nearest_negative
        semi = ml._masked_min(d_an, farther, 2)[:, :, 0]
        has = tf.cast(tf.reduce_sum(farther, axis=2) > 0, d.dtype)
        chosen = has * semi + (1 - has) * extreme if choose == "semi_hard" else nearest_negative
        hinge = tf.nn.relu(d - chosen + sign * margin) * pos
        total = tf.reduce_sum(hinge)
        return {"pairs": total / tf.reduce_sum(pos), "sum": total, "all": total / tf.cast(tf.size(d), d.dtype)}[reduce]

    return loss


SEMI_HARD = _batch_exercise(
    "batch_semi_hard_triplet_loss", 3, _semi_hard_variant, [
        Mistake("that is the hardest negative (the nearest one, as in batch-hard); semi-hard takes the nearest "
                "negative that is farther than the positive, d(a,n) > d(a,p).",
                _batch_outcome(_semi_hard_variant(choose="nearest"))),
        Mistake("when no negative is farther than the positive, take the farthest negative (TensorFlow Addons' "
                "rule), not the nearest one.", _batch_outcome(_semi_hard_variant(fallback="nearest"))),
        Mistake("the pairs (a, a) were counted as positive pairs (the diagonal of the label mask): a positive is "
                "another image of the same class.", _batch_outcome(_semi_hard_variant(self_positive=True))),
        Mistake("divide by the number of positive pairs (a, p), not by B * B.",
                _batch_outcome(_semi_hard_variant(reduce="all"))),
        Mistake("that is the sum over the positive pairs; the loss is their mean.",
                _batch_outcome(_semi_hard_variant(reduce="sum"))),
        Mistake(MARGIN_SIGN_HINT, _batch_outcome(_semi_hard_variant(sign=-1.0))),
        Mistake(SQUARED_HINT, _batch_outcome(_semi_hard_variant(squared=True))),
    ])


# ---------------------------------------------------------------------------------------------------------
# build_embedding_net
# ---------------------------------------------------------------------------------------------------------

PROBE_BATCH = 5


def _net_cases(which: str) -> list[Case]:
    if which == HIDDEN:
        return [Case("20x20 grey images -> 8-D", ((20, 20, 1), 8)), Case("48x48 colour images -> 64-D", ((48, 48, 3), 64))]
    return [Case("28x28 grey digits -> 32-D", ((28, 28, 1), 32)), Case("32x32 colour images -> 16-D", ((32, 32, 3), 16))]


def _call_net(fns: dict, case: Case):
    from dlcourse.environment import import_tensorflow

    keras = import_tensorflow()[1]
    input_shape, dim = case.args
    model = fns["build_embedding_net"](input_shape, dim)
    if not isinstance(model, keras.Model):
        raise TypeError(f"build_embedding_net returned {type(model).__name__}; return the keras.Model you built")
    probe = _rng("public", 40 + dim).uniform(size=(PROBE_BATCH, *input_shape)).astype(np.float32)
    output = np.asarray(model(probe, training=False))
    return output, float(sum(int(np.prod(w.shape)) for w in model.trainable_weights))


def _compare_net(expected, got) -> str | None:
    if not isinstance(got, tuple) or len(got) != 2:
        return "the check could not read the model's output"
    output, trainable = got
    if output.shape != tuple(expected):
        return (f"the output has shape {output.shape} for a batch of {PROBE_BATCH}, expected {tuple(expected)}: "
                "keras.Input(shape=input_shape), and a last Dense(dim) before the normalisation")
    if trainable == 0:
        return "the model has no trainable weights"
    rows, columns = np.linalg.norm(output, axis=1), np.linalg.norm(output, axis=0)
    if not np.allclose(rows, 1, atol=1e-3):
        if np.allclose(columns, 1, atol=1e-3):
            return ("the output was normalised over the batch axis (each column has norm 1): normalise each "
                    "embedding, i.e. every row, over axis=-1")
        if np.all(output >= 0) and np.allclose(output.sum(axis=1), 1, atol=1e-3):
            return ("the rows sum to 1 (a softmax); the embedding needs unit L2 norm: end with "
                    "keras.layers.UnitNormalization()")
        return (f"the output is not L2-normalised (row norms {np.round(rows, 3)}): end the net with "
                "keras.layers.UnitNormalization(), so that every embedding lies on the unit sphere")
    if np.ptp(output, axis=0).max() < 1e-6:
        return "every input gives the same embedding: the output does not depend on the image"
    return None


BUILD_EMBEDDING_NET = Exercise(
    name="build_embedding_net",
    cases=_net_cases,
    reference=lambda case: np.array([PROBE_BATCH, case.args[1]], np.float64),
    compare=_compare_net,
    call=_guarded(_call_net, "build_embedding_net"),
    from_scratch=False,
    tolerance="output shape exact; every row norm within 1e-3 of 1",
)


# ---------------------------------------------------------------------------------------------------------
# precision_at_1 and map_at_r
# ---------------------------------------------------------------------------------------------------------

# The notebook's hand-computed case: six points on a line, labels A = 0 and B = 1.
HAND_POINTS = np.array([[0.0], [1.0], [2.5], [4.5], [6.0], [9.8]])
HAND_LABELS = np.array([0, 0, 1, 0, 1, 1])


def _metric_cases(which: str, salt: int) -> list[Case]:
    rng = _rng(which, salt)
    if which == HIDDEN:
        labels = np.repeat(np.arange(5), [7, 2, 5, 9, 3])
        rng.shuffle(labels)
        wide = np.repeat(np.arange(3), [12, 4, 1])
        return [Case("26 images, classes of 7, 2, 5, 9 and 3", (clustered(rng, labels, 5, 1.0), labels)),
                Case("17 images in 8-D, one class with a single image", (clustered(rng, wide, 8, 1.2), wide)),
                Case("perfectly separated classes", (clustered(rng, labels, 6, 0.01), labels))]
    labels = np.repeat(np.arange(4), [3, 5, 1, 6])
    rng.shuffle(labels)
    return [Case("the notebook's six points on a line", (HAND_POINTS, HAND_LABELS)),
            Case("15 images in 3-D, classes of 3, 5, 1 and 6", (clustered(rng, labels, 3, 1.0), labels))]


def _sorted_neighbours(embeddings, labels, keep_self=False, farthest=False):
    """labels (N,), neighbour labels (N, N or N - 1) by distance; the query itself first when keep_self."""
    x, labels = _as_float64(embeddings), np.asarray(labels)
    d = np.sum((x[:, None] - x[None]) ** 2, axis=2)
    d = -d if farthest else d
    if not keep_self:
        np.fill_diagonal(d, np.inf)
    order = np.argsort(d, axis=1, kind="stable")
    return labels, labels[order if keep_self else order[:, :-1]]


def _map_variant(r_rule="class", score="map", skip_empty=True, keep_self=False):
    """MAP@R by the definition, or with one classic mistake."""

    def metric(case: Case) -> float:
        labels, neighbours = _sorted_neighbours(*case.args, keep_self=keep_self)
        correct = neighbours == labels[:, None]
        r = {"class": correct.sum(axis=1) - keep_self, "with_self": correct.sum(axis=1) + 1,
             "nearest": np.array([np.sum(labels == n) - 1 for n in neighbours[:, 0]])}[r_rule]
        ranks = np.arange(1, correct.shape[1] + 1)
        within = ranks[None, :] <= r[:, None]
        precision = np.cumsum(correct, axis=1) / ranks
        hits = correct * within
        per_query = {"map": np.sum(precision * hits, axis=1) / np.maximum(r, 1),
                     "ap_hits": np.sum(precision * hits, axis=1) / np.maximum(hits.sum(axis=1), 1),
                     "r_precision": hits.sum(axis=1) / np.maximum(r, 1),
                     "all_ranks": np.sum(precision * within, axis=1) / np.maximum(r, 1)}[score]
        return float(np.mean(per_query[r > 0] if skip_empty else per_query))

    return metric


def _p1_variant(keep_self=False, farthest=False, majority=False):
    def metric(case: Case) -> float:
        labels, neighbours = _sorted_neighbours(*case.args, keep_self=keep_self, farthest=farthest)
        if majority:
            votes = [np.bincount(row[:3]).argmax() for row in neighbours]
            return float(np.mean(np.array(votes) == labels))
        return float(np.mean(neighbours[:, 0] == labels))

    return metric


def _metric_exercise(name: str, salt: int, mistakes: list[Mistake]) -> Exercise:
    """A retrieval metric exercise (NumPy, from scratch): the library's metric of that name is the reference."""
    metric = getattr(ml, name)
    return Exercise(name=name, cases=lambda which: _metric_cases(which, salt),
                    reference=lambda case: metric(*case.args), compare=close_arrays(0, 1e-6),
                    tolerance="atol=1e-6 (a fraction)", mistakes=mistakes)


PRECISION_AT_1 = _metric_exercise(
    "precision_at_1", 4, [
        Mistake("each image found itself (distance 0) as its nearest neighbour: leave the query out of its own "
                "search (set the diagonal of the distance matrix to inf).", _p1_variant(keep_self=True)),
        Mistake("that is the farthest image: the nearest neighbour has the smallest distance (argmin), or the "
                "largest similarity.", _p1_variant(farthest=True)),
        Mistake("that is a 3-nearest-neighbour vote; precision@1 looks at the single nearest image.",
                _p1_variant(majority=True)),
    ])

MAP_AT_R = _metric_exercise(
    "map_at_r", 5, [
        Mistake("R counted the query itself: R is the number of *other* images of the query's class.",
                _map_variant(r_rule="with_self")),
        Mistake("R came from the wrong class (the nearest neighbour's): R is the number of other images with the "
                "query's own label.", _map_variant(r_rule="nearest")),
        Mistake("the sum was divided by the number of hits among the R nearest; MAP@R divides by R, so missing "
                "matches cost.", _map_variant(score="ap_hits")),
        Mistake("that is R-precision (the fraction of hits among the R nearest); MAP@R averages precision@i "
                "over the ranks i <= R that are hits (0 for misses), divided by R.",
                _map_variant(score="r_precision")),
        Mistake("precision@i was added at every rank i <= R; only ranks whose neighbour has the query's label "
                "count (a miss adds 0).", _map_variant(score="all_ranks")),
        Mistake("a query whose class has no other image (R = 0) has nothing to retrieve: leave it out of the "
                "mean instead of counting 0.", _map_variant(skip_empty=False)),
        Mistake("each image found itself as its first neighbour: leave the query out of its own search.",
                _map_variant(keep_self=True)),
    ])

EXERCISES = (TRIPLET_LOSS, PAIRWISE_DISTANCES, BATCH_HARD, SEMI_HARD, BUILD_EMBEDDING_NET, PRECISION_AT_1, MAP_AT_R)

check_triplet_loss = checker(TRIPLET_LOSS)
check_pairwise_distances = checker(PAIRWISE_DISTANCES)
check_batch_hard_triplet_loss = checker(BATCH_HARD)
check_batch_semi_hard_triplet_loss = checker(SEMI_HARD)
check_build_embedding_net = checker(BUILD_EMBEDDING_NET)
check_precision_at_1 = checker(PRECISION_AT_1)
check_map_at_r = checker(MAP_AT_R)

__all__ = ["CheckFailure", "EXERCISES", "check_batch_hard_triplet_loss", "check_batch_semi_hard_triplet_loss",
           "check_build_embedding_net", "check_map_at_r", "check_pairwise_distances", "check_precision_at_1",
           "check_triplet_loss"]
