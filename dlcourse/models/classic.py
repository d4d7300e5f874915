"""The classic CNNs of module 05 as Keras builders.

LeNet-5 (this course's variant: ReLU, average pooling, softmax), AlexNet (one stream, no local response
normalisation), VGG-16/19 (the structure of ``keras.applications.VGG19``), ResNet-18/34 with basic residual
blocks (projection shortcuts where the shape changes), a fully connected net, and small plain or residual nets
for experiments on 8x8 or 32x32 digits. TensorFlow is imported lazily, inside the builders.
"""
from __future__ import annotations

from .backend import keras_module as _keras


LENET5_PARAMS = 61_706
ALEXNET_PARAMS = 62_378_344
VGG19_PARAMS = 143_667_240
RESNET34_TRAINABLE_PARAMS = 21_797_672

VGG16_CONVS = (2, 2, 3, 3, 3)
VGG19_CONVS = (2, 2, 4, 4, 4)
VGG_FILTERS = (64, 128, 256, 512, 512)
RESNET18_BLOCKS = (2, 2, 2, 2)
RESNET34_BLOCKS = (3, 4, 6, 3)
RESNET_FILTERS = (64, 128, 256, 512)



def build_lenet5(input_shape=(32, 32, 1), num_classes=10, pooling="average", activation="relu", c1_padding="valid"):
    """LeNet-5 (LeCun et al., 1998) as this course builds it: a keras.Sequential with 61,706 parameters.

    C1 6@5x5 'valid' (32 -> 28), S2 2x2 pooling (-> 14), C3 16@5x5 (-> 10, every C3 map sees all six S2 maps),
    S4 2x2 pooling (-> 5), C5 Dense(120) on the flattened 5x5x16 maps, F6 Dense(84), softmax output.
    Differences from 1998: ReLU instead of the scaled tanh, plain average pooling (no trainable coefficient),
    full C3 connectivity, softmax instead of RBF units. pooling ('average' | 'max'), activation and c1_padding
    exist to build the classic variants and mistakes.

    Arguments:
    input_shape -- (H, W, C) of the images, (32, 32, 1) for the original
    num_classes -- number of output classes

    Returns:
    model -- keras.Sequential, input (N, H, W, C), output (N, num_classes) class probabilities
    """
    keras = _keras()
    layers = keras.layers
    pool = layers.AveragePooling2D if pooling == "average" else layers.MaxPooling2D
    return keras.Sequential([
        keras.Input(shape=input_shape),
        layers.Conv2D(6, 5, padding=c1_padding, activation=activation, name="C1"),
        pool(2, name="S2"),
        layers.Conv2D(16, 5, activation=activation, name="C3"),
        pool(2, name="S4"),
        layers.Flatten(),
        layers.Dense(120, activation=activation, name="C5"),
        layers.Dense(84, activation=activation, name="F6"),
        layers.Dense(num_classes, activation="softmax", name="output"),
    ], name="lenet5")


def build_alexnet(input_shape=(227, 227, 3), num_classes=1000, pool_size=3, dropout=0.5):
    """AlexNet (Krizhevsky et al., 2012) in one stream, without local response normalisation: 62,378,344 params.

    conv 96@11x11 stride 4 'valid' (227 -> 55), max pool 3x3 stride 2 (-> 27, overlapping windows),
    conv 256@5x5 'same', pool (-> 13), conv 384@3x3, 384@3x3, 256@3x3 'same', pool (-> 6),
    Dense 4096, Dropout, Dense 4096, Dropout, softmax. ReLU after every conv and hidden dense layer.

    Arguments:
    input_shape -- (H, W, C), at least (67, 67, C) so that three poolings fit
    num_classes -- number of output classes
    pool_size -- pooling window (3 overlaps with stride 2; 2 gives the non-overlapping variant)
    dropout -- dropout rate before each of the two hidden dense layers' successors

    Returns:
    model -- keras.Sequential, output (N, num_classes) class probabilities
    """
    keras = _keras()
    layers = keras.layers

    def conv(filters, size, **kwargs):
        return layers.Conv2D(filters, size, activation="relu", **kwargs)

    return keras.Sequential([
        keras.Input(shape=input_shape),
        conv(96, 11, strides=4), layers.MaxPooling2D(pool_size, strides=2),
        conv(256, 5, padding="same"), layers.MaxPooling2D(pool_size, strides=2),
        conv(384, 3, padding="same"), conv(384, 3, padding="same"), conv(256, 3, padding="same"),
        layers.MaxPooling2D(pool_size, strides=2),
        layers.Flatten(),
        layers.Dense(4096, activation="relu"), layers.Dropout(dropout),
        layers.Dense(4096, activation="relu"), layers.Dropout(dropout),
        layers.Dense(num_classes, activation="softmax"),
    ], name="alexnet")


def build_vgg(convs_per_block=VGG19_CONVS, input_shape=(224, 224, 3), num_classes=1000, padding="same"):
    """VGG (Simonyan and Zisserman, 2014): blocks of 3x3 'same' convolutions + ReLU, each closed by a 2x2 max pool.

    The block filters are 64, 128, 256, 512, 512; then Flatten, Dense 4096, Dense 4096, softmax, exactly as
    ``keras.applications.VGG19(weights=None)`` (VGG19_CONVS) or VGG16 (VGG16_CONVS).

    Arguments:
    convs_per_block -- five numbers of convolutions, one per block
    input_shape -- (H, W, C), at least (32, 32, C)
    num_classes -- number of output classes
    padding -- padding of the convolutions ('same' in VGG)

    Returns:
    model -- keras.Sequential, output (N, num_classes) class probabilities
    """
    keras = _keras()
    layers = keras.layers
    stack = [keras.Input(shape=input_shape)]
    for block, (count, filters) in enumerate(zip(convs_per_block, VGG_FILTERS), start=1):
        stack += [layers.Conv2D(filters, 3, padding=padding, activation="relu", name=f"block{block}_conv{i}")
                  for i in range(1, count + 1)]
        stack.append(layers.MaxPooling2D(2, strides=2, name=f"block{block}_pool"))
    stack += [layers.Flatten(name="flatten"), layers.Dense(4096, activation="relu", name="fc1"),
              layers.Dense(4096, activation="relu", name="fc2"),
              layers.Dense(num_classes, activation="softmax", name="predictions")]
    return keras.Sequential(stack, name=f"vgg{sum(convs_per_block) + 3}")


def build_vgg19(input_shape=(224, 224, 3), num_classes=1000):
    """VGG-19: 16 convolutions in blocks of 2, 2, 4, 4, 4 and three dense layers; 143,667,240 params at 224x224."""
    return build_vgg(VGG19_CONVS, input_shape, num_classes)


def residual_block(x, filters, stride=1, shortcut=True, conv_bias=False, relu_after_add=True,
                   shortcut_batchnorm=True):
    """Basic residual block of ResNet-18/34 (He et al., 2015), functional API.

    Main path: conv 3x3 (stride) -> BN -> ReLU -> conv 3x3 -> BN. Shortcut: x itself when the shape is kept;
    a 1x1 convolution with the same stride followed by BN (a projection) when stride != 1 or the number of
    channels changes. Output: ReLU(main + shortcut). Convolutions have no bias: BatchNormalization follows them.
    The keyword options build the variants the lecture compares (shortcut=False: a plain block) and the
    classic mistakes the checks recognise.

    Arguments:
    x -- Keras tensor (N, H, W, C)
    filters -- number of output channels F
    stride -- stride of the first convolution and of the projection

    Returns:
    y -- Keras tensor (N, ceil(H / stride), ceil(W / stride), F)
    """
    layers = _keras().layers
    y = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=conv_bias)(x)
    y = layers.BatchNormalization()(y)
    y = layers.ReLU()(y)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=conv_bias)(y)
    y = layers.BatchNormalization()(y)
    if not relu_after_add:
        y = layers.ReLU()(y)
    if shortcut:
        skip = x
        if stride != 1 or x.shape[-1] != filters:
            skip = layers.Conv2D(filters, 1, strides=stride, use_bias=conv_bias)(x)
            if shortcut_batchnorm:
                skip = layers.BatchNormalization()(skip)
        y = layers.Add()([y, skip])
    return layers.ReLU()(y) if relu_after_add else y


def build_residual_block_model(input_shape, filters, stride=1, **block_options):
    """keras.Model around one residual_block: input (N, *input_shape), output (N, H', W', filters)."""
    keras = _keras()
    inputs = keras.Input(shape=input_shape)
    return keras.Model(inputs, residual_block(inputs, filters, stride, **block_options), name="residual_block")


def build_resnet(blocks_per_stage=RESNET34_BLOCKS, input_shape=(224, 224, 3), num_classes=1000, stem=True,
                 filters=RESNET_FILTERS, **block_options):
    """ResNet with basic blocks: stem, stages of residual blocks, global average pooling, softmax.

    Stem (stem=True): conv 64@7x7 stride 2 'same' (no bias) -> BN -> ReLU -> max pool 3x3 stride 2 'same'
    (224 -> 56); without it (small images) a conv filters[0]@3x3 -> BN -> ReLU. Stage s has
    blocks_per_stage[s] blocks of filters[s] channels; the first block of every stage after the first has
    stride 2. (3, 4, 6, 3) is ResNet-34 (21,797,672 trainable parameters at 1000 classes), (2, 2, 2, 2)
    ResNet-18. block_options go to residual_block (shortcut=False builds the plain network of the same depth).

    Arguments:
    blocks_per_stage -- number of residual blocks per stage
    input_shape -- (H, W, C)
    num_classes -- number of output classes
    stem -- the ImageNet stem (7x7/2 conv and max pool) or a 3x3 conv for small images
    filters -- channels per stage

    Returns:
    model -- keras.Model, output (N, num_classes) class probabilities
    """
    keras = _keras()
    layers = keras.layers
    inputs = keras.Input(shape=input_shape)
    if stem:
        x = layers.Conv2D(64, 7, strides=2, padding="same", use_bias=block_options.get("conv_bias", False))(inputs)
    else:
        x = layers.Conv2D(filters[0], 3, padding="same", use_bias=False)(inputs)
    x = layers.ReLU()(layers.BatchNormalization()(x))
    if stem:
        x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
    for stage, (count, channels) in enumerate(zip(blocks_per_stage, filters)):
        for block in range(count):
            x = residual_block(x, channels, stride=2 if stage > 0 and block == 0 else 1, **block_options)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    depth = 2 * sum(blocks_per_stage) + 2
    return keras.Model(inputs, outputs, name=f"{'' if block_options.get('shortcut', True) else 'plain'}resnet{depth}")


def build_resnet34(input_shape=(224, 224, 3), num_classes=1000):
    """ResNet-34: stages of 3, 4, 6, 3 basic blocks with 64, 128, 256, 512 channels (21,797,672 trainable)."""
    return build_resnet(RESNET34_BLOCKS, input_shape, num_classes)


def build_mlp(input_shape=(32, 32, 1), num_classes=10, hidden=(256, 128)):
    """Fully connected classifier: Flatten, Dense+ReLU per hidden size, softmax. Output (N, num_classes)."""
    keras = _keras()
    layers = keras.layers
    return keras.Sequential([keras.Input(shape=input_shape), layers.Flatten(),
                             *[layers.Dense(units, activation="relu") for units in hidden],
                             layers.Dense(num_classes, activation="softmax")], name="mlp")

