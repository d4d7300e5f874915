"""The students' copy of the course: exercises, lectures, the package and the set-up, never the solutions."""
from __future__ import annotations

import subprocess
import sys
import zipfile

from dlcourse import cli


def test_the_student_zip_holds_no_solutions(tmp_path):
    output = tmp_path / "students.zip"
    assert cli.main(["distribute", "--output", str(output)]) == 0
    with zipfile.ZipFile(output) as archive:
        names = [name.removeprefix("dlcourse-students/") for name in archive.namelist()]
        texts = {name: archive.read(f"dlcourse-students/{name}") for name in names if name.endswith(".ipynb")}
    for needed in ("README.md", "run.sh", "pyproject.toml", "environment.yml", "grading/nbgrader_config.py",
                   "dlcourse/cli.py", "course/01_perceptron.ipynb", "exercises/01_perceptron/01_perceptron.ipynb"):
        assert needed in names
    assert not [name for name in names if name.startswith(("solutions/", "tests/", "grading/example_class/"))
                or name.endswith(".db") or "__pycache__" in name]
    assert all(b"BEGIN SOLUTION" not in text and b"HIDDEN TESTS" not in text for text in texts.values())


def test_the_student_copy_works_without_solutions(tmp_path):
    output = tmp_path / "students.zip"
    cli.main(["distribute", "--output", str(output)])
    zipfile.ZipFile(output).extractall(tmp_path)
    root = tmp_path / "dlcourse-students"
    probe = ("from dlcourse import paths; from dlcourse.grading.student_check import find_notebook; "
             "print(paths.modules()[1], find_notebook('01_perceptron').relative_to(paths.project_root()))")
    result = subprocess.run([sys.executable, "-c", probe], cwd=root, capture_output=True, text=True,
                            env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})
    assert result.stdout.split() == ["01_perceptron", "exercises/01_perceptron/01_perceptron.ipynb"], result.stderr
