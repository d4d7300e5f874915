"""What grading decided, as plain records: per graded cell, per notebook, per student submission.

They travel from the workers to the main process, into the gradebook, the resume state (JSON) and reports.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class CellGrade:
    """Points of one graded cell; reason is empty for full marks. score None: left to manual grading."""

    grade_id: str
    score: float | None
    max_score: float
    reason: str = ""


@dataclass
class NotebookResult:
    """One notebook of a submission: its cell grades, the answer cells left blank, and notes on repairs."""

    name: str
    grades: list[CellGrade]
    unanswered: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    graded: bool = True  # False: missing or unreadable, every cell scored 0 without running

    @property
    def score(self) -> float:
        return sum(g.score or 0.0 for g in self.grades)


@dataclass
class SubmissionResult:
    """A student's grade for one module, with every reason for lost points."""

    student: str
    module: str
    fingerprint: str
    notebooks: list[NotebookResult]
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    retry: str = ""  # not graded: the run was stopped by a cause that is not the student's (why)

    @property
    def score(self) -> float:
        return sum(nb.score for nb in self.notebooks)

    @property
    def graded(self) -> bool:
        """False when this result gives no grade (it is never written to the gradebook)."""
        return not self.retry

    @property
    def max_score(self) -> float:
        return sum(g.max_score for nb in self.notebooks for g in nb.grades)

    def reasons(self) -> list[str]:
        """Intake notes, notebook notes, then the graded cells that lost points (those sharing a reason together)."""
        if self.retry:
            return [f"not graded, retry: {self.retry}"]
        lines = list(self.notes)
        for notebook in self.notebooks:
            lines += notebook.notes
            by_reason: dict[str, list[CellGrade]] = {}
            for grade in notebook.grades:
                if grade.score is None or grade.score < grade.max_score:
                    by_reason.setdefault(grade.reason, []).append(grade)
            for reason, grades in by_reason.items():
                earned, total = sum(g.score or 0 for g in grades), sum(g.max_score for g in grades)
                lines.append(f"{', '.join(g.grade_id for g in grades)} {earned:g}/{total:g}: {reason}")
        return lines

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "SubmissionResult":
        notebooks = [NotebookResult(**{**nb, "grades": [CellGrade(**g) for g in nb["grades"]]})
                     for nb in data["notebooks"]]
        return cls(**{**data, "notebooks": notebooks})
