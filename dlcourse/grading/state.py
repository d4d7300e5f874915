"""Resume state: the last result of every submission, keyed by a fingerprint of what was graded.

A submission whose fingerprint (its notebooks' bytes, the assignment, the checks, the engine, the isolation)
matches its stored result is not graded again; anything else is. Each result is stored as soon as it is in
the gradebook, so an interrupted run resumes where it stopped.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from .results import SubmissionResult


class GradeState:
    """One JSON file per student under folder (e.g. grading/.grade_state/01_perceptron/)."""

    def __init__(self, folder: Path):
        self.folder = folder

    def load(self, student: str) -> SubmissionResult | None:
        """The stored result, or None when there is none or it cannot be read."""
        try:
            return SubmissionResult.from_dict(json.loads((self.folder / f"{student}.json").read_text()))
        except (OSError, ValueError, TypeError, KeyError):
            return None

    def load_all(self) -> dict[str, SubmissionResult]:
        """Every stored result, by student: the class as graded so far."""
        stored = {path.stem: self.load(path.stem) for path in sorted(self.folder.glob("*.json"))}
        return {student: result for student, result in stored.items() if result is not None}

    def save(self, result: SubmissionResult) -> None:
        """Store a result atomically (a reader never sees half a file)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        partial = self.folder / f".{result.student}.json.partial"
        partial.write_text(json.dumps(result.to_dict(), indent=1))
        os.replace(partial, self.folder / f"{result.student}.json")
