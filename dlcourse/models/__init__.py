"""Keras models of the course, by what each part is for.

- :mod:`.classic`: the classic CNNs of module 05 (LeNet-5, AlexNet, VGG, ResNet) and a fully connected net.
- :mod:`.training`: training recipes shared by lectures, checks and benchmarks.
- :mod:`.summary`: any Keras model as plain data, and its canonical structure (what grading compares).
- :mod:`.backend`: Keras through the course's quiet TensorFlow import.

The names most notebooks use are importable from ``dlcourse.models`` directly.
"""
from .backend import keras_module
from .classic import (
    ALEXNET_PARAMS,
    LENET5_PARAMS,
    RESNET18_BLOCKS,
    RESNET34_BLOCKS,
    RESNET34_TRAINABLE_PARAMS,
    RESNET_FILTERS,
    VGG16_CONVS,
    VGG19_CONVS,
    VGG19_PARAMS,
    VGG_FILTERS,
    build_alexnet,
    build_lenet5,
    build_mlp,
    build_resnet,
    build_resnet34,
    build_residual_block_model,
    build_vgg,
    build_vgg19,
    residual_block,
)
from .summary import (
    ACTIVATIONS,
    KINDS,
    NUM_COLUMNS,
    PASS_THROUGH,
    POOLING,
    LayerInfo,
    ModelStructureError,
    canonical_layers,
    reference_summary,
    shapes_only,
    stride_text,
    summarize,
    total_params,
)
from .training import (
    LENET5_EPOCHS,
    SHIFTS,
    accuracy,
    augmentation_layers,
    fit_classifier,
    predict_labels,
    shift_images,
    shifted_accuracy,
)
