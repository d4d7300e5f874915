"""The grading engine: a whole class, isolated, in parallel, resumable.

For each submission a worker process (one per core by default) evaluates every notebook
(:mod:`evaluate`: restore, run in its own sandbox, judge the plain data that comes back), then writes the
autograded notebook and the feedback page into the student's own folders. The main process alone writes
the gradebook and the resume state, one submission at a time, as results arrive.
"""
from __future__ import annotations

import multiprocessing
import os
import time
from multiprocessing.connection import wait as connection_wait
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from tqdm import tqdm

from ..notebooks import NotebookError, read_notebook
from . import intake
from .course import Assignment, Course, NotebookSource, load_assignment
from .evaluate import Evaluation, NotGraded, RunSettings, evaluate
from .feedback import feedback_html
from .gradebook import record_submission
from .results import CellGrade, NotebookResult, SubmissionResult
from .sandbox import Isolation, Limits
from .secret import Secret, instructor_secret
from .state import GradeState

GRADING_WHICH = ("public", "hidden")
WORKER_ATTEMPTS = 2  # a submission whose worker died is graded once more by a fresh one


@dataclass(frozen=True)
class Options:
    """How to grade: workers, limits, which students, whether to redo unchanged ones, where scratch goes."""

    workers: int = max(1, len(os.sched_getaffinity(0)))
    limits: Limits = field(default_factory=Limits)
    students: tuple[str, ...] = ()
    force: bool = False
    pattern: str = intake.DEFAULT_STUDENT_PATTERN
    scratch: Path | None = None  # parent of the runs' scratch folders (default: the system's temp folder)

    @property
    def threads(self) -> int:
        """Threads per run, so that the workers share the cores instead of fighting over them."""
        return max(1, len(os.sched_getaffinity(0)) // self.workers)


@dataclass(frozen=True)
class Task:
    """One submission to grade, with everything a worker needs (picklable)."""

    submission: intake.Submission
    assignment: Assignment
    course: Course
    settings: RunSettings
    fingerprint: str


@dataclass
class ClassResult:
    """Every submission's result (graded now or resumed), and how the run went."""

    module: str
    results: list[SubmissionResult]
    graded_now: list[str]
    isolation: Isolation
    seconds: float
    secret: Secret | None = None


class GradingInterrupted(KeyboardInterrupt):
    """The instructor stopped the run (Ctrl-C); what was graded is kept and the next run resumes."""


# ---------------------------------------------------------------------------------------------------------
# A class.
# ---------------------------------------------------------------------------------------------------------

def grade_class(module: str, source: Path, isolation: Isolation, course: Course | None = None,
                options: Options | None = None) -> ClassResult:
    """Grade every submission of module found in source; unchanged ones keep their stored result.

    The result covers the whole class graded so far (every stored result of the module), not only source.
    """
    course = course or Course.default()
    with instructor_secret(course.secret_file) as secret:
        return _grade_class(module, source, isolation, course, options or Options(), secret)


def _grade_class(module: str, source: Path, isolation: Isolation, course: Course, options: Options,
                 secret: Secret) -> ClassResult:
    start = time.monotonic()
    assignment = load_assignment(course, module)
    state = GradeState(course.state / module)
    expected = [notebook.filename for notebook in assignment.notebooks]
    results = state.load_all()  # the whole class in the gradebook, not only this source
    tasks: list[Task] = []
    settings = RunSettings(isolation, options.limits, options.threads, GRADING_WHICH, course.data_files(module),
                           _font_cache(), options.scratch)
    with intake.submissions(source, expected, options.pattern) as found:
        _check_selection(found, options.students)
        for submission in found:
            fingerprint = _fingerprint(submission, assignment, isolation, secret)
            previous = state.load(submission.student)
            chosen = not options.students or submission.student in options.students
            up_to_date = (previous is not None and previous.fingerprint == fingerprint
                          and _outputs_exist(course, previous))
            if chosen and (options.force or options.students or not up_to_date):
                placed = intake.place(submission, course.submitted, module)
                tasks.append(Task(placed, assignment, course, settings, fingerprint))
            elif previous is not None:
                results[submission.student] = previous
    for result in _run_tasks(tasks, options.workers, module):
        if result.graded:
            record_submission(course, assignment, result)
            state.save(result)
        results[result.student] = result
    ordered = [results[s] for s in sorted(results)]
    return ClassResult(module, ordered, [t.submission.student for t in tasks], isolation, time.monotonic() - start,
                       secret)


def _check_selection(found: list[intake.Submission], students: tuple[str, ...]) -> None:
    unknown = sorted(set(students) - {s.student for s in found})
    if unknown:
        raise intake.IntakeError(f"no submission of {', '.join(unknown)} in the source; the students found are "
                                 f"{', '.join(s.student for s in found) or 'none'}.")


def _fingerprint(submission: intake.Submission, assignment: Assignment, isolation: Isolation, secret: Secret) -> str:
    return (f"{assignment.fingerprint[:32]}-{int(isolation.sandboxed)}-{secret.digest}-"
            f"{submission.content_hash()[:32]}")


def _outputs_exist(course: Course, result: SubmissionResult) -> bool:
    return all((course.autograded / result.student / result.module / f"{nb.name}.ipynb").is_file()
               for nb in result.notebooks if nb.graded)


def _font_cache() -> Path | None:
    """Matplotlib's font list, built once here and copied into every run (building it takes seconds)."""
    from matplotlib import font_manager, get_cachedir

    font_manager.fontManager  # noqa: B018  (loading it writes the cache file when missing)
    cache = Path(get_cachedir()) / f"fontlist-v{font_manager.FontManager.__version__}.json"
    return cache if cache.is_file() else None


def _run_tasks(tasks: list[Task], workers: int, module: str):
    """Yield each task's result as it completes, with a progress bar; Ctrl-C keeps what is done.

    Each worker process grades one submission at a time. A worker that dies (the OOM killer, a crash) takes
    only its own submission with it: that one is graded again by a fresh worker, the others go on.
    """
    if not tasks:
        return
    progress = tqdm(total=len(tasks), desc=f"grading {module}", unit="submission", dynamic_ncols=True)
    pool = _Pool(min(workers, len(tasks)))
    queue, attempts = list(tasks), {id(task): 0 for task in tasks}
    try:
        while queue or pool.busy:
            while queue and pool.idle():
                task = queue.pop(0)
                attempts[id(task)] += 1
                pool.start(task)
            for task, result, death in pool.finished():
                if result is None and attempts[id(task)] < WORKER_ATTEMPTS:
                    queue.insert(0, task)
                    continue
                yield result or _not_graded(task, f"the grading worker died twice ({death}); run the command "
                                                  "again to retry")
                progress.set_postfix_str(task.submission.student)
                progress.update()
    except KeyboardInterrupt:
        raise GradingInterrupted(f"stopped after {progress.n} of {len(tasks)} submissions; the graded ones are "
                                 "saved: run the same command again to resume.") from None
    finally:
        pool.close()
        progress.close()


class _Pool:
    """Worker processes (spawned), each with its own pipe, so that the death of one is seen as its own."""

    def __init__(self, size: int):
        self.context = multiprocessing.get_context("spawn")
        self.size = size
        self.workers: list[list] = []  # [process, connection, task or None]

    @property
    def busy(self) -> bool:
        return any(worker[2] is not None for worker in self.workers)

    def idle(self) -> bool:
        return len(self.workers) < self.size or any(worker[2] is None for worker in self.workers)

    def start(self, task: Task) -> None:
        worker = next((w for w in self.workers if w[2] is None), None)
        if worker is None:
            mine, theirs = self.context.Pipe()
            process = self.context.Process(target=_worker_main, args=(theirs,), daemon=True)
            process.start()
            theirs.close()
            worker = [process, mine, None]
            self.workers.append(worker)
        worker[1].send(task)
        worker[2] = task

    def finished(self):
        """(task, result, None) for each result that arrived, (task, None, how it died) for each dead worker."""
        busy = [w for w in self.workers if w[2] is not None]
        ready = set(connection_wait([w[1] for w in busy] + [w[0].sentinel for w in busy]))
        for worker in busy:
            process, connection, task = worker
            if connection in ready or process.sentinel in ready:
                try:
                    result = connection.recv() if connection.poll() else None
                except (EOFError, OSError):
                    result = None
                if result is not None:
                    worker[2] = None
                    yield task, result, None
                elif not process.is_alive():
                    self.workers.remove(worker)
                    code = process.exitcode
                    yield task, None, f"signal {-code}" if code and code < 0 else f"exit code {code}"

    def close(self) -> None:
        for process, connection, _ in self.workers:
            try:
                connection.send(None)
            except OSError:
                pass
        for process, _, _ in self.workers:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join()


def _worker_main(connection) -> None:
    """A worker: grade the submissions sent on connection until None comes."""
    while True:
        try:
            task = connection.recv()
        except (EOFError, KeyboardInterrupt):
            return
        if task is None:
            return
        try:
            result = grade_submission(task)
        except Exception as err:  # a fault in the engine itself: not the student's, so no grade
            result = _not_graded(task, f"grading failed ({type(err).__name__}: {err}); run the command again")
        connection.send(result)


def _not_graded(task: Task, reason: str) -> SubmissionResult:
    """A result that gives no grade (never a zero in the gradebook): graded again on the next run."""
    notebooks = [_unrun_notebook(source, reason) for source in task.assignment.notebooks]
    return SubmissionResult(task.submission.student, task.assignment.module, "", notebooks,
                            list(task.submission.notes), retry=reason)


# ---------------------------------------------------------------------------------------------------------
# One submission (in a worker process).
# ---------------------------------------------------------------------------------------------------------

def grade_submission(task: Task) -> SubmissionResult:
    """Grade every notebook of one submission; runs in a worker process."""
    start = time.monotonic()
    notebooks = []
    try:
        for source in task.assignment.notebooks:
            path = task.submission.notebooks.get(source.filename)
            notebooks.append(grade_notebook(task, source, path) if path else _unrun_notebook(source, "missing"))
    except NotGraded as err:
        return _not_graded(task, str(err))
    return SubmissionResult(task.submission.student, task.assignment.module, task.fingerprint, notebooks,
                            list(task.submission.notes), time.monotonic() - start)


def _unrun_notebook(source: NotebookSource, reason: str) -> NotebookResult:
    grades = [CellGrade(c.grade_id, 0.0, c.points, reason) for c in source.cells if c.graded]
    return NotebookResult(source.name, grades, graded=False)


def grade_notebook(task: Task, source: NotebookSource, path: Path) -> NotebookResult:
    """Evaluate one submitted notebook; write the autograded notebook and the feedback page."""
    try:
        nb = read_notebook(path)
    except NotebookError as err:
        reason = str(err).replace(str(path), source.filename).split(". ")[0]
        return NotebookResult(source.name, _unrun_notebook(source, reason).grades, graded=False)
    evaluation = evaluate(nb, source, source, task.assignment.module, task.settings)
    write_outputs(task, source, evaluation)
    grades = [CellGrade(v.grade_id, v.score, v.max_score, v.reason) for v in evaluation.verdicts]
    return NotebookResult(source.name, grades, _unanswered(evaluation, source), evaluation.notes)


def write_outputs(task: Task, source: NotebookSource, evaluation: Evaluation) -> None:
    """The autograded notebook (nbgrader's layout, for formgrader) and the student's feedback page."""
    student, module = task.submission.student, task.assignment.module
    autograded = task.course.autograded / student / module
    feedback = task.course.feedback / student / module
    autograded.mkdir(parents=True, exist_ok=True)
    feedback.mkdir(parents=True, exist_ok=True)
    nb = evaluation.prepared.nb
    nbformat.write(nb, autograded / source.filename)
    scores = {v.grade_id: v.score for v in evaluation.verdicts}
    (feedback / f"{source.name}.html").write_text(feedback_html(nb, scores, student, module, source.name),
                                                  encoding="utf-8")


def _unanswered(evaluation: Evaluation, source: NotebookSource) -> list[str]:
    """Answer cells left as released (nbgrader comments them "No response.")."""
    prepared, blank = evaluation.prepared, []
    for known in (c for c in source.cells if c.solution):
        cells = prepared.answer_cells(known.grade_id)
        if not cells or all(prepared.nb.cells[i].source.strip() == known.source.strip() for i in cells):
            blank.append(known.grade_id)
    return blank
