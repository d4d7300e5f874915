"""Executing notebooks in a Jupyter kernel (nbclient), the way students, tests and graders run them."""
from __future__ import annotations

from pathlib import Path

import nbclient
import nbformat

from .notebooks import read_notebook

CELL_TIMEOUT_S = 120


def execute_notebook(path: str | Path, allow_errors: bool = False, timeout: int = CELL_TIMEOUT_S,
                     cwd: str | Path | None = None) -> nbformat.NotebookNode:
    """Run every cell of a notebook in a fresh python3 kernel (working folder: the notebook's); returns it.

    With allow_errors the run continues past failing cells (as nbgrader does); otherwise the first error
    raises nbclient's CellExecutionError.
    """
    nb = read_notebook(path)
    client = nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=allow_errors,
                                     resources={"metadata": {"path": str(cwd or Path(path).parent)}})
    client.execute()
    return nb


def stderr_of(cell: nbformat.NotebookNode) -> str:
    """Everything a code cell wrote to stderr."""
    return "".join(o.get("text", "") for o in cell.get("outputs", [])
                   if o.get("output_type") == "stream" and o.get("name") == "stderr")


def error_of(cell: nbformat.NotebookNode) -> str | None:
    """'Name: message' of the exception a code cell raised, or None."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return f"{output.get('ename')}: {output.get('evalue')}"
    return None
