"""The program that runs one submitted notebook for the grader: ``python -I -B -m dlcourse.grading.runner JOB``.

Under grading it runs inside the sandbox; ``dlcourse check`` runs it directly. The job, a JSON file written by
the grader, lists the code cells to run, which of them are graded test cells backed by an exercise, the
limits, and where to write the results. Before anything of the submission is read, :func:`confine` applies
the resource limits and, when the process starts as root inside the sandbox, switches for good to the
sandbox's own unprivileged uid (so that the process-count limit counts this sandbox only). Everything else
lives in :mod:`dlcourse.grading.kernel`, imported only after that.
"""
from __future__ import annotations

import json
import os
import resource
import signal
import sys


def main(argv: list[str] | None = None) -> None:
    """Read the job, confine this process, run the notebook; never returns (the kernel ends with os._exit)."""
    argv = sys.argv if argv is None else argv
    with open(argv[1], encoding="utf-8") as handle:
        job = json.load(handle)
    try:  # the job holds the run's nonce: no cell of the submission may read it there
        os.unlink(argv[1])
    except OSError:
        pass
    confine(job)
    from .kernel import run_job

    run_job(job)


def confine(job: dict) -> None:
    """Apply the job's resource limits (soft = hard, so they cannot be raised again) and drop root."""
    limits = job["limits"]
    for name, value in (("RLIMIT_AS", limits["memory_bytes"]), ("RLIMIT_FSIZE", limits["file_bytes"]),
                        ("RLIMIT_NOFILE", limits["open_files"]), ("RLIMIT_CORE", 0)):
        resource.setrlimit(getattr(resource, name), (value, value))
    if job["sandboxed"]:  # outside a sandbox the count would include all of the user's processes
        resource.setrlimit(resource.RLIMIT_NPROC, (limits["processes"], limits["processes"]))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized file write fails instead of killing the run
    uid = job.get("uid")
    if uid is not None and os.getuid() == 0:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)


if __name__ == "__main__":
    main()
