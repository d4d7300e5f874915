"""Module 05: plausible wrong implementations (must be rejected) and alternative correct ones (must pass).

The right ones write the same architectures in other ways the structure check must accept: functional instead
of Sequential, separate activation layers or keras.ops instead of activation=, `+` instead of Add, ZeroPadding2D
+ 'valid' instead of 'same', nested models, Dropout, LeNet's C5 as a 5x5 convolution. Ready-made networks
(keras.applications) are wrong: the exercise is to write the layers.
Keras is imported lazily (through the course's quiet import), only when an implementation runs.
"""
import functools

import numpy as np


def _keras():
    from dlcourse.environment import import_tensorflow

    return import_tensorflow()[1]


def _lenet(input_shape, num_classes, pool="average", c1_padding="valid", softmax=True):
    keras = _keras()
    layers = keras.layers
    pooling = layers.AveragePooling2D if pool == "average" else layers.MaxPooling2D
    return keras.Sequential([
        keras.Input(shape=input_shape),
        layers.Conv2D(6, 5, padding=c1_padding, activation="relu"), pooling(2),
        layers.Conv2D(16, 5, activation="relu"), pooling(2),
        layers.Flatten(), layers.Dense(120, activation="relu"), layers.Dense(84, activation="relu"),
        layers.Dense(num_classes, activation="softmax" if softmax else None),
    ])


# --- build_lenet5 ----------------------------------------------------------------------------------------
def wrong_build_lenet5__max_pooling_and_same_padding(input_shape=(32, 32, 1), num_classes=10):
    return _lenet(input_shape, num_classes, pool="max", c1_padding="same")


def wrong_build_lenet5__max_pooling(input_shape=(32, 32, 1), num_classes=10):
    return _lenet(input_shape, num_classes, pool="max")


def wrong_build_lenet5__logits_output(input_shape=(32, 32, 1), num_classes=10):
    return _lenet(input_shape, num_classes, softmax=False)


def wrong_build_lenet5__input_shape_ignored(input_shape=(32, 32, 1), num_classes=10):
    return _lenet((32, 32, 1), num_classes)


def right_build_lenet5__input_shape_on_first_layer_compiled(input_shape=(32, 32, 1), num_classes=10):
    keras = _keras()
    layers = keras.layers
    model = keras.models.Sequential([
        layers.Conv2D(6, kernel_size=5, activation="relu", input_shape=input_shape),
        layers.AveragePooling2D(2), layers.Conv2D(16, kernel_size=5, activation="relu"), layers.AveragePooling2D(2),
        layers.Flatten(), layers.Dense(120, activation="relu"), layers.Dense(84, activation="relu"),
        layers.Dense(num_classes, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def right_build_lenet5__functional_explicit_activations(input_shape=(32, 32, 1), num_classes=10):
    keras = _keras()
    layers = keras.layers
    inputs = keras.Input(shape=input_shape)
    x = layers.Activation("relu")(layers.Conv2D(6, (5, 5), padding="valid")(inputs))
    x = layers.AvgPool2D(pool_size=(2, 2), strides=(2, 2))(x)
    x = layers.ReLU()(layers.Conv2D(16, 5)(x))
    x = layers.AvgPool2D(2)(x)
    x = layers.Reshape((-1,))(x)
    x = layers.Dropout(0.1)(layers.ReLU()(layers.Dense(120)(x)))
    x = layers.ReLU()(layers.Dense(84)(x))
    outputs = layers.Softmax()(layers.Dense(num_classes)(x))
    return keras.Model(inputs, outputs)


def right_build_lenet5__c5_as_convolution(input_shape=(32, 32, 1), num_classes=10):
    keras = _keras()
    layers = keras.layers
    inputs = keras.Input(shape=input_shape)
    x = keras.ops.relu(layers.Conv2D(6, 5)(inputs))
    x = layers.AveragePooling2D(2)(x)
    x = keras.activations.relu(layers.Conv2D(16, 5)(x))
    x = layers.AveragePooling2D(2)(x)
    x = layers.Flatten()(layers.Conv2D(120, 5, activation="relu")(x))
    x = layers.Dense(84, activation=keras.activations.relu)(x)
    return keras.Model(inputs, layers.Dense(num_classes, activation=keras.activations.softmax)(x))


# --- build_alexnet ---------------------------------------------------------------------------------------
def _alexnet(input_shape, num_classes, pool=3, conv1_padding="valid", conv2_padding="same", normalise=False):
    keras = _keras()
    layers = keras.layers
    stack = [keras.Input(shape=input_shape), layers.Conv2D(96, 11, strides=4, padding=conv1_padding,
                                                           activation="relu")]
    stack += [layers.BatchNormalization()] if normalise else []
    stack += [layers.MaxPooling2D(pool, 2), layers.Conv2D(256, 5, padding=conv2_padding, activation="relu")]
    stack += [layers.BatchNormalization()] if normalise else []
    stack += [layers.MaxPooling2D(pool, 2),
              layers.Conv2D(384, 3, padding="same", activation="relu"),
              layers.Conv2D(384, 3, padding="same", activation="relu"),
              layers.Conv2D(256, 3, padding="same", activation="relu"), layers.MaxPooling2D(pool, 2),
              layers.Flatten(), layers.Dense(4096, activation="relu"), layers.Dense(4096, activation="relu"),
              layers.Dense(num_classes, activation="softmax")]
    return keras.Sequential(stack)


def wrong_build_alexnet__non_overlapping_pooling(input_shape=(227, 227, 3), num_classes=1000):
    return _alexnet(input_shape, num_classes, pool=2)


def wrong_build_alexnet__first_conv_same_padding(input_shape=(227, 227, 3), num_classes=1000):
    return _alexnet(input_shape, num_classes, conv1_padding="same")


def wrong_build_alexnet__second_conv_valid_padding(input_shape=(227, 227, 3), num_classes=1000):
    return _alexnet(input_shape, num_classes, conv2_padding="valid")


def wrong_build_alexnet__batchnorm_for_lrn(input_shape=(227, 227, 3), num_classes=1000):
    return _alexnet(input_shape, num_classes, normalise=True)


def right_build_alexnet__functional_zero_padding_dropout(input_shape=(227, 227, 3), num_classes=1000):
    keras = _keras()
    layers = keras.layers
    inputs = keras.Input(shape=input_shape)
    x = layers.ReLU()(layers.Conv2D(96, (11, 11), strides=(4, 4))(inputs))
    x = layers.MaxPool2D(pool_size=3, strides=2)(x)
    x = layers.Conv2D(256, 5, activation="relu")(layers.ZeroPadding2D(2)(x))
    x = layers.MaxPool2D(pool_size=3, strides=2)(x)
    for filters in (384, 384, 256):
        x = layers.Conv2D(filters, 3, activation="relu")(layers.ZeroPadding2D(1)(x))
    x = layers.Flatten()(layers.MaxPool2D(pool_size=3, strides=2)(x))
    for _ in range(2):
        x = layers.Dense(4096, activation="relu")(layers.Dropout(0.5)(x))
    return keras.Model(inputs, layers.Dense(num_classes, activation="softmax")(x))


# --- build_vgg19 -----------------------------------------------------------------------------------------
def _vgg(convs, input_shape, num_classes, padding="same", head="flatten"):
    keras = _keras()
    layers = keras.layers
    stack = [keras.Input(shape=input_shape)]
    for count, filters in zip(convs, (64, 128, 256, 512, 512)):
        stack += [layers.Conv2D(filters, 3, padding=padding, activation="relu") for _ in range(count)]
        stack.append(layers.MaxPooling2D(2))
    stack.append(layers.Flatten() if head == "flatten" else layers.GlobalAveragePooling2D())
    stack += [layers.Dense(4096, activation="relu"), layers.Dense(4096, activation="relu"),
              layers.Dense(num_classes, activation="softmax")]
    return keras.Sequential(stack)


def wrong_build_vgg19__vgg16_layout(input_shape=(224, 224, 3), num_classes=1000):
    return _vgg((2, 2, 3, 3, 3), input_shape, num_classes)


def wrong_build_vgg19__valid_padding(input_shape=(224, 224, 3), num_classes=1000):
    return _vgg((2, 2, 4, 4, 4), input_shape, num_classes, padding="valid")


def wrong_build_vgg19__global_pooling_head(input_shape=(224, 224, 3), num_classes=1000):
    return _vgg((2, 2, 4, 4, 4), input_shape, num_classes, head="global")


def right_build_vgg19__nested_blocks(input_shape=(224, 224, 3), num_classes=1000):
    keras = _keras()
    layers = keras.layers
    inputs = keras.Input(shape=input_shape)
    x = inputs
    for count, filters in zip((2, 2, 4, 4, 4), (64, 128, 256, 512, 512)):
        block = keras.Sequential([layers.Conv2D(filters, 3, padding="same", activation="relu") for _ in range(count)]
                                 + [layers.MaxPooling2D(2, 2)])
        x = block(x)
    x = layers.Flatten()(x)
    for _ in range(2):
        x = layers.Dropout(0.5)(layers.Activation("relu")(layers.Dense(4096)(x)))
    return keras.Model(inputs, layers.Dense(num_classes, activation="softmax")(x))


def wrong_build_vgg19__keras_applications(input_shape=(224, 224, 3), num_classes=1000):
    return _keras().applications.VGG19(weights=None, input_shape=input_shape, classes=num_classes)


# --- residual_block ----------------------------------------------------------------------------------------
def _block(x, filters, stride, projection=True, relu_after_add=True, bias=False):
    layers = _keras().layers
    y = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=bias)(x)
    y = layers.ReLU()(layers.BatchNormalization()(y))
    y = layers.BatchNormalization()(layers.Conv2D(filters, 3, padding="same", use_bias=bias)(y))
    if not relu_after_add:
        y = layers.ReLU()(y)
    shortcut = x
    if projection and (stride != 1 or x.shape[-1] != filters):
        shortcut = layers.BatchNormalization()(layers.Conv2D(filters, 1, strides=stride, use_bias=bias)(x))
    y = layers.Add()([y, shortcut])
    return layers.ReLU()(y) if relu_after_add else y


def wrong_residual_block__no_projection(x, filters, stride=1):
    return _block(x, filters, stride, projection=False)


def wrong_residual_block__relu_before_add(x, filters, stride=1):
    return _block(x, filters, stride, relu_after_add=False)


def wrong_residual_block__bias_before_batchnorm(x, filters, stride=1):
    return _block(x, filters, stride, bias=True)


def wrong_residual_block__projection_only_for_stride(x, filters, stride=1):
    layers = _keras().layers
    y = layers.ReLU()(layers.BatchNormalization()(layers.Conv2D(filters, 3, stride, "same", use_bias=False)(x)))
    y = layers.BatchNormalization()(layers.Conv2D(filters, 3, padding="same", use_bias=False)(y))
    shortcut = x
    if stride != 1:
        shortcut = layers.BatchNormalization()(layers.Conv2D(filters, 1, strides=stride, use_bias=False)(x))
    return layers.ReLU()(y + shortcut)


def right_residual_block__shortcut_first_plus_operator(x, filters, stride=1):
    keras = _keras()
    layers = keras.layers
    shortcut = x
    if stride > 1 or x.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, kernel_size=1, strides=stride, padding="same", use_bias=False)(x)
        shortcut = layers.BatchNormalization()(shortcut)
    y = layers.ZeroPadding2D(1)(x)
    y = layers.Conv2D(filters, 3, strides=stride, use_bias=False)(y)
    y = keras.ops.relu(layers.BatchNormalization()(y))
    y = layers.BatchNormalization()(layers.Conv2D(filters, 3, padding="same", use_bias=False)(y))
    return layers.Activation("relu")(shortcut + y)


def right_residual_block__nested_model(x, filters, stride=1):
    keras = _keras()
    layers = keras.layers
    main = keras.Sequential([keras.Input(shape=x.shape[1:]),
                             layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False),
                             layers.BatchNormalization(), layers.Activation("relu"),
                             layers.Conv2D(filters, 3, padding="same", use_bias=False),
                             layers.BatchNormalization()])
    shortcut = x
    if stride != 1 or x.shape[-1] != filters:
        shortcut = layers.BatchNormalization()(layers.Conv2D(filters, 1, strides=stride, use_bias=False)(x))
    return layers.ReLU()(layers.add([main(x), shortcut]))


def _residual_unit_class():
    """A residual unit as a keras.layers.Layer subclass, as Hands-On Machine Learning (Geron, ch. 14) writes it;
    the shortcut is a projection when the stride or the number of filters changes."""
    keras = _keras()
    conv = functools.partial(keras.layers.Conv2D, kernel_size=3, strides=1, padding="same", use_bias=False)

    class ResidualUnit(keras.layers.Layer):
        def __init__(self, filters, strides=1, **kwargs):
            super().__init__(**kwargs)
            self.filters, self.strides = filters, strides
            self.activation = keras.activations.get("relu")
            self.main_layers = [conv(filters, strides=strides), keras.layers.BatchNormalization(), self.activation,
                                conv(filters), keras.layers.BatchNormalization()]
            self.skip_layers = []

        def build(self, input_shape):
            if self.strides > 1 or input_shape[-1] != self.filters:
                self.skip_layers = [conv(self.filters, kernel_size=1, strides=self.strides),
                                    keras.layers.BatchNormalization()]

        def call(self, inputs):
            z = inputs
            for layer in self.main_layers:
                z = layer(z)
            skip = inputs
            for layer in self.skip_layers:
                skip = layer(skip)
            return self.activation(z + skip)

    return ResidualUnit


def right_residual_block__layer_subclass(x, filters, stride=1):
    return _residual_unit_class()(filters, stride)(x)


def right_build_resnet34__residual_units_as_layers_sequential(input_shape=(224, 224, 3), num_classes=1000):
    keras = _keras()
    layers = keras.layers
    unit = _residual_unit_class()
    model = keras.models.Sequential([
        layers.Conv2D(64, kernel_size=7, strides=2, padding="same", use_bias=False, input_shape=input_shape),
        layers.BatchNormalization(), layers.Activation("relu"),
        layers.MaxPool2D(pool_size=3, strides=2, padding="same"),
    ])
    prev_filters = 64
    for filters in [64] * 3 + [128] * 4 + [256] * 6 + [512] * 3:
        model.add(unit(filters, strides=1 if filters == prev_filters else 2))
        prev_filters = filters
    model.add(layers.GlobalAvgPool2D())
    model.add(layers.Flatten())
    model.add(layers.Dense(num_classes, activation="softmax"))
    model.compile(loss="sparse_categorical_crossentropy", optimizer="nadam", metrics=["accuracy"])
    return model


# --- build_resnet34 ----------------------------------------------------------------------------------------
def _resnet(input_shape, num_classes, blocks=(3, 4, 6, 3), block=_block, pool_padding="same", **options):
    keras = _keras()
    layers = keras.layers
    inputs = keras.Input(shape=input_shape)
    x = layers.Conv2D(64, 7, strides=2, padding="same", use_bias=options.get("bias", False))(inputs)
    x = layers.MaxPooling2D(3, 2, padding=pool_padding)(layers.ReLU()(layers.BatchNormalization()(x)))
    for stage, (count, filters) in enumerate(zip(blocks, (64, 128, 256, 512))):
        for index in range(count):
            x = block(x, filters, 2 if stage and not index else 1, **options)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(num_classes, activation="softmax")(x))


def wrong_build_resnet34__resnet18_blocks(input_shape=(224, 224, 3), num_classes=1000):
    return _resnet(input_shape, num_classes, blocks=(2, 2, 2, 2))


def wrong_build_resnet34__no_projection(input_shape=(224, 224, 3), num_classes=1000):
    return _resnet(input_shape, num_classes, projection=False)


def wrong_build_resnet34__valid_max_pool(input_shape=(224, 224, 3), num_classes=1000):
    return _resnet(input_shape, num_classes, pool_padding="valid")


def wrong_build_resnet34__bias_everywhere(input_shape=(224, 224, 3), num_classes=1000):
    return _resnet(input_shape, num_classes, bias=True)


def right_build_resnet34__keras_applications_style(input_shape=(224, 224, 3), num_classes=1000):
    keras = _keras()
    layers = keras.layers
    inputs = keras.Input(shape=input_shape)
    x = layers.Conv2D(64, 7, strides=2, use_bias=False)(layers.ZeroPadding2D(3)(inputs))
    x = layers.Activation("relu")(layers.BatchNormalization(epsilon=1.001e-5)(x))
    x = layers.MaxPooling2D(3, strides=2)(layers.ZeroPadding2D(1)(x))
    for stage, (count, filters) in enumerate(zip((3, 4, 6, 3), (64, 128, 256, 512))):
        for index in range(count):
            x = right_residual_block__shortcut_first_plus_operator(x, filters, 2 if stage and not index else 1)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Activation("softmax")(layers.Dense(num_classes)(x)))


def right_build_resnet34__stages_as_models(input_shape=(224, 224, 3), num_classes=1000):
    keras = _keras()
    layers = keras.layers
    inputs = keras.Input(shape=input_shape)
    x = layers.Conv2D(64, 7, strides=2, padding="same", use_bias=False)(inputs)
    x = layers.MaxPooling2D(3, 2, padding="same")(layers.ReLU()(layers.BatchNormalization()(x)))
    for stage, (count, filters) in enumerate(zip((3, 4, 6, 3), (64, 128, 256, 512))):
        stage_input = keras.Input(shape=x.shape[1:])
        y = stage_input
        for index in range(count):
            y = right_residual_block__nested_model(y, filters, 2 if stage and not index else 1)
        x = keras.Model(stage_input, y)(x)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(num_classes, activation="softmax")(x))


# --- train_classifier --------------------------------------------------------------------------------------
def wrong_train_classifier__labels_shuffled(model, x_train, y_train, epochs, batch_size=32):
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x_train, np.random.default_rng(0).permutation(y_train), epochs=epochs, batch_size=batch_size,
              verbose=0)


def wrong_train_classifier__sgd_tiny_learning_rate(model, x_train, y_train, epochs, batch_size=32):
    keras = _keras()
    model.compile(optimizer=keras.optimizers.SGD(1e-4), loss="sparse_categorical_crossentropy")
    model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, verbose=0)


def wrong_train_classifier__compiled_never_fitted(model, x_train, y_train, epochs, batch_size=32):
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])


def right_train_classifier__one_hot_labels(model, x_train, y_train, epochs, batch_size=32):
    keras = _keras()
    model.compile(optimizer=keras.optimizers.Adam(), loss="categorical_crossentropy", metrics=["accuracy"])
    return model.fit(x_train, keras.utils.to_categorical(y_train, 10), epochs=epochs, batch_size=batch_size,
                     verbose=2)


def right_train_classifier__rmsprop_validation_split(model, x_train, y_train, epochs, batch_size=32):
    keras = _keras()
    model.compile(optimizer=keras.optimizers.RMSprop(1e-3), loss=keras.losses.SparseCategoricalCrossentropy(),
                  metrics=[keras.metrics.SparseCategoricalAccuracy()])
    return model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, validation_split=0.1, verbose=0)


def right_train_classifier__sgd_momentum(model, x_train, y_train, epochs, batch_size=32):
    keras = _keras()
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), loss="sparse_categorical_crossentropy")
    return model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, verbose=0)


# The hint (a fragment of the check's message) each wrong implementation must get.
EXPECTED_HINTS = {
    "build_lenet5": {"max_pooling_and_same_padding": "this layer uses no padding (padding='valid')",
                     "max_pooling": "takes the average of each window", "logits_output": "activation='softmax'",
                     "input_shape_ignored": "keras.Input(shape=input_shape)"},
    "build_alexnet": {"non_overlapping_pooling": "these pooling windows overlap",
                      "first_conv_same_padding": "this layer uses no padding (padding='valid')",
                      "second_conv_valid_padding": "with padding='same'",
                      "batchnorm_for_lrn": "this network has no BatchNormalization layer"},
    "build_vgg19": {"vgg16_layout": "that is VGG-16", "valid_padding": "the maps shrank to nothing",
                    "global_pooling_head": "this network has no GlobalAveragePooling2D layer",
                    "keras_applications": "ready-made models (keras.applications"},
    "residual_block": {"no_projection": "a 1x1 convolution with the block's stride",
                       "relu_before_add": "the ReLU comes after the addition",
                       "bias_before_batchnorm": "pass use_bias=False",
                       "projection_only_for_stride": "or a new number of filters"},
    "build_resnet34": {"resnet18_blocks": "that is ResNet-18", "no_projection": "a 1x1 convolution with the block's",
                       "valid_max_pool": "with padding='same'", "bias_everywhere": "pass use_bias=False"},
    "train_classifier": {"labels_shuffled": "the network did not learn",
                         "sgd_tiny_learning_rate": "the network did not learn",
                         "compiled_never_fitted": "the network did not learn"},
}
