"""Where the course folders are, and which modules exist."""
from __future__ import annotations

import re
from pathlib import Path

MODULE_PATTERN = re.compile(r"^\d\d_[a-z0-9_]+$")


def project_root() -> Path:
    """The course checkout this package was installed from (the folder holding grading/)."""
    root = Path(__file__).resolve().parent.parent
    if not (root / "grading" / "nbgrader_config.py").is_file():
        raise FileNotFoundError(
            f"{root} is not a dlcourse checkout (no grading/nbgrader_config.py). Install the package "
            "from a clone of the course with `pip install -e .` so that the commands find its folders."
        )
    return root


def grading_dir() -> Path:
    """grading/: nbgrader's configuration and the instructor's working area."""
    return project_root() / "grading"


def solutions_dir() -> Path:
    """solutions/: the nbgrader source notebooks, one folder per module."""
    return project_root() / "solutions"


def exercises_dir() -> Path:
    """exercises/: the student notebooks generated from solutions/."""
    return project_root() / "exercises"


def course_dir() -> Path:
    """course/: the lecture notebooks."""
    return project_root() / "course"


def backups_dir() -> Path:
    """backups/: copies of edited files that a forced build replaced (git-ignored)."""
    return project_root() / "backups"


def demo_dir() -> Path:
    """grading/demo/: the demo's own release and grading folders, so that it never touches exercises/."""
    return grading_dir() / "demo"


def modules() -> list[str]:
    """Module names (NN_name) that have a folder in solutions/ (in a student distribution, which has no
    solutions/, in exercises/), in order."""
    folder = solutions_dir() if solutions_dir().is_dir() else exercises_dir()
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and MODULE_PATTERN.match(p.name))


def module_notebooks(folder: Path, module: str) -> list[Path]:
    """The notebooks of one module inside a solutions/ or exercises/ style folder."""
    return sorted((folder / module).glob("*.ipynb"))


def all_notebooks() -> list[Path]:
    """Every stored notebook of the course: lectures, solutions and exercises."""
    root = project_root()
    return sorted(p for top in ("course", "solutions", "exercises") for p in (root / top).rglob("*.ipynb")
                  if ".ipynb_checkpoints" not in p.parts)
