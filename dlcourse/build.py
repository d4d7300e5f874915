"""Build exercises/ (the student notebooks) from solutions/ through nbgrader generate_assignment.

A build never overwrites a file someone edited (a student's answers) without being told to: every build
records the SHA-256 of each file it writes (``exercises/.releases/NN_name.sha256``, the format of
``sha256sum``), and a file that matches neither that record nor the new build is left alone unless
``force`` is given, in which case a copy is kept under ``backups/`` first.
"""
from __future__ import annotations

import hashlib
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from . import paths
from .nbgrader_tools import run_nbgrader
from .notebooks import NotebookError, read_notebook, write_notebook

RECORD_FOLDER = ".releases"


class EditedExercise(NotebookError):
    """A build would overwrite files that differ from the release last generated there."""


@dataclass(frozen=True)
class BuildResult:
    """What a build wrote (notebooks), and where it kept copies of edited files it replaced (backups)."""

    written: list[Path]
    backups: list[Path]


def validate_sources(modules: list[str]) -> None:
    """Read every source notebook of the modules; NotebookError at the first unusable one."""
    for module in modules:
        notebooks = paths.module_notebooks(paths.solutions_dir(), module)
        if not notebooks:
            raise NotebookError(f"solutions/{module}/ holds no notebook: nothing to build.")
        for path in notebooks:
            read_notebook(path)


def generate_release(module: str, release_root: Path, db_url: str) -> None:
    """Run nbgrader generate_assignment for one module, writing release_root/<module>/."""
    run_nbgrader("generate_assignment", module, "--force", f"--CourseDirectory.release_directory={release_root}",
                 f"--CourseDirectory.db_url={db_url}")


def build_exercises(modules: list[str] | None = None, target: Path | None = None, db_url: str | None = None,
                    force: bool = False) -> BuildResult:
    """Regenerate the release of each module into target (default exercises/).

    Every release is generated in a temporary folder first and its notebooks cleaned of volatile metadata.
    Then, before anything is written, each file it would replace is compared with the record of the last
    build: an edited one stops the build with EditedExercise (nothing written) unless force, which copies it
    to backups/ and replaces it. Files the release does not contain (a student's own) are never touched.
    db_url defaults to the instructor's gradebook in grading/, which autograde needs to know the assignment.
    """
    modules = modules or paths.modules()
    unknown = sorted(set(modules) - set(paths.modules()))
    if unknown:
        raise NotebookError(f"unknown module(s) {', '.join(unknown)}; the modules are {', '.join(paths.modules())}.")
    validate_sources(modules)
    target = Path(target or paths.exercises_dir())
    db_url = db_url or f"sqlite:///{paths.grading_dir() / 'gradebook.db'}"
    with tempfile.TemporaryDirectory(prefix="dlcourse-build-") as scratch:
        releases = {}
        for module in modules:
            generate_release(module, Path(scratch), db_url)
            releases[module] = _cleaned_release(Path(scratch) / module)
        edited = [path for module, files in releases.items() for path in edited_files(target, module, files)]
        if edited and not force:
            raise EditedExercise(_refusal(edited, modules))
        backups = _back_up(edited, target) if edited else []
        written = [path for module, files in releases.items() for path in _install(files, target, module)]
    return BuildResult(written, backups)


def _cleaned_release(folder: Path) -> dict[str, bytes]:
    """The files of one generated module, {path relative to the module: content}, notebooks cleaned."""
    for notebook in folder.glob("*.ipynb"):
        write_notebook(read_notebook(notebook), notebook)
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def digest(content: bytes) -> str:
    """SHA-256 of a file's content, in hex."""
    return hashlib.sha256(content).hexdigest()


def record_path(target: Path, module: str) -> Path:
    """Where the build records the hashes of the module's released files."""
    return target / RECORD_FOLDER / f"{module}.sha256"


def read_record(target: Path, module: str) -> dict[str, str]:
    """{path relative to the module: SHA-256} of the last build of the module into target ({} if none)."""
    path = record_path(target, module)
    if not path.is_file():
        return {}
    entries = (line.split(maxsplit=1) for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    return {name.strip(): hexdigest for hexdigest, name in entries}


def edited_files(target: Path, module: str, files: dict[str, bytes]) -> list[Path]:
    """Existing files a build of the module would replace that match neither the record nor the new build."""
    recorded = read_record(target, module)
    edited = []
    for name, content in files.items():
        existing = target / module / name
        if existing.is_file():
            found = digest(existing.read_bytes())
            if found not in (recorded.get(name), digest(content)):
                edited.append(existing)
    return edited


def _refusal(edited: list[Path], modules: list[str]) -> str:
    listed = "\n".join(f"  {path}" for path in edited)
    return (f"these files differ from the release last generated there (someone edited them, e.g. a student's "
            f"answers), so nothing was written:\n{listed}\nKeep a copy of your work elsewhere, or, to replace "
            f"them anyway with a backup kept in {paths.backups_dir()}/, run "
            f"`dlcourse build {' '.join(modules)} --force`.")


def _back_up(edited: list[Path], target: Path) -> list[Path]:
    """Copy each edited file to backups/<time>/<its path under target's parent>; returns the copies."""
    folder = paths.backups_dir() / time.strftime("%Y%m%d-%H%M%S")
    copies = []
    for path in edited:
        copy = folder / path.relative_to(target.parent)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, copy)
        copies.append(copy)
    return copies


def _install(files: dict[str, bytes], target: Path, module: str) -> list[Path]:
    """Write a module's release into target/module and record its hashes; returns the notebooks."""
    destination = target / module
    for name, content in files.items():
        path = destination / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    record = record_path(target, module)
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text("".join(f"{digest(content)}  {name}\n" for name, content in files.items()), encoding="utf-8")
    return sorted(destination / name for name in files if name.endswith(".ipynb"))
