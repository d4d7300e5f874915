"""Grades that a busy machine cannot change: every core loaded, a worker killed, the course's own cell stopped.

The example class must get the table the README shows while other processes keep every core busy and one
grading worker is killed by a signal (as the OOM killer would): only that submission is graded again. A run
stopped by something that is not the student's doing is "not graded, retry", never a zero in the gradebook.
Reports cover the whole class in the gradebook, also after grading one late submission.
"""
from __future__ import annotations

import csv
import multiprocessing
import os
import shutil
import signal
import threading
from pathlib import Path

import pytest
from nbgrader.api import Gradebook, MissingEntry

from dlcourse import paths
from dlcourse.build import build_exercises
from dlcourse.grading.course import Course
from dlcourse.grading.engine import Options, grade_class
from dlcourse.grading.report import format_table, write_reports
from dlcourse.grading.sandbox import Isolation, Limits, sandbox_problem
from hostile.kit import MODULE, NOTEBOOK, Kit, dumps

EXAMPLE_GRADES = {"alice": 9, "bob": 6, "carol": 0, "dave": 0, "erin": 9}
ALICE = paths.grading_dir() / "example_class" / "alice" / MODULE / NOTEBOOK

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")


def _spin() -> None:
    while True:
        pass


def worker_pids() -> list[int]:
    """The grading workers: spawned children of this process."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid() and b"multiprocessing" in cmdline:
            found.append(int(entry.name))
    return found


def has_children(pid: int) -> bool:
    for entry in Path("/proc").iterdir():
        try:
            if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                return True
        except (OSError, ValueError, IndexError):
            continue
    return False


def kill_one_busy_worker(stop: threading.Event, killed: list[int]) -> None:
    """SIGKILL the first worker seen grading (it has a sandbox running), once."""
    while not stop.wait(0.2):
        busy = [pid for pid in worker_pids() if has_children(pid)]
        if busy:
            os.kill(busy[0], signal.SIGKILL)
            killed.append(busy[0])
            return


@pytest.fixture
def course(tmp_path) -> Course:
    assert sandbox_problem() is None
    course = Course.under(tmp_path / "course", tmp_path / "release")
    build_exercises([MODULE], target=course.release, db_url=course.db_url)
    return course


def test_example_class_gets_the_same_grades_with_every_core_busy_and_a_worker_killed(course, tmp_path):
    load = [multiprocessing.get_context("spawn").Process(target=_spin, daemon=True)
            for _ in range(len(os.sched_getaffinity(0)))]
    for process in load:
        process.start()
    stop, killed = threading.Event(), []
    killer = threading.Thread(target=kill_one_busy_worker, args=(stop, killed), daemon=True)
    killer.start()
    try:
        result = grade_class(MODULE, paths.grading_dir() / "example_class", Isolation(True), course,
                             Options(workers=2, limits=Limits(cell_seconds=60)))
    finally:
        stop.set()
        for process in load:
            process.kill()
    assert killed, "no worker was seen grading"
    assert {r.student: r.score for r in result.results} == EXAMPLE_GRADES, format_table(result)
    assert all(r.graded for r in result.results), format_table(result)
    assert "alice      9/9    full marks" in format_table(result)

    late = tmp_path / "late" / "frank_98765_assignsubmission_file_01_perceptron.ipynb"
    late.parent.mkdir()
    late.write_bytes(dumps(Kit(course.release / MODULE / NOTEBOOK).notebook(solved=("sigmoid",))))
    result = grade_class(MODULE, late, Isolation(True), course, Options(workers=1, limits=Limits(cell_seconds=60)))
    assert result.graded_now == ["frank"]
    rows = list(csv.DictReader(open(write_reports(course, result)["grades"], encoding="utf-8")))
    assert [(r["student_id"], r["score"]) for r in rows] == [
        ("alice", "9"), ("bob", "6"), ("carol", "0"), ("dave", "0"), ("erin", "9"), ("frank", "1")]
    assert "was renamed" not in next(r for r in rows if r["student_id"] == "frank")["reasons"]


def test_a_run_stopped_by_the_course_cell_is_not_graded_and_never_a_zero_in_the_gradebook(course):
    slow_setup = Limits(cell_seconds=60, setup_seconds=0.05, kill_grace_seconds=0.5)
    result = grade_class(MODULE, ALICE, Isolation(True), course,
                         Options(workers=1, limits=slow_setup))
    (alice,) = result.results
    assert not alice.graded
    reason = alice.reasons()[0]
    # the kernel's own timer or the watcher's CPU count stops the cell first, depending on the machine's load:
    # either way a retry that blames the course's cell
    assert reason.startswith("not graded, retry: ") and "the course's own cell" in reason, reason
    table = format_table(result)
    assert "alice    not graded" in table and "run the same command again" in table
    with Gradebook(course.db_url) as gradebook, pytest.raises(MissingEntry):
        gradebook.find_submission(MODULE, "alice")
    again = grade_class(MODULE, ALICE, Isolation(True), course,
                        Options(workers=1, limits=Limits(cell_seconds=60)))
    assert again.graded_now == ["alice"] and again.results[0].score == 9
