"""Time and memory of every notebook of the course, against the budgets of the design.

    .venv/bin/python benchmarks/bench_notebooks.py [--repeats 3] [--only 01_]

Each run executes one notebook in a fresh kernel, in a separate process, and records the wall time of the
execution, the CPU time (user + system) of the kernel, and the kernel's peak resident memory. Medians over the
repeats are printed; budgets: 60 s and 2 GB per notebook, 8 minutes for the whole course, judged on the CPU
time (what an idle 2-core laptop spends; wall time on a shared machine mostly measures the other jobs).
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from dlcourse import paths
from dlcourse.execute import execute_notebook

NOTEBOOK_BUDGET_S = 60
MEMORY_BUDGET_MB = 2048
COURSE_BUDGET_S = 8 * 60


def measure_once(path: Path) -> dict:
    """Execute the notebook here; wall seconds, the kernel's CPU seconds and peak RSS in MB (Linux reports KB)."""
    start = time.perf_counter()
    execute_notebook(path)
    wall = time.perf_counter() - start
    kernel = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"wall_s": wall, "cpu_s": kernel.ru_utime + kernel.ru_stime, "peak_mb": kernel.ru_maxrss / 1024}


def measure_in_subprocess(path: Path) -> dict:
    """One measurement in a fresh process, so that the children's peak memory is this notebook's alone."""
    result = subprocess.run([sys.executable, __file__, "--one", str(path)], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{path} failed to execute:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def notebooks(only: str | None) -> list[Path]:
    """Lectures and solutions (the exercises are the solutions with blanks: they fail by design)."""
    found = sorted(paths.course_dir().glob("*.ipynb")) + sorted(paths.solutions_dir().glob("*/*.ipynb"))
    return [p for p in found if only is None or only in str(p)]


def report_line(path: Path, runs: list[dict]) -> tuple[str, float, bool]:
    """A table row, the median CPU time, and whether both budgets are met."""
    cpu = [r["cpu_s"] for r in runs]
    wall = statistics.median(r["wall_s"] for r in runs)
    peak = max(r["peak_mb"] for r in runs)
    median = statistics.median(cpu)
    ok = median <= NOTEBOOK_BUDGET_S and peak <= MEMORY_BUDGET_MB
    name = str(path.relative_to(paths.project_root()))
    row = (f"{name:<52} {median:7.1f} {min(cpu):7.1f} {max(cpu):7.1f} {wall:7.1f} {peak:8.0f}  "
           f"{'PASS' if ok else 'FAIL'}")
    return row, median, ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", help="only notebooks whose path contains this text")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_once(Path(args.one))))
        return 0
    print(f"{'notebook':<52} {'CPU s':>7} {'min':>7} {'max':>7} {'wall s':>7} {'peak MB':>8}  budget "
          f"(<= {NOTEBOOK_BUDGET_S} s of CPU, <= {MEMORY_BUDGET_MB} MB)")
    total, all_ok = 0.0, True
    for path in notebooks(args.only):
        row, median, ok = report_line(path, [measure_in_subprocess(path) for _ in range(args.repeats)])
        print(row, flush=True)
        total, all_ok = total + median, all_ok and ok
    course_ok = total <= COURSE_BUDGET_S
    print(f"whole course (sum of median CPU times): {total:.1f} s, budget {COURSE_BUDGET_S} s: {'PASS' if course_ok else 'FAIL'}")
    return 0 if all_ok and course_ok else 1


if __name__ == "__main__":
    sys.exit(main())
