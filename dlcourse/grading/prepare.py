"""Restore a submitted notebook against its source before it runs (what nbgrader's sanitizing step does).

From the gradebook's source version: graded test cells and locked cells get their source back (hidden tests
included), every known cell its nbgrader metadata (type, flags, points), deleted test and locked cells are put
back after their predecessor, and the kernel is Python. Answer cells keep the student's code; an answer cell
that lost its metadata is recognised by its ``def``. Nothing of a solution is ever inserted: the gradebook
holds the release version of answer cells. Every repair is noted, one line each, for the report.
"""
from __future__ import annotations

import copy
import re
import uuid
from dataclasses import dataclass, field

import nbformat

from ..notebooks import KERNELSPEC
from .course import NotebookSource, SourceCell, as_points, nbgrader_role
from .feedback import strip_hidden_tests

SETUP, ANSWER, TEST, CODE = "setup", "answer", "test", "code"


@dataclass(frozen=True)
class PreparedCell:
    """A code cell of the prepared notebook: its position, role and grade id."""

    index: int
    role: str  # SETUP (locked, from the source), ANSWER, TEST (graded), CODE (anything else)
    grade_id: str | None
    source: str

    @property
    def student_written(self) -> bool:
        """Code the student could change (answers and every cell without a locked role)."""
        return self.role in (ANSWER, CODE)


@dataclass
class PreparedNotebook:
    """The notebook to run, its code cells by role, and the repairs made."""

    nb: nbformat.NotebookNode
    cells: list[PreparedCell] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def answer_cells(self, grade_id: str) -> list[int]:
        return [c.index for c in self.cells if c.role == ANSWER and c.grade_id == grade_id]

    def tests(self) -> list[PreparedCell]:
        return [c for c in self.cells if c.role == TEST]


def prepare(nb: nbformat.NotebookNode, source: NotebookSource | None) -> PreparedNotebook:
    """Restore nb (a copy) against source; without a source (a student's own check) only classify its cells."""
    nb = copy.deepcopy(nb)
    notes: list[str] = []
    _clear_outputs(nb)
    if source is not None:
        _use_python_kernel(nb, notes)
        _restore_known_cells(nb, source, notes)
        _insert_missing_cells(nb, source, notes)
        _adopt_orphan_answers(nb, source, notes)
    _unique_cell_ids(nb)
    return PreparedNotebook(nb, _classify(nb), notes)


def _clear_outputs(nb) -> None:
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None


def _use_python_kernel(nb, notes: list[str]) -> None:
    name = nb.metadata.get("kernelspec", {}).get("name") if isinstance(nb.metadata.get("kernelspec"), dict) else None
    if name is not None and name != KERNELSPEC["name"]:
        notes.append(f"the notebook asked for kernel {name!r}; it ran in Python 3 like every submission")
    nb.metadata["kernelspec"] = nbformat.from_dict(dict(KERNELSPEC))


def _restore_known_cells(nb, source: NotebookSource, notes: list[str]) -> None:
    """Give every cell with a known grade id its source metadata (and locked source); drop unknown ids."""
    last_of = {}
    for position, cell in enumerate(nb.cells):
        grade_id = nbgrader_role(cell).get("grade_id")
        if isinstance(grade_id, str):
            last_of[grade_id] = position
    for position, cell in enumerate(nb.cells):
        role = nbgrader_role(cell)
        grade_id = role.get("grade_id")
        known = source.cell(grade_id) if isinstance(grade_id, str) else None
        if not role:
            continue
        if known is None:
            claim = f"the unknown grade id {grade_id!r}" if isinstance(grade_id, str) else "nbgrader metadata"
            notes.append(f"a cell claims {claim}: it ran as ordinary code")
            del cell.metadata["nbgrader"]
        elif not known.solution and last_of[grade_id] != position:
            notes.append(f"{grade_id} appears more than once: the copy above the last one ran as ordinary code")
            del cell.metadata["nbgrader"]
        else:
            _restore_cell(cell, known, notes)


def _restore_cell(cell, known: SourceCell, notes: list[str]) -> None:
    changes = []
    if cell.cell_type != known.cell_type:
        changes.append(f"its type ({cell.cell_type})")
        _set_cell_type(cell, known.cell_type)
    old = nbgrader_role(cell)
    new = known.nbgrader_metadata()
    if any(bool(old.get(key)) != new[key] for key in ("grade", "solution", "locked")) or \
            (known.graded and as_points(old.get("points")) != known.points):
        changes.append("its nbgrader metadata")
    if known.locked and strip_hidden_tests(cell.source).strip() != strip_hidden_tests(known.source).strip():
        changes.append("its source")
    if known.locked:
        cell.source = known.source
    cell.metadata["nbgrader"] = nbformat.from_dict(new)
    if changes:
        notes.append(f"{known.grade_id}: {' and '.join(changes)} had been changed; restored from the release")


def _set_cell_type(cell, cell_type: str) -> None:
    cell.cell_type = cell_type
    if cell_type == "code":
        cell.outputs, cell.execution_count = [], None
    else:
        cell.pop("outputs", None)
        cell.pop("execution_count", None)


def _insert_missing_cells(nb, source: NotebookSource, notes: list[str]) -> None:
    """Put back deleted graded and locked cells, each after the cell of its predecessor in the source."""
    present = {nbgrader_role(cell).get("grade_id") for cell in nb.cells}
    for order, known in enumerate(source.cells):
        if known.grade_id in present or known.solution:
            continue
        predecessors = {c.grade_id for c in source.cells[:order]}
        positions = [i for i, cell in enumerate(nb.cells) if nbgrader_role(cell).get("grade_id") in predecessors]
        cell = _new_cell(known)
        nb.cells.insert(positions[-1] + 1 if positions else 0, cell)
        present.add(known.grade_id)
        notes.append(f"{known.grade_id} had been deleted; restored from the release")


def _new_cell(known: SourceCell):
    make = nbformat.v4.new_code_cell if known.cell_type == "code" else nbformat.v4.new_markdown_cell
    cell = make(source=known.source)
    cell.metadata["nbgrader"] = nbformat.from_dict(known.nbgrader_metadata())
    return cell


def _adopt_orphan_answers(nb, source: NotebookSource, notes: list[str]) -> None:
    """An answer cell whose metadata was lost is the plain code cell that defines its function."""
    present = {nbgrader_role(cell).get("grade_id") for cell in nb.cells}
    for known in source.cells:
        if not known.solution or known.grade_id in present:
            continue
        definition = re.compile(rf"^def\s+{re.escape(known.grade_id)}\s*\(", re.M)
        orphan = next((cell for cell in nb.cells if cell.cell_type == "code" and not nbgrader_role(cell)
                       and definition.search(cell.source)), None)
        if orphan is None:
            notes.append(f"the answer cell of {known.grade_id} is missing")
            continue
        orphan.metadata["nbgrader"] = nbformat.from_dict(known.nbgrader_metadata())
        notes.append(f"the answer cell of {known.grade_id} had lost its nbgrader metadata; recognised by its def")


def _unique_cell_ids(nb) -> None:
    seen = set()
    for cell in nb.cells:
        if not isinstance(cell.get("id"), str) or cell.get("id") in seen:
            cell["id"] = uuid.uuid4().hex[:8]
        seen.add(cell["id"])


def _classify(nb) -> list[PreparedCell]:
    cells = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        role = nbgrader_role(cell)
        grade_id = role.get("grade_id") if isinstance(role.get("grade_id"), str) else None
        if role.get("grade") and not role.get("solution") and grade_id:
            kind = TEST
        elif role.get("solution") and grade_id:
            kind = ANSWER
        elif role.get("locked") and grade_id:
            kind = SETUP
        else:
            kind = CODE
        cells.append(PreparedCell(index, kind, grade_id, cell.source))
    return cells
