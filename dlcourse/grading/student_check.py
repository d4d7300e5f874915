"""The student's pre-submission check: the notebook goes through what grading does, with the visible tests only.

Same runner, same harvest, same judgement and the same rules on the code (:mod:`dlcourse.grading.evaluate`);
what differs is that no sandbox is needed (it is the student's own code on their own machine), only the
public cases run, and the notebook's own test cells are taken as they are.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from ..checks import CHECKS_BY_MODULE
from ..notebooks import read_notebook
from .course import Course, NotebookSource
from .evaluate import RunSettings, evaluate
from .judging import Verdict
from .sandbox import Isolation, Limits

MODULE_PREFIX = re.compile(r"^\d\d_[a-z0-9_]+?(?=$|[^a-z0-9_])")


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
    """The report printed by `dlcourse check`: one line per visible test, the total, and the caveat."""
    lines = [f"Visible tests of {Path(path).name} (hidden tests run only at grading):"]
    lines += [f"  note: {note}" for note in notes]
    for v in verdicts:
        mark = "PASS" if v.passed else "FAIL"
        lines.append(f"  {mark} {v.grade_id} ({v.max_score:g} pt){'' if v.passed else ': ' + v.reason}")
    earned = sum(v.score or 0 for v in verdicts)
    total = sum(v.max_score for v in verdicts)
    lines.append(f"{earned:g}/{total:g} points on the visible tests. Passing them is necessary, not sufficient: "
                 "hidden tests with other inputs decide the grade.")
    return "\n".join(lines)
