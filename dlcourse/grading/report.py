"""The grades table printed for the instructor, and the CSV files written next to the gradebook."""
from __future__ import annotations

import csv
from pathlib import Path

from ..nbgrader_tools import run_nbgrader
from .autograde import Course, Result

CSV_FIELDS = ("student_id", "module", "score", "max_score", "reasons")


def format_table(module: str, results: list[Result]) -> str:
    """A plain-text table: one line per student with score, maximum and reasons."""
    width = max([len("student"), *(len(r.student) for r in results)])
    lines = [f"Grades for {module}", f"{'student':<{width}}  {'score':>7}  reasons", "-" * (width + 40)]
    for r in results:
        lines.append(f"{r.student:<{width}}  {r.score:>3g}/{r.max_score:<3g}  {'; '.join(r.reasons) or 'full marks'}")
    if results:
        mean = sum(r.score for r in results) / len(results)
        lines.append(f"{len(results)} submissions, mean {mean:.2f}/{results[0].max_score:g}")
    return "\n".join(lines)


def write_csv(module: str, results: list[Result], path: Path) -> None:
    """One row per student: id, module, score, max_score and the reasons for lost points."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_FIELDS)
        for r in results:
            writer.writerow([r.student, module, f"{r.score:g}", f"{r.max_score:g}", "; ".join(r.reasons)])


def export_gradebook(course: Course, path: Path) -> None:
    """nbgrader's own grades CSV (`nbgrader export`), for LMS import."""
    run_nbgrader("export", f"--to={path}", f"--CourseDirectory.db_url={course.db_url}")
