"""The students' copy of the course: a zip without solutions/, the tests (which hold wrong and correct
implementations), the example class or any gradebook.

What it holds is listed in STUDENT_FOLDERS and STUDENT_FILES; the files come from git (what is committed) when the course is a git
checkout, else from the folders themselves, without caches and checkpoints.
"""
from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

from . import paths

STUDENT_FOLDERS = ("exercises/", "course/", "dlcourse/")
STUDENT_FILES = ("grading/nbgrader_config.py", "README.md", "run.sh", "pyproject.toml", "environment.yml",
                 ".gitignore")
SKIPPED_PARTS = {"__pycache__", ".ipynb_checkpoints"}
ROOT_FOLDER = "dlcourse-students"


def student_files(root: Path) -> list[str]:
    """Paths (relative to root, POSIX) of the files a student copy holds."""
    tracked = subprocess.run(["git", "-C", str(root), "ls-files", "-z"], capture_output=True, text=True)
    if tracked.returncode == 0:
        candidates = [name for name in tracked.stdout.split("\0") if name and (root / name).is_file()]
    else:
        candidates = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()]
    return sorted(name for name in candidates if _for_students(name))


def _for_students(name: str) -> bool:
    """Whether a file (path relative to the course) belongs in the students' copy."""
    if SKIPPED_PARTS & set(name.split("/")):
        return False
    return name in STUDENT_FILES or name.startswith(STUDENT_FOLDERS)


def write_distribution(output: Path | None = None) -> Path:
    """Write the student zip (default dist/dlcourse-students.zip), its files under dlcourse-students/."""
    root = paths.project_root()
    output = Path(output or root / "dist" / f"{ROOT_FOLDER}.zip")
    output.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in student_files(root):
            archive.write(root / name, f"{ROOT_FOLDER}/{name}")
    return output
