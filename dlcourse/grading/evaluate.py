"""One notebook from submission to verdicts: restore, run, judge.

Grading and ``dlcourse check`` both go through :func:`evaluate`, so a student's check does what grading does:
the same runner, harvest and judgement (with the visible tests only, and without a sandbox).

A run that dies (``os._exit``, a crash, a cell that cannot be interrupted) is run again up to the cell where
it stopped, so every test before that cell counts; the cells from there on score 0 with the reason.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import nbformat

from ..checks import checks_module, exercises_of
from . import plain
from .course import NotebookSource
from .judging import NotebookEvidence, Stop, Verdict, judge_notebook
from .prepare import TEST, PreparedNotebook, prepare
from .sandbox import Isolation, Limits, leased_uid, run_runner, scratch_folder
from .static_rules import parse_notebook, tampering

MAX_RUNS = 3  # a first run, then reruns that stop before the cell where the previous one died


@dataclass(frozen=True)
class RunSettings:
    """How a notebook runs: isolation, limits, threads, which cases are harvested, files it gets."""

    isolation: Isolation
    limits: Limits
    threads: int
    which: tuple[str, ...]
    data_files: dict[str, Path]
    font_cache: Path | None = None
    scratch: Path | None = None  # parent of the scratch folders (default: the system's temp folder)


@dataclass
class Evaluation:
    """A judged notebook: the notebook with outputs and verdicts in it, the verdicts, and notes."""

    prepared: PreparedNotebook
    verdicts: list[Verdict]
    notes: list[str]


def evaluate(nb: nbformat.NotebookNode, restore_from: NotebookSource | None, graded: NotebookSource,
             module: str | None, settings: RunSettings) -> Evaluation:
    """Restore nb (when a source is given), run it, and judge every graded cell of graded."""
    prepared = prepare(nb, restore_from)
    exercises = exercises_of(module) if module else {}
    document, arrays, stop = run_notebook(prepared, checks_module(module) if exercises else None, exercises,
                                          settings)
    code = parse_notebook(prepared)
    evidence = NotebookEvidence(prepared, code, document.get("harvests") or {}, arrays, settings.which, stop,
                                tampering(code))
    executed = fill_outputs(prepared, document, stop)
    verdicts = judge_notebook(graded, exercises, evidence, executed)
    show_verdicts(prepared, verdicts, exercises)
    notes = prepared.notes + ([f"the run stopped: {stop.reason}"] if stop else [])
    return Evaluation(prepared, verdicts, notes + _placement_notes(prepared, evidence, exercises))


def run_notebook(prepared: PreparedNotebook, checks: str | None, exercises: dict,
                 settings: RunSettings) -> tuple[dict, dict, Stop | None]:
    """Run the notebook, again up to the failing cell after a death; (document, arrays, where cells stopped)."""
    stop: Stop | None = None
    for _ in range(MAX_RUNS):
        with leased_uid(settings.isolation) as uid, scratch_folder(
                settings.scratch, settings.isolation, uid, settings.data_files, settings.font_cache) as scratch:
            job = build_job(prepared, checks, exercises, settings, stop, uid, scratch.path("out"))
            (scratch.host / "job.json").write_text(json.dumps(job))
            record = run_runner(scratch, settings.isolation, settings.limits, settings.threads)
            if record.completed:
                try:
                    document, arrays = plain.read(scratch.host / "out")
                    return document, arrays, stop
                except plain.PlainDataError as err:
                    return {}, {}, Stop(0, f"its results could not be read ({err})")
        if record.last_cell is None:
            log = (record.log.strip().splitlines() or [""])[-1][:200]
            return {}, {}, Stop(0, f"the run failed before its first cell ({record.stop_reason}) {log}".strip())
        if stop is not None and record.last_cell >= stop.cell:
            break
        stop = Stop(record.last_cell, _stop_reason(prepared, record.last_cell, record.stop_reason))
    return {}, {}, Stop(0, f"the notebook could not be run to completion: {stop.reason}")


def _stop_reason(prepared: PreparedNotebook, cell: int, why: str) -> str:
    first_line = next((line.strip() for line in prepared.nb.cells[cell].source.splitlines() if line.strip()), "")
    where = f"cell {cell + 1} (`{first_line[:50]}`)"
    return f"{where} {why}" if why.startswith("ran past") else f"{why} while running {where}"


def build_job(prepared: PreparedNotebook, checks: str | None, exercises: dict, settings: RunSettings,
              stop: Stop | None, uid: int | None, out: Path) -> dict:
    """The runner's job: code cells in order; graded tests with an exercise are harvested, not run."""
    cells = []
    for cell in prepared.cells:
        exercise = cell.grade_id.removeprefix("test_") if cell.role == TEST else None
        harvest = {"grade_id": cell.grade_id, "exercise": exercise} if exercise in exercises else None
        cells.append({"index": cell.index, "source": "" if harvest else cell.source, "harvest": harvest})
    return {"cells": cells, "checks": checks, "which": list(settings.which),
            "stop_before": stop.cell if stop else None, "limits": settings.limits.for_runner(),
            "sandboxed": settings.isolation.sandboxed, "uid": uid, "out": str(out)}


def fill_outputs(prepared: PreparedNotebook, document: dict, stop: Stop | None) -> dict[str, nbformat.NotebookNode]:
    """Put each run cell's outputs and execution count into the notebook; returns the run graded cells by id."""
    ran = document.get("cells") if isinstance(document.get("cells"), dict) else {}
    graded = {}
    for cell in prepared.cells:
        node = prepared.nb.cells[cell.index]
        record = ran.get(str(cell.index))
        if isinstance(record, dict):
            node.outputs = [o for o in map(_clean_output, record.get("outputs") or []) if o is not None]
            count = record.get("execution_count")
            node.execution_count = count if isinstance(count, int) else None
            if cell.grade_id and node.metadata.get("nbgrader", {}).get("grade"):
                graded[cell.grade_id] = node
        elif stop is not None and cell.index == stop.cell:
            node.outputs = [_error_output("GradingStopped", stop.reason)]
    return graded


def _clean_output(output) -> nbformat.NotebookNode | None:
    """An output from the run rebuilt from its checked fields; None when it is malformed."""
    if not isinstance(output, dict):
        return None
    kind = output.get("output_type")
    if kind == "stream" and output.get("name") in ("stdout", "stderr") and isinstance(output.get("text"), str):
        return nbformat.v4.new_output("stream", name=output["name"], text=output["text"])
    if kind in ("display_data", "execute_result") and _mime_bundle(output.get("data")) and \
            isinstance(output.get("metadata", {}), dict):
        extra = {"execution_count": output.get("execution_count")} if kind == "execute_result" else {}
        return nbformat.v4.new_output(kind, data=output["data"], metadata=output.get("metadata") or {}, **extra)
    if kind == "error" and all(isinstance(output.get(k), str) for k in ("ename", "evalue")):
        traceback = [line for line in output.get("traceback") or [] if isinstance(line, str)]
        return nbformat.v4.new_output("error", ename=output["ename"], evalue=output["evalue"], traceback=traceback)
    return None


def _mime_bundle(data) -> bool:
    """Text for every MIME type (any JSON for the JSON ones), as nbformat requires."""
    return isinstance(data, dict) and all(isinstance(mime, str) and (isinstance(value, str) or mime.endswith("json"))
                                          for mime, value in data.items())


def _error_output(ename: str, text: str) -> nbformat.NotebookNode:
    """An error output whose single traceback entry is the whole message (feedback keeps it whole)."""
    return nbformat.v4.new_output("error", ename=ename, evalue=text.splitlines()[0] if text else "", traceback=[text])


def show_verdicts(prepared: PreparedNotebook, verdicts: list[Verdict], exercises: dict) -> None:
    """Under each test cell the grader judged, its verdict: the pass line, or the failure message."""
    by_id = {v.grade_id: v for v in verdicts}
    for cell in prepared.tests():
        verdict = by_id.get(cell.grade_id)
        if verdict is None or cell.grade_id.removeprefix("test_") not in exercises:
            continue
        node = prepared.nb.cells[cell.index]
        if verdict.passed:
            node.outputs.append(nbformat.v4.new_output("stream", name="stdout", text=verdict.message + "\n"))
        else:
            node.outputs.append(_error_output("CheckFailure", verdict.message))


def _placement_notes(prepared: PreparedNotebook, evidence: NotebookEvidence, exercises: dict) -> list[str]:
    """A graded function defined outside its answer cell is graded, with a note."""
    notes = []
    for grade_id, record in evidence.harvests.items():
        exercise = exercises.get(str(grade_id).removeprefix("test_"))
        functions = record.get("functions") if isinstance(record, dict) else None
        entry = functions.get(exercise.name) if exercise and isinstance(functions, dict) else None
        cell = entry.get("cell") if isinstance(entry, dict) else None
        answers = prepared.answer_cells(exercise.name) if exercise else []
        if isinstance(cell, int) and answers and cell not in answers:
            notes.append(f"{exercise.name} was defined in cell {cell + 1}, outside its answer cell")
    return notes
