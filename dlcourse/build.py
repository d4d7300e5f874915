"""Build exercises/ (the student notebooks) from solutions/ through nbgrader generate_assignment."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from . import paths
from .nbgrader_tools import run_nbgrader
from .notebooks import NotebookError, read_notebook, write_notebook


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


def build_exercises(modules: list[str] | None = None, target: Path | None = None, db_url: str | None = None) -> list[Path]:
    """Regenerate the release of each module into target (default exercises/); returns the written notebooks.

    The release is generated in a temporary folder, its notebooks cleaned of volatile metadata, then the
    module's folder in target is replaced as a whole, so a failed build never leaves a half-written release.
    db_url defaults to the instructor's gradebook in grading/, which autograde needs to know the assignment.
    """
    modules = modules or paths.modules()
    unknown = sorted(set(modules) - set(paths.modules()))
    if unknown:
        raise NotebookError(f"unknown module(s) {', '.join(unknown)}; the modules are {', '.join(paths.modules())}.")
    validate_sources(modules)
    target = Path(target or paths.exercises_dir())
    db_url = db_url or f"sqlite:///{paths.grading_dir() / 'gradebook.db'}"
    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="dlcourse-build-") as scratch:
        for module in modules:
            generate_release(module, Path(scratch), db_url)
            written += _install_release(Path(scratch) / module, target / module)
    return written


def _install_release(built: Path, destination: Path) -> list[Path]:
    for notebook in built.glob("*.ipynb"):
        write_notebook(read_notebook(notebook), notebook)
    if destination.exists():
        shutil.rmtree(destination)
    shutil.copytree(built, destination)
    return sorted(destination.glob("*.ipynb"))
