"""exercises/ is exactly what the build makes from solutions/; bad notebooks give one clear message."""
from __future__ import annotations

import shutil

import pytest

from dlcourse import cli, paths
from dlcourse.build import build_exercises
from dlcourse.notebooks import NotebookError, read_notebook


@pytest.fixture(scope="module")
def fresh_release(tmp_path_factory):
    target = tmp_path_factory.mktemp("release")
    build_exercises(target=target, db_url=f"sqlite:///{target / 'gradebook.db'}")
    return target


@pytest.mark.xdist_group("build")
@pytest.mark.parametrize("module", paths.modules())
def test_committed_exercises_match_a_fresh_build(fresh_release, module):
    committed = paths.module_notebooks(paths.exercises_dir(), module)
    built = paths.module_notebooks(fresh_release, module)
    assert [p.name for p in committed] == [p.name for p in built]
    for old, new in zip(committed, built):
        assert old.read_bytes() == new.read_bytes(), f"exercises/{module}/{old.name} is stale: run `dlcourse build`"


def test_read_notebook_names_the_fix_for_broken_json(tmp_path):
    broken = tmp_path / "broken.ipynb"
    broken.write_text('{"cells": [')
    with pytest.raises(NotebookError, match=r"broken.ipynb is not valid JSON.*git checkout"):
        read_notebook(broken)


def test_read_notebook_rejects_json_that_is_not_a_notebook(tmp_path):
    other = tmp_path / "other.ipynb"
    other.write_text('{"hello": 1}')
    with pytest.raises(NotebookError, match="not a Jupyter notebook"):
        read_notebook(other)


def test_build_command_reports_a_broken_source_in_one_line(tmp_path, monkeypatch, capsys):
    shutil.copytree(paths.solutions_dir(), tmp_path / "solutions")
    source = tmp_path / "solutions" / "01_perceptron" / "01_perceptron.ipynb"
    source.write_text(source.read_text()[:500])
    monkeypatch.setattr(paths, "solutions_dir", lambda: tmp_path / "solutions")
    assert cli.main(["build", "01_perceptron"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "01_perceptron.ipynb is not valid JSON" in err


def test_build_command_rejects_an_unknown_module(capsys):
    assert cli.main(["build", "99_nothing"]) == 2
    assert "unknown module(s) 99_nothing" in capsys.readouterr().err


@pytest.mark.parametrize("module", paths.modules())
def test_the_build_record_matches_the_committed_exercises(module):
    from dlcourse.build import digest, read_record

    record = read_record(paths.exercises_dir(), module)
    notebooks = paths.module_notebooks(paths.exercises_dir(), module)
    assert record, f"exercises/.releases/{module}.sha256 is missing: run `dlcourse build {module}`"
    for notebook in notebooks:
        assert record.get(notebook.name) == digest(notebook.read_bytes()), f"run `dlcourse build {module}`"
