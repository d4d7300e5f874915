"""Intake: a folder of submissions, the zip an LMS exports, or one notebook, into nbgrader's submitted/ layout.

Accepted layouts: ``<student>/<module>/<nb>.ipynb`` (nbgrader), ``<student>/<nb>.ipynb`` (any depth below the
student's folder), and flat files whose names carry the student id (matched by a regular expression with a
group ``student``; what follows the match is the notebook's name: ``alice_01_perceptron.ipynb``). A folder or
zip holding a single wrapper folder is looked into. Only notebooks are taken: other files of a submission
(a ``numpy.py`` next to the notebook, say) never reach a run. Zips are checked before anything is unpacked:
no paths outside the folder, no links, a bounded number of entries, total size and compression ratio, no
entries sharing their bytes (the overlapping-entry bomb). Symbolic links in a folder are never followed: a
student whose notebooks are links has handed in nothing of their own, and the report says so. A file name
an LMS gave (``<id>_<anything>.ipynb``) is taken as the notebook it is, without a note.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import tempfile
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from ..paths import MODULE_PATTERN

DEFAULT_STUDENT_PATTERN = r"^(?P<student>[A-Za-z0-9][A-Za-z0-9.\-]*)[_ ]"
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
MAX_NOTEBOOK_BYTES = 100 * 2**20
MAX_ZIP_MEMBERS = 20_000
MAX_UNPACKED_BYTES = 2 * 2**30  # every notebook of a zip together
MAX_RATIO = 100  # unpacked / packed size of an entry larger than RATIO_FROM_BYTES
RATIO_FROM_BYTES = 2**20
SKIPPED_PARTS = (".ipynb_checkpoints", "__MACOSX")


class IntakeError(ValueError):
    """The submissions could not be read; the message says what to do."""


@dataclass
class Submission:
    """One student's notebooks for one module (expected name -> file), and notes on what intake had to fix."""

    student: str
    notebooks: dict[str, Path]
    notes: list[str] = field(default_factory=list)

    def content_hash(self) -> str:
        """Changes when any submitted notebook's bytes, or what intake noted, change."""
        digest = hashlib.sha256()
        for name, path in sorted(self.notebooks.items()):
            digest.update(name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
        digest.update("\n".join(self.notes).encode())
        return digest.hexdigest()


@contextmanager
def submissions(source: Path, expected: list[str], pattern: str = DEFAULT_STUDENT_PATTERN) -> Iterator[list[Submission]]:
    """Each student's submission found in a folder, a zip or a single notebook (files valid inside the block)."""
    source = Path(source)
    matcher = _compile(pattern)
    if not source.exists():
        raise IntakeError(f"{source} does not exist: give a folder of submissions, the zip your LMS exported, "
                          "or one notebook.")
    if source.is_file() and source.suffix == ".ipynb":
        yield [_single_notebook(source, expected, matcher)]
    elif source.is_file():
        with tempfile.TemporaryDirectory(prefix="dlcourse-intake-") as unpacked:
            _unpack(source, Path(unpacked))
            yield _collect_folder(_inside_wrapper(Path(unpacked), expected, matcher), expected, matcher)
    else:
        yield _collect_folder(source, expected, matcher)


def _compile(pattern: str) -> re.Pattern:
    try:
        matcher = re.compile(pattern)
    except re.error as err:
        raise IntakeError(f"--student-pattern {pattern!r} is not a regular expression ({err}).") from None
    if "student" not in matcher.groupindex:
        raise IntakeError(f"--student-pattern {pattern!r} needs a group named 'student', e.g. "
                          r"'^(?P<student>\w+)_'.")
    return matcher


def _single_notebook(path: Path, expected: list[str], matcher: re.Pattern) -> Submission:
    """One notebook: the student from its name (pattern) or, for an expected name, from its folders."""
    found = None if path.name in expected else matcher.search(path.name)
    if found:
        name = path.name[found.end():]
        return _match_notebooks(_checked_id(found.group("student")), [(name, path)], expected, {name})
    folder = path.parent.parent if MODULE_PATTERN.match(path.parent.name) else path.parent
    if not STUDENT_ID.match(folder.name):
        raise IntakeError(f"cannot tell whose notebook {path} is: name it <student>_<notebook>.ipynb or put it in "
                          "a folder named after the student.")
    return _match_notebooks(folder.name, [(path.name, path)], expected)


def _unpack(archive: Path, target: Path) -> None:
    """Unpack the notebooks of a zip after checking every member; IntakeError for anything unsafe."""
    if not zipfile.is_zipfile(archive):
        raise IntakeError(f"{archive} is neither a folder, a notebook nor a zip file.")
    with zipfile.ZipFile(archive) as zf:
        members = zf.infolist()
        if len(members) > MAX_ZIP_MEMBERS:
            raise IntakeError(f"{archive} holds {len(members)} files (at most {MAX_ZIP_MEMBERS}); split it.")
        _check_sizes(archive, [m for m in members if m.filename.endswith(".ipynb") and not m.is_dir()])
        for member in members:
            destination = (target / member.filename).resolve()
            if not destination.is_relative_to(target.resolve()):
                raise IntakeError(f"{archive} contains an unsafe path {member.filename!r}; refusing to unpack it.")
            if stat.S_ISLNK(member.external_attr >> 16) or member.is_dir() or not member.filename.endswith(".ipynb"):
                continue
            if member.file_size > MAX_NOTEBOOK_BYTES:
                continue  # reported as missing: far larger than any notebook of the course
            destination.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(member) as packed, open(destination, "wb") as unpacked:
                unpacked.write(packed.read(member.file_size + 1)[:member.file_size])


def _check_sizes(archive: Path, members: list[zipfile.ZipInfo]) -> None:
    """IntakeError unless the entries' total size, each one's ratio, and their places in the file are sane."""
    total = sum(member.file_size for member in members)
    if total > MAX_UNPACKED_BYTES:
        raise IntakeError(f"{archive} would unpack to {total / 2**20:.0f} MiB of notebooks (at most "
                          f"{MAX_UNPACKED_BYTES // 2**20} MiB); refusing to unpack it.")
    for member in members:
        if member.file_size > RATIO_FROM_BYTES and member.file_size > MAX_RATIO * max(member.compress_size, 1):
            raise IntakeError(f"{archive}: {member.filename!r} is compressed {member.file_size // max(member.compress_size, 1)}"
                              f" times (at most {MAX_RATIO}), a zip bomb; refusing to unpack it.")
    ordered = sorted(members, key=lambda m: m.header_offset)
    for first, second in zip(ordered, ordered[1:]):
        if first.header_offset + first.compress_size > second.header_offset:
            raise IntakeError(f"{archive}: the entries {first.filename!r} and {second.filename!r} overlap, a zip "
                              "bomb; refusing to unpack it.")


def _collect_folder(folder: Path, expected: list[str], matcher: re.Pattern) -> list[Submission]:
    by_student: dict[str, list[tuple[str, Path]]] = {}
    links: dict[str, list[str]] = {}
    lms_names: set[str] = set()
    for top in sorted(folder.iterdir()):
        if _skipped(top.name):
            continue
        if top.is_dir():
            student = _folder_student(top.name, matcher)
            notebooks, linked = ([], [top.name]) if top.is_symlink() else _notebooks_below(top)
            by_student.setdefault(student, []).extend((p.name, p) for p in notebooks)
            links.setdefault(student, []).extend(linked)
        elif top.suffix == ".ipynb":
            found = None if top.name in expected else matcher.search(top.name)
            if found is None:
                raise IntakeError(f"cannot tell whose notebook {top.name} is: put it in a folder named after the "
                                  f"student, or pass --student-pattern matching its name (now {matcher.pattern!r}).")
            student, name = _checked_id(found.group("student")), top.name[found.end():]
            if top.is_symlink():
                by_student.setdefault(student, [])
                links.setdefault(student, []).append(top.name)
            else:
                by_student.setdefault(student, []).append((name, top))
                lms_names.add(name)
    return [_match_notebooks(student, files, expected, lms_names, links.get(student, []))
            for student, files in sorted(by_student.items())]


def _inside_wrapper(folder: Path, expected: list[str], matcher: re.Pattern) -> Path:
    """The folder itself, or the single folder it wraps when that holds the students (zips often add one):
    several student folders, or notebooks named after students."""
    entries = [e for e in folder.iterdir() if not _skipped(e.name)]
    if len(entries) != 1 or not entries[0].is_dir():
        return folder
    children = [c for c in entries[0].iterdir() if not _skipped(c.name)]
    if len(children) > 1 and all(_student_entry(c, expected, matcher) for c in children):
        return _inside_wrapper(entries[0], expected, matcher)
    return folder


def _student_entry(entry: Path, expected: list[str], matcher: re.Pattern) -> bool:
    if entry.is_dir():
        return not MODULE_PATTERN.match(entry.name)
    return entry.suffix != ".ipynb" or (entry.name not in expected and matcher.search(entry.name) is not None)


def _skipped(name: str) -> bool:
    return name.startswith(".") or name in SKIPPED_PARTS


def _notebooks_below(folder: Path) -> tuple[list[Path], list[str]]:
    """The notebooks under folder, never through a link; and the links found there (relative paths)."""
    notebooks, links = [], []
    for root, folders, files in os.walk(folder, followlinks=False):
        here = Path(root)
        folders[:] = [f for f in folders if not _skipped(f)]
        for name in folders + files:
            if (here / name).is_symlink():
                links.append(str((here / name).relative_to(folder)))
        notebooks += [here / f for f in files if f.endswith(".ipynb") and not _skipped(f)
                      and not (here / f).is_symlink() and (here / f).is_file()]
    return sorted(notebooks), sorted(links)


def _folder_student(name: str, matcher: re.Pattern) -> str:
    """A folder named after the student, or (with the instructor's own pattern only) holding the id in its name."""
    if STUDENT_ID.match(name):
        return name
    found = matcher.search(name) if matcher.pattern != DEFAULT_STUDENT_PATTERN else None
    if found is None:
        raise IntakeError(f"the folder {name!r} is not a usable student id and --student-pattern "
                          f"({matcher.pattern!r}) finds none in it: rename it or pass a pattern that does.")
    return _checked_id(found.group("student"))


def _checked_id(student: str) -> str:
    if not STUDENT_ID.match(student):
        raise IntakeError(f"{student!r} is not a usable student id (letters, digits, '.', '_' and '-' only).")
    return student


def _match_notebooks(student: str, files: list[tuple[str, Path]], expected: list[str],
                     lms_names: set[str] = frozenset(), links: list[str] = ()) -> Submission:
    """Assign the student's files to the expected notebook names, noting renames, copies, links and gaps.

    lms_names: names as an LMS file name left them (not a rename worth a note); links: links not followed."""
    submission = Submission(student, {})
    if links:
        shown = ", ".join(links[:3]) + (f" and {len(links) - 3} more" if len(links) > 3 else "")
        submission.notes.append(f"{len(links)} symbolic link{'s' if len(links) > 1 else ''} ({shown}) "
                                "not followed: only files of the submission's own are graded")
    by_name: dict[str, list[Path]] = {}
    for name, path in files:
        if path.stat().st_size <= MAX_NOTEBOOK_BYTES:
            by_name.setdefault(name, []).append(path)
    for name in expected:
        if name in by_name:
            submission.notebooks[name] = _newest(name, by_name.pop(name), submission.notes)
    missing = [name for name in expected if name not in submission.notebooks]
    if len(missing) == 1 and len(by_name) == 1:
        (other, paths), = by_name.items()
        submission.notebooks[missing[0]] = _newest(other, paths, submission.notes)
        if other not in lms_names:
            submission.notes.append(f"{other} was renamed; graded as {missing[0]}")
    elif missing and by_name:
        submission.notes.append(f"notebooks with other names ({', '.join(sorted(by_name))}) were not graded")
    for name in expected:
        if name not in submission.notebooks:
            submission.notes.append(f"{name} is missing")
    return submission


def _newest(name: str, paths: list[Path], notes: list[str]) -> Path:
    if len(paths) == 1:
        return paths[0]
    newest = max(paths, key=lambda p: (p.stat().st_mtime, str(p)))
    notes.append(f"{len(paths)} files named {name}; graded the newest")
    return newest


def place(submission: Submission, submitted_root: Path, module: str) -> Submission:
    """Copy a submission to submitted_root/<student>/<module>/ under the expected names; returns it, moved there."""
    destination = submitted_root / submission.student / module
    if destination.exists():
        shutil.rmtree(destination)
    destination.mkdir(parents=True)
    placed = {}
    for name, path in submission.notebooks.items():
        shutil.copyfile(path, destination / name)
        placed[name] = destination / name
    return Submission(submission.student, placed, list(submission.notes))
