"""Checks of module 06_transfer_learning: a transfer model on an ImageNet backbone, fine-tuning, features.

The kernel computes, the judge compares plain data. Each check builds a real backbone (EfficientNet-Lite0 in the
public cases, MobileNetV2's architecture in the hidden ones; random weights where the values do not matter, so
that no network is needed), calls the student's function, reads what it made through Keras 3's public API
(``model.layers``, layer types, ``trainable_weights``, ``optimizer.learning_rate``, ``model.loss``) and how it
behaves (outputs with and without a batch around them), and returns numbers. The judge compares those numbers
with the recipe and names the mistake: a trainable base, BatchNormalization unfrozen, the base called with
training=True, a head on ImageNet's class scores (include_top=True), no recompile, the rate not lowered, images
scaled out of [0, 1]. Which layers train is read per layer, so ``layer.trainable = None`` (which Keras reads as
False) fails like any other wrong set of frozen layers. An answer that uses the course's own implementations
(:mod:`dlcourse.models.transfer` and the rest of dlcourse; ``import_tensorflow`` aside) is refused before it runs.

The training check fine-tunes the student's model to tell which of 8 bundled photos a patch shows, from patches of
the photos' top halves, and judges it on their bottom halves (benchmarks/bench_transfer.py measures the margin).
"""
from __future__ import annotations

import functools

import numpy as np

from ..models.backbones import pretrained_backbone, random_init_backbone
from ..models.transfer import (FINE_TUNE_DIVISOR, PATCH_PHOTOS, base_of, compile_classifier, photo_patches,
                               pooled_features, trainable_counts, transfer_model)
from .core import (HIDDEN, Case, Exercise, Mistake, accuracy_at_least, case_rng, checker, close_arrays,
                   course_code_calls)

MODULE = 6
PROBE_BATCH = 4
IMAGENET_CLASSES = 1000


def _keras():
    from dlcourse.environment import import_tensorflow

    return import_tensorflow()[1]


def _type_name(value) -> str:
    return "None" if value is None else f"a {type(value).__module__}.{type(value).__qualname__}"


@functools.lru_cache(maxsize=8)
def _built_backbone(name: str, size: int, pretrained: bool):
    build = pretrained_backbone if pretrained else random_init_backbone
    return build(name, input_shape=(size, size, 3))


def _backbone(name: str, size: int, pretrained: bool):
    """The backbone of a case, images [0, 1] (N, size, size, 3) -> feature map, every layer trainable again.

    Built once per kind and reused (building is the slow part of these checks): the checks change only
    trainable flags, never weights, and reset them here.
    """
    backbone = _built_backbone(name, size, pretrained)
    backbone.trainable = True
    return backbone


def _own_work(name: str, call):
    """The check's call of the student's function name, after refusing an answer that uses the course's code."""

    def guarded(fns: dict, case: Case):
        used = course_code_calls(fns[name])
        if used:
            raise ValueError(f"{name} uses {', '.join(used)}: the course's reference implementations earn no "
                             "points; write the function with Keras and the model or backbone passed in")
        return call(fns, case)

    return guarded


def _probe_images(size: int, salt: int) -> np.ndarray:
    """Fixed images in [0, 1] for behaviour probes: (PROBE_BATCH, size, size, 3) float32."""
    return np.random.default_rng((MODULE, salt)).random((PROBE_BATCH, size, size, 3), dtype=np.float32)


# ---------------------------------------------------------------------------------------------------------
# build_transfer_model
# ---------------------------------------------------------------------------------------------------------

# The facts read from a transfer model, in this order (one float each).
MODEL_FACTS = ("uses_backbone", "base_frozen", "head_inputs", "dense_layers", "classes", "dropout", "pooling",
               "probabilities", "batch_independent")
POOLING_CODES = {"GlobalAveragePooling2D": 1, "GlobalMaxPooling2D": 2, "Flatten": 3}


def transfer_model_facts(model, backbone, num_classes: int) -> np.ndarray:
    """What a student's transfer model is, as MODEL_FACTS numbers (the model is changed while probing)."""
    keras = _keras()
    if not isinstance(model, keras.Model):
        raise TypeError(f"build_transfer_model returned {_type_name(model)}; return the keras.Model you built")
    top = model.layers
    denses = [layer for layer in top if isinstance(layer, keras.layers.Dense)]
    pooling = [POOLING_CODES[type(layer).__name__] for layer in top if type(layer).__name__ in POOLING_CODES]
    size = backbone.input_shape[1]
    images = _probe_images(size, salt=1)
    outputs = keras.ops.convert_to_numpy(model(images, training=False))
    probabilities = (outputs.shape == (len(images), num_classes) and bool(np.all(outputs >= -1e-6))
                     and np.allclose(outputs.sum(axis=1), 1.0, atol=1e-4))
    facts = {
        "uses_backbone": float(any(layer is backbone for layer in top)),
        "base_frozen": float(len(backbone.trainable_weights) == 0),
        "head_inputs": float(denses[-1].kernel.shape[0]) if denses else -1.0,
        "dense_layers": float(len(denses)),
        "classes": float(outputs.shape[-1]) if outputs.ndim == 2 else -1.0,
        "dropout": float(sum(layer.rate for layer in top if isinstance(layer, keras.layers.Dropout))),
        "pooling": float(pooling[0]) if pooling else 0.0,
        "probabilities": float(probabilities),
        "batch_independent": float(_batch_independent(model, backbone, images)),
    }
    return np.array([facts[name] for name in MODEL_FACTS])


def _batch_independent(model, backbone, images) -> bool:
    """Whether one image's output is the same alone and in a batch, with the base's BatchNorm made trainable.

    The model is called without a training argument, so the base runs with the training flag it was called with
    when the model was built: training=True puts its BatchNormalization layers on batch statistics.
    """
    keras = _keras()
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dropout):
            layer.rate = 0.0
    backbone.trainable = True
    together = keras.ops.convert_to_numpy(model(images))[:1]
    alone = keras.ops.convert_to_numpy(model(images[:1]))
    return bool(np.allclose(together, alone, atol=1e-4))


def _call_build(fns: dict, case: Case) -> np.ndarray:
    name, size, num_classes = case.args
    backbone = _backbone(name, size, pretrained=False)
    model = fns["build_transfer_model"](backbone, num_classes, **case.kwargs)
    return transfer_model_facts(model, backbone, num_classes)


def _feature_channels(name: str, size: int) -> int:
    return int(_backbone(name, size, pretrained=False).output_shape[-1])


def _expected_model_facts(case: Case) -> np.ndarray:
    name, size, num_classes = case.args
    facts = {"uses_backbone": 1, "base_frozen": 1, "head_inputs": _feature_channels(name, size), "dense_layers": 1,
             "classes": num_classes, "dropout": case.kwargs.get("dropout", 0.2), "pooling": 1, "probabilities": 1,
             "batch_independent": 1}
    return np.array([float(facts[name]) for name in MODEL_FACTS])


MODEL_HINTS = {
    "uses_backbone": "the model does not contain the backbone passed in: call it on your input, "
                     "x = backbone(inputs, training=False), and build the head on its output (a new or ready-made "
                     "network instead of `backbone` is not transfer learning from it)",
    "base_frozen": "the base is trainable: set backbone.trainable = False before training the new head, or the "
                   "large random gradients of the new head wreck the pretrained weights",
    "pooling": "average the feature map over its positions with layers.GlobalAveragePooling2D() before the head",
    "dense_layers": "the head is one Dense layer with num_classes units (after pooling and dropout)",
    "classes": "the Dense head has num_classes units",
    "dropout": "put one layers.Dropout(dropout) between the pooling and the Dense head, with the rate passed in",
    "probabilities": "the head outputs class probabilities: Dense(num_classes, activation='softmax') (or a Dense "
                     "followed by layers.Softmax())",
    "batch_independent": "the base runs in training mode (training=True): its BatchNormalization layers then use "
                         "each batch's statistics, so an image's prediction depends on the other images in the "
                         "batch; call the base with training=False",
}


def compare_model_facts(expected, got) -> str | None:
    """None when the facts of a transfer model match the recipe; else what differs and what to do."""
    if isinstance(got, tuple) or np.shape(got) != np.shape(expected):
        return "the check could not read your model"
    values = dict(zip(MODEL_FACTS, got))
    wanted = dict(zip(MODEL_FACTS, expected))
    if values["head_inputs"] == IMAGENET_CLASSES and wanted["head_inputs"] != IMAGENET_CLASSES:
        return ("your head reads 1000 values: the ImageNet class scores of a network with its top "
                "(include_top=True, or an ImageNet classifier). Transfer learning replaces that top: put the new "
                f"head on the backbone's feature map ({int(wanted['head_inputs'])} channels), the backbone passed in")
    for fact in ("uses_backbone", "base_frozen", "pooling", "dense_layers", "classes", "dropout", "probabilities",
                 "batch_independent"):
        if not np.isclose(values[fact], wanted[fact]):
            return f"{fact.replace('_', ' ')}: expected {wanted[fact]:g}, got {values[fact]:g}; {MODEL_HINTS[fact]}"
    return None


def _model_cases(which: str) -> list[Case]:
    if which == HIDDEN:
        return [Case("MobileNetV2 base on 48x48 images, 5 classes, dropout=0.3", ("mobilenet_v2", 48, 5),
                     {"dropout": 0.3}),
                Case("EfficientNet-Lite0 base on 32x32 images, 2 classes, default dropout", ("efficientnet_lite0", 32, 2))]
    return [Case("EfficientNet-Lite0 base on 64x64 images, 3 classes, default dropout (0.2)",
                 ("efficientnet_lite0", 64, 3)),
            Case("EfficientNet-Lite0 base on 64x64 images, 10 classes, dropout=0.5", ("efficientnet_lite0", 64, 10),
                 {"dropout": 0.5})]


BUILD_TRANSFER_MODEL = Exercise(
    name="build_transfer_model",
    cases=_model_cases,
    call=_own_work("build_transfer_model", _call_build),
    reference=_expected_model_facts,
    compare=compare_model_facts,
    from_scratch=False,
    tolerance="the structure of the recipe: base used and frozen, pooling, dropout, one softmax Dense head",
)


# ---------------------------------------------------------------------------------------------------------
# unfreeze_top
# ---------------------------------------------------------------------------------------------------------

def _transfer_case_model(name: str, size: int, num_classes: int):
    """A reference transfer model on a fresh random backbone, compiled as after the head's training."""
    model = transfer_model(_backbone(name, size, pretrained=False), num_classes)
    return compile_classifier(model, 1e-3)


def trainable_table(model) -> np.ndarray:
    """(2, 1 + L): row 0 the trainable variable counts of the head and of each base layer, row 1 which base
    layers are BatchNormalization (1) and which have weights at all (2 for the others with weights)."""
    keras = _keras()
    head, per_layer = trainable_counts(model)
    kinds = [1 if isinstance(layer, keras.layers.BatchNormalization) else 2 if layer.weights else 0
             for layer in base_of(model).layers]
    return np.array([[head, *per_layer], [0, *kinds]], dtype=np.float64)


def _call_unfreeze(fns: dict, case: Case) -> np.ndarray:
    name, size, n_layers = case.args
    model = _transfer_case_model(name, size, 3)
    fns["unfreeze_top"](model, n_layers)
    return trainable_table(model)


@functools.lru_cache(maxsize=8)
def _expected_trainable(name: str, size: int, n_layers: int) -> np.ndarray:
    from ..models.transfer import unfreeze_top_layers

    model = _transfer_case_model(name, size, 3)
    return trainable_table(unfreeze_top_layers(model, n_layers))


def compare_trainable(expected, got) -> str | None:
    """None when the same base layers train; else which ones differ and the likely cause."""
    if isinstance(got, tuple) or np.shape(got) != np.shape(expected):
        return "the check could not read which layers train"
    counts, kinds = got[0], expected[1]
    want = expected[0]
    if counts[0] == 0:
        return "the new head is frozen: only base layers change trainable; the head must keep training"
    base, want_base = counts[1:], want[1:]
    if np.array_equal(base, want_base):
        return None
    batchnorm = kinds[1:] == 1
    if base.sum() == 0:
        return ("nothing in the base trains: set base.trainable = True first (it sets every layer of the base), "
                "then freeze all but the top n_layers with layer.trainable = False. Note that "
                "`layer.trainable = None` is read as False, and that a frozen nested model freezes all its layers")
    if np.any(base[batchnorm] > 0):
        return (f"{int(np.count_nonzero(base[batchnorm]))} BatchNormalization layer(s) train: keep every "
                "BatchNormalization layer frozen (layer.trainable = False). A trainable BN layer runs on batch "
                "statistics during fit and its moving statistics drift away from the ones the weights expect")
    trains, should = np.flatnonzero(base > 0), np.flatnonzero(want_base > 0)
    where = (f"layers {trains.min()}..{trains.max()} of the base's {len(base)} have trainable weights, expected "
             f"{should.min()}..{should.max()}" if len(trains) and len(should) else "")
    weighted = np.flatnonzero((kinds[1:] == 2))
    if len(trains) and np.all(base[weighted] > 0) and not np.all(want_base[weighted] > 0):
        return f"{where}: the whole base trains; only the top n_layers, base.layers[-n_layers:], do"
    return (f"{where}: the top n_layers are base.layers[-n_layers:], counted over all the base's layers "
            "(those without weights too)")


def _unfreeze_cases(which: str) -> list[Case]:
    if which == HIDDEN:
        return [Case("MobileNetV2 base (48x48), the top 30 layers", ("mobilenet_v2", 48, 30)),
                Case("EfficientNet-Lite0 base (32x32), the top 5 layers", ("efficientnet_lite0", 32, 5))]
    return [Case("EfficientNet-Lite0 base (64x64), the top 20 layers", ("efficientnet_lite0", 64, 20)),
            Case("EfficientNet-Lite0 base (64x64), the top 60 layers", ("efficientnet_lite0", 64, 60))]


UNFREEZE_TOP = Exercise(
    name="unfreeze_top",
    cases=_unfreeze_cases,
    call=_own_work("unfreeze_top", _call_unfreeze),
    reference=lambda case: _expected_trainable(*case.args),
    compare=compare_trainable,
    from_scratch=False,
    tolerance="exact: the trainable variables of every layer, read from model.trainable_weights",
)


# ---------------------------------------------------------------------------------------------------------
# compile_for_fine_tuning
# ---------------------------------------------------------------------------------------------------------

COMPILE_FACTS = ("recompiled", "learning_rate", "loss")
# The compiled loss is judged by its value on these integer labels and probabilities.
LOSS_LABELS = np.array([0, 1, 2, 1])
LOSS_PROBS = np.array([[0.7, 0.2, 0.1], [0.1, 0.6, 0.3], [0.2, 0.2, 0.6], [0.5, 0.4, 0.1]], dtype=np.float32)


def _loss_value(model) -> float:
    """The model's compiled loss on fixed labels and probabilities (mean); NaN when it cannot be evaluated."""
    keras = _keras()
    loss = keras.losses.get(model.loss) if isinstance(model.loss, str) else model.loss
    if loss is None:
        return float("nan")
    return float(np.mean(keras.ops.convert_to_numpy(loss(LOSS_LABELS, LOSS_PROBS))))


def _call_compile(fns: dict, case: Case) -> np.ndarray:
    name, size, rate = case.args
    model = _transfer_case_model(name, size, 3)
    before = model.optimizer
    fns["compile_for_fine_tuning"](model, rate)
    learning_rate = _keras().ops.convert_to_numpy(model.optimizer.learning_rate)
    return np.array([float(model.optimizer is not before), float(learning_rate), _loss_value(model)])


def _expected_compile(case: Case) -> np.ndarray:
    keras = _keras()
    loss = float(np.mean(keras.ops.convert_to_numpy(
        keras.losses.sparse_categorical_crossentropy(LOSS_LABELS, LOSS_PROBS))))
    return np.array([1.0, case.args[2] / FINE_TUNE_DIVISOR, loss])


def compare_compile(expected, got) -> str | None:
    """None when the model was recompiled at base_learning_rate / 10 with the same loss; else what is wrong."""
    if isinstance(got, tuple) or np.shape(got) != np.shape(expected):
        return "the check could not read the compiled model"
    recompiled, rate, loss = got
    if recompiled != 1:
        return ("the model was not recompiled: changing trainable (or the rate) takes effect only after "
                "model.compile(...) again, with a new optimizer")
    if not np.isclose(rate, expected[1], rtol=1e-5):
        lowered = "the rate was not lowered" if np.isclose(rate, expected[1] * FINE_TUNE_DIVISOR, rtol=1e-5) else \
            f"learning rate {rate:.3g}"
        return (f"{lowered}: fine-tuning uses base_learning_rate / {FINE_TUNE_DIVISOR} = {expected[1]:.3g}, so "
                "that the pretrained weights move only a little")
    if not np.isclose(loss, expected[2], rtol=1e-4):
        return ("the loss is not sparse categorical cross-entropy on probabilities: the head ends in a softmax and "
                "the labels are integers, so loss='sparse_categorical_crossentropy' (from_logits=False)")
    return None


def _compile_cases(which: str) -> list[Case]:
    if which == HIDDEN:
        return [Case("MobileNetV2 base (48x48), base_learning_rate=3e-3", ("mobilenet_v2", 48, 3e-3))]
    return [Case("EfficientNet-Lite0 base (32x32), base_learning_rate=1e-3", ("efficientnet_lite0", 32, 1e-3))]


COMPILE_FOR_FINE_TUNING = Exercise(
    name="compile_for_fine_tuning",
    cases=_compile_cases,
    call=_own_work("compile_for_fine_tuning", _call_compile),
    reference=_expected_compile,
    compare=compare_compile,
    from_scratch=False,
    tolerance="a new optimizer, learning rate within 1e-5 (relative) of base_learning_rate / 10, the loss's value",
)


# ---------------------------------------------------------------------------------------------------------
# extract_features
# ---------------------------------------------------------------------------------------------------------

def _feature_case_images(which: str, size: int, count: int, salt: int) -> np.ndarray:
    return case_rng(MODULE, which, salt).random((count, size, size, 3), dtype=np.float32)


def _feature_cases(which: str) -> list[Case]:
    if which == HIDDEN:
        return [Case("MobileNetV2 base (random weights), 5 images of 48x48, batch_size=2",
                     ("mobilenet_v2", False, _feature_case_images(which, 48, 5, 11), 2))]
    return [Case("EfficientNet-Lite0 (ImageNet weights), 7 images of 64x64, batch_size=3",
                 ("efficientnet_lite0", True, _feature_case_images(which, 64, 7, 10), 3)),
            Case("EfficientNet-Lite0, 4 images, batch_size=4", ("efficientnet_lite0", True,
                                                                 _feature_case_images(which, 64, 4, 12), 4))]


def _call_features(fns: dict, case: Case):
    name, pretrained, images, batch_size = case.args
    backbone = _built_backbone.__wrapped__(name, images.shape[1], pretrained)  # its own: training=True changes it
    return fns["extract_features"](backbone, images, batch_size)


@functools.lru_cache(maxsize=4)
def _reference_backbone(name: str, size: int, pretrained: bool):
    """The backbone the reference features come from; only ever run in inference mode."""
    return _built_backbone.__wrapped__(name, size, pretrained)


def _reference_features(case: Case, training=False, pool="mean", drop_last=False) -> np.ndarray:
    name, pretrained, images, batch_size = case.args
    keras = _keras()
    size = images.shape[1]
    # training mode updates BatchNorm's moving statistics: that mistake runs on a copy of its own
    backbone = _built_backbone.__wrapped__(name, size, pretrained) if training else _reference_backbone(name, size,
                                                                                                         pretrained)
    if not (training or pool != "mean" or drop_last):
        return pooled_features(backbone, images, batch_size)
    stop = len(images) - len(images) % batch_size if drop_last else len(images)
    maps = [keras.ops.convert_to_numpy(backbone(images[i:i + batch_size], training=training))
            for i in range(0, stop, batch_size)]
    maps = np.concatenate(maps)
    return maps if pool == "none" else maps.max(axis=(1, 2)) if pool == "max" else maps.mean(axis=(1, 2))


EXTRACT_FEATURES = Exercise(
    name="extract_features",
    cases=_feature_cases,
    call=_own_work("extract_features", _call_features),
    reference=_reference_features,
    compare=close_arrays(rtol=1e-3, atol=1e-4),
    mistakes=[
        Mistake("the backbone ran in training mode (training=True): BatchNormalization then normalises with each "
                "batch's statistics and the features depend on the batch; call it with training=False (or use "
                "backbone.predict)", lambda case: _reference_features(case, training=True)),
        Mistake("these are the feature maps (N, h, w, C): average them over the positions, axes 1 and 2, to get "
                "one vector per image (N, C)", lambda case: _reference_features(case, pool="none")),
        Mistake("this is max pooling: the features are the global average over the positions (mean over axes 1 "
                "and 2)", lambda case: _reference_features(case, pool="max")),
        Mistake("the last, smaller batch is missing: loop with range(0, len(images), batch_size) so that the "
                "remainder is included", lambda case: _reference_features(case, drop_last=True)),
    ],
    from_scratch=False,
    tolerance="rtol=1e-3, atol=1e-4 (float32, any batching)",
)


# ---------------------------------------------------------------------------------------------------------
# The graded training cell: fine-tune to recognise photos from patches, judged on their held-out halves
# ---------------------------------------------------------------------------------------------------------

# benchmarks/bench_transfer.py runs this check with the solution and the correct alternatives over seeds: see the
# figures there. Chance is 1 / 8.
TRAIN_IMAGE_SIZE = 64
TRAIN_LABELS_PER_CLASS = 10
TRAIN_TEST_PER_CLASS = 25
TRAIN_ACCURACY_THRESHOLD = 0.60


@functools.lru_cache(maxsize=2)
def training_task(seed: int):
    """(x_train, y_train, x_test, y_test) of the training check: which of 8 bundled photos a patch comes from.

    TRAIN_LABELS_PER_CLASS patches per photo from the photos' top halves, TRAIN_TEST_PER_CLASS from their bottom
    halves (dlcourse.models.transfer.photo_patches): images (N, 64, 64, 3) in [0, 1], labels 0..7.
    """
    x_train, y_train = photo_patches(TRAIN_LABELS_PER_CLASS, TRAIN_IMAGE_SIZE, half="top", seed=seed)
    x_test, y_test = photo_patches(TRAIN_TEST_PER_CLASS, TRAIN_IMAGE_SIZE, half="bottom", seed=seed)
    return x_train, y_train, x_test, y_test


def _train_cases(which: str) -> list[Case]:
    seed = 1 if which == HIDDEN else 0
    return [Case(f"which of {len(PATCH_PHOTOS)} photos a patch shows: {TRAIN_LABELS_PER_CLASS} labelled patches per "
                 f"photo from the top halves, judged on {TRAIN_TEST_PER_CLASS} per photo from the bottom halves "
                 f"(seed {seed})", (), {"seed": seed})]


def _call_training(fns: dict, case: Case) -> np.ndarray:
    keras = _keras()
    x_train, y_train, x_test, _ = training_task(case.kwargs["seed"])
    keras.utils.set_random_seed(case.kwargs["seed"])
    backbone = pretrained_backbone(input_shape=(TRAIN_IMAGE_SIZE, TRAIN_IMAGE_SIZE, 3))
    model = fns["train_transfer_model"](backbone, x_train.copy(), y_train.copy(), len(PATCH_PHOTOS))
    if not isinstance(model, keras.Model):
        raise TypeError(f"train_transfer_model returned {_type_name(model)}; return the trained keras.Model")
    return np.argmax(keras.ops.convert_to_numpy(model.predict(x_test, batch_size=100, verbose=0)), axis=1)


def _training_advice(accuracy: float) -> str:
    """Why a fine-tuned model fell below the threshold, from its accuracy on the held-out halves."""
    return (f"accuracy {accuracy:.1%} on the held-out bottom halves of the photos, below the threshold of "
            f"{TRAIN_ACCURACY_THRESHOLD:.0%} (chance is {1 / len(PATCH_PHOTOS):.0%}): train the head first (rate "
            "1e-3, the base frozen), then unfreeze_top, compile_for_fine_tuning and train a few more epochs; a high "
            "rate on the whole base or unfrozen BatchNormalization undoes what ImageNet taught it")


compare_accuracy = accuracy_at_least(TRAIN_ACCURACY_THRESHOLD, _training_advice)


TRAIN_TRANSFER_MODEL = Exercise(
    name="train_transfer_model",
    cases=_train_cases,
    call=_own_work("train_transfer_model", _call_training),
    reference=lambda case: training_task(case.kwargs["seed"])[3],
    compare=compare_accuracy,
    from_scratch=False,
    tolerance=f"accuracy >= {TRAIN_ACCURACY_THRESHOLD:.0%} on patches of the photos' held-out halves",
    warning_hint="Keras warned during training: follow its advice.",
)

EXERCISES = (BUILD_TRANSFER_MODEL, UNFREEZE_TOP, COMPILE_FOR_FINE_TUNING, EXTRACT_FEATURES, TRAIN_TRANSFER_MODEL)

check_build_transfer_model = checker(BUILD_TRANSFER_MODEL)
check_unfreeze_top = checker(UNFREEZE_TOP)
check_compile_for_fine_tuning = checker(COMPILE_FOR_FINE_TUNING)
check_extract_features = checker(EXTRACT_FEATURES)
check_train_transfer_model = checker(TRAIN_TRANSFER_MODEL)
