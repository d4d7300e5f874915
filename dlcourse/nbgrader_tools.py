"""Running nbgrader's own commands with the course configuration in grading/."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from . import paths


class NbgraderError(RuntimeError):
    """An nbgrader command failed; the message carries its log."""


def nbgrader_environment() -> dict[str, str]:
    """The process environment for nbgrader: this interpreter's bin/ first on PATH (nbgrader calls alembic)."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def run_nbgrader(*args: str, cwd: Path | None = None) -> str:
    """Run `nbgrader <args>` from grading/ (or cwd); returns its log, NbgraderError when it fails."""
    command = [sys.executable, "-m", "nbgrader", *args]
    result = subprocess.run(command, cwd=cwd or paths.grading_dir(), capture_output=True, text=True,
                            env=nbgrader_environment())
    log = result.stdout + result.stderr
    if result.returncode != 0 or "[ERROR]" in log.replace(" | ERROR]", "[ERROR]"):
        raise NbgraderError(f"`nbgrader {' '.join(args)}` failed:\n{log}")
    return log
