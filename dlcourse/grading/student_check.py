"""The student's pre-submission check: run a notebook as grading will, report the visible tests."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..execute import error_of, execute_notebook, stderr_of


@dataclass(frozen=True)
class CellOutcome:
    """One graded test cell after a run: its points if it passed, and why not otherwise."""

    grade_id: str
    points: float
    passed: bool
    reason: str


def check_notebook(path: Path) -> list[CellOutcome]:
    """Execute the notebook top to bottom and judge each graded test cell like nbgrader does."""
    nb = execute_notebook(path, allow_errors=True)
    return [judge_cell(cell) for cell in nb.cells if _is_graded_test(cell)]


def _is_graded_test(cell) -> bool:
    role = cell.metadata.get("nbgrader", {})
    return cell.cell_type == "code" and bool(role.get("grade")) and not role.get("solution")


def judge_cell(cell) -> CellOutcome:
    """Passed when the cell raised nothing and wrote nothing to stderr (nbgrader's rule for test cells)."""
    role = cell.metadata["nbgrader"]
    error, stderr = error_of(cell), stderr_of(cell)
    reason = error or (f"wrote to stderr (scores zero at grading): {stderr.strip().splitlines()[0]}" if stderr else "")
    return CellOutcome(role["grade_id"], float(role.get("points", 0)), not reason, reason)


def format_outcomes(path: Path, outcomes: list[CellOutcome]) -> str:
    """The report printed by `dlcourse check`: one line per visible test, the total, and the caveat."""
    lines = [f"Visible tests of {path.name} (hidden tests run only at grading):"]
    for o in outcomes:
        mark = "PASS" if o.passed else "FAIL"
        lines.append(f"  {mark} {o.grade_id} ({o.points:g} pt){'' if o.passed else ': ' + o.reason.splitlines()[0]}")
    earned = sum(o.points for o in outcomes if o.passed)
    total = sum(o.points for o in outcomes)
    lines.append(f"{earned:g}/{total:g} points on the visible tests. Passing them is necessary, not sufficient: "
                 "hidden tests with other inputs decide the grade.")
    return "\n".join(lines)
