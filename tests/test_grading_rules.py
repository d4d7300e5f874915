"""The rules read on the source (tampering, from scratch), the plain-data files, and the student's own check."""
from __future__ import annotations

import os

import nbformat
import numpy as np
import pytest

from dlcourse import cli, paths
from dlcourse.grading import plain
from dlcourse.grading.prepare import prepare
from dlcourse.grading.static_rules import library_use, parse_notebook, tampering
from dlcourse.notebooks import read_notebook
from hostile.kit import MODULE, NOTEBOOK, Kit, answer, insert_after

SOLUTION = paths.solutions_dir() / MODULE / NOTEBOOK
GRADED = ("sigmoid", "neuron_forward", "binary_cross_entropy", "logistic_gradients", "train_logistic_regression",
          "perceptron_train")


def code_of(*extra: str):
    """The solution notebook's code with extra cells after the sigmoid answer, parsed."""
    nb = read_notebook(SOLUTION)
    for source in reversed(extra):
        insert_after(nb, "sigmoid", source)
    return parse_notebook(prepare(nb, None))


def tamper_texts(*extra: str) -> list[str]:
    return [finding.what for finding in tampering(code_of(*extra))]


def test_the_solution_breaks_no_rule():
    code = code_of()
    assert tampering(code) == []
    for function in GRADED:
        assert library_use(code, function, None, ()) == [], function


@pytest.mark.parametrize("source, expected", [
    ("np.allclose = lambda *a, **k: True", "changes np.allclose"),
    ("del np.testing.assert_allclose", "changes np.testing.assert_allclose"),
    ("check_sigmoid.exercise = None", "changes check_sigmoid.exercise"),
    ("import dlcourse.checks.core as core", "imports dlcourse.checks.core"),
    ("from importlib import reload", "imports importlib"),
    ("import sys\nsys.modules['numpy'] = None", "uses sys.modules"),
    ("import threading", "imports threading"),
    ("exec('x = 1')", "uses exec"),
    ("f = sigmoid.__globals__", "reads __globals__"),
    ("x = getattr(np, 'al' + 'lclose')", "reads an attribute through getattr"),
    ("get_ipython().events.register('post_run_cell', print)", "uses get_ipython()"),
    ("%run helper.py", "uses the %run magic"),
    ("data = np.load('x.npy', allow_pickle=True)", "loads pickles"),
])
def test_tampering_is_found(source, expected):
    assert any(expected in text for text in tamper_texts(source)), tamper_texts(source)


@pytest.mark.parametrize("source", ["%matplotlib inline", "!ls", "%time x = 1", "import os\nos.listdir('.')",
                                    "plt.rcParams['figure.figsize'] = (4, 3)", "import sys\nsys.exit()"])
def test_ordinary_code_is_not_tampering(source):
    assert tamper_texts(source) == []


@pytest.mark.parametrize("answer_source, expected", [
    ("from scipy.special import expit\ndef sigmoid(z):\n    return expit(z)", "uses expit, which comes from scipy.special"),
    ("def sigmoid(z):\n    return tf.math.sigmoid(z).numpy()", "uses tf, which comes from dlcourse.environment"),
    ("def sigmoid(z):\n    import torch\n    return torch.sigmoid(z)", "uses torch"),
    ("def sigmoid(z):\n    return np.load('answers.npy')", "uses np.load"),
    ("def sigmoid(z):\n    return check_sigmoid.exercise.reference(z)", "uses check_sigmoid"),
])
def test_from_scratch_answers_may_not_reach_a_library(answer_source, expected):
    nb = read_notebook(SOLUTION)
    answer(nb, "sigmoid", answer_source)
    findings = library_use(parse_notebook(prepare(nb, None)), "sigmoid", None, ())
    assert any(expected in f.what for f in findings), findings
    assert library_use(parse_notebook(prepare(nb, None)), "neuron_forward", None, ()), "neuron_forward uses sigmoid"


def test_values_computed_by_a_library_in_another_cell_are_followed():
    nb = read_notebook(SOLUTION)
    insert_after(nb, "setup", "import scipy.special\nTABLE = []\n"
                              "for v in range(3):\n    TABLE.append(scipy.special.expit(v))")
    answer(nb, "sigmoid", "def sigmoid(z):\n    return np.asarray(TABLE)")
    findings = library_use(parse_notebook(prepare(nb, None)), "sigmoid", None, ())
    assert [f.what for f in findings] == ["uses TABLE, which comes from scipy.special"]


def test_plain_data_round_trip_and_refusals(tmp_path):
    arrays: list[np.ndarray] = []
    structure = plain.encode((np.arange(3.0), (np.float64(2.0), np.eye(2))), arrays)
    plain.write(tmp_path, {"value": structure}, arrays)
    document, loaded = plain.read(tmp_path)
    value = plain.decode(document["value"], loaded)
    assert value[0].tolist() == [0, 1, 2] and value[1][1].tolist() == [[1, 0], [0, 1]]

    np.savez(tmp_path / plain.ARRAYS_FILE, a0=np.array([object()], dtype=object))
    with pytest.raises(plain.PlainDataError, match="not a readable .npz"):
        plain.read(tmp_path)
    np.savez(tmp_path / plain.ARRAYS_FILE, a0=np.arange(3))
    with pytest.raises(plain.PlainDataError, match="dtype int64"):
        plain.read(tmp_path)
    (tmp_path / plain.RESULTS_FILE).unlink()
    os.symlink("/etc/passwd", tmp_path / plain.RESULTS_FILE)
    with pytest.raises(plain.PlainDataError, match="missing"):
        plain.read(tmp_path)
    with pytest.raises(plain.PlainDataError):
        plain.decode({"array": "a9"}, {})


def test_student_check_runs_what_grading_runs_with_the_visible_tests(tmp_path, capsys):
    kit = Kit(paths.exercises_dir() / MODULE / NOTEBOOK)
    nb = kit.notebook(solved=("sigmoid", "binary_cross_entropy"))
    answer(nb, "binary_cross_entropy", "from scipy.special import xlogy\n" + kit.answers["binary_cross_entropy"]
           .replace("y_true * np.log(p)", "xlogy(y_true, p)"))
    path = tmp_path / MODULE / NOTEBOOK
    path.parent.mkdir()
    nbformat.write(nb, path)
    assert cli.main(["check", str(path)]) == 1
    out = capsys.readouterr().out
    assert "PASS test_sigmoid (1 pt)" in out
    assert "FAIL test_binary_cross_entropy (1 pt): binary_cross_entropy uses xlogy, which comes from scipy.special" in out
    assert "FAIL test_neuron_forward (1 pt): neuron_forward is not implemented yet" in out
    assert "1/9 points on the visible tests" in out and "hidden" in out


def scratch_use(answer_cell: str, *extra: str, forbidden=("numpy.convolve", "numpy.pad", "scipy.signal")) -> list[str]:
    """The from-scratch findings of sigmoid when its answer cell is answer_cell and extra cells follow it."""
    nb = answer(read_notebook(SOLUTION), "sigmoid", answer_cell)
    for source in reversed(extra):
        insert_after(nb, "sigmoid", source)
    return [f.what for f in library_use(parse_notebook(prepare(nb, None)), "sigmoid", None, forbidden)]


@pytest.mark.parametrize("answer_cell", [
    "def convolve(a, b):\n    return a * b\n\ndef sigmoid(z):\n    return convolve(z, 1.0)",
    "class Padded:\n    pad = 0\n\ndef sigmoid(z):\n    return z + Padded().pad",
    "def sigmoid(z, pad=0):\n    return z + pad",
    "def sigmoid(z):\n    image = np.asarray(z)\n    return image.pad if hasattr(image, 'pad') else image",
])
def test_a_name_that_merely_looks_like_a_library_function_is_not_a_library_call(answer_cell):
    assert scratch_use(answer_cell) == []


@pytest.mark.parametrize("answer_cell, extra, expected", [
    ("def sigmoid(z):\n    return np.pad(z, 0)", (), "uses np.pad"),
    ("from numpy import pad\ndef sigmoid(z):\n    return pad(z, 0)", (), "uses pad"),
    ("def sigmoid(z):\n    return numpy_convolve(z, [1.0])", ("from numpy import convolve as numpy_convolve",),
     "uses numpy_convolve"),
    ("import scipy.signal\ndef sigmoid(z):\n    return scipy.signal.convolve(z, [1.0])", (), "uses scipy.signal"),
    ("def sigmoid(z):\n    return np.loadtxt('answers.txt')", (), "uses np.loadtxt"),
    ("def sigmoid(z):\n    return float(open('answers.txt').read())", (), "uses open"),
])
def test_a_forbidden_call_is_found_by_what_it_resolves_to(answer_cell, extra, expected):
    assert any(expected in text for text in scratch_use(answer_cell, *extra)), scratch_use(answer_cell, *extra)


def test_a_long_expression_is_read_without_recursion():
    long_sum = "total = " + " + ".join(f"{i}" for i in range(1500))
    assert tamper_texts(long_sum) == []
    assert scratch_use("def sigmoid(z):\n    return 1 / (1 + np.exp(-z)) + 0 * (" + long_sum[8:] + ")") == []


def test_ipython_display_may_be_imported_but_ipython_itself_not():
    assert tamper_texts("from IPython.display import display, HTML\ndisplay(HTML('<b>done</b>'))") == []
    assert tamper_texts("import IPython\nIPython.get_ipython()")
