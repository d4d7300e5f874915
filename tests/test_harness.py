"""Every graded test cell passes on the solution, fails on the blank release and on plausible wrong answers,
and passes on alternative correct answers."""
from __future__ import annotations

from functools import lru_cache

import pytest

from dlcourse import paths
from harness import (MIN_RIGHT, MIN_WRONG, companions, copies_the_solution, expected_hints, implementations,
                     namespace_after, run_cell, solution_notebooks, split_notebook)


def graded_modules() -> list[str]:
    return [m for m in paths.modules() if any(split_notebook(nb).tests for nb in solution_notebooks(m))]


def graded_cells():
    for module in graded_modules():
        for notebook in solution_notebooks(module):
            for cell in split_notebook(notebook).tests:
                yield module, notebook, cell


def cell_id(value) -> str:
    return getattr(value, "grade_id", None) or getattr(value, "name", None) or str(value)


GRADED = list(graded_cells())


@lru_cache(maxsize=None)
def notebook_namespace(notebook) -> dict:
    """The namespace after a notebook's setup and answer cells (solution or blank release)."""
    parts = split_notebook(notebook)
    return namespace_after(parts.setup + parts.answers)


def test_there_are_graded_cells():
    assert {module for module, _, _ in GRADED} >= {"01_perceptron"}


@pytest.mark.parametrize("module, notebook, cell", GRADED, ids=cell_id)
def test_solution_passes(module, notebook, cell, capsys):
    error = run_cell(cell.source, notebook_namespace(notebook))
    assert error is None, f"{cell.grade_id} fails on the solution: {error!r}"
    printed = capsys.readouterr().out
    assert "passed" in printed and "hidden" in printed


@pytest.mark.parametrize("module, notebook, cell", GRADED, ids=cell_id)
def test_blank_release_fails(module, notebook, cell):
    release = paths.exercises_dir() / module / notebook.name
    visible = {c.grade_id: c for c in split_notebook(release).tests}[cell.grade_id]
    assert "HIDDEN" not in visible.source
    error = run_cell(visible.source, notebook_namespace(release))
    assert isinstance(error, AssertionError), f"{cell.grade_id} does not fail on the blank release: {error!r}"
    assert "not implemented yet" in str(error)


@pytest.mark.parametrize("module, notebook, cell", GRADED, ids=cell_id)
def test_enough_other_implementations(module, notebook, cell):
    assert len(implementations(module, "wrong", cell.function)) >= MIN_WRONG
    rights = implementations(module, "right", cell.function)
    answers = split_notebook(notebook).answers
    others = [name for name, right in rights.items() if not copies_the_solution(answers, cell.function, right)]
    assert len(others) >= MIN_RIGHT, f"{cell.function}: the right implementations {sorted(rights)} copy the solution"


def implementation_cases(kind: str) -> list:
    return [pytest.param(module, notebook, cell, name, function, id=f"{cell.function}-{name}")
            for module, notebook, cell in GRADED
            for name, function in implementations(module, kind, cell.function).items()]


def run_with(module, notebook, cell, function) -> BaseException | None:
    """Run a graded test cell with the graded function (and its companions) replaced."""
    replacements = {**companions(module, cell.function), cell.function: function}
    return run_cell(cell.source, notebook_namespace(notebook), **replacements)


@pytest.mark.parametrize("module, notebook, cell, name, wrong", implementation_cases("wrong"))
def test_wrong_implementation_fails_with_its_hint(module, notebook, cell, name, wrong):
    error = run_with(module, notebook, cell, wrong)
    assert isinstance(error, AssertionError), f"{cell.grade_id} accepts {wrong.__name__}: {error!r}"
    hint = expected_hints(module)[cell.function][name]
    assert hint in str(error), f"{wrong.__name__} fails without the expected '{hint}':\n{error}"


@pytest.mark.parametrize("module, notebook, cell, name, right", implementation_cases("right"))
def test_alternative_implementation_passes(module, notebook, cell, name, right):
    error = run_with(module, notebook, cell, right)
    assert error is None, f"{cell.grade_id} rejects the correct {right.__name__}: {error}"


@pytest.mark.parametrize("module", graded_modules())
def test_every_wrong_implementation_has_an_expected_hint(module):
    hints = expected_hints(module)
    functions = {cell.function for m, _, cell in GRADED if m == module}
    listed = {(function, mistake) for function in functions for mistake in hints.get(function, {})}
    defined = {(function, mistake) for function in functions for mistake in implementations(module, "wrong", function)}
    assert listed == defined


def right_double__solution_copy(x):
    """The solution's code under another name: it shows nothing new about the check."""
    return 2 * x


def right_double__loop(x):
    return [value + value for value in x]


def test_a_copy_of_the_solution_does_not_count_as_an_alternative():
    answers = ['def double(x):\n    """Twice x."""\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION\n']
    assert copies_the_solution(answers, "double", right_double__solution_copy)
    assert not copies_the_solution(answers, "double", right_double__loop)
