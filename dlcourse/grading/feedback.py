"""Feedback that never shows hidden tests: a preprocessor for nbgrader's generate_feedback."""
from __future__ import annotations

import re

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

HIDDEN_REGION = re.compile(r"[ \t]*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS[ \t]*\n?", re.S)
HIDDEN_NOTE = "# (hidden tests ran here at grading)\n"


def redact_hidden_tests(source: str) -> str:
    """Replace every hidden-test region of a cell's source with a one-line note."""
    return HIDDEN_REGION.sub(HIDDEN_NOTE, source)


def redact_traceback(lines: list[str]) -> list[str]:
    """Keep only the last line of a traceback (the error and its message): earlier frames quote test source."""
    return lines[-1:]


class RedactHiddenTests(Preprocessor):
    """Remove hidden-test source, and the tracebacks that would quote it, from graded test cells."""

    enabled = Bool(True).tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        role = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and role.get("grade") and not role.get("solution"):
            cell.source = redact_hidden_tests(cell.source)
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = redact_traceback(output.get("traceback", []))
        return cell, resources
