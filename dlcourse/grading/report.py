"""What the instructor gets: the grades table, the grades CSV, nbgrader's export, and the class summary."""
from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

from ..nbgrader_tools import run_nbgrader
from .course import Course
from .engine import ClassResult

CSV_FIELDS = ("student_id", "module", "score", "max_score", "reasons")


def format_table(result: ClassResult) -> str:
    """Per student: score, maximum and each reason for lost points on a line of its own; totals; isolation."""
    rows = result.results
    width = max([len("student"), *(len(r.student) for r in rows)])
    lines = [f"Grades for {result.module}", f"{'student':<{width}}  {'score':>7}  reasons", "-" * (width + 40)]
    for r in rows:
        reasons = r.reasons() or ["full marks"]
        lines.append(f"{r.student:<{width}}  {r.score:>3g}/{r.max_score:<3g}  {reasons[0]}")
        lines += [f"{'':<{width + 11}}{reason}" for reason in reasons[1:]]
    if rows:
        mean = sum(r.score for r in rows) / len(rows)
        unchanged = len(rows) - len(result.graded_now)
        lines.append(f"{len(rows)} submissions, mean {mean:.2f}/{rows[0].max_score:g}; graded now: "
                     f"{len(result.graded_now)}, unchanged since their last grade: {unchanged} "
                     f"({result.seconds:.0f} s)")
    lines.append(result.isolation.describe())
    return "\n".join(lines)


def class_summary(result: ClassResult) -> str:
    """Per graded cell: mean score, how many lost points, and the most common reason."""
    grades: dict[str, list] = {}
    for submission in result.results:
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                grades.setdefault(grade.grade_id, []).append(grade)
    lines = [f"Class summary for {result.module}: {len(result.results)} submissions; {result.isolation.describe()}"]
    for grade_id, cells in grades.items():
        mean = sum(g.score or 0 for g in cells) / len(cells)
        failed = [g for g in cells if g.score is None or g.score < g.max_score]
        line = f"{grade_id}: mean {mean:.2f}/{cells[0].max_score:g}, lost points: {len(failed)}"
        if failed:
            reason, count = Counter(g.reason for g in failed).most_common(1)[0]
            line += f"; most common ({count}x): {reason}"
        lines.append(line)
    return "\n".join(lines)


def write_csv(result: ClassResult, path: Path) -> None:
    """One row per student: id, module, score, max_score and the reasons for lost points."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_FIELDS)
        for r in result.results:
            writer.writerow([r.student, result.module, f"{r.score:g}", f"{r.max_score:g}", "; ".join(r.reasons())])


def write_reports(course: Course, result: ClassResult) -> dict[str, Path]:
    """The grades CSV with reasons, the class summary, and nbgrader's own export (for LMS import)."""
    course.reports.mkdir(parents=True, exist_ok=True)
    written = {"grades": course.reports / f"{result.module}_grades.csv",
               "summary": course.reports / f"{result.module}_summary.txt",
               "export": course.reports / "gradebook_export.csv"}
    write_csv(result, written["grades"])
    written["summary"].write_text(class_summary(result) + "\n", encoding="utf-8")
    run_nbgrader("export", f"--to={written['export']}", f"--CourseDirectory.db_url={course.db_url}")
    return written
