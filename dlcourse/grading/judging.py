"""The grader's judgement of one notebook, decided in the grader's own process on plain data.

A submission that tampers with grading (:mod:`static_rules`, read on the source) earns nothing. Otherwise a
graded test cell backed by an exercise earns its points only when
1. its test ran (the run did not stop before it) and found the functions, defined by a ``def`` in a cell
   the student wrote,
2. for a from-scratch exercise, the function reaches no library but NumPy (on the source, with ast),
3. every public and hidden case's output, as plain arrays sent by the case's own process in the sandbox in
   answer to the grader's request, passes ``checks.core.judge`` against the grader's own reference.
Anything the sandbox sent back can only make a test fail: error texts are shown as they are, values are judged.

A graded cell without an exercise (a graded training cell, say) falls back to nbgrader's own rule on its
executed output (``nbgrader.utils.determine_grade``: an error or stderr output scores 0).
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import zip_longest

from nbgrader.utils import determine_grade

from ..checks.core import PUBLIC, CheckFailure, Exercise, judge
from . import plain
from .course import NotebookSource, SourceCell
from .prepare import PreparedNotebook
from .static_rules import CellCode, Finding, library_use

MAX_MESSAGE = 3000
MAX_REASON = 160


@dataclass(frozen=True)
class Verdict:
    """Points for one graded cell, a one-line reason when points were lost, and the text the notebook shows."""

    grade_id: str
    score: float | None  # None: left to manual grading
    max_score: float
    reason: str = ""
    message: str = ""

    @property
    def passed(self) -> bool:
        return self.score is not None and self.score >= self.max_score


@dataclass(frozen=True)
class Stop:
    """Where a run stopped early: cells from this index on did not run."""

    cell: int
    reason: str


@dataclass
class NotebookEvidence:
    """Everything the judgement of one notebook rests on."""

    prepared: PreparedNotebook
    code: list[CellCode]
    harvests: dict
    which: tuple[str, ...]
    stop: Stop | None
    tampering: list[Finding]


def judge_notebook(source: NotebookSource, exercises: dict[str, Exercise], evidence: NotebookEvidence,
                   executed_cells: dict[str, object]) -> list[Verdict]:
    """A verdict for every graded cell of the source, in notebook order."""
    verdicts = []
    for cell in (c for c in source.cells if c.graded):
        exercise = exercises.get(cell.grade_id.removeprefix("test_"))
        if evidence.tampering:
            verdicts.append(_zero(cell, f"no points: the submission tampers with grading "
                                        f"({evidence.tampering[0].describe()})"))
        elif exercise is not None and not cell.solution:
            verdicts.append(_judge_exercise(cell, exercise, evidence))
        else:
            verdicts.append(_judge_by_nbgrader_rule(cell, evidence, executed_cells.get(cell.grade_id)))
    return verdicts


def _zero(cell: SourceCell, message: str) -> Verdict:
    """No points; the report gets the message's first line, the notebook the whole message."""
    return Verdict(cell.grade_id, 0.0, cell.points, _one_line(message), message)


def _one_line(text: str) -> str:
    """The report's reason: the first line of a message, at most MAX_REASON characters."""
    line = (text.strip().splitlines() or [""])[0]
    return line if len(line) <= MAX_REASON else line[:MAX_REASON - 1] + "…"


def _position(evidence: NotebookEvidence, grade_id: str) -> int | None:
    return next((c.index for c in evidence.prepared.tests() if c.grade_id == grade_id), None)


def _judge_exercise(cell: SourceCell, exercise: Exercise, evidence: NotebookEvidence) -> Verdict:
    position = _position(evidence, cell.grade_id)
    if evidence.stop is not None and position is not None and position >= evidence.stop.cell:
        return _zero(cell, f"not run: {evidence.stop.reason}")
    record = evidence.harvests.get(cell.grade_id)
    if not isinstance(record, dict):
        return _zero(cell, "the test did not run")
    try:
        problem = _function_problem(exercise, record, evidence) or _case_failure(exercise, record, evidence)
    except plain.PlainDataError as err:
        problem = f"the run's results for this test are malformed ({err})"
    if problem:
        return _zero(cell, problem)
    counts = " and ".join(f"{len(exercise.cases(which))} {which}" for which in evidence.which)
    return Verdict(cell.grade_id, cell.points, cell.points, "", f"✔ {exercise.name}: all {counts} checks passed.")


def _function_problem(exercise: Exercise, record: dict, evidence: NotebookEvidence) -> str | None:
    """Why the functions the test used cannot earn points (missing, not the student's def, a library)."""
    if "error" in record:
        return _text(record["error"])
    functions = record.get("functions")
    if not isinstance(functions, dict):
        raise plain.PlainDataError("no function record")
    written = {c.index for c in evidence.prepared.cells if c.student_written}
    for name in exercise.function_names:
        cell = functions.get(name, {}).get("cell") if isinstance(functions.get(name), dict) else None
        if not isinstance(cell, int) or cell not in written:
            return (f"{name} at test time is not a function defined by a def in a cell you wrote, so it cannot "
                    "be graded (define it with def in its answer cell)")
    if not exercise.from_scratch:
        return None
    findings = library_use(evidence.code, exercise.name, functions[exercise.name]["cell"], exercise.forbidden_calls)
    if findings:
        return (f"{exercise.name} {findings[0].describe()}: from-scratch answers may use NumPy and Python's "
                "math only, so this test earns no points")
    return None


def _case_failure(exercise: Exercise, record: dict, evidence: NotebookEvidence) -> str | None:
    """The first case, public ones first, whose output is missing, an error, or judged wrong."""
    cases_by_which = record.get("cases")
    if not isinstance(cases_by_which, dict):
        raise plain.PlainDataError("no case record")
    for which in evidence.which:
        entries = cases_by_which.get(which, [])
        if not isinstance(entries, list):
            raise plain.PlainDataError(f"{which} cases are not a list")
        for case, entry in zip_longest(exercise.cases(which), entries):
            if case is None:
                raise plain.PlainDataError("more outputs than cases")
            if not isinstance(entry, dict):
                return _text(record.get("stopped")) or f"the test stopped before the {which} check '{case.name}'"
            if "error" in entry:
                return _labelled(_text(entry["error"]), which)
            if "value" not in entry:
                raise plain.PlainDataError("an output without a value")
            try:
                judge(exercise, case, entry["value"])
            except CheckFailure as failure:
                return _labelled(str(failure), which)
    return None


def _labelled(message: str, which: str) -> str:
    return message if which == PUBLIC else message.replace(" on the check ", " on the hidden check ", 1)


def _text(value) -> str:
    return str(value)[:MAX_MESSAGE] if value else ""


def _judge_by_nbgrader_rule(cell: SourceCell, evidence: NotebookEvidence, executed) -> Verdict:
    """nbgrader's rule on the executed cell: no error and no stderr output earns the points."""
    position = _position(evidence, cell.grade_id)
    if executed is None or (evidence.stop is not None and position is not None and position >= evidence.stop.cell):
        return _zero(cell, f"not run: {evidence.stop.reason}" if evidence.stop else "the cell did not run")
    score, max_score = determine_grade(executed)
    if score is None:
        return Verdict(cell.grade_id, None, max_score, "left to manual grading")
    if score >= max_score:
        return Verdict(cell.grade_id, score, max_score)
    return Verdict(cell.grade_id, score, max_score, _nbgrader_reason(executed))


def _nbgrader_reason(executed) -> str:
    for output in executed.get("outputs", []):
        if output.get("output_type") == "error":
            return f"{output.get('ename')}: {output.get('evalue')}"[:300]
        if output.get("output_type") == "stream" and output.get("name") == "stderr":
            first = (output.get("text", "").strip().splitlines() or [""])[0]
            return f"wrote to stderr (nbgrader's rule for this cell): {first[:200]}"
    return "partial credit from the cell's value"
