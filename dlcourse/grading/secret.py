"""The instructor's secret that the hidden cases are drawn from: outside the repository, in the grader only.

``dlcourse grade`` reads it from $DLCOURSE_HIDDEN_SECRET when that is set, else from the course's secret file
(``~/.config/dlcourse/hidden_secret`` for the instructor's course), and creates that file with a fresh random
secret on first use. It is put into the grader's environment (where ``checks.core.hidden_seed`` reads it),
never into a sandbox: the runs receive the hidden cases themselves, drawn by the grader, when they reach each
test. grading/nbgrader_config.py reads the same file, so plain ``nbgrader autograde`` draws the same cases.
"""
from __future__ import annotations

import hashlib
import os
import secrets
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from ..checks.core import HIDDEN_SECRET_VARIABLE


def default_secret_file() -> Path:
    """~/.config/dlcourse/hidden_secret (or under $XDG_CONFIG_HOME)."""
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return config / "dlcourse" / "hidden_secret"


@dataclass(frozen=True)
class Secret:
    """Where the secret came from, whether it was created now, and a digest that names it without telling it."""

    source: str
    created: bool
    digest: str

    def describe(self) -> str:
        made = "created now; keep it, and keep it out of the repository" if self.created else "kept outside the repository"
        return f"hidden cases drawn from the instructor's secret ({self.source}, {made})"


@contextmanager
def instructor_secret(path: Path) -> Iterator[Secret]:
    """The instructor's secret in this process's environment for the block (path is created on first use);
    the environment is as it was afterwards, so that nothing else in the process draws secret cases."""
    before = os.environ.get(HIDDEN_SECRET_VARIABLE)
    try:
        yield _use_secret(path)
    finally:
        if before is None:
            os.environ.pop(HIDDEN_SECRET_VARIABLE, None)
        else:
            os.environ[HIDDEN_SECRET_VARIABLE] = before


def _use_secret(path: Path) -> Secret:
    """Put the instructor's secret into this process's environment (creating path on first use)."""
    value, created, source = os.environ.get(HIDDEN_SECRET_VARIABLE, ""), False, f"${HIDDEN_SECRET_VARIABLE}"
    if not value:
        source = str(path)
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as handle:
                handle.write(secrets.token_hex(32) + "\n")
            created = True
        value = path.read_text(encoding="utf-8").strip()
        if not value:
            raise ValueError(f"the hidden-test secret file {path} is empty: delete it to have a new one made.")
        os.environ[HIDDEN_SECRET_VARIABLE] = value
    return Secret(source, created, hashlib.sha256(value.encode()).hexdigest()[:16])
