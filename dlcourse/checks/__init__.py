"""Checks that notebooks' test cells call: ``check_<function>(student_function)``.

Each module of the course has its own file (``perceptron`` for 01 ...); ``core`` holds what they share.
"""
from __future__ import annotations

import importlib

from .core import CheckFailure, Exercise

# The checks file of each course module: grading finds a module's EXERCISES here.
CHECKS_BY_MODULE = {
    "00_setup": "setup",
    "01_perceptron": "perceptron",
    "02_backprop": "backprop",
    "03_convolution": "convolution",
    "04_pooling": "pooling",
    "05_architectures": "architectures",
    "06_transfer_learning": "transfer",
    "07_image_quality": "image_quality",
    "08_visual_search": "visual_search",
    "09_triplet_loss": "triplet",
}


def checks_module(module: str) -> str | None:
    """Import path of a course module's checks (e.g. 'dlcourse.checks.perceptron'), None if it has none."""
    topic = CHECKS_BY_MODULE.get(module)
    return f"{__name__}.{topic}" if topic else None


def exercises_of(module: str) -> dict[str, Exercise]:
    """The graded exercises of a course module by function name; empty when the module has no checks."""
    path = checks_module(module)
    if path is None:
        return {}
    return {exercise.name: exercise for exercise in importlib.import_module(path).EXERCISES}


__all__ = ["CHECKS_BY_MODULE", "CheckFailure", "Exercise", "checks_module", "exercises_of"]
