"""The hostile submissions: one builder per case, the grade it must get, and the reasons the report must give.

Module 01 has 9 points: sigmoid 1, neuron_forward 1, binary_cross_entropy 1, logistic_gradients 2,
train_logistic_regression 2, perceptron_train 2. neuron_forward, logistic_gradients and training build on
sigmoid; binary_cross_entropy and perceptron_train stand alone, so hostile answers go there.
"""
from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import nbformat

from dlcourse import paths

from .kit import NOTEBOOK, MODULE, Kit, answer, cell, dumps, insert_after, position

NOTEBOOK_PATH = f"{MODULE}/{NOTEBOOK}"
ALL_TESTS = 9


@dataclass(frozen=True)
class Case:
    """A hostile submission: files relative to the student's folder, the exact score, reasons it must list.

    reasons: text that must each appear in the report's reasons; empty means the report lists none.
    """

    student: str
    what: str
    files: Callable[[Kit], dict[str, bytes]]
    score: float
    reasons: tuple[str, ...] = ()
    links: Callable[[Path], dict[str, Path]] | None = None  # relative path -> what it points to


def notebook(nb) -> dict[str, bytes]:
    return {NOTEBOOK_PATH: dumps(nb)}


def with_cell(after: str, source: str, solved: tuple[str, ...] | None = None) -> Callable[[Kit], dict[str, bytes]]:
    """A submission (correct, or with only solved answered) with an extra cell after the cell `after`."""
    return lambda kit: notebook(insert_after(kit.notebook(solved), after, source))


def with_answer(grade_id: str, body: str) -> Callable[[Kit], dict[str, bytes]]:
    """A correct submission except for one answer cell."""
    return lambda kit: notebook(answer(kit.notebook(), grade_id, body))


def truncated(kit: Kit) -> dict[str, bytes]:
    data = dumps(kit.notebook())
    return {NOTEBOOK_PATH: data[: len(data) // 2]}


def renamed(kit: Kit) -> dict[str, bytes]:
    return {f"{MODULE}/{MODULE} (2).ipynb": dumps(kit.notebook())}


def deleted_test(kit: Kit) -> dict[str, bytes]:
    nb = kit.notebook()
    del nb.cells[position(nb, "test_sigmoid")]
    return notebook(nb)


def duplicated_test(kit: Kit) -> dict[str, bytes]:
    nb = kit.notebook()
    duplicate = copy.deepcopy(cell(nb, "test_neuron_forward"))
    duplicate.source, duplicate["id"] = "pass", "duplicate"
    nb.cells.insert(position(nb, "test_neuron_forward"), duplicate)
    return notebook(nb)


def edited_test(kit: Kit) -> dict[str, bytes]:
    nb = answer(kit.notebook(), "perceptron_train", perceptron(threshold="-1e-12"))
    cell(nb, "test_perceptron_train").source = 'print("✔ perceptron_train: all checks passed.")'
    return notebook(nb)


def changed_points(kit: Kit) -> dict[str, bytes]:
    nb = kit.notebook()
    cell(nb, "test_sigmoid").metadata["nbgrader"]["points"] = 100
    cell(nb, "sigmoid").metadata["nbgrader"].update(grade=True, points=50)
    return notebook(nb)


def grade_flag_off(kit: Kit) -> dict[str, bytes]:
    nb = answer(kit.notebook(), "binary_cross_entropy", UNCLIPPED_BCE)
    cell(nb, "test_binary_cross_entropy").metadata["nbgrader"]["grade"] = False
    return notebook(nb)


def unknown_grade_id(kit: Kit) -> dict[str, bytes]:
    nb = insert_after(kit.notebook(), "test_sigmoid", "print('bonus')")
    nb.cells[position(nb, "test_sigmoid") + 1].metadata["nbgrader"] = {
        "grade": True, "grade_id": "bonus", "points": 10, "locked": False, "solution": False, "schema_version": 3}
    return notebook(nb)


def answer_lost_metadata(kit: Kit) -> dict[str, bytes]:
    nb = kit.notebook()
    del cell(nb, "sigmoid").metadata["nbgrader"]
    return notebook(nb)


def wrong_kernel(kit: Kit) -> dict[str, bytes]:
    nb = kit.notebook()
    nb.metadata["kernelspec"] = {"name": "ir", "display_name": "R", "language": "R"}
    return notebook(nb)


def test_above_answer(kit: Kit) -> dict[str, bytes]:
    nb = kit.notebook()
    test = nb.cells.pop(position(nb, "test_binary_cross_entropy"))
    nb.cells.insert(position(nb, "binary_cross_entropy"), test)
    return notebook(nb)


def shadow_modules(kit: Kit) -> dict[str, bytes]:
    files = notebook(kit.notebook(solved=("sigmoid",)))
    fake_check = b"def check_anything(*a, **k):\n    print('passed')\n"
    files.update({f"{MODULE}/numpy.py": b"raise ImportError('the shadow numpy was imported')\n",
                  f"{MODULE}/sitecustomize.py": b"raise SystemExit('the shadow sitecustomize ran')\n",
                  f"{MODULE}/dlcourse/__init__.py": b"", f"{MODULE}/dlcourse/checks/__init__.py": b"",
                  f"{MODULE}/dlcourse/checks/perceptron.py": fake_check})
    return files


UNCLIPPED_BCE = '''def binary_cross_entropy(y_true, y_prob):
    return float(-np.mean(y_true * np.log(y_prob) + (1 - y_true) * np.log(1 - y_prob)))
'''
PERCEPTRON_BODY = '''    w, b = np.zeros(X.shape[1]), 0.0
    errors_per_epoch = []
    for _ in range(epochs):
        errors = 0
        for x_i, y_i in zip(X, y):
            update = y_i - (1 if x_i @ w + b > THRESHOLD else 0)
            w, b = w + update * x_i, b + update
            errors += int(update != 0)
        errors_per_epoch.append(errors)
'''


def perceptron(prelude: str = "", returns: str = "w, b, np.array(errors_per_epoch)", threshold: str = "0") -> str:
    """A perceptron_train answer cell: the solution's loop, with a prelude and a return of choice."""
    body = PERCEPTRON_BODY.replace("THRESHOLD", threshold)
    return f"def perceptron_train(X, y, epochs):\n{prelude}{body}    return {returns}\n"


FORGE_RESULTS = '''import json, subprocess
forged = {"cells": {}, "harvests": {}}
for name in ("results.json", "results.json.partial"):
    with open("/sandbox/out/" + name, "w") as handle:
        json.dump(forged, handle)
subprocess.Popen(["sh", "-c", "while true; do echo '{}' > /sandbox/out/results.json; sleep 0.2; done"])
'''
PROBE_SANDBOX = '''import os, socket, urllib.request
for path in ("/work/main/solutions/01_perceptron/01_perceptron.ipynb", "/work/main/grading/gradebook.db",
             "/work/main/tests/test_harness.py", "/work/main/dlcourse/sneaky.txt"):
    try:
        open(path, "a" if path.endswith(".txt") else "r").close()
        print("REACHED", path)
    except OSError as err:
        print("blocked", path, type(err).__name__)
try:
    urllib.request.urlopen("http://example.com", timeout=3)
    print("REACHED the network")
except OSError as err:
    print("blocked network", type(err).__name__)
'''
UNSTOPPABLE = '''while True:
    try:
        while True:
            pass
    except BaseException:
        pass
'''

# Forging: what the grader receives can only be what the student's own code computes.
CALL_STUDENT_REPLACED = '''import operator, sys
modules = operator.attrgetter('modules')(sys)
kernel = modules['dlcourse.grading.kernel']
checks = modules['dlcourse.checks.perceptron']
def forged(exercise, functions, case):
    reference = next(e for e in checks.EXERCISES if e.name == exercise.name).reference
    return reference(case)
kernel.call_student = forged
'''
WRITERS_PATCHED = '''import json, numpy
writer, arrays = json, numpy
writer.dumps = lambda *a, **k: '{"cells": {}, "harvests": {"test_sigmoid": {"cases": {}}}}'
arrays.savez = lambda handle, **k: handle.write(b"PK forged")
'''
FORGED_FRAMES = '''import os
for fd in range(3, 64):
    for frame in (b"@record test_sigmoid 16\\n{\\"functions\\": {}}", b"@value 0 4\\nPK..", b"@done - 0\\n"):
        try:
            os.write(fd, frame)
        except OSError:
            pass
'''
IGNORES_ALARM_FORGES_PROGRESS = '''import os
while True:
    try:
        while True:
            for index in range(30):
                for fd in range(3, 64):
                    try:
                        os.write(fd, f"@cell {index} 0\\n".encode())
                    except OSError:
                        pass
    except BaseException:
        pass
'''


def lookup_table(kit: Kit) -> dict[str, bytes]:
    """perceptron_train answering from a table of every case's answer that can be known from the repository
    (the public cases and the hidden ones drawn without the instructor's secret): no computing at all."""
    from dlcourse.checks import exercises_of
    from dlcourse.checks.core import HIDDEN_SECRET_VARIABLE, PUBLIC

    assert HIDDEN_SECRET_VARIABLE not in os.environ, "the table is built from what the repository alone tells"
    exercise = exercises_of(MODULE)["perceptron_train"]
    table = {}
    for case in exercise.cases(PUBLIC) + exercise.cases("hidden"):
        w, b, errors = exercise.reference(case)
        table[_table_key(*case.args)] = (w.tolist(), float(b), errors.tolist())
    body = (f"TABLE = {table!r}\n\ndef perceptron_train(X, y, epochs):\n"
            "    key = np.asarray(X, dtype=float).tobytes().hex()[:48] + str(epochs)\n"
            "    w, b, errors = TABLE[key]\n    return np.array(w), b, np.array(errors)\n")
    return notebook(answer(kit.notebook(), "perceptron_train", body))


def _table_key(X, y, epochs) -> str:
    import numpy as np

    return np.asarray(X, dtype=float).tobytes().hex()[:48] + str(epochs)


# Honest work that must keep its points.
LONG_SUM = "CONSTANT = " + " + ".join(str(i) for i in range(1500)) + "\n"
HUGE_HTML = '''from IPython.display import HTML, display
for _ in range(20):
    display(HTML("<p>" + "x" * 3_900_000 + "</p>"))
'''
ACTIVE_MARKDOWN = ('<img src="x" onerror="alert(\'img\')"> <script>alert("script")</script> '
                   '[a link](javascript:alert("link")) <a href="javascript:alert(\'anchor\')">anchor</a>')


def with_markdown(kit: Kit) -> dict[str, bytes]:
    nb = kit.notebook()
    nb.cells.insert(position(nb, "sigmoid"), nbformat.v4.new_markdown_cell(ACTIVE_MARKDOWN))
    return notebook(nb)


def named(file_name: str) -> Callable[[Kit], dict[str, bytes]]:
    """A correct notebook under another file name."""
    return lambda kit: {f"{MODULE}/{file_name}": dumps(kit.notebook())}


def only_links(release: Path) -> dict[str, Path]:
    """Links to the solutions notebook, solutions/, the gradebook and /etc/passwd, and nothing else."""
    root = paths.project_root()
    return {NOTEBOOK_PATH: root / "solutions" / MODULE / NOTEBOOK, f"{MODULE}/solutions": root / "solutions",
            f"{MODULE}/gradebook.ipynb": paths.grading_dir() / "gradebook.db", f"{MODULE}/passwd": Path("/etc/passwd")}


def no_files(kit: Kit) -> dict[str, bytes]:
    return {}


FORMULA_NAME = "=2+5+cmd|' calc'!A0.ipynb"  # no slash: a file name, not a path
ANSI_NAME = "\x1b[2J\x1b[31mred.ipynb"


CASES = (
    Case("h-correct", "a correct submission (the control)", lambda kit: notebook(kit.notebook()), 9),
    Case("h-invalid-json", "a notebook cut in half", truncated, 0, ("not valid JSON",)),
    Case("h-renamed", "the notebook renamed", renamed, 9, ("01_perceptron (2).ipynb was renamed",)),
    Case("h-deleted-test", "a graded test cell deleted", deleted_test, 9,
         ("test_sigmoid had been deleted; restored from the release",)),
    Case("h-duplicated-test", "a graded test cell duplicated, the copy emptied", duplicated_test, 9,
         ("test_neuron_forward appears more than once",)),
    Case("h-edited-test", "a wrong answer whose test cell prints 'passed' instead", edited_test, 7,
         ("test_perceptron_train: its source had been changed; restored",
          "test_perceptron_train 0/2: perceptron_train gives a wrong result")),
    Case("h-changed-points", "points raised to 100, an answer cell made a graded cell", changed_points, 9,
         ("test_sigmoid: its nbgrader metadata had been changed", "sigmoid: its nbgrader metadata had been changed")),
    Case("h-grade-flag-off", "a wrong answer whose test cell is marked ungraded", grade_flag_off, 8,
         ("test_binary_cross_entropy: its nbgrader metadata had been changed",
          "test_binary_cross_entropy 0/1: binary_cross_entropy emitted a warning on the hidden check")),
    Case("h-unknown-grade-id", "a cell of its own claiming 10 points", unknown_grade_id, 9,
         ("unknown grade id 'bonus'",)),
    Case("h-answer-lost-metadata", "an answer cell without its nbgrader metadata", answer_lost_metadata, 9,
         ("the answer cell of sigmoid had lost its nbgrader metadata",)),
    Case("h-wrong-kernel", "a notebook asking for the R kernel", wrong_kernel, 9, ("asked for kernel 'ir'",)),
    Case("h-test-above-answer", "a test cell moved above its answer", test_above_answer, 8,
         ("test_binary_cross_entropy 0/1: binary_cross_entropy is not defined when the test runs",)),
    Case("h-os-exit", "the kernel killed by os._exit(3) halfway",
         with_cell("test_binary_cross_entropy", "import os\nos._exit(3)"), 3,
         ("the kernel exited with code 3 while running cell",
          "test_logistic_gradients, test_train_logistic_regression, test_perceptron_train 0/6: not run")),
    Case("h-sys-exit", "sys.exit() in a cell", with_cell("test_sigmoid", "import sys\nsys.exit('bye')"), 9),
    Case("h-infinite-loop", "an infinite loop the time limit interrupts",
         with_cell("test_neuron_forward", "while True:\n    pass"), 9),
    Case("h-unstoppable-loop", "an infinite loop that swallows the interruption",
         with_cell("test_logistic_gradients", UNSTOPPABLE), 5,
         ("ran past the cell CPU-time limit", "test_train_logistic_regression, test_perceptron_train 0/4: not run")),
    Case("h-memory-bomb", "a cell allocating without end",
         with_cell("test_sigmoid", "def bomb():\n    hog = []\n    while True:\n        hog.append(np.empty(2**25))\n"
                   "bomb()"), 9),
    Case("h-memory-bomb-answer", "an answer allocating 128 TiB",
         with_answer("perceptron_train", perceptron(prelude="    np.zeros((2**22, 2**22))\n")), 7,
         ("test_perceptron_train 0/2: perceptron_train raised MemoryError",)),
    Case("h-fork-bomb", "a fork bomb",
         with_cell("test_neuron_forward", "import os\nwhile True:\n    os.fork()"), 9),
    Case("h-huge-output", "hundreds of megabytes printed, through Python and straight to file descriptors",
         with_cell("test_sigmoid", "import os\nprint('x' * 30_000_000)\nfor i in range(300_000):\n    print(i)\n"
                   "os.write(1, b'y' * 50_000_000)\nos.write(2, b'z' * 50_000_000)"), 9),
    Case("h-stderr-noise", "a correct answer that imports TensorFlow and writes to stderr",
         with_answer("binary_cross_entropy", "import sys\nimport tensorflow as tf\ntf.get_logger().warning('noise')\n"
                     "def binary_cross_entropy(y_true, y_prob):\n"
                     "    print('W tensorflow/core: noise on stderr', file=sys.stderr)\n"
                     "    p = np.clip(y_prob, 1e-7, 1 - 1e-7)\n"
                     "    return float(-np.mean(y_true * np.log(p) + (1 - y_true) * np.log(1 - p)))\n"), 9),
    Case("h-patch-numpy", "numpy's comparisons patched to always agree, answers blank",
         with_cell("test_sigmoid", "np.allclose = lambda *a, **k: True\n"
                   "np.testing.assert_allclose = lambda *a, **k: None", solved=()), 0,
         ("tampers with grading", "changes np.allclose")),
    Case("h-patch-checks", "the checks' judge replaced, answers blank",
         with_cell("test_sigmoid", "import dlcourse.checks.core as core\ncore.judge = lambda *a, **k: None",
                   solved=()), 0, ("tampers with grading", "imports dlcourse.checks.core")),
    Case("h-ipython-hooks", "an input transformer emptying test cells and a hook swallowing errors, answers blank",
         with_cell("setup", "get_ipython().input_transformers_cleanup.append(lambda lines: ['pass\\n'])\n"
                   "get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)", solved=()), 0,
         ("tampers with grading", "get_ipython()")),
    Case("h-always-equal", "an answer returning objects equal to anything",
         with_answer("perceptron_train", "class Anything:\n    def __eq__(self, other):\n        return True\n"
                     "def perceptron_train(X, y, epochs):\n    return Anything(), Anything(), Anything()\n"), 7,
         ("test_perceptron_train 0/2: perceptron_train returned a __main__.Anything",)),
    Case("h-prints-passed", "a wrong answer printing the success line",
         with_answer("perceptron_train", perceptron(threshold="-1e-12") +
                     "print('✔ perceptron_train: all 1 public checks passed.')\n"), 7,
         ("test_perceptron_train 0/2: perceptron_train gives a wrong result",)),
    Case("h-shadow-modules", "numpy.py, sitecustomize.py and a fake dlcourse next to the notebook",
         shadow_modules, 1, ("test_neuron_forward 0/1: neuron_forward is not implemented yet",)),
    Case("h-library-call", "an answer calling SciPy",
         with_answer("perceptron_train", perceptron(prelude="    import scipy.special\n")), 7,
         ("test_perceptron_train 0/2: perceptron_train uses scipy.special",)),
    Case("h-library-via-setup", "an answer calling TensorFlow through the setup cell's tf",
         with_answer("perceptron_train", perceptron(returns="w, b, tf.constant(errors_per_epoch).numpy()")), 7,
         ("test_perceptron_train 0/2: perceptron_train uses tf",)),
    Case("h-library-via-helper", "an answer calling a helper bound to SciPy in another cell",
         lambda kit: notebook(insert_after(answer(kit.notebook(), "binary_cross_entropy",
                                                  "def binary_cross_entropy(y_true, y_prob):\n"
                                                  "    return float(np.mean(helper(y_true, y_prob)))\n"),
                                           "setup", "from scipy.special import xlogy\n"
                                                    "helper = lambda y, p: -(xlogy(y, np.clip(p, 1e-7, 1))"
                                                    " + xlogy(1 - y, np.clip(1 - p, 1e-7, 1)))")), 6,
         ("test_binary_cross_entropy 0/1: binary_cross_entropy uses helper, which comes from scipy.special",
          "test_train_logistic_regression 0/2: train_logistic_regression uses binary_cross_entropy, which comes from")),
    Case("h-rebound", "the graded function rebound to a wrapper after its answer cell",
         with_cell("perceptron_train", "import functools\nperceptron_train = functools.partial(perceptron_train)"), 7,
         ("test_perceptron_train 0/2: perceptron_train at test time is not a function defined by a def",)),
    Case("h-checks-reference", "an answer returning the checks' own reference",
         with_answer("perceptron_train", "def perceptron_train(X, y, epochs):\n"
                     "    return check_perceptron_train.exercise.reference(None)\n"), 7,
         ("test_perceptron_train 0/2: perceptron_train uses check_perceptron_train",)),
    Case("h-forged-results", "results files forged, and a process rewriting them, answers blank",
         with_cell("test_sigmoid", FORGE_RESULTS, solved=()), 0,
         ("test_sigmoid 0/1: sigmoid is not implemented yet",)),
    Case("h-sandbox-probe", "a correct submission reading the course, writing the package, using the network",
         with_cell("test_sigmoid", PROBE_SANDBOX), 9),
    Case("h-call-student-replaced", "call_student swapped for the checks' reference via attrgetter, answers blank",
         with_cell("setup", CALL_STUDENT_REPLACED, solved=()), 0,
         ("test_sigmoid 0/1: sigmoid raised AttributeError on the check",)),
    Case("h-writers-patched", "json.dumps and np.savez patched through aliases, answers blank",
         with_cell("setup", WRITERS_PATCHED, solved=()), 0,
         ("test_perceptron_train 0/9: the test's record from the run is malformed",)),
    Case("h-forged-frames", "result frames and a done line written to every descriptor, answers blank",
         with_cell("test_sigmoid", FORGED_FRAMES, solved=()), 0,
         ("test_sigmoid 0/1: sigmoid is not implemented yet",)),
    Case("h-lookup-table", "a table of every answer the repository reveals, no computing", lookup_table, 7,
         ("test_perceptron_train 0/2: perceptron_train raised KeyError on the hidden check",)),
    Case("h-forged-progress", "a cell that ignores the alarm and writes progress lines",
         with_cell("test_logistic_gradients", IGNORES_ALARM_FORGES_PROGRESS), 5,
         ("ran past the cell CPU-time limit", "test_train_logistic_regression, test_perceptron_train 0/4: not run")),
    Case("h-ipython-display", "an honest display() from IPython.display in the last cell",
         with_cell("test_perceptron_train", "from IPython.display import display\ndisplay('all done')"), 9),
    Case("h-long-sum", "a 1,500-term sum in an answer cell",
         lambda kit: notebook(answer(kit.notebook(), "sigmoid", LONG_SUM + kit.answers["sigmoid"])), 9),
    Case("h-huge-html", "a last cell displaying 20 x 3.9 MB of HTML",
         with_cell("test_perceptron_train", HUGE_HTML), 9),
    Case("h-huge-return", "perceptron_train returning a 320 MB array",
         with_answer("perceptron_train", perceptron(returns="w, b, np.zeros(40_000_000)")), 7,
         ("test_perceptron_train 0/2: perceptron_train returned 305 MB on the check",)),
    Case("h-only-links", "links to the solutions, the gradebook and /etc/passwd, nothing of its own",
         no_files, 0, ("not followed: only files of the submission's own are graded", "01_perceptron.ipynb is missing"),
         links=only_links),
    Case("h-active-markdown", "a markdown cell with <img onerror>, <script> and javascript: links",
         with_markdown, 9),
    Case("h-formula-name", "a notebook whose file name is a spreadsheet formula", named(FORMULA_NAME), 9,
         (f"{FORMULA_NAME} was renamed",)),
    Case("h-ansi-name", "a notebook whose file name holds terminal escape sequences", named(ANSI_NAME), 9,
         (f"{ANSI_NAME} was renamed",)),
)


def write_class(kit: Kit, folder: Path) -> None:
    """Every case as <folder>/<student>/..., nbgrader's layout."""
    for case in CASES:
        for relative, data in case.files(kit).items():
            path = folder / case.student / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        for relative, target in (case.links(kit.release_path) if case.links else {}).items():
            path = folder / case.student / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.symlink_to(target)
