"""The student's pre-submission check: the notebook goes through what grading does, with the visible tests only.

Same runner, same harvest, same judgement and the same rules on the code (:mod:`dlcourse.grading.evaluate`);
what differs is that no sandbox is needed (it is the student's own code on their own machine), only the
public cases run, and the notebook's own test cells are taken as they are.

Two ways in, with the same report: ``dlcourse check [notebook or module]`` in a terminal, and
``dlcourse.check_this_notebook()`` in a cell of the notebook itself (JupyterLab tells the kernel which
notebook it belongs to).
"""
from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Callable

from .. import paths
from ..checks import CHECKS_BY_MODULE
from ..notebooks import NotebookError, read_notebook
from .course import Course, NotebookSource
from .evaluate import RunSettings, evaluate
from .judging import Verdict
from .sandbox import Isolation, Limits

MODULE_PREFIX = re.compile(r"^\d\d_[a-z0-9_]+?(?=$|[^a-z0-9_])")
CHECK_COMMAND = "dlcourse check"
IN_NOTEBOOK_CALL = "dlcourse.check_this_notebook()"


def module_of(path: Path) -> str | None:
    """The course module a notebook belongs to: its folder's name, else the start of its file name."""
    for name in (path.parent.name, path.stem):
        found = MODULE_PREFIX.match(name)
        if found and found.group(0) in CHECKS_BY_MODULE:
            return found.group(0)
    return None


def check_notebook(path: Path) -> tuple[list[Verdict], list[str]]:
    """Run the notebook as grading will and judge its visible tests: (verdicts, notes)."""
    path = Path(path)
    nb = read_notebook(path)
    module = module_of(path)
    settings = RunSettings(Isolation(False), Limits(), len(os.sched_getaffinity(0)), ("public",),
                           Course.default().data_files(module) if module else {})
    evaluation = evaluate(nb, None, NotebookSource.from_notebook(path.stem, nb), module, settings)
    return evaluation.verdicts, evaluation.notes


def format_outcomes(path: Path, verdicts: list[Verdict], notes: list[str]) -> str:
    """The report printed by `dlcourse check`: one line per visible test, the full message of each failure
    (input, expected, got, hint), the total, and the caveat."""
    lines = [f"Visible tests of {Path(path).name} (hidden tests run only at grading):"]
    lines += [f"  note: {note}" for note in notes]
    for v in verdicts:
        mark = "PASS" if v.passed else "FAIL"
        lines.append(f"  {mark} {v.grade_id} ({v.max_score:g} pt){'' if v.passed else ': ' + v.reason}")
        details = v.message.strip()
        if not v.passed and details and details != v.reason.strip():
            body = details.removeprefix(v.reason.strip()).strip("\n")
            lines += [f"       {line}" for line in body.splitlines()]
    earned = sum(v.score or 0 for v in verdicts)
    total = sum(v.max_score for v in verdicts)
    lines.append(f"{earned:g}/{total:g} points on the visible tests. Passing them is necessary, not sufficient: "
                 "hidden tests with other inputs decide the grade.")
    return "\n".join(lines)


def run_check(path: Path, say: Callable[[str], None] = print) -> bool:
    """Check one notebook, saying what happens as it goes; True when every visible test passed."""
    path = Path(path)
    cells = sum(cell.cell_type == "code" for cell in read_notebook(path).cells)
    say(f"Checking {_shown(path)}: running its {cells} code cells in a fresh kernel, as grading will "
        "(notebooks that train a model take a minute) ...")
    start = time.perf_counter()
    verdicts, notes = check_notebook(path)
    say(f"... ran in {time.perf_counter() - start:.0f} s; judging the visible tests:")
    say(format_outcomes(path, verdicts, notes))
    return all(v.passed for v in verdicts)


def find_notebook(argument: str | None, cwd: Path | None = None) -> Path:
    """The notebook `dlcourse check [argument]` means, from the folder it was typed in.

    argument may be a path (file or module folder), a file name or a module name (`01_perceptron`), looked up
    in cwd and then in the course's exercises/; None means the notebook of the module folder cwd is in, or,
    elsewhere, the exercise saved last. NotebookError names what to type when nothing fits.
    """
    cwd = Path(cwd or Path.cwd())
    if argument is None:
        return _notebook_in(cwd) or _latest_exercise()
    given = Path(argument).expanduser()
    name = given.name.removesuffix(".ipynb")
    module = MODULE_PREFIX.match(name)
    candidates = [cwd / given]
    if module:
        candidates += [paths.exercises_dir() / module.group(0) / given.name, paths.exercises_dir() / name]
    for candidate in candidates:
        found = candidate if candidate.is_file() else _notebook_in(candidate) if candidate.is_dir() else None
        if found is None and candidate.suffix != ".ipynb" and candidate.with_suffix(".ipynb").is_file():
            found = candidate.with_suffix(".ipynb")
        if found:
            return found
    raise NotebookError(f"no notebook {argument!r} here ({cwd}) or in {paths.exercises_dir()}. Name the module, "
                        f"e.g. `{CHECK_COMMAND} 01_perceptron`, or the notebook's path.")


def _notebook_in(folder: Path) -> Path | None:
    """The one exercise notebook of a module folder (None when the folder holds none, or several)."""
    notebooks = [p for p in sorted(folder.glob("*.ipynb")) if module_of(p)]
    return notebooks[0] if len(notebooks) == 1 else None


def _latest_exercise() -> Path:
    """The exercise notebook saved last, for `dlcourse check` typed outside a module folder."""
    notebooks = [p for p in paths.exercises_dir().glob("*/*.ipynb") if module_of(p)]
    if not notebooks:
        raise NotebookError(f"no exercise notebook in {paths.exercises_dir()}: name the notebook to check, "
                            f"e.g. `{CHECK_COMMAND} path/to/01_perceptron.ipynb`.")
    latest = max(notebooks, key=lambda p: p.stat().st_mtime)
    print(f"No notebook named: checking the exercise saved last ({_shown(latest)}); name another with "
          f"`{CHECK_COMMAND} 02_backprop`.")
    return latest


def _shown(path: Path) -> str:
    """A path as the student knows it: relative to the course folder when inside it."""
    try:
        return str(path.resolve().relative_to(paths.project_root()))
    except ValueError:
        return str(path)


def check_this_notebook() -> bool | None:
    """Check the notebook this kernel belongs to, from one of its own cells (JupyterLab only).

    The check runs the file as saved: save first (Ctrl+S). Under grading, `dlcourse check` or any run that
    JupyterLab did not start, the kernel does not know its notebook, so the call only says so and returns
    None: a cell left with this call in it costs nothing at grading.
    """
    session = os.environ.get("JPY_SESSION_NAME", "")
    path = Path(session) if session.endswith(".ipynb") else None
    if path is None or not path.is_file():
        print(f"{IN_NOTEBOOK_CALL} checks a notebook open in JupyterLab; this run was not started by JupyterLab "
              f"(grading, `{CHECK_COMMAND}` or a script), so there is nothing to do here.")
        return None
    saved = time.strftime("%H:%M:%S", time.localtime(path.stat().st_mtime))
    print(f"This checks the notebook as last saved ({saved}): save first (Ctrl+S) if you changed it since.")
    return run_check(path)
