"""Grading speed and memory: the sandboxed grading engine against plain nbgrader, on the same class.

    .venv/bin/python benchmarks/bench_grading.py [--students 30] [--workers N]

A class of module-01 submissions (correct, partially solved and blank, in turns; each with the whole
notebook, the Keras section included) is built from the release and the solution's answers, then graded
twice into two temporary courses: by `dlcourse`'s engine (bubblewrap sandboxes, one worker per core,
autograded notebooks and feedback pages), and by plain `nbgrader autograde` followed by
`nbgrader generate_feedback`. Reported: wall time, seconds per submission, the peak resident memory of
all processes together (sampled every 0.2 s) and of the largest single process, the speed ratio, and
whether both gave every student the same score. Results go to benchmarks/results/grading.json.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from nbgrader.api import Gradebook

from dlcourse import paths
from dlcourse.build import build_exercises
from dlcourse.grading.course import Course
from dlcourse.grading.engine import Options, grade_class
from dlcourse.grading.sandbox import choose_isolation
from dlcourse.nbgrader_tools import run_nbgrader

sys.path.insert(0, str(paths.project_root() / "tests"))
from hostile.kit import MODULE, NOTEBOOK, Kit, dumps  # noqa: E402  (the tests' notebook builder)

TARGET_RATIO = 1.8
PARTIAL = ("sigmoid", "neuron_forward", "binary_cross_entropy")


class MemorySampler:
    """Peak resident memory of this process's descendants: all together, and the largest one (MB)."""

    def __init__(self, period: float = 0.2):
        self.period, self.total_mb, self.largest_mb = period, 0.0, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            sizes = descendant_rss_mb(os.getpid())
            self.total_mb = max(self.total_mb, sum(sizes))
            self.largest_mb = max([self.largest_mb, *sizes])


def descendant_rss_mb(root: int) -> list[float]:
    """Resident memory (MB) of every process below root."""
    parents, rss = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = dict(line.split(":", 1) for line in (entry / "status").read_text().splitlines() if ":" in line)
        except OSError:
            continue
        parents[int(entry.name)] = int(fields["PPid"])
        rss[int(entry.name)] = int(fields.get("VmRSS", "0 kB").split()[0]) / 1024
    below, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - below
        below |= frontier
    return [rss[pid] for pid in below]


def write_class(kit: Kit, folder: Path, students: int) -> None:
    """Correct, partially solved and blank submissions in turns, in nbgrader's layout."""
    for i in range(students):
        solved = (None, PARTIAL, ())[i % 3]
        path = folder / f"s{i:03d}" / MODULE / NOTEBOOK
        path.parent.mkdir(parents=True)
        path.write_bytes(dumps(kit.notebook(solved, keras_demo=True)))


def new_course(root: Path) -> Course:
    course = Course.under(root, root / "release")
    build_exercises([MODULE], target=course.release, db_url=course.db_url)
    return course


def grade_with_engine(course: Course, source: Path, workers: int) -> tuple[dict, dict[str, float]]:
    with MemorySampler() as memory:
        start = time.perf_counter()
        result = grade_class(MODULE, source, choose_isolation(False), course, Options(workers=workers))
        wall = time.perf_counter() - start
    return ({"wall_s": wall, "peak_total_mb": memory.total_mb, "peak_process_mb": memory.largest_mb},
            {r.student: r.score for r in result.results})


def grade_with_nbgrader(course: Course, source: Path) -> tuple[dict, dict[str, float]]:
    shutil.copytree(source, course.submitted)
    with MemorySampler() as memory:
        start = time.perf_counter()
        run_nbgrader("autograde", MODULE, *course.nbgrader_overrides())
        autograde = time.perf_counter() - start
        run_nbgrader("generate_feedback", MODULE, *course.nbgrader_overrides())
        wall = time.perf_counter() - start
    with Gradebook(course.db_url) as gradebook:
        scores = {s.student.id: float(s.score) for s in gradebook.find_assignment(MODULE).submissions}
    return ({"wall_s": wall, "autograde_s": autograde, "peak_total_mb": memory.total_mb,
             "peak_process_mb": memory.largest_mb}, scores)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dlcourse-bench-grading-") as scratch:
        root = Path(scratch)
        engine_course, nbgrader_course = new_course(root / "engine"), new_course(root / "nbgrader")
        write_class(Kit(engine_course.release / MODULE / NOTEBOOK), root / "class", args.students)
        engine, engine_scores = grade_with_engine(engine_course, root / "class", args.workers)
        plain, plain_scores = grade_with_nbgrader(nbgrader_course, root / "class")
    n = args.students
    ratio = plain["wall_s"] / engine["wall_s"]
    same = sum(engine_scores[s] == plain_scores.get(s) for s in engine_scores)
    print(f"{n} submissions of {MODULE} on {len(os.sched_getaffinity(0))} cores "
          f"({args.workers} workers for the engine)")
    print(f"{'':<34}{'wall s':>8}{'s/submission':>14}{'peak MB (all)':>15}{'peak MB (1 proc)':>18}")
    for name, row in (("dlcourse grade (sandboxed)", engine), ("nbgrader autograde + feedback", plain)):
        print(f"{name:<34}{row['wall_s']:>8.1f}{row['wall_s'] / n:>14.2f}{row['peak_total_mb']:>15.0f}"
              f"{row['peak_process_mb']:>18.0f}")
    print(f"nbgrader autograde alone: {plain['autograde_s']:.1f} s ({plain['autograde_s'] / n:.2f} s/submission)")
    print(f"speed-up: {ratio:.2f}x (target >= {TARGET_RATIO}x: {'PASS' if ratio >= TARGET_RATIO else 'FAIL'}); "
          f"same score for {same}/{n} students")
    results = paths.project_root() / "benchmarks" / "results"
    results.mkdir(exist_ok=True)
    (results / "grading.json").write_text(json.dumps(
        {"students": n, "workers": args.workers, "engine": engine, "nbgrader": plain, "ratio": ratio,
         "same_scores": same}, indent=1))


if __name__ == "__main__":
    main()
