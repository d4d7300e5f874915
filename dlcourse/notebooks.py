"""Reading, cleaning and writing the course notebooks (nbformat v4, stored without outputs)."""
from __future__ import annotations

import json
from pathlib import Path

import nbformat

NBFORMAT_VERSION = 4
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
LANGUAGE_INFO = {"name": "python"}
# Cell metadata worth storing; everything else (execution times, scroll state ...) is volatile.
KEPT_CELL_METADATA = ("nbgrader", "tags", "deletable", "editable")


class NotebookError(RuntimeError):
    """A notebook that cannot be used as it is; the message says what to do."""


def read_notebook(path: str | Path) -> nbformat.NotebookNode:
    """Read a notebook, or raise NotebookError naming the file and the fix."""
    path = Path(path)
    if not path.is_file():
        raise NotebookError(f"{path}: no such notebook. Check the name and the folder you are in.")
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        json.loads(text)
    except json.JSONDecodeError as err:
        raise NotebookError(
            f"{path} is not valid JSON (line {err.lineno}, column {err.colno}: {err.msg}). It was damaged "
            "outside Jupyter (an editor, a merge, a truncated upload). Restore it: `git checkout -- "
            f"{path}` for a course file, or fetch the exercise again and copy your answers over."
        ) from None
    try:
        return nbformat.reads(text, as_version=NBFORMAT_VERSION)
    except Exception as err:  # nbformat raises several unrelated types for malformed documents
        raise NotebookError(
            f"{path} is JSON but not a Jupyter notebook ({type(err).__name__}: {err}). "
            "Restore it from git or fetch the exercise again."
        ) from None


def clean_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Remove outputs, execution counts and volatile metadata, in place; returns nb."""
    nb.metadata = nbformat.from_dict({"kernelspec": dict(KERNELSPEC), "language_info": dict(LANGUAGE_INFO)})
    for cell in nb.cells:
        cell.metadata = nbformat.from_dict(
            {key: cell.metadata[key] for key in KEPT_CELL_METADATA if key in cell.metadata}
        )
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def notebook_text(nb: nbformat.NotebookNode) -> str:
    """The exact text a notebook is stored as: sorted keys, one-space indent, final newline."""
    return nbformat.writes(nb, version=NBFORMAT_VERSION) + "\n"


def write_notebook(nb: nbformat.NotebookNode, path: str | Path) -> None:
    """Clean a notebook and store it at path."""
    Path(path).write_text(notebook_text(clean_notebook(nb)), encoding="utf-8")


def is_clean(path: str | Path) -> bool:
    """True when the stored file is byte-identical to its cleaned form."""
    text = Path(path).read_text(encoding="utf-8")
    return text == notebook_text(clean_notebook(read_notebook(path)))
