"""Writing grades into nbgrader's gradebook: done by the grading command's main process only.

The same fields nbgrader's autograde sets (SaveAutoGrades): each graded cell's auto_score, needs_manual_grade
when a manual score exists or no automatic one could be given, and "No response." on untouched answer cells,
so that formgrader, ``nbgrader generate_feedback`` and ``nbgrader export`` work on the result.
"""
from __future__ import annotations

import warnings

from nbgrader.api import Gradebook
from sqlalchemy.exc import SAWarning

from .course import Assignment, Course
from .results import SubmissionResult

NO_RESPONSE = "No response."


def record_submission(course: Course, assignment: Assignment, result: SubmissionResult) -> None:
    """Register the student and the submission if needed, and store every cell's automatic score."""
    with warnings.catch_warnings(), Gradebook(course.db_url) as gradebook:
        warnings.simplefilter("ignore", SAWarning)  # raised inside nbgrader's add_submission, harmless
        gradebook.update_or_create_student(result.student)
        gradebook.update_or_create_submission(assignment.module, result.student)
        for notebook, source in zip(result.notebooks, assignment.notebooks):
            for grade in notebook.grades:
                cell = gradebook.find_grade(grade.grade_id, source.name, assignment.module, result.student)
                cell.auto_score = grade.score
                cell.needs_manual_grade = cell.manual_score is not None or grade.score is None
            for answer in (c for c in source.cells if c.solution):
                comment = gradebook.find_comment(answer.grade_id, source.name, assignment.module, result.student)
                comment.auto_comment = NO_RESPONSE if answer.grade_id in notebook.unanswered else None
        gradebook.db.commit()
