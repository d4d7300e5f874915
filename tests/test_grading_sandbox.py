"""The sandbox holds: no network, nothing of the course or other students readable, nothing outside the scratch
folder writable, memory / process / file limits enforced, and the whole process tree killed on time-out."""
from __future__ import annotations

import json
import os
import shutil
import socket
import time
from pathlib import Path

import pytest

from dlcourse import cli, paths
from dlcourse.grading import accounting, sandbox
from dlcourse.grading.sandbox import (Isolation, Limits, SandboxUnavailable, choose_isolation, leased_uid,
                                      run_runner, sandbox_problem, scratch_folder)

# Without bubblewrap these tests cannot run; with it installed, a sandbox that does not work is a failure.
pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")


def test_installed_bubblewrap_can_sandbox():
    assert sandbox_problem() is None

SANDBOXED = Isolation(True)
QUICK = Limits(cell_seconds=10, kill_grace_seconds=1, notebook_seconds=60)


def run_cells(cells: list[str], limits: Limits = QUICK, locked: frozenset[int] = frozenset()):
    """Run code cells with the grading runner in a sandbox: (run record, printed text of each cell)."""
    with leased_uid(SANDBOXED) as uid, scratch_folder(None, SANDBOXED, uid, {}, None) as scratch:
        job = {"cells": [{"index": i, "source": s, "harvest": None, "locked": i in locked}
                         for i, s in enumerate(cells)],
               "nonce": "n0nce", "stop_before": None, "limits": limits.for_runner(), "sandboxed": True, "uid": uid,
               "out": str(scratch.path("out"))}
        (scratch.host / "job.json").write_text(json.dumps(job))
        record = run_runner(scratch, SANDBOXED, limits, threads=1, locked=locked, indices=frozenset(range(len(cells))))
        if not record.completed:
            return record, []
        document = json.loads((scratch.host / "out" / "results.json").read_text())
    texts = [" ".join(o.get("text") or f"{o.get('ename')}: {o.get('evalue')}" for o in document["cells"][str(i)]["outputs"])
             for i in range(len(cells))]
    return record, texts


TRY_ALL = '''
import os
def attempt(label, action):
    try:
        action()
        print("OPEN", label)
    except OSError as err:
        print("closed", label, type(err).__name__)
'''


def test_nothing_of_the_course_or_other_students_is_readable_or_writable(tmp_path):
    secret = tmp_path / "other-student" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("another student's work")
    root = paths.project_root()
    readable = [root / "solutions" / "01_perceptron" / "01_perceptron.ipynb", root / "grading" / "nbgrader_config.py",
                root / "tests" / "test_harness.py", root / "exercises", secret, Path("/root/.bashrc")]
    writable = [root / "dlcourse" / "planted.py", Path(os.__file__).parent / "planted.py", Path("/usr/planted"),
                Path("/planted")]
    reads = "\n".join(f"attempt('read {p}', lambda: os.listdir('{p}') if os.path.isdir('{p}') else open('{p}').read())"
                      for p in readable)
    writes = "\n".join(f"attempt('write {p}', lambda: open('{p}', 'w').write('x'))" for p in writable)
    own = ("attempt('write scratch', lambda: open('mine.txt', 'w').write('x'))\n"
           "attempt('write tmp', lambda: open('/tmp/t', 'w').write('x'))")
    record, (out,) = run_cells([TRY_ALL + reads + "\n" + writes + "\n" + own + "\nprint('uid', os.getuid())"])
    assert record.completed
    for path in readable:
        assert f"closed read {path}" in out
    for path in writable:
        assert f"closed write {path}" in out
    assert "OPEN write scratch" in out and "OPEN write tmp" in out
    assert "uid 0" not in out and not (root / "dlcourse" / "planted.py").exists()


def test_there_is_no_network():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        code = (TRY_ALL + f"import socket\nattempt('local', lambda: socket.create_connection(('127.0.0.1', {port}), 2))\n"
                "attempt('internet', lambda: socket.create_connection(('93.184.216.34', 80), 2))\n"
                "attempt('dns', lambda: socket.getaddrinfo('example.com', 80))")
        record, (out,) = run_cells([code])
    assert record.completed
    assert "closed local" in out and "closed internet" in out
    assert "OPEN" not in out


def test_memory_process_and_file_limits_hold():
    limits = Limits(memory_bytes=2**30, processes=24, file_bytes=2**20, cell_seconds=30, kill_grace_seconds=1,
                    notebook_seconds=60)
    cells = ["import numpy as np\nx = np.ones(2**28)",  # 2 GiB
             "import subprocess\nchildren = [subprocess.Popen(['sleep', '30']) for _ in range(40)]",
             "open('big.bin', 'wb').write(b'0' * 2**21)",
             "print('still running')"]
    record, out = run_cells(cells, limits)
    assert record.completed
    assert "MemoryError" in out[0]
    assert "BlockingIOError" in out[1] or "Resource temporarily unavailable" in out[1]
    assert "File too large" in out[2]
    assert "still running" in out[3]


def process_running(marker: str) -> bool:
    for entry in Path("/proc").iterdir():
        try:
            if marker in (entry / "cmdline").read_bytes().decode(errors="replace"):
                return True
        except OSError:
            continue
    return False


def test_time_out_kills_the_whole_process_tree():
    marker = "4321.987"
    cells = [f"import subprocess\nsubprocess.Popen(['sleep', '{marker}'], start_new_session=True)",
             "while True:\n    try:\n        while True:\n            pass\n    except BaseException:\n        pass"]
    record, _ = run_cells(cells, Limits(cell_seconds=2, kill_grace_seconds=1, notebook_seconds=60))
    assert not record.completed and record.last_cell == 1 and not record.retry
    assert "ran past the cell CPU-time limit (2 s) and could not be interrupted" in record.stop_reason
    time.sleep(0.5)
    assert not process_running(marker)


BURN_ONE_SECOND = "import time\nstart = time.process_time()\nwhile time.process_time() - start < 1:\n    pass"


def test_notebook_limit_is_cpu_time_of_the_student_cells():
    record, _ = run_cells([BURN_ONE_SECOND] * 10, Limits(cell_seconds=5, kill_grace_seconds=0.5, notebook_seconds=3))
    assert not record.completed and "ran past the notebook CPU-time limit (3 s)" in record.stop_reason
    assert 3 <= record.last_cell <= 5


def test_a_sleeping_cell_is_stopped_by_the_wall_clock_backstop_and_it_is_the_students():
    limits = Limits(cell_seconds=1, kill_grace_seconds=0.5, notebook_seconds=60, wall_factor=2, wall_margin_seconds=1)
    record, _ = run_cells(["print('hi')", "import time\ntime.sleep(3600)"], limits)
    assert not record.completed and record.last_cell == 1 and not record.retry
    assert "waited past the wall-clock backstop (3 s)" in record.stop_reason


def test_the_course_cell_is_not_charged_and_its_overrun_is_a_retry():
    limits = Limits(cell_seconds=0.5, kill_grace_seconds=0.5, notebook_seconds=1, setup_seconds=2)
    record, out = run_cells([BURN_ONE_SECOND, "print('student')"], limits, locked=frozenset({0}))
    assert record.completed and "student" in out[1]  # the locked cell's second is neither the cell's nor the notebook's
    record, _ = run_cells([BURN_ONE_SECOND.replace("< 1", "< 60"), "print('student')"], limits, locked=frozenset({0}))
    assert not record.completed
    assert "the run ended in the course's own cell 1 before any cell of the submission ran" in record.retry


FORGED_PROGRESS = """import os
while True:
    try:
        while True:
            for index in range(1, 40):
                for fd in range(3, 64):
                    try:
                        os.write(fd, f"@cell {index} 0\\n@cell {index}:- 0\\n".encode())
                    except OSError:
                        pass
    except BaseException:
        pass
"""


def test_progress_lines_written_by_the_student_do_not_extend_the_time():
    limits = Limits(cell_seconds=2, kill_grace_seconds=0.5, notebook_seconds=30)
    record, _ = run_cells([FORGED_PROGRESS] + ["print('after')"] * 40, limits)
    assert not record.completed and record.last_cell == 0
    assert "ran past the cell CPU-time limit (2 s)" in record.stop_reason


@pytest.mark.skipif(accounting.CgroupTree.create(2**30) is None, reason="no control group can be made here")
def test_memory_limit_covers_every_process_of_the_sandbox_together():
    limits = Limits(memory_bytes=2**30, cell_seconds=30, kill_grace_seconds=1, notebook_seconds=60)
    code = ("import subprocess, sys\nchild = 'import numpy as np, time\\nx = np.ones(2**26)\\ntime.sleep(5)'\n"
            "children = [subprocess.Popen([sys.executable, '-c', child]) for _ in range(4)]\n"
            "print('exit codes', [c.wait() for c in children])")  # 4 x 512 MiB: each under the limit, not together
    record, (out,) = run_cells([code], limits)
    assert record.completed
    assert "-9" in out.split("exit codes")[1], out  # the group's OOM killer stopped some of them


@pytest.mark.skipif(os.geteuid() != 0, reason="uids are leased only when grading as root")
def test_each_sandbox_gets_its_own_uid():
    with leased_uid(SANDBOXED) as first, leased_uid(SANDBOXED) as second:
        assert first != second and first > 65535 and second > 65535


def test_grading_refuses_to_run_without_a_sandbox_unless_told(monkeypatch, capsys):
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    with pytest.raises(SandboxUnavailable, match="--unsafe-no-sandbox"):
        choose_isolation(allow_unsafe=False)
    assert "UNSAFE" in choose_isolation(allow_unsafe=True).describe()
    assert cli.main(["grade", "01_perceptron", "anywhere"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("dlcourse grade: bubblewrap (bwrap) is not installed") and "\n" not in error
