"""Grade a class with nbgrader: one autograde per student, scores read back from the gradebook."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from tqdm import tqdm

from .. import paths
from ..nbgrader_tools import NbgraderError, run_nbgrader
from ..notebooks import NotebookError, read_notebook
from . import intake


@dataclass
class Result:
    """A student's grade for one module, with the reasons for every lost point."""

    student: str
    score: float
    max_score: float
    reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Course:
    """Where grading reads and writes: nbgrader's folders and gradebook (all under grading/ by default)."""

    submitted: Path
    autograded: Path
    feedback: Path
    db_url: str

    @classmethod
    def default(cls) -> "Course":
        root = paths.grading_dir()
        return cls(root / "submitted", root / "autograded", root / "feedback",
                   f"sqlite:///{root / 'gradebook.db'}")

    def overrides(self) -> list[str]:
        return [f"--CourseDirectory.submitted_directory={self.submitted}",
                f"--CourseDirectory.autograded_directory={self.autograded}",
                f"--CourseDirectory.feedback_directory={self.feedback}",
                f"--CourseDirectory.db_url={self.db_url}"]


def expected_notebooks(module: str) -> list[str]:
    """Names of the notebooks a submission of the module must contain."""
    names = [p.name for p in paths.module_notebooks(paths.exercises_dir(), module)]
    if not names:
        raise NotebookError(f"exercises/{module}/ has no notebook: build the exercises first (`dlcourse build`).")
    return names


def max_score(course: Course, module: str) -> float:
    """Total points of a module, from the gradebook (the assignment must have been built)."""
    with Gradebook(course.db_url) as gradebook:
        try:
            return float(gradebook.find_assignment(module).max_score)
        except MissingEntry:
            raise NotebookError(f"the gradebook does not know {module}: run `dlcourse build` first.") from None


def grade_class(module: str, source: Path, course: Course | None = None,
                pattern: str = intake.DEFAULT_STUDENT_PATTERN) -> list[Result]:
    """Grade every submission of a module found in source (folder or zip); returns one Result per student."""
    course = course or Course.default()
    expected = expected_notebooks(module)
    total = max_score(course, module)
    submissions = intake.collect(source, expected, pattern)
    results = []
    for submission in tqdm(submissions, desc=f"grading {module}", unit="student"):
        results.append(grade_submission(module, submission, course, total))
    return results


def grade_submission(module: str, submission: intake.Submission, course: Course, total: float) -> Result:
    """Autograde one student's submission; broken notebooks score what honestly ran, with a reason."""
    result = Result(submission.student, 0.0, total, list(submission.notes))
    readable = {}
    for name, path in submission.notebooks.items():
        try:
            read_notebook(path)
            readable[name] = path
        except NotebookError as err:
            result.reasons.append(f"{name}: {str(err).split('. ')[0]}")
    if not readable:
        return result
    intake.place(intake.Submission(submission.student, readable), course.submitted, module)
    try:
        run_nbgrader("autograde", module, f"--student={submission.student}", "--force", *course.overrides())
        run_nbgrader("generate_feedback", module, f"--student={submission.student}", "--force", *course.overrides())
    except NbgraderError as err:
        result.reasons.append(f"autograde failed: {_last_error_line(str(err))}")
        return result
    result.score, lost = read_grades(course, module, submission.student)
    result.reasons += lost
    return result


def read_grades(course: Course, module: str, student: str) -> tuple[float, list[str]]:
    """A student's score and the graded cells that lost points, from the gradebook."""
    with Gradebook(course.db_url) as gradebook:
        submission = gradebook.find_submission(module, student)
        lost = [f"{grade.name}: {grade.score:g}/{grade.max_score:g}" for notebook in submission.notebooks
                for grade in notebook.grades if grade.score < grade.max_score]
        return float(submission.score), lost


def _last_error_line(log: str) -> str:
    errors = [line for line in log.splitlines() if "ERROR" in line or "Error" in line]
    return errors[-1].strip() if errors else log.strip().splitlines()[-1]
