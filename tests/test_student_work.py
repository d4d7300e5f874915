"""A student's work is never overwritten: the build keeps edited notebooks (unless --force, then with a backup),
the demo builds into its own folder, and no message aimed at students recommends a command that rewrites."""
from __future__ import annotations

import argparse
import shutil

import pytest

from dlcourse import cli, paths
from dlcourse.build import EditedExercise, build_exercises, digest, read_record
from dlcourse.grading.student_check import find_notebook
from dlcourse.notebooks import NotebookError, read_notebook, write_notebook

MODULE = "00_setup"


@pytest.fixture
def release(tmp_path, monkeypatch):
    """A fresh build of one module into tmp_path/exercises, backups kept under tmp_path/backups."""
    monkeypatch.setattr(paths, "backups_dir", lambda: tmp_path / "backups")
    target = tmp_path / "exercises"
    build_exercises([MODULE], target=target, db_url=f"sqlite:///{tmp_path / 'gradebook.db'}")
    return target


def _fill(notebook) -> str:
    """Write an answer into the first answer cell, as a student does; returns the new text of the file."""
    nb = read_notebook(notebook)
    answer = next(cell for cell in nb.cells if cell.metadata.get("nbgrader", {}).get("solution"))
    answer.source += "\n# my own answer, three hours of work"
    write_notebook(nb, notebook)
    return notebook.read_text()


def _rebuild(target, tmp_path, force=False):
    return build_exercises([MODULE], target=target, db_url=f"sqlite:///{tmp_path / 'gradebook.db'}", force=force)


@pytest.mark.xdist_group("build")
def test_a_build_refuses_to_overwrite_an_edited_notebook(release, tmp_path):
    notebook = paths.module_notebooks(release, MODULE)[0]
    work = _fill(notebook)
    with pytest.raises(EditedExercise, match=r"(?s)differ from the release last generated.*nothing was written.*--force"):
        _rebuild(release, tmp_path)
    assert notebook.read_text() == work


@pytest.mark.xdist_group("build")
def test_a_forced_build_keeps_a_backup_of_the_edited_notebook(release, tmp_path):
    notebook = paths.module_notebooks(release, MODULE)[0]
    blank = notebook.read_text()
    work = _fill(notebook)
    result = _rebuild(release, tmp_path, force=True)
    assert notebook.read_text() == blank
    assert len(result.backups) == 1 and result.backups[0].read_text() == work
    assert result.backups[0].is_relative_to(tmp_path / "backups")


@pytest.mark.xdist_group("build")
def test_an_unedited_stale_release_is_replaced_and_other_files_are_kept(release, tmp_path):
    notebook = paths.module_notebooks(release, MODULE)[0]
    nb = read_notebook(notebook)
    nb.cells[0].source += "\n\nAn older sentence."
    write_notebook(nb, notebook)  # what an older build produced, recorded as generated
    stale = notebook.read_text()
    record = release / ".releases" / f"{MODULE}.sha256"
    record.write_text(f"{digest(stale.encode())}  {notebook.name}\n")
    own = release / MODULE / "my_notes.ipynb"
    own.write_text("{}")
    _rebuild(release, tmp_path)
    assert notebook.read_text() != stale and own.read_text() == "{}"
    assert read_record(release, MODULE)[notebook.name] == digest(notebook.read_bytes())


def test_the_build_command_refuses_in_one_clear_message(monkeypatch, capsys):
    def refuse(*args, **kwargs):
        raise EditedExercise("these files differ ...")

    monkeypatch.setattr("dlcourse.build.build_exercises", refuse)
    assert cli.main(["build", MODULE]) == 2
    assert "these files differ" in capsys.readouterr().err


def test_the_demo_builds_and_grades_in_its_own_folder(monkeypatch):
    calls = {}
    monkeypatch.setattr("dlcourse.build.build_exercises",
                        lambda modules, target, db_url, force: calls.update(build=(modules, target, db_url)))
    monkeypatch.setattr(cli, "cmd_grade", lambda args, course: calls.update(grade=(args.module, course)))
    cli.cmd_demo(argparse.Namespace())
    modules, target, db_url = calls["build"]
    module, course = calls["grade"]
    assert target.is_relative_to(paths.demo_dir()) and not target.is_relative_to(paths.exercises_dir())
    assert course.release == target and str(paths.demo_dir()) in db_url and course.db_url == db_url
    assert course.feedback.is_relative_to(paths.demo_dir()) and module == cli.EXAMPLE_MODULE


def test_messages_for_a_missing_notebook_never_suggest_rebuilding(tmp_path):
    for attempt in (lambda: read_notebook(tmp_path / "01_perceptron.ipynb"),
                    lambda: find_notebook("01_perceptrom.ipynb", cwd=tmp_path)):
        with pytest.raises(NotebookError) as err:
            attempt()
        assert "build" not in str(err.value) and "--force" not in str(err.value)
