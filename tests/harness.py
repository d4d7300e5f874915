"""Test-the-tests harness: runs a module's graded test cells against other implementations.

The rule, for every module with graded test cells (01-05 and every module built after them), checked by
tests/test_harness.py without a list of modules:

- ``tests/implementations/m<NN>_<name>.py`` exists (``m06_transfer_learning.py`` for 06_transfer_learning).
- For every graded function (grade_id ``test_<function>``) it defines
  - at least MIN_WRONG plausible wrong implementations ``wrong_<function>__<mistake>``, each with the fragment
    of the failure message it must get in ``EXPECTED_HINTS[<function>][<mistake>]`` (every wrong one has a
    fragment and every fragment has its wrong one): the cell must fail with that hint, not just fail;
  - at least MIN_RIGHT alternative correct implementations ``right_<function>__<style>``, written the way other
    courses and textbooks write them, not as the solution is written (a copy of the solution's code does not
    count), and named after that style: loops or vectorised, einsum, float32, Sequential / functional /
    subclassed Keras, compiled or not, keyword or positional ... The cell must pass with each of them.
- ``COMPANIONS[<function>]`` gives the other student functions an implementation runs with, where needed.

For each graded test cell the harness shows that the cell
- passes with the solution,
- fails on the blank release (the student's starting point),
- fails with each wrong implementation, with its expected hint,
- passes with each right implementation.

The cells run in this process (``exec`` of the notebook's code, without a Jupyter kernel), which is fast enough
to try every implementation; the kernel-based runs under nbgrader are tested separately.
"""
from __future__ import annotations

import ast
import importlib
import inspect
import textwrap
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from dlcourse import paths
from dlcourse.checks.core import HIDDEN, PUBLIC, CheckFailure, Exercise, run_check
from dlcourse.notebooks import read_notebook

IMPLEMENTATIONS_PACKAGE = "implementations"
MIN_WRONG, MIN_RIGHT = 2, 1


@dataclass(frozen=True)
class GradedCell:
    """A graded test cell and the function it grades."""

    grade_id: str
    function: str
    source: str
    points: float


@dataclass
class ModuleNotebook:
    """One notebook split into what the harness needs: setup code, answers, graded tests."""

    setup: list[str]
    answers: list[str]
    tests: list[GradedCell]


def split_notebook(path: Path) -> ModuleNotebook:
    """Sort a notebook's code cells by their nbgrader role."""
    setup, answers, tests = [], [], []
    for cell in read_notebook(path).cells:
        role = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or not role:
            continue
        if role.get("grade") and not role.get("solution"):
            grade_id = role["grade_id"]
            tests.append(GradedCell(grade_id, grade_id.removeprefix("test_"), cell.source, float(role["points"])))
        elif role.get("solution"):
            answers.append(cell.source)
        elif role.get("locked") and not tests and not answers:
            setup.append(cell.source)
    return ModuleNotebook(setup, answers, tests)


def namespace_after(cells: list[str], base: dict | None = None) -> dict:
    """Execute code cells in order in a fresh namespace (a copy of base); returns it."""
    namespace = dict(base or {"__name__": "__main__"})
    for source in cells:
        exec(compile(source, "<notebook cell>", "exec"), namespace)
    return namespace


def run_cell(source: str, namespace: dict, **replacements: Callable) -> BaseException | None:
    """Run a test cell with some functions replaced; returns the exception it raised, or None."""
    scope = dict(namespace, **replacements)
    try:
        exec(compile(source, "<test cell>", "exec"), scope)
    except BaseException as err:  # a test cell may raise anything; the harness reports it
        return err
    return None


def implementation_data(module: str) -> types.ModuleType:
    """tests/implementations/m<module>.py: the other implementations of a module's graded functions.

    Besides the ``wrong_``/``right_`` functions it defines EXPECTED_HINTS (function -> mistake -> a fragment of
    the message the wrong answer must get) and, where needed, COMPANIONS (function -> the other student
    functions its implementations run with, e.g. the forward pass whose cache a backward pass reads).
    """
    return importlib.import_module(f"{IMPLEMENTATIONS_PACKAGE}.m{module}")


def implementations(module: str, kind: str, function: str) -> dict[str, Callable]:
    """Implementations of one kind ('wrong' or 'right') of a graded function, by their short names."""
    prefix = f"{kind}_{function}__"
    return {name.removeprefix(prefix): value for name, value in vars(implementation_data(module)).items()
            if name.startswith(prefix) and isinstance(value, types.FunctionType)}


def expected_hints(module: str) -> dict[str, dict[str, str]]:
    """function -> mistake -> the fragment of the failure message its wrong implementation must get."""
    return implementation_data(module).EXPECTED_HINTS


def companions(module: str, function: str) -> dict[str, Callable]:
    """The student functions that a graded function's implementations need beside them."""
    return getattr(implementation_data(module), "COMPANIONS", {}).get(function, {})


def solution_notebooks(module: str) -> list[Path]:
    """The nbgrader source notebooks of a module."""
    return paths.module_notebooks(paths.solutions_dir(), module)


def all_cases(exercise: Exercise) -> list:
    """The public and then the hidden cases of an exercise."""
    return [*exercise.cases(PUBLIC), *exercise.cases(HIDDEN)]


def failure_message(exercise: Exercise, functions: dict[str, Callable]) -> str | None:
    """The message of the first failing check (public, then hidden), or None when every case passes."""
    try:
        for which in (PUBLIC, HIDDEN):
            run_check(exercise, functions, which)
    except CheckFailure as failure:
        return str(failure)
    return None


def function_shape(source: str, name: str) -> str | None:
    """The code of function `name` defined in source, without its name and docstring (None if not defined)."""
    for node in ast.walk(ast.parse(textwrap.dedent(source))):
        if isinstance(node, ast.FunctionDef) and node.name == name:
            body = node.body[1:] if ast.get_docstring(node) is not None else node.body
            return ast.dump(ast.Module(body=body, type_ignores=[])) + ast.dump(node.args)
    return None


def copies_the_solution(answers: list[str], function: str, implementation: Callable) -> bool:
    """Whether an implementation has the same code as the solution's function (names of the function aside)."""
    solution = next((shape for source in answers if (shape := function_shape(source, function))), None)
    return solution is not None and function_shape(inspect.getsource(implementation), implementation.__name__) == solution
