"""Every notebook runs: lectures cleanly, solutions to full marks and releases to zero under plain nbgrader."""
from __future__ import annotations

import shutil

import pytest
from nbgrader.api import Gradebook

from dlcourse import paths
from dlcourse.build import build_exercises
from dlcourse.execute import error_of, execute_notebook, stderr_of
from dlcourse.nbgrader_tools import run_nbgrader
from dlcourse.notebooks import read_notebook

LECTURES = sorted(paths.course_dir().glob("*.ipynb"))


def code_cells(nb):
    return [cell for cell in nb.cells if cell.cell_type == "code"]


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.name)
def test_lecture_runs_without_errors_or_stderr(path):
    cells = code_cells(execute_notebook(path))
    noisy = [cell.source.splitlines()[0] for cell in cells[1:] if stderr_of(cell)]
    assert not noisy, f"cells after the setup cell write to stderr: {noisy}"


def autograde_plainly(module: str, tmp_path) -> tuple[Gradebook, str]:
    """Grade the solution (student 'solution') and the release (student 'blank') with plain nbgrader."""
    db_url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    release = tmp_path / "release"
    build_exercises([module], target=release, db_url=db_url)
    for student, folder in (("solution", paths.solutions_dir()), ("blank", release)):
        shutil.copytree(folder / module, tmp_path / "submitted" / student / module)
    run_nbgrader("autograde", module, f"--CourseDirectory.submitted_directory={tmp_path / 'submitted'}",
                 f"--CourseDirectory.autograded_directory={tmp_path / 'autograded'}",
                 f"--CourseDirectory.db_url={db_url}")
    return Gradebook(db_url), db_url


@pytest.mark.parametrize("module", paths.modules())
def test_solution_full_marks_and_release_zero_under_nbgrader(module, tmp_path):
    gradebook, _ = autograde_plainly(module, tmp_path)
    with gradebook:
        solution = gradebook.find_submission(module, "solution")
        blank = gradebook.find_submission(module, "blank")
        assert solution.score == solution.max_score
        graded = [grade for nb in blank.notebooks for grade in nb.grades if grade.max_score > 0]
        assert all(grade.score == 0 for grade in graded), [(g.name, g.score) for g in graded]
    for notebook in (tmp_path / "autograded" / "solution" / module).glob("*.ipynb"):
        cells = code_cells(read_notebook(notebook))
        assert not [error_of(c) for c in cells if error_of(c)], f"{notebook.name}: errors in the solution run"
        assert not [c.source[:60] for c in cells[1:] if stderr_of(c)], f"{notebook.name}: stderr after setup"
