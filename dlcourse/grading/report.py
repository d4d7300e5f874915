"""What the instructor gets: the grades table, the grades CSV, nbgrader's export, and the class summary.

Every report covers the whole class as graded so far (every stored result of the module), not only the
submissions of the last run. Text that came from a submission (file names, error messages) is made inert
first: terminal control sequences become visible escapes, and a CSV field that a spreadsheet would read as a
formula gets a leading apostrophe.
"""
from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

from ..nbgrader_tools import run_nbgrader
from .course import Course
from .engine import ClassResult

CSV_FIELDS = ("student_id", "module", "score", "max_score", "reasons")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def inert(text: str) -> str:
    """text with control characters (ANSI escape sequences included) shown as escapes, never acted upon."""
    return CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode(), text)


def csv_field(text: str) -> str:
    """A CSV field no spreadsheet reads as a formula (OWASP's advice: a leading apostrophe)."""
    text = inert(text)
    return "'" + text if text.startswith(FORMULA_START) else text


def _score(r) -> str:
    return "not graded" if not r.graded else f"{r.score:>3g}/{r.max_score:<3g}"


def format_table(result: ClassResult) -> str:
    """Per student: score, maximum and each reason for lost points on a line of its own; totals; isolation."""
    rows = result.results
    width = max([len("student"), *(len(r.student) for r in rows)])
    lines = [f"Grades for {result.module}", f"{'student':<{width}}  {'score':>7}  reasons", "-" * (width + 40)]
    for r in rows:
        reasons = [inert(reason) for reason in r.reasons()] or ["full marks"]
        lines.append(f"{r.student:<{width}}  {_score(r):>7}  {reasons[0]}")
        lines += [f"{'':<{width + 11}}{reason}" for reason in reasons[1:]]
    graded = [r for r in rows if r.graded]
    if graded:
        mean = sum(r.score for r in graded) / len(graded)
        unchanged = len(rows) - len(result.graded_now)
        lines.append(f"{len(rows)} submissions, mean {mean:.2f}/{graded[0].max_score:g}; graded now: "
                     f"{len(result.graded_now)}, unchanged since their last grade: {unchanged} "
                     f"({result.seconds:.0f} s)")
    if len(graded) < len(rows):
        lines.append(f"{len(rows) - len(graded)} not graded (not the students' doing): run the same command again "
                     "to grade them; the gradebook keeps their previous grade, if any")
    lines.append(result.isolation.describe())
    if result.secret is not None:
        lines.append(result.secret.describe())
    return "\n".join(lines)


def class_summary(result: ClassResult) -> str:
    """Per graded cell: mean score, how many lost points, and the most common reason."""
    grades: dict[str, list] = {}
    for submission in (r for r in result.results if r.graded):
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
            line += f"; most common ({count}x): {inert(reason)}"
        lines.append(line)
    return "\n".join(lines)


def write_csv(result: ClassResult, path: Path) -> None:
    """One row per student: id, module, score, max_score and the reasons for lost points."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_FIELDS)
        for r in result.results:
            score = f"{r.score:g}" if r.graded else ""
            writer.writerow([csv_field(r.student), result.module, score, f"{r.max_score:g}",
                             csv_field("; ".join(r.reasons()))])


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
