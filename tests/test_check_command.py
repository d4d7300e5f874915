"""`dlcourse check` finds the notebook from where the student is, says what it is doing, and shows each failure
in full; `dlcourse.check_this_notebook()` does the same from the notebook and nothing under grading."""
from __future__ import annotations

import shutil

import pytest

import dlcourse
from dlcourse import cli, paths
from dlcourse.grading import student_check
from dlcourse.grading.judging import Verdict
from dlcourse.grading.student_check import find_notebook, format_outcomes

EXERCISE = paths.exercises_dir() / "01_perceptron" / "01_perceptron.ipynb"
FAILURE = ("sigmoid gives a wrong result on the check 'z = 0':\n  input:    0\n  expected: 0.5\n  got:      0\n"
           "  hint: sigmoid(z) = 1 / (1 + exp(-z))")


@pytest.mark.parametrize("argument", ["01_perceptron", "01_perceptron.ipynb", "exercises/01_perceptron",
                                      "exercises/01_perceptron/01_perceptron.ipynb"])
def test_the_notebook_is_found_from_the_course_folder(argument):
    assert find_notebook(argument, cwd=paths.project_root()).resolve() == EXERCISE


def test_no_argument_in_a_module_folder_means_its_notebook():
    assert find_notebook(None, cwd=EXERCISE.parent) == EXERCISE
    assert find_notebook("01_perceptron.ipynb", cwd=EXERCISE.parent) == EXERCISE


def test_no_argument_elsewhere_means_the_exercise_saved_last(tmp_path, monkeypatch, capsys):
    for module in ("01_perceptron", "02_backprop"):
        (tmp_path / module).mkdir()
        shutil.copy(paths.module_notebooks(paths.exercises_dir(), module)[0], tmp_path / module)
    latest = tmp_path / "02_backprop" / "02_backprop.ipynb"
    latest.touch()
    monkeypatch.setattr(paths, "exercises_dir", lambda: tmp_path)
    assert find_notebook(None, cwd=tmp_path.parent) == latest
    assert "saved last" in capsys.readouterr().out


def test_a_failure_is_shown_with_input_expected_got_and_hint():
    verdict = Verdict("test_sigmoid", 0.0, 1.0, FAILURE.splitlines()[0], FAILURE)
    report = format_outcomes(EXERCISE, [verdict, Verdict("test_neuron_forward", 1.0, 1.0)], [])
    for part in ("FAIL test_sigmoid", "input:    0", "expected: 0.5", "got:      0", "hint: sigmoid(z)",
                 "PASS test_neuron_forward", "1/2 points"):
        assert part in report


def test_the_check_says_what_it_is_doing_before_and_after(monkeypatch, capsys):
    monkeypatch.setattr(student_check, "check_notebook", lambda path: ([Verdict("test_sigmoid", 1.0, 1.0)], []))
    assert cli.main(["check", "01_perceptron"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Checking exercises/01_perceptron/01_perceptron.ipynb: running its")
    assert out[1].startswith("... ran in") and "PASS test_sigmoid" in "\n".join(out)


def test_a_failed_check_exits_1(monkeypatch, capsys):
    monkeypatch.setattr(student_check, "check_notebook", lambda path: ([Verdict("test_sigmoid", 0.0, 1.0, "x")], []))
    assert cli.main(["check", "01_perceptron"]) == 1


def test_check_this_notebook_does_nothing_outside_jupyterlab(monkeypatch, capsys):
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    monkeypatch.setattr(student_check, "check_notebook", lambda path: pytest.fail("ran a check under grading"))
    assert dlcourse.check_this_notebook() is None
    assert "nothing to do here" in capsys.readouterr().out


def test_check_this_notebook_checks_the_notebook_jupyterlab_names(monkeypatch, capsys):
    monkeypatch.setenv("JPY_SESSION_NAME", str(EXERCISE))
    checked = []
    monkeypatch.setattr(student_check, "check_notebook",
                        lambda path: checked.append(path) or ([Verdict("test_sigmoid", 1.0, 1.0)], []))
    assert dlcourse.check_this_notebook() is True
    assert checked == [EXERCISE] and "save first" in capsys.readouterr().out


@pytest.mark.notebooks
def test_the_command_runs_from_inside_a_module_folder(tmp_path):
    """For real, as the exercise says: in the module's folder, `dlcourse check` with no argument."""
    import subprocess
    import sys
    from pathlib import Path

    folder = tmp_path / "00_setup"
    shutil.copytree(paths.exercises_dir() / "00_setup", folder)
    command = Path(sys.executable).parent / "dlcourse"
    result = subprocess.run([str(command), "check"], cwd=folder, capture_output=True, text=True, timeout=600)
    assert result.stdout.startswith(f"Checking {folder / '00_setup.ipynb'}: running its"), result.stdout + result.stderr
    assert "Visible tests of 00_setup.ipynb" in result.stdout
