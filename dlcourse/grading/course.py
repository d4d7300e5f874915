"""The course as grading sees it: its folders, and each assignment's source cells as the gradebook holds them.

``dlcourse build`` (nbgrader generate_assignment) stores every graded, answer and locked cell of a module in the
gradebook: the release version of the cell, hidden tests included, never a solution. Grading restores test and
locked cells from there and takes the points from there, whatever a submission's copy says.
"""
from __future__ import annotations

import hashlib
import importlib
import inspect
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from .. import paths
from ..build import generate_release
from ..checks import checks_module
from ..notebooks import NotebookError
from .secret import default_secret_file

ENGINE_VERSION = "2"


@dataclass(frozen=True)
class Course:
    """Where grading reads and writes: nbgrader's folders and gradebook, reports, resume state, the release."""

    submitted: Path
    autograded: Path
    feedback: Path
    reports: Path
    state: Path
    release: Path
    db_url: str
    secret_file: Path = field(default_factory=default_secret_file)

    @classmethod
    def default(cls) -> "Course":
        """The instructor's course: everything under grading/, the release in exercises/."""
        root = paths.grading_dir()
        return cls(root / "submitted", root / "autograded", root / "feedback", root / "reports",
                   root / ".grade_state", paths.exercises_dir(), f"sqlite:///{root / 'gradebook.db'}")

    @classmethod
    def under(cls, root: Path, release: Path) -> "Course":
        """A course kept entirely under root (created if missing; tests, benchmarks), its release in release,
        its hidden-test secret in root/hidden_secret."""
        root.mkdir(parents=True, exist_ok=True)
        return cls(root / "submitted", root / "autograded", root / "feedback", root / "reports",
                   root / ".grade_state", release, f"sqlite:///{root / 'gradebook.db'}", root / "hidden_secret")

    def nbgrader_overrides(self) -> list[str]:
        """Command-line options pointing plain nbgrader commands at this course's folders."""
        return [f"--CourseDirectory.submitted_directory={self.submitted}",
                f"--CourseDirectory.autograded_directory={self.autograded}",
                f"--CourseDirectory.feedback_directory={self.feedback}",
                f"--CourseDirectory.db_url={self.db_url}"]

    def data_files(self, module: str) -> dict[str, Path]:
        """The release's files other than notebooks (data a notebook reads), by path relative to the module."""
        folder = self.release / module
        if not folder.is_dir():
            return {}
        return {str(p.relative_to(folder)): p for p in sorted(folder.rglob("*"))
                if p.is_file() and p.suffix != ".ipynb" and ".ipynb_checkpoints" not in p.parts}


@dataclass(frozen=True)
class SourceCell:
    """One cell of the source version: graded test, answer (solution) or locked cell."""

    grade_id: str
    cell_type: str
    source: str
    checksum: str
    locked: bool
    solution: bool
    points: float | None  # graded cells only

    @property
    def graded(self) -> bool:
        return self.points is not None

    def nbgrader_metadata(self) -> dict:
        """The cell's nbgrader metadata as generate_assignment writes it."""
        metadata = {"grade": self.graded, "grade_id": self.grade_id, "locked": self.locked, "schema_version": 3,
                    "solution": self.solution, "task": False, "checksum": self.checksum}
        if self.graded:
            metadata["points"] = self.points
        return metadata


@dataclass(frozen=True)
class NotebookSource:
    """A notebook of an assignment: its source cells in notebook order."""

    name: str
    cells: tuple[SourceCell, ...]

    @property
    def filename(self) -> str:
        return f"{self.name}.ipynb"

    @property
    def max_score(self) -> float:
        return sum(cell.points for cell in self.cells if cell.graded)

    def cell(self, grade_id: str) -> SourceCell | None:
        return next((cell for cell in self.cells if cell.grade_id == grade_id), None)

    @classmethod
    def from_notebook(cls, name: str, nb) -> "NotebookSource":
        """The cells as a notebook's own nbgrader metadata describes them (a student's check has no gradebook)."""
        cells = []
        for cell in nb.cells:
            role = nbgrader_role(cell)
            if isinstance(role.get("grade_id"), str):
                points = (as_points(role.get("points")) or 0.0) if role.get("grade") else None
                cells.append(SourceCell(role["grade_id"], cell.cell_type, cell.source, str(role.get("checksum", "")),
                                        bool(role.get("locked")), bool(role.get("solution")), points))
        return cls(name, tuple(cells))


def nbgrader_role(cell) -> dict:
    """A cell's nbgrader metadata, or {} when it has none (or something that is not a mapping)."""
    role = cell.get("metadata", {}).get("nbgrader", {})
    return role if isinstance(role, dict) else {}


def as_points(value) -> float | None:
    """A points value from notebook metadata as a float; None when it is not a number."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class Assignment:
    """A module as graded: its notebooks, the checks module holding its exercises, and a fingerprint."""

    module: str
    notebooks: tuple[NotebookSource, ...]
    checks: str | None

    @property
    def max_score(self) -> float:
        return sum(notebook.max_score for notebook in self.notebooks)

    @property
    def fingerprint(self) -> str:
        """Changes whenever the graded content, the checks or the grading engine change."""
        digest = hashlib.sha256(ENGINE_VERSION.encode())
        for notebook in self.notebooks:
            for cell in notebook.cells:
                digest.update(f"{notebook.name}\0{cell.grade_id}\0{cell.checksum}\0{cell.points}\0".encode())
        if self.checks:
            digest.update(inspect.getsource(importlib.import_module(self.checks)).encode())
        return digest.hexdigest()


def load_assignment(course: Course, module: str) -> Assignment:
    """The module's assignment from the gradebook, registering it first (generate_assignment) if missing."""
    if not _known(course, module):
        _register(course, module)
    with Gradebook(course.db_url) as gradebook:
        notebooks = tuple(_notebook_source(notebook) for notebook in gradebook.find_assignment(module).notebooks)
    if not notebooks:
        raise NotebookError(f"the gradebook holds no notebook of {module}: run `dlcourse build {module}`.")
    return Assignment(module, notebooks, checks_module(module))


def _known(course: Course, module: str) -> bool:
    with Gradebook(course.db_url) as gradebook:
        try:
            gradebook.find_assignment(module)
        except MissingEntry:
            return False
    return True


def _register(course: Course, module: str) -> None:
    """Put the module's source cells into the gradebook (nbgrader generate_assignment into a throwaway folder)."""
    if module not in paths.modules():
        raise NotebookError(f"unknown module {module}; the modules are {', '.join(paths.modules())}.")
    with tempfile.TemporaryDirectory(prefix="dlcourse-register-") as scratch:
        generate_release(module, Path(scratch), course.db_url)


def _notebook_source(notebook) -> NotebookSource:
    points = {cell.name: float(cell.max_score) for cell in notebook.grade_cells}
    solutions = {cell.name for cell in notebook.solution_cells}
    cells = tuple(SourceCell(cell.name, cell.cell_type, cell.source, cell.checksum, bool(cell.locked),
                             cell.name in solutions, points.get(cell.name)) for cell in notebook.source_cells)
    return NotebookSource(notebook.name, cells)
