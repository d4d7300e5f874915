"""Module 06: plausible wrong implementations (must be rejected) and alternative correct ones (must pass).

The right ones write the recipe in other styles: a Sequential head instead of the functional API, a Dense without
activation followed by a Softmax or Activation layer, a loss object instead of its name, RMSprop instead of Adam,
backbone.predict instead of a loop. Keras is imported lazily (through the course's quiet import).
"""
import numpy as np


def _keras():
    from dlcourse.environment import import_tensorflow

    return import_tensorflow()[1]


def _head(backbone, num_classes, dropout=0.2, training=False, freeze=True, pool="avg", softmax=True):
    keras = _keras()
    layers = keras.layers
    backbone.trainable = not freeze
    inputs = keras.Input(shape=backbone.input_shape[1:])
    x = backbone(inputs, training=training)
    x = layers.GlobalAveragePooling2D()(x) if pool == "avg" else layers.Flatten()(x)
    x = layers.Dropout(dropout)(x)
    return keras.Model(inputs, layers.Dense(num_classes, activation="softmax" if softmax else None)(x))


# --- build_transfer_model --------------------------------------------------------------------------------
def wrong_build_transfer_model__trainable_base(backbone, num_classes, dropout=0.2):
    return _head(backbone, num_classes, dropout, freeze=False)


def wrong_build_transfer_model__training_true(backbone, num_classes, dropout=0.2):
    return _head(backbone, num_classes, dropout, training=True)


def wrong_build_transfer_model__include_top(backbone, num_classes, dropout=0.2):
    keras = _keras()
    classifier = keras.applications.MobileNetV2(include_top=True, weights=None, input_shape=backbone.input_shape[1:])
    classifier.trainable = False
    inputs = keras.Input(shape=backbone.input_shape[1:])
    x = keras.layers.Dropout(dropout)(classifier(inputs, training=False))
    return keras.Model(inputs, keras.layers.Dense(num_classes, activation="softmax")(x))


def wrong_build_transfer_model__head_on_logits(backbone, num_classes, dropout=0.2):
    keras = _keras()
    backbone.trainable = False
    inputs = keras.Input(shape=backbone.input_shape[1:])
    x = keras.layers.GlobalAveragePooling2D()(backbone(inputs, training=False))
    logits = keras.layers.Dense(1000)(x)  # ImageNet's class scores rebuilt, then the head on them
    x = keras.layers.Dropout(dropout)(logits)
    return keras.Model(inputs, keras.layers.Dense(num_classes, activation="softmax")(x))


def wrong_build_transfer_model__logits_output(backbone, num_classes, dropout=0.2):
    return _head(backbone, num_classes, dropout, softmax=False)


def wrong_build_transfer_model__flatten(backbone, num_classes, dropout=0.2):
    return _head(backbone, num_classes, dropout, pool="flatten")


def wrong_build_transfer_model__dropout_ignored(backbone, num_classes, dropout=0.2):
    return _head(backbone, num_classes, 0.2)


def right_build_transfer_model__sequential(backbone, num_classes, dropout=0.2):
    keras = _keras()
    backbone.trainable = False
    return keras.Sequential([
        keras.Input(shape=backbone.input_shape[1:]),
        backbone,
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dropout(dropout),
        keras.layers.Dense(num_classes, activation="softmax"),
    ])


def right_build_transfer_model__dense_then_softmax_layer(backbone, num_classes, dropout=0.2):
    keras = _keras()
    layers = keras.layers
    backbone.trainable = False
    inputs = keras.Input(backbone.input_shape[1:])
    features = layers.GlobalAveragePooling2D(name="gap")(backbone(inputs, training=False))
    scores = layers.Dense(num_classes, activation=None)(layers.Dropout(rate=dropout)(features))
    return keras.Model(inputs=inputs, outputs=layers.Softmax()(scores))


def right_build_transfer_model__activation_layer(backbone, num_classes, dropout=0.2):
    keras = _keras()
    layers = keras.layers
    for layer in backbone.layers:
        layer.trainable = False
    backbone.trainable = False
    inputs = keras.Input(shape=backbone.input_shape[1:])
    x = layers.Dropout(dropout)(layers.GlobalAveragePooling2D()(backbone(inputs, training=False)))
    return keras.Model(inputs, layers.Activation("softmax")(layers.Dense(num_classes)(x)))


# --- unfreeze_top ----------------------------------------------------------------------------------------
def _base(model):
    keras = _keras()
    return next(layer for layer in model.layers if isinstance(layer, keras.Model))


def wrong_unfreeze_top__trainable_none(model, n_layers):
    base = _base(model)
    for layer in base.layers[-n_layers:]:
        layer.trainable = None  # a placeholder left in: Keras reads it as False
    return model


def wrong_unfreeze_top__batchnorm_unfrozen(model, n_layers):
    base = _base(model)
    base.trainable = True
    for layer in base.layers[:-n_layers]:
        layer.trainable = False
    return model


def wrong_unfreeze_top__whole_base(model, n_layers):
    keras = _keras()
    base = _base(model)
    base.trainable = True
    for layer in base.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
    return model


def wrong_unfreeze_top__bottom_layers(model, n_layers):
    keras = _keras()
    base = _base(model)
    base.trainable = True
    for index, layer in enumerate(base.layers):
        layer.trainable = index < n_layers and not isinstance(layer, keras.layers.BatchNormalization)
    return model


def wrong_unfreeze_top__counts_weighted_layers_only(model, n_layers):
    keras = _keras()
    base = _base(model)
    base.trainable = True
    weighted = [layer for layer in base.layers if layer.weights]
    for layer in weighted[:-n_layers]:
        layer.trainable = False
    for layer in base.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
    return model


def right_unfreeze_top__slices(model, n_layers):
    keras = _keras()
    base = _base(model)
    base.trainable = True
    for layer in base.layers[:-n_layers]:
        layer.trainable = False
    for layer in base.layers[-n_layers:]:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False


def right_unfreeze_top__class_names_from_the_top(model, n_layers):
    base = [layer for layer in model.layers if hasattr(layer, "layers")][0]
    base.trainable = True
    for position, layer in enumerate(reversed(base.layers)):
        layer.trainable = position < n_layers and type(layer).__name__ != "BatchNormalization"
    return model


# --- compile_for_fine_tuning -----------------------------------------------------------------------------
def wrong_compile_for_fine_tuning__not_recompiled(model, base_learning_rate):
    model.optimizer.learning_rate.assign(base_learning_rate / 10)


def _adam(model, rate, from_logits=False):
    keras = _keras()
    model.compile(optimizer=keras.optimizers.Adam(rate), metrics=["accuracy"],
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits))


def wrong_compile_for_fine_tuning__rate_not_lowered(model, base_learning_rate):
    _adam(model, base_learning_rate)


def wrong_compile_for_fine_tuning__rate_divided_by_100(model, base_learning_rate):
    _adam(model, base_learning_rate / 100)


def wrong_compile_for_fine_tuning__from_logits(model, base_learning_rate):
    _adam(model, base_learning_rate / 10, from_logits=True)


def right_compile_for_fine_tuning__loss_object_rmsprop(model, base_learning_rate):
    keras = _keras()
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=0.1 * base_learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(),
                  metrics=[keras.metrics.SparseCategoricalAccuracy()])
    return model


def right_compile_for_fine_tuning__loss_function(model, base_learning_rate):
    keras = _keras()
    model.compile(keras.optimizers.Adam(learning_rate=base_learning_rate / 10),
                  keras.losses.sparse_categorical_crossentropy, metrics=["accuracy"])


# --- extract_features ------------------------------------------------------------------------------------
def _features(backbone, images, batch_size, training=False, scale=1.0, pool="mean", drop_last=False):
    stop = len(images) - len(images) % batch_size if drop_last else len(images)
    out = []
    for start in range(0, stop, batch_size):
        maps = np.asarray(backbone(images[start:start + batch_size] * scale, training=training))
        out.append(maps if pool == "none" else maps.max(axis=(1, 2)) if pool == "max" else maps.mean(axis=(1, 2)))
    return np.concatenate(out)


def wrong_extract_features__training_true(backbone, images, batch_size):
    return _features(backbone, images, batch_size, training=True)


def wrong_extract_features__no_pooling(backbone, images, batch_size):
    return _features(backbone, images, batch_size, pool="none")


def wrong_extract_features__max_pooling(backbone, images, batch_size):
    return _features(backbone, images, batch_size, pool="max")


def wrong_extract_features__last_batch_dropped(backbone, images, batch_size):
    return _features(backbone, images, batch_size, drop_last=True)


def wrong_extract_features__images_times_255(backbone, images, batch_size):
    return _features(backbone, images, batch_size, scale=255.0)


def right_extract_features__predict(backbone, images, batch_size):
    return backbone.predict(images, batch_size=batch_size, verbose=0).mean(axis=(1, 2))


def right_extract_features__keras_ops_and_list(backbone, images, batch_size):
    keras = _keras()
    batches = [images[i:i + batch_size] for i in range(0, len(images), batch_size)]
    pooled = [keras.ops.mean(backbone(batch, training=False), axis=[1, 2]) for batch in batches]
    return keras.ops.convert_to_numpy(keras.ops.concatenate(pooled, axis=0))


# --- train_transfer_model --------------------------------------------------------------------------------
def _fit(model, x, y, epochs, rate, optimizer="adam"):
    keras = _keras()
    opt = keras.optimizers.Adam(rate) if optimizer == "adam" else keras.optimizers.RMSprop(rate)
    model.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=epochs, batch_size=16, verbose=0)


def wrong_train_transfer_model__untrained(backbone, x_train, y_train, num_classes):
    return _head(backbone, num_classes)


def wrong_train_transfer_model__everything_at_a_high_rate(backbone, x_train, y_train, num_classes):
    model = _head(backbone, num_classes, freeze=False)
    _fit(model, x_train, y_train, epochs=6, rate=0.05)
    return model


def right_train_transfer_model__rmsprop_head_then_top_blocks(backbone, x_train, y_train, num_classes):
    keras = _keras()
    model = right_build_transfer_model__sequential(backbone, num_classes)
    _fit(model, x_train, y_train, epochs=12, rate=1e-3, optimizer="rmsprop")
    right_unfreeze_top__slices(model, 10)
    _fit(model, x_train, y_train, epochs=3, rate=1e-4, optimizer="rmsprop")
    assert isinstance(model, keras.Model)
    return model


EXPECTED_HINTS = {
    "build_transfer_model": {
        "trainable_base": "backbone.trainable = False",
        "training_true": "training=True",
        "include_top": "include_top=True",
        "head_on_logits": "ImageNet class scores",
        "logits_output": "activation='softmax'",
        "flatten": "GlobalAveragePooling2D",
        "dropout_ignored": "the rate passed in",
    },
    "unfreeze_top": {
        "trainable_none": "`layer.trainable = None` is read as False",
        "batchnorm_unfrozen": "keep every BatchNormalization layer frozen",
        "whole_base": "the whole base trains",
        "bottom_layers": "base.layers[-n_layers:]",
        "counts_weighted_layers_only": "those without weights too",
    },
    "compile_for_fine_tuning": {
        "not_recompiled": "was not recompiled",
        "rate_not_lowered": "the rate was not lowered",
        "rate_divided_by_100": "base_learning_rate / 10",
        "from_logits": "from_logits=False",
    },
    "extract_features": {
        "training_true": "training mode (training=True)",
        "no_pooling": "feature maps (N, h, w, C)",
        "max_pooling": "this is max pooling",
        "last_batch_dropped": "the last, smaller batch is missing",
        "images_times_255": "images in [0, 1]",
    },
    "train_transfer_model": {
        "untrained": "below the threshold",
        "everything_at_a_high_rate": "below the threshold",
    },
}
