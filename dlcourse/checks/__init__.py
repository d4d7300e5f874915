"""Checks that notebooks' test cells call: ``check_<function>(student_function)``.

Each module of the course has its own file (``perceptron`` for 01 ...); ``core`` holds what they share.
"""
from .core import CheckFailure, Exercise

__all__ = ["CheckFailure", "Exercise"]
