"""One notebook from submission to verdicts: restore, run, judge.

Grading and ``dlcourse check`` both go through :func:`evaluate`, so a student's check does what grading does:
the same runner, harvest and judgement (with the visible tests only, and without a sandbox).

A run that dies (``os._exit``, a crash, a cell that cannot be interrupted) is run again up to the cell where
it stopped, so every test before that cell counts; the cells from there on score 0 with the reason. A run
stopped by something that is not the submission's doing (the course's own cell, an overloaded machine, a
sandbox that could not start) raises :class:`NotGraded`: no grade, grade it again.

The cases of every harvest are drawn here, in the grader (hidden ones from the instructor's secret), and sent
to the run only when it reaches the test (:class:`Harvests`); each output comes back as one frame, decoded as
plain data and kept here. Nothing else the run writes decides a point of an exercise.
"""
from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from ..checks import checks_module, exercises_of
from . import channel, plain, sandbox_view
from .course import NotebookSource
from .judging import NotebookEvidence, Stop, Verdict, judge_notebook
from .prepare import SETUP, TEST, PreparedNotebook, prepare
from .sandbox import Conversation, Isolation, Limits, leased_uid, run_runner, scratch_folder
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
    document, harvests, stop = run_notebook(prepared, checks_module(module) if exercises else None, exercises,
                                            settings)
    code = parse_notebook(prepared)
    evidence = NotebookEvidence(prepared, code, harvests, settings.which, stop, tampering(code))
    executed = fill_outputs(prepared, document, stop)
    verdicts = judge_notebook(graded, exercises, evidence, executed)
    show_verdicts(prepared, verdicts, exercises)
    notes = prepared.notes + ([f"the run stopped: {stop.reason}"] if stop else [])
    notes += [document["unreadable"]] if "unreadable" in document else []
    return Evaluation(prepared, verdicts, notes + _placement_notes(prepared, evidence, exercises))


class NotGraded(Exception):
    """The run was stopped by a cause that is not the submission's; the message says which. Grade it again."""


@dataclass
class Harvests(Conversation):
    """The grader's side of the harvests: cases sent on request, one output per case received and decoded."""

    exercises: dict
    targets: dict[str, dict]  # grade id -> the job's harvest entry (with the cell index)
    which: tuple[str, ...]
    records: dict[str, dict] = field(default_factory=dict)
    serving: str | None = None
    expected: list = field(default_factory=list)  # (which, case) still to come, in order
    sent: int = 0
    answered: set = field(default_factory=set)  # grade ids whose request got its one reply

    def receive(self, frame: channel.Frame, cell: int | None) -> bytes | None:
        target = self.targets.get(frame.arg) if frame.kind in ("record", "harvest") else None
        if target is not None and target["cell"] != cell:
            return None  # only the test cell that is running may ask for its own cases
        if frame.kind == "record" and target is not None and frame.arg not in self.records:
            self.records[frame.arg] = self._record(frame.payload)
        elif frame.kind == "harvest" and target is not None and frame.arg not in self.answered:
            self.answered.add(frame.arg)
            record = self.records.get(frame.arg)
            if record is None or "error" in record:  # nothing to judge: no cases, and the run goes on
                return self._frame([])
            return self._serve(frame.arg)
        elif frame.kind in ("value", "error") and self.serving and frame.arg == str(self.sent - len(self.expected)):
            self._take(frame)
        return None

    @staticmethod
    def _record(payload: bytes | None) -> dict:
        try:
            record = json.loads(payload or b"")
        except ValueError:
            record = None
        if not isinstance(record, dict) or not isinstance(record.get("functions"), dict):
            return {"error": "the test's record from the run is malformed"}
        kept = {"functions": record["functions"]}
        if record.get("error"):
            kept["error"] = str(record["error"])[:500]
        return kept

    def _serve(self, grade_id: str) -> bytes:
        exercise = self.exercises[self.targets[grade_id]["exercise"]]
        self.serving = grade_id
        self.records[grade_id]["cases"] = {which: [] for which in self.which}
        self.expected = [(which, case) for which in self.which for case in exercise.cases(which)]
        self.sent = len(self.expected)
        return self._frame([case for _, case in self.expected])

    @staticmethod
    def _frame(cases: list) -> bytes:
        payload = channel.encode_cases(cases)
        return f"@cases - {len(payload)}\n".encode() + payload

    def _take(self, frame: channel.Frame) -> None:
        which, _ = self.expected.pop(0)
        entries = self.records[self.serving]["cases"][which]
        if frame.kind == "error":
            text = (frame.payload or b"(the message was too long)")[:4000].decode(errors="replace")
            entries.append({"error": text or "the check gave no output"})
        elif frame.payload is None:
            entries.append({"error": f"the output is larger than {channel.MAX_VALUE_BYTES // 2**20} MB"})
        else:
            try:
                entries.append({"value": channel.decode_value(frame.payload)})
            except plain.PlainDataError as err:
                entries.append({"error": f"the output could not be read as numbers ({err})"})
        if not self.expected:
            self.serving = None


def run_notebook(prepared: PreparedNotebook, checks: str | None, exercises: dict,
                 settings: RunSettings) -> tuple[dict, dict, Stop | None]:
    """Run the notebook, again up to the failing cell after a death; (document, harvests, where cells stopped).

    Raises NotGraded when a run was stopped by a cause that is not the submission's.
    """
    stop: Stop | None = None
    kept: dict = {}
    for _ in range(MAX_RUNS):
        with leased_uid(settings.isolation) as uid, scratch_folder(
                settings.scratch, settings.isolation, uid, settings.data_files, settings.font_cache) as scratch:
            job = build_job(prepared, checks, exercises, settings, stop, uid, scratch.path("out"))
            (scratch.host / "job.json").write_text(json.dumps(job))
            harvests = Harvests(exercises, {c["harvest"]["grade_id"]: {**c["harvest"], "cell": c["index"]}
                                            for c in job["cells"] if c["harvest"]}, settings.which)
            adapters = checks if any(e.call for e in exercises.values()) else None
            record = run_runner(scratch, settings.isolation, settings.limits, settings.threads,
                                frozenset(c["index"] for c in job["cells"] if c["locked"]),
                                frozenset(c["index"] for c in job["cells"]), harvests,
                                tuple(sandbox_view.overlays(scratch.host / "stubs", adapters)))
            if record.retry:
                raise NotGraded(record.retry)
            if record.completed:
                try:
                    document, _ = plain.read(scratch.host / "out")
                except plain.PlainDataError as err:
                    document = {"unreadable": f"the cells' outputs could not be read ({err})"}
                return document, harvests.records, stop
        kept = harvests.records
        if stop is not None and record.last_cell >= stop.cell:
            break
        stop = Stop(record.last_cell, _stop_reason(prepared, record.last_cell, record.stop_reason))
    return {}, kept, Stop(0, f"the notebook could not be run to completion: {stop.reason}")


def _stop_reason(prepared: PreparedNotebook, cell: int, why: str) -> str:
    first_line = next((line.strip() for line in prepared.nb.cells[cell].source.splitlines() if line.strip()), "")
    where = f"cell {cell + 1} (`{first_line[:50]}`)"
    return f"{where} {why}" if why.startswith("ran past") else f"{why} while running {where}"


def build_job(prepared: PreparedNotebook, checks: str | None, exercises: dict, settings: RunSettings,
              stop: Stop | None, uid: int | None, out: Path) -> dict:
    """The runner's job: code cells in order; graded tests with an exercise are harvested, not run."""
    cells = []
    for cell in prepared.cells:
        exercise = exercises.get(cell.grade_id.removeprefix("test_")) if cell.role == TEST else None
        harvest = None if exercise is None else {
            "grade_id": cell.grade_id, "exercise": exercise.name, "functions": list(exercise.function_names),
            "adapter": checks if exercise.call else None, "warning_hint": exercise.warning_hint,
            "keeps_inputs": exercise.keeps_inputs, "integer_result": exercise.integer_result}
        cells.append({"index": cell.index, "source": "" if harvest else cell.source, "harvest": harvest,
                      "locked": cell.role == SETUP})
    return {"cells": cells, "nonce": secrets.token_hex(16), "stop_before": stop.cell if stop else None,
            "limits": settings.limits.for_runner(),
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
