"""What of the course's checks a sandbox sees: their public names, never their references or case generators.

In a grading sandbox every ``dlcourse/checks/<topic>.py`` is covered (bind-mounted over, read-only) by a stub
made here: each ``check_<function>`` becomes a no-op that says checks run in the grader, and the module's plain
constants (numbers, strings, small arrays such as the deck's example image) keep their values, so that the
notebooks' locked setup cells import what they always import. The compiled copies in ``__pycache__`` are hidden
too. The one exception is the checks module of the assignment being graded when one of its exercises calls
the student's code through an adapter (building a Keras model, a training loop): the adapter runs in the
sandbox, so that module stays as it is (see grading/SECURITY.md for what that leaves open).
"""
from __future__ import annotations

import importlib
import numbers
from functools import lru_cache
from pathlib import Path

import numpy as np

CHECKS_FOLDER = Path(__file__).resolve().parent.parent / "checks"
SHARED = ("__init__.py", "core.py")
MAX_CONSTANT_SIZE = 10_000

STUB_HEADER = '''"""The checks of {topic} as a grading sandbox sees them: the grader judges the test cells, outside."""
import numpy as np


def _checked_by_the_grader(*functions, hidden=False):
    """Checks do not run inside grading: the grader calls your functions and judges their outputs itself."""
    print("(at grading the grader runs this check itself, outside the notebook)")

'''


def _plain_constant(value) -> str | None:
    """Python source rebuilding value, for plain data only; None for anything else."""
    if isinstance(value, (bool, str)) or (isinstance(value, numbers.Number) and not isinstance(value, np.ndarray)):
        return repr(value.item() if isinstance(value, np.generic) else value)
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf" and value.size <= MAX_CONSTANT_SIZE:
        return f"np.array({value.tolist()!r}, dtype=np.{value.dtype.name})"
    if isinstance(value, tuple) and all(_plain_constant(v) is not None and not isinstance(v, np.ndarray) for v in value):
        return repr(value)
    return None


@lru_cache(maxsize=None)
def stub_source(topic: str) -> str:
    """The stub of dlcourse.checks.<topic>: its check_* names as no-ops and its plain upper-case constants."""
    module = importlib.import_module(f"dlcourse.checks.{topic}")
    lines = [STUB_HEADER.format(topic=topic)]
    for name, value in vars(module).items():
        if name.startswith("check_") and callable(value):
            lines.append(f"{name} = _checked_by_the_grader")
        elif name.isupper() and _plain_constant(value) is not None:
            lines.append(f"{name} = {_plain_constant(value)}")
    return "\n".join(lines) + "\n"


def overlays(folder: Path, keep: str | None) -> list[str]:
    """bwrap arguments covering every checks module but keep (a module path, or None) with its stub in folder."""
    folder.mkdir(exist_ok=True)
    arguments: list[str] = []
    for path in sorted(CHECKS_FOLDER.glob("*.py")):
        topic = path.stem
        if path.name in SHARED or f"dlcourse.checks.{topic}" == keep:
            continue
        stub = folder / path.name
        stub.write_text(stub_source(topic), encoding="utf-8")
        arguments += ["--ro-bind", str(stub), str(path)]
    cache = CHECKS_FOLDER / "__pycache__"
    if cache.is_dir():
        arguments += ["--tmpfs", str(cache)]
    return arguments
