"""Stored notebooks: clean, one kernel, graded cells well-formed, no solution text in exercises/."""
from __future__ import annotations

import re
import subprocess

import nbformat
import pytest

from dlcourse import paths
from dlcourse.notebooks import KERNELSPEC, clean_notebook, notebook_text, read_notebook

NOTEBOOKS = paths.all_notebooks()
SOLUTIONS = sorted(paths.solutions_dir().rglob("*.ipynb"))
EXERCISES = sorted(paths.exercises_dir().rglob("*.ipynb"))
SOLUTION_REGION = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.S)
TENSORFLOW_IMPORT = re.compile(r"^\s*(import tensorflow|from tensorflow|import keras|from keras)", re.M)


def short(path) -> str:
    return str(path.relative_to(paths.project_root()))


def roles(path):
    for cell in read_notebook(path).cells:
        yield cell, cell.metadata.get("nbgrader", {})


def test_every_module_has_solution_exercise_and_lecture():
    for module in paths.modules():
        assert paths.module_notebooks(paths.solutions_dir(), module), module
        assert paths.module_notebooks(paths.exercises_dir(), module), f"{module}: run `dlcourse build`"
        assert (paths.course_dir() / f"{module}.ipynb").is_file(), f"{module}: no lecture in course/"


def stored_text(path) -> str:
    """The text git stores for a notebook: through the nbstripout filter when set-up installed it, else the file."""
    root = paths.project_root()
    attribute = subprocess.run(["git", "-C", str(root), "check-attr", "filter", "--", str(path)],
                               capture_output=True, text=True).stdout
    command = subprocess.run(["git", "-C", str(root), "config", "filter.nbstripout.clean"], capture_output=True,
                             text=True).stdout.strip()
    if not attribute.strip().endswith(": nbstripout") or not command:
        return path.read_text(encoding="utf-8")
    with open(path, "rb") as notebook:
        return subprocess.run(command, shell=True, stdin=notebook, capture_output=True, check=True, cwd=root,
                              text=True).stdout


@pytest.mark.parametrize("path", NOTEBOOKS, ids=short)
def test_stored_clean(path):
    text = stored_text(path)
    assert text == notebook_text(clean_notebook(nbformat.reads(text, as_version=4))), (
        f"{short(path)} carries outputs or volatile metadata: run `dlcourse clean {short(path)}`")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=short)
def test_same_kernel(path):
    assert dict(read_notebook(path).metadata["kernelspec"]) == KERNELSPEC


@pytest.mark.parametrize("path", EXERCISES, ids=short)
def test_no_solution_text_in_exercises(path):
    text = path.read_text()
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text
    source = paths.solutions_dir() / path.relative_to(paths.exercises_dir())
    exercise_code = {line.strip() for cell in read_notebook(path).cells for line in cell.source.splitlines()}
    for cell in read_notebook(source).cells:
        for region in SOLUTION_REGION.findall(cell.source):
            leaked = [line for line in region.splitlines()
                      if len(line.strip()) > 12 and line.strip() in exercise_code]
            assert not leaked, f"solution lines in {short(path)}: {leaked}"


@pytest.mark.parametrize("path", SOLUTIONS, ids=short)
def test_graded_cells_follow_the_conventions(path):
    solution_ids = [role["grade_id"] for cell, role in roles(path) if role.get("solution")]
    for cell, role in roles(path):
        if role.get("grade") and not role.get("solution"):
            assert role["locked"] and role["points"] > 0, role
            function = role["grade_id"].removeprefix("test_")
            assert role["grade_id"].startswith("test_") and function in solution_ids, role["grade_id"]
            assert f"check_{function}(" in cell.source
            assert "### BEGIN HIDDEN TESTS" in cell.source, f"{role['grade_id']} has no hidden tests"


@pytest.mark.parametrize("path", SOLUTIONS, ids=short)
def test_tensorflow_only_in_setup_cells(path):
    for cell, role in roles(path):
        if cell.cell_type == "code" and (role.get("solution") or role.get("grade")):
            assert not TENSORFLOW_IMPORT.search(cell.source), f"{role['grade_id']} imports TensorFlow"


@pytest.mark.parametrize("path", SOLUTIONS, ids=short)
def test_setup_cell_comes_first_and_is_locked(path):
    first = next(cell for cell in read_notebook(path).cells if cell.cell_type == "code")
    role = first.metadata.get("nbgrader", {})
    assert role.get("locked") and not role.get("grade") and not role.get("solution"), role


FIT_CALL = re.compile(r"\b(?:fit_classifier|\.fit)\((?:[^()]|\([^()]*\))*\)", re.S)


@pytest.mark.parametrize("path", sorted(paths.course_dir().glob("0[0-5]_*.ipynb")), ids=short)
def test_lectures_print_no_progress_bars(path):
    """Training in a lecture prints its own one-line summary, not a Keras progress bar per epoch."""
    for cell in read_notebook(path).cells:
        if cell.cell_type == "code":
            for call in FIT_CALL.findall(cell.source):
                assert "verbose=0" in call, f"{short(path)}: {call[:80]} prints Keras progress (pass verbose=0)"
