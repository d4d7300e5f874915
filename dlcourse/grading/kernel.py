"""The in-process kernel of a grading run: IPython runs the cells, the outputs are captured, tests harvested.

Each code cell runs in one IPython ``InteractiveShell`` (much faster to start than a Jupyter kernel), with its
stdout/stderr captured both at the Python level and at the file-descriptor level (TensorFlow's C++ logs,
child processes), its display data and result kept in nbformat's shape, text capped, and an alarm that stops
it at the cell time limit.

A graded test cell backed by an exercise is not run as source. The kernel *harvests* instead: it asks the
grader for the cases (drawn by the grader, hidden ones from the instructor's secret, and sent only now, after
every cell before the test has run), then calls the student's functions on each case in a process of its own
(a fork: ``call_student`` on copies of the inputs, exceptions and numeric warnings become failure messages),
whose only way back is one frame with the output as plain arrays (``to_plain``), sent straight to the grader
(:mod:`channel`). Nothing is judged here: the grader compares those arrays with its own references in its own
process; the references are not in the sandbox.

Cell time limits are CPU time (an ``ITIMER_PROF`` alarm here; the grader watches the whole process tree).
At the end every other process of the sandbox is stopped, the cells' outputs written, and the process leaves
with ``os._exit``.
"""
from __future__ import annotations

import importlib
import inspect
import json
import os
import re
import signal
import sys
import tempfile
import types
import zipfile  # noqa: F401  (np.savez needs it when the results are written: import it before any cell runs)
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from IPython.core.displayhook import DisplayHook
from IPython.core.displaypub import DisplayPublisher
from IPython.core.interactiveshell import InteractiveShell
from traitlets import Type
from traitlets.config import Config

from ..checks.core import CheckFailure, Exercise, call_student, to_plain
from . import channel, plain

MAX_RICH_OUTPUTS = 50
MAX_RICH_CHARS = 4 * 2**20
MAX_NOTEBOOK_RICH_CHARS = 24 * 2**20  # every cell's display outputs together
RECURSION_LIMIT = 5000
TIMED_OUT = 3  # exit code of a case's process stopped by its CPU-time limit
CELL_NAME = re.compile(r"<ipython-input-(\d+)-")


class CellTimeout(BaseException):
    """A cell ran past its time limit (not an Exception, so `except Exception` in a cell cannot swallow it)."""


class Outputs:
    """One cell's outputs in nbformat's JSON shape; stream text beyond max_chars is cut, with a note."""

    def __init__(self, max_chars: int, rich_budget: list[int] | None = None):
        self.items: list[dict] = []
        self.rich_budget = rich_budget if rich_budget is not None else [MAX_NOTEBOOK_RICH_CHARS]
        self.max_chars = max_chars
        self.kept = {"stdout": 0, "stderr": 0}
        self.cut = {"stdout": 0, "stderr": 0}

    def stream(self, name: str, text: str) -> None:
        room = max(self.max_chars - self.kept[name], 0)
        kept, self.cut[name] = text[:room], self.cut[name] + max(len(text) - room, 0)
        self.kept[name] += len(kept)
        if not kept:
            return
        last = self.items[-1] if self.items else None
        if last and last["output_type"] == "stream" and last["name"] == name:
            last["text"] += kept
        else:
            self.items.append({"output_type": "stream", "name": name, "text": kept})

    def rich(self, output_type: str, data: dict, metadata: dict, execution_count: int | None = None) -> None:
        """A display_data or execute_result output; dropped (with a note) when it is not JSON, too large, too
        many, or past the notebook's total for display outputs."""
        try:
            text = json.dumps({"data": data, "metadata": metadata})
        except (TypeError, ValueError):
            text = None
        if text is None or len(text) > min(MAX_RICH_CHARS, self.rich_budget[0]) or \
                len(self.items) >= MAX_RICH_OUTPUTS:
            self.items.append({"output_type": "stream", "name": "stdout",
                               "text": "[a display output was left out at grading: not JSON, too large, or too "
                                       "many]\n"})
            return
        self.rich_budget[0] -= len(text)
        output = {"output_type": output_type, **json.loads(text)}
        if output_type == "execute_result":
            output["execution_count"] = execution_count
        self.items.append(output)

    def error(self, ename: str, evalue: str, traceback: list[str]) -> None:
        self.items.append({"output_type": "error", "ename": ename, "evalue": evalue,
                           "traceback": [line[:self.max_chars] for line in traceback[-50:]]})

    def clear(self) -> None:
        self.items.clear()

    def finish(self) -> list[dict]:
        """The outputs, with a note per stream that was cut."""
        for name, count in self.cut.items():
            if count:
                self.items.append({"output_type": "stream", "name": name,
                                   "text": f"\n[{count} more characters of {name} were cut at grading]\n"})
        return self.items


class CellStream:
    """sys.stdout / sys.stderr during a cell: text goes to the cell's outputs."""

    def __init__(self, name: str, outputs: Outputs):
        self.name, self.outputs = name, outputs

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        self.outputs.stream(self.name, text)
        return len(text)

    def flush(self) -> None:
        """Nothing is buffered."""

    def isatty(self) -> bool:
        return False


class CapturingPublisher(DisplayPublisher):
    """display(...) and figures: display_data outputs of the running cell."""

    def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kwargs):
        self.shell.cell_outputs.rich("display_data", data, metadata or {})

    def clear_output(self, wait=False):
        self.shell.cell_outputs.clear()


class CapturingDisplayHook(DisplayHook):
    """The value of a cell's last expression: an execute_result output."""

    def start_displayhook(self):
        """No prompt: the result goes into the notebook."""

    def write_output_prompt(self):
        """No prompt: the result goes into the notebook."""

    def write_format_data(self, format_dict, md_dict=None):
        self.shell.cell_outputs.rich("execute_result", format_dict, md_dict or {}, self.prompt_count)

    def finish_displayhook(self):
        """No prompt: the result goes into the notebook."""


class GradingShell(InteractiveShell):
    """An InteractiveShell whose tracebacks become error outputs of the running cell."""

    displayhook_class = Type(CapturingDisplayHook)
    display_pub_class = Type(CapturingPublisher)
    cell_outputs: Outputs | None = None
    owner_pid = 0

    def showtraceback(self, *args, **kwargs):
        """A process the cell forked leaves at its first error, before formatting it (fork bombs stay cheap)."""
        if os.getpid() != self.owner_pid:
            os._exit(0)
        super().showtraceback(*args, **kwargs)

    def _showtraceback(self, etype, evalue, stb):
        try:
            message = str(evalue)
        except Exception:  # a student's exception whose __str__ fails
            message = "(the message could not be read)"
        self.cell_outputs.error(getattr(etype, "__name__", "Error"), message, stb)


def new_shell() -> GradingShell:
    """The shell cells run in: no history file, plain tracebacks, captured display."""
    config = Config()
    config.HistoryManager.enabled = False
    config.InteractiveShell.colors = "nocolor"
    shell = GradingShell.instance(config=config)
    shell.owner_pid = os.getpid()
    # IPython's own traversal of a cell's syntax tree runs in Python: a sum of 1,500 terms needs more than
    # the default 1000 levels (Python-to-Python calls use no C stack since 3.11, so this is safe).
    sys.setrecursionlimit(max(sys.getrecursionlimit(), RECURSION_LIMIT))
    sys.path[:] = [p for p in sys.path if p not in ("", ".", os.getcwd())]  # no module comes from the submission
    return shell


class DescriptorCapture:
    """File descriptors 1 and 2 sent to temporary files during a cell: output of C code and child processes."""

    NAMES = {1: "stdout", 2: "stderr"}

    def __init__(self):
        self.saved = {fd: os.dup(fd) for fd in self.NAMES}
        self.files = {fd: tempfile.TemporaryFile() for fd in self.NAMES}

    @property
    def progress_fd(self) -> int:
        """The original stdout, where progress lines for the grader go."""
        return self.saved[1]

    def start(self) -> None:
        for fd, file in self.files.items():
            file.seek(0)
            file.truncate()
            os.dup2(file.fileno(), fd)

    def stop(self, outputs: Outputs) -> None:
        for fd, file in self.files.items():
            os.dup2(self.saved[fd], fd)
            file.seek(0)
            text = file.read(outputs.max_chars * 4 + 1).decode(errors="replace")
            size = os.fstat(file.fileno()).st_size
            outputs.stream(self.NAMES[fd], text)
            if size > outputs.max_chars * 4:
                outputs.cut[self.NAMES[fd]] += size - outputs.max_chars * 4


@contextmanager
def time_limit(seconds: float):
    """Raise CellTimeout in the running code once it has used seconds of CPU time (this process's threads)."""

    expired = []

    def expire(signum, frame):
        expired.append(True)
        raise CellTimeout(f"the cell used more than {seconds:g} s of CPU time and was stopped")

    previous = signal.signal(signal.SIGPROF, expire)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield expired
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


_forking_a_case = False


def _yield_to_the_kernel() -> None:
    """In a process a cell forks: lowest CPU priority, so that the kernel stays responsive (fork bombs)."""
    if not _forking_a_case:
        os.nice(19)


class NotebookRun:
    """One job: the cells in order, the harvests answered by the grader, then the cells' outputs."""

    def __init__(self, job: dict):
        self.job = job
        os.register_at_fork(after_in_child=_yield_to_the_kernel)
        self.descriptors = DescriptorCapture()
        self.shell = new_shell()
        self.cell_by_count: dict[int, int] = {}
        self.cells: dict[str, dict] = {}
        self.rich_budget = [MAX_NOTEBOOK_RICH_CHARS]
        self.student_ran = False

    @property
    def channel_fd(self) -> int:
        return self.descriptors.progress_fd

    def run(self) -> None:
        """Run every cell of the job (up to stop_before), then deliver; never returns."""
        stop_before = self.job.get("stop_before")
        for cell in self.job["cells"]:
            if stop_before is not None and cell["index"] >= stop_before:
                break
            self.run_cell(cell)
        self.deliver()

    def run_cell(self, cell: dict) -> None:
        channel.write_frame(self.channel_fd, "cell", f"{cell['index']}:{self.job['nonce']}")
        outputs = Outputs(self.job["limits"]["output_chars"], self.rich_budget)
        count = self.shell.execution_count
        self.cell_by_count[count] = cell["index"]
        limits = self.job["limits"]
        expired: list = []
        try:
            with self.captured(outputs), time_limit(limits["setup_seconds"] if cell.get("locked") else
                                                    limits["cell_seconds"]) as expired:
                if cell.get("harvest"):
                    self.harvest(cell["harvest"])
                else:
                    self.shell.run_cell(cell["source"], store_history=True)
        except CellTimeout as err:
            outputs.error("CellTimeout", str(err), [f"CellTimeout: {err}"])
        if expired and cell.get("locked") and not self.student_ran:  # the course's own cell: the grader retries
            os._exit(TIMED_OUT)
        self.student_ran |= not cell.get("locked")
        if os.getpid() != self.shell.owner_pid:  # a process the cell forked came back: it must not go on
            os._exit(0)
        if self.shell.execution_count == count:  # a harvest, or a cell IPython could not even start
            self.shell.execution_count += 1
        self.cells[str(cell["index"])] = {"execution_count": count, "outputs": outputs.finish()}

    @contextmanager
    def captured(self, outputs: Outputs):
        """Route sys.stdout/err, file descriptors 1/2 and display output of the block into outputs."""
        self.shell.cell_outputs = outputs
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = CellStream("stdout", outputs), CellStream("stderr", outputs)
        self.descriptors.start()
        try:
            yield
        finally:
            sys.stdout, sys.stderr = saved
            self.descriptors.stop(outputs)

    def harvest(self, target: dict) -> None:
        """Report where the functions come from, ask the grader for the cases, send one output per case."""
        exercise = self._exercise(target)
        functions = {name: self.shell.user_ns.get(name) for name in exercise.function_names}
        record: dict = {"functions": {name: {"defined": f is not None, "cell": self.defining_cell(f)}
                                      for name, f in functions.items()}}
        missing = [name for name, function in functions.items() if function is None]
        if missing:
            record["error"] = f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not defined when the test runs"
        channel.write_frame(self.channel_fd, "record", target["grade_id"], json.dumps(record).encode())
        if missing:
            return
        channel.write_frame(self.channel_fd, "harvest", target["grade_id"])
        cases = channel.read_cases(0)
        fork = target["adapter"] is None  # adapters may drive TensorFlow, which must not be forked
        for number, case in enumerate(cases):
            (self.case_in_a_fork if fork else self.case_here)(exercise, functions, case, number)

    def _exercise(self, target: dict) -> Exercise:
        """The exercise as far as calling it goes: its names, and the adapter of the checks when it has one."""
        if target["adapter"]:
            module = importlib.import_module(target["adapter"])
            return next(e for e in module.EXERCISES if e.name == target["exercise"])
        return Exercise(target["exercise"], None, None, None, needs=tuple(target["functions"][1:]),
                        warning_hint=target["warning_hint"], keeps_inputs=target["keeps_inputs"],
                        integer_result=target["integer_result"])

    def case_here(self, exercise: Exercise, functions: dict, case, number: int) -> None:
        """One case in this process (exercises whose adapter drives a framework)."""
        kind, payload = self.call_case(exercise, functions, case)
        channel.write_frame(self.channel_fd, kind, str(number), payload)

    def case_in_a_fork(self, exercise: Exercise, functions: dict, case, number: int) -> None:
        """One case in a process of its own, limited to what is left of the cell's CPU time."""
        global _forking_a_case
        remaining = signal.getitimer(signal.ITIMER_PROF)[0] or self.job["limits"]["cell_seconds"]
        _forking_a_case = True
        try:
            pid = os.fork()
        except OSError:  # no process left (a fork bomb earlier): call it here
            _forking_a_case = False
            return self.case_here(exercise, functions, case, number)
        _forking_a_case = False
        if pid == 0:
            self._run_forked_case(exercise, functions, case, number, remaining)
        start = os.times()
        _, status, _ = os.wait4(pid, 0)
        used = os.times()
        signal.setitimer(signal.ITIMER_PROF, max(remaining - (used.children_user - start.children_user)
                                                 - (used.children_system - start.children_system), 0.01))
        code = os.waitstatus_to_exitcode(status)
        if code == TIMED_OUT:
            raise CellTimeout(f"the cell used more than {self.job['limits']['cell_seconds']:g} s of CPU time "
                              "and was stopped")
        if code != 0:
            how = f"signal {-code}" if code < 0 else f"exit code {code}"
            channel.write_frame(self.channel_fd, "error", str(number),
                                f"{exercise.name} ended its process ({how}) on the check '{case.name}'".encode())

    def _run_forked_case(self, exercise: Exercise, functions: dict, case, number: int, remaining: float) -> None:
        """In the case's process: run it under its own alarm, send its one frame, leave."""
        try:
            with time_limit(remaining):
                kind, payload = self.call_case(exercise, functions, case)
        except CellTimeout:
            kind, payload = "error", f"{exercise.name} ran past the cell's CPU-time limit on the check '{case.name}'"
            channel.write_frame(self.channel_fd, kind, str(number), payload.encode())
            os._exit(TIMED_OUT)
        channel.write_frame(self.channel_fd, kind, str(number), payload)
        os._exit(0)

    def call_case(self, exercise: Exercise, functions: dict, case) -> tuple[str, bytes]:
        """("value", the plain output as .npz bytes) or ("error", why there is none)."""
        try:
            payload = channel.encode_value(to_plain(call_student(exercise, functions, case)))
        except CheckFailure as failure:
            return "error", str(failure).encode()
        except CellTimeout:
            raise
        except TypeError as err:  # to_plain: not numbers
            return "error", f"{exercise.name} {err}".encode()
        except MemoryError:
            return "error", f"{exercise.name} raised MemoryError on the check '{case.name}'".encode()
        except BaseException as err:  # sys.exit() in the function, an object that fails when read ...
            return "error", f"{exercise.name} raised {type(err).__name__} on the check '{case.name}'".encode()
        if len(payload) > channel.MAX_VALUE_BYTES:
            return "error", (f"{exercise.name} returned {len(payload) / 2**20:.0f} MB on the check '{case.name}', "
                             f"more than the {channel.MAX_VALUE_BYTES // 2**20} MB a check's output may be").encode()
        return "value", payload

    def defining_cell(self, function) -> int | None:
        """Index of the cell whose source defined function, None when it was not defined by a cell's def."""
        try:
            code = getattr(inspect.unwrap(function), "__code__", None)
        except Exception:  # a doctored __wrapped__ chain
            return None
        match = CELL_NAME.match(code.co_filename) if isinstance(code, types.CodeType) else None
        return self.cell_by_count.get(int(match.group(1))) if match else None

    def deliver(self) -> None:
        """Stop every other process of the sandbox, write the cells' outputs, leave at once."""
        if self.job["sandboxed"] and os.getppid() == 1:  # the child of the sandbox's init: kill(-1) stays inside
            try:
                os.kill(-1, signal.SIGKILL)
            except OSError:  # nothing else is running
                pass
        plain.write(Path(self.job["out"]), {"cells": self.cells}, [])
        channel.write_frame(self.channel_fd, "done", self.job["nonce"])
        os._exit(0)


def run_job(job: dict) -> None:
    """Run a job (see dlcourse.grading.runner); never returns."""
    NotebookRun(job).run()
