"""Intake: turn a folder of submissions, or the zip an LMS exports, into nbgrader's submitted/ layout."""
from __future__ import annotations

import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

# LMS exports name files like "<student id>_<anything>.ipynb"; --student-pattern changes it.
DEFAULT_STUDENT_PATTERN = r"^(?P<student>[A-Za-z0-9][A-Za-z0-9.\-]*)[_ ]"
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


class IntakeError(ValueError):
    """The submissions could not be read; the message says what to do."""


@dataclass
class Submission:
    """One student's notebooks for one module, and notes on what intake had to fix."""

    student: str
    notebooks: dict[str, Path]
    notes: list[str] = field(default_factory=list)


def collect(source: Path, expected: list[str], pattern: str = DEFAULT_STUDENT_PATTERN) -> list[Submission]:
    """Find each student's notebooks in a folder or zip.

    Accepted layouts: ``<student>/<module>/<nb>.ipynb`` (nbgrader), ``<student>/<nb>.ipynb``, and flat files
    whose names carry the student id (matched by pattern, group 'student'). expected lists the module's
    notebook names; a student's single notebook with another name is taken for the single expected one
    (noted as renamed).
    """
    source = Path(source)
    if not source.exists():
        raise IntakeError(f"{source} does not exist: give a folder of submissions or the zip your LMS exported.")
    if source.is_file():
        if not zipfile.is_zipfile(source):
            raise IntakeError(f"{source} is neither a folder nor a zip file.")
        return _collect_zip(source, expected, pattern)
    return _collect_folder(source, expected, pattern)


def _collect_zip(archive: Path, expected: list[str], pattern: str) -> list[Submission]:
    extracted = Path(tempfile.mkdtemp(prefix="dlcourse-intake-"))
    with zipfile.ZipFile(archive) as zf:
        for member in zf.infolist():
            target = (extracted / member.filename).resolve()
            if not target.is_relative_to(extracted.resolve()):
                raise IntakeError(f"{archive} contains an unsafe path {member.filename!r}; refusing to unpack it.")
        zf.extractall(extracted)
    return _collect_folder(extracted, expected, pattern)


def _collect_folder(folder: Path, expected: list[str], pattern: str) -> list[Submission]:
    by_student: dict[str, list[Path]] = {}
    matcher = re.compile(pattern)
    for path in sorted(folder.rglob("*.ipynb")):
        relative = path.relative_to(folder)
        if ".ipynb_checkpoints" in relative.parts or any(p.startswith("__MACOSX") for p in relative.parts):
            continue
        student = _student_of(relative, matcher)
        if student is None:
            raise IntakeError(f"cannot tell whose notebook {relative} is: put it in a folder named after the "
                              f"student, or pass --student-pattern matching its name (now {pattern!r}).")
        by_student.setdefault(student, []).append(path)
    return [_match_notebooks(student, files, expected) for student, files in sorted(by_student.items())]


def _student_of(relative: Path, matcher: re.Pattern) -> str | None:
    if len(relative.parts) > 1:
        return _checked_id(relative.parts[0])
    found = matcher.search(relative.name)
    return _checked_id(found.group("student")) if found else None


def _checked_id(student: str) -> str:
    if not STUDENT_ID.match(student):
        raise IntakeError(f"{student!r} is not a usable student id (letters, digits, '.', '_' and '-' only).")
    return student


def _match_notebooks(student: str, files: list[Path], expected: list[str]) -> Submission:
    submission = Submission(student, {})
    names = {f.name: f for f in files}
    for name in expected:
        if name in names:
            submission.notebooks[name] = names[name]
    unmatched = [f for f in files if f.name not in expected]
    missing = [n for n in expected if n not in submission.notebooks]
    if len(missing) == 1 and len(unmatched) == 1:
        submission.notebooks[missing[0]] = unmatched[0]
        submission.notes.append(f"{unmatched[0].name} was renamed; graded as {missing[0]}")
    elif len(expected) == 1 and missing and unmatched:
        submission.notes.append(f"several notebooks and none named {missing[0]}: nothing graded")
    for name in expected:
        if name not in submission.notebooks:
            submission.notes.append(f"{name} is missing")
    return submission


def place(submission: Submission, submitted_root: Path, module: str) -> Path:
    """Copy a submission to submitted_root/<student>/<module>/ under the expected names; returns that folder."""
    destination = submitted_root / submission.student / module
    if destination.exists():
        shutil.rmtree(destination)
    destination.mkdir(parents=True)
    for name, path in submission.notebooks.items():
        shutil.copyfile(path, destination / name)
    return destination
