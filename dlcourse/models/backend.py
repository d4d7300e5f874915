"""Keras, imported once through the course's quiet TensorFlow import."""
from __future__ import annotations


def keras_module():
    """The keras module, after :func:`dlcourse.environment.import_tensorflow` (versions checked, logs quiet)."""
    from dlcourse.environment import import_tensorflow

    return import_tensorflow()[1]
