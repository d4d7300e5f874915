"""Building student notebooks of module 01 from the release and the solution's answers."""
from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat

from dlcourse import paths
from dlcourse.notebooks import read_notebook

MODULE = "01_perceptron"
NOTEBOOK = f"{MODULE}.ipynb"
MARKERS = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n", re.M)


def solution_answers() -> dict[str, str]:
    """Each answer cell's source as a student who solved it would hand it in (solution markers removed)."""
    solution = read_notebook(paths.solutions_dir() / MODULE / NOTEBOOK)
    return {cell.metadata["nbgrader"]["grade_id"]: MARKERS.sub("", cell.source) for cell in solution.cells
            if cell.metadata.get("nbgrader", {}).get("solution")}


class Kit:
    """Student notebooks: the release with chosen answers filled in, and edits by grade id."""

    def __init__(self, release: Path):
        self.release_path = Path(release)
        self.release = read_notebook(release)
        self.answers = solution_answers()

    def notebook(self, solved: tuple[str, ...] | None = None, keras_demo: bool = False) -> nbformat.NotebookNode:
        """The release with the solution's answers for solved (all when None), others left blank.

        Without keras_demo the last section (training the same neuron in Keras, ungraded and the slowest
        cell) is deleted, as a student may do; it keeps the grading tests fast.
        """
        nb = copy.deepcopy(self.release)
        for cell in nb.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if cell.metadata.get("nbgrader", {}).get("solution") and (solved is None or grade_id in solved):
                cell.source = self.answers[grade_id]
        if not keras_demo:
            nb.cells = [c for c in nb.cells if "keras" not in c.source.lower() or c.metadata.get("nbgrader")]
        return nb


def cell(nb, grade_id: str):
    """The cell with this grade id."""
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def position(nb, grade_id: str) -> int:
    return nb.cells.index(cell(nb, grade_id))


def insert_after(nb, grade_id: str, source: str):
    """nb with a new code cell right after the cell grade_id."""
    nb.cells.insert(position(nb, grade_id) + 1, nbformat.v4.new_code_cell(source))
    return nb


def answer(nb, grade_id: str, body: str):
    """nb with the answer cell grade_id replaced by body (a whole cell's source)."""
    cell(nb, grade_id).source = body
    return nb


def dumps(nb) -> bytes:
    return nbformat.writes(nb).encode()
