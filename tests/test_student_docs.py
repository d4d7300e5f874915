"""What students read: one spelling of the before-you-submit command everywhere, JupyterLab's menu names, the
README's first step on the environment check, and no text that only makes sense in the instructor's copy."""
from __future__ import annotations

import re

import pytest

from dlcourse import paths
from dlcourse.notebooks import read_notebook

ROOT = paths.project_root()
README = (ROOT / "README.md").read_text()
STUDENT_NOTEBOOKS = sorted(paths.exercises_dir().glob("0[0-5]_*/*.ipynb")) + sorted(paths.course_dir().glob("0[0-5]_*.ipynb"))
CHECK_MENTION = re.compile(r"`[^`]*dlcourse check[^`]*`")
SPELLING = re.compile(r"^`dlcourse check( \d\d_[a-z0-9_]+)?`$")
CLASSIC_MENUS = ("Restart & Run All", "Restart & Clear Output", "Cell → Run All", "Cell > Run All")


def text_of(path) -> str:
    return "\n".join(cell.source for cell in read_notebook(path).cells if cell.cell_type == "markdown")


def short(path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("path", STUDENT_NOTEBOOKS, ids=short)
def test_one_spelling_of_the_check_command(path):
    mentions = CHECK_MENTION.findall(text_of(path))
    assert all(SPELLING.match(m) for m in mentions), mentions
    if mentions:
        assert "dlcourse.check_this_notebook()" in text_of(path)


@pytest.mark.parametrize("path", STUDENT_NOTEBOOKS, ids=short)
def test_jupyterlab_menu_names_and_no_instructor_only_text(path):
    text = text_of(path)
    assert not [menu for menu in CLASSIC_MENUS if menu in text]
    assert "the deck" not in text
    if path.is_relative_to(paths.exercises_dir()):
        assert "the solution below" not in text


def test_the_readme_uses_the_same_spelling_and_starts_lab_at_the_course_folder():
    mentions = CHECK_MENTION.findall(README)
    assert mentions and all(SPELLING.match(m) for m in mentions), mentions
    assert "dlcourse.check_this_notebook()" in README
    student = README.split("## Quick start: students")[1].split("## Quick start: instructors")[0]
    assert "bash run.sh lab" in student and "jupyter lab exercises/" not in student
    assert "1. Open `course/00_setup.ipynb` first" in student


def test_run_sh_lab_starts_at_the_course_folder_with_dlcourse_on_the_path():
    run_sh = (ROOT / "run.sh").read_text()
    lab = next(line for line in run_sh.splitlines() if line.strip().startswith("lab)"))
    assert 'PATH="$PWD/$VENV/bin:$PATH"' in lab and "cd " not in lab
    assert 'cd "$(dirname "$0")"' in run_sh  # every command runs from the course folder


def test_the_readme_module_table_names_every_graded_function():
    for module in paths.modules():
        row = next((line for line in README.splitlines() if line.startswith(f"| {module} |")), None)
        if row is None:
            continue
        for notebook in paths.module_notebooks(paths.solutions_dir(), module):
            for cell in read_notebook(notebook).cells:
                role = cell.metadata.get("nbgrader", {})
                if role.get("solution") and role.get("grade_id") not in ("setup", None):
                    name = role["grade_id"]
                    assert f"`{name}`" in row, (module, name)


def test_the_example_class_reads_like_real_submissions():
    """Students' notebooks carry no nbgrader source markers (the release has none to copy)."""
    for path in sorted((paths.grading_dir() / "example_class").rglob("*.ipynb")):
        text = path.read_text(errors="replace")
        assert "### BEGIN SOLUTION" not in text and "### END SOLUTION" not in text, short(path)
