"""Feedback that never shows hidden tests: the redaction preprocessor, and the feedback HTML of a graded notebook.

``RedactHiddenTests`` and ``SanitizeMarkdown`` are also configured for plain ``nbgrader generate_feedback``
(grading/nbgrader_config.py). The instructor opens these pages too: every markdown and raw cell of a
submission is rendered and cleaned by nh3 (a maintained HTML sanitiser: no scripts, event handlers or
``javascript:`` links), and outputs go through nbconvert's own sanitiser. Formulas become MathML
(:mod:`dlcourse.grading.mathml`), so the page needs no MathJax and no network; long output lines wrap.
:func:`feedback_html` renders the same page as nbgrader's generate_feedback, with the scores the grader just
decided instead of reading them back from the gradebook, so workers can write it in parallel.
"""
from __future__ import annotations

import copy
import os
import re
from functools import lru_cache

import nbgrader
import nh3
from nbconvert.exporters import HTMLExporter
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor, Preprocessor
from traitlets import Bool
from traitlets.config import Config

from .mathml import MATHML_ATTRIBUTES, MATHML_TAGS, markdown_to_html

HIDDEN_REGION = re.compile(r"[ \t]*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS[ \t]*\n?", re.S)
HIDDEN_NOTE = "# (hidden tests ran here at grading)\n"
SANITIZED_TAGS = nh3.ALLOWED_TAGS | MATHML_TAGS
SANITIZED_ATTRIBUTES = {**nh3.ALLOWED_ATTRIBUTES, **{tag: set(MATHML_ATTRIBUTES) for tag in MATHML_TAGS}}
# Searched before nbconvert's own templates: its base/mathjax.html.j2 (the MathJax <script> tags every HTML
# template imports) is replaced by an empty macro there, so a page loads nothing from a network.
NO_MATHJAX_TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")
# Tracebacks and printed lines wrap inside their box (bootstrap's <pre> keeps a long line on one line).
WRAP_OUTPUT_LINES = "div.output_subarea pre { white-space: pre-wrap; overflow-wrap: anywhere; word-break: normal; }"


def redact_hidden_tests(source: str) -> str:
    """Replace every hidden-test region of a cell's source with a one-line note."""
    return HIDDEN_REGION.sub(HIDDEN_NOTE, source)


def strip_hidden_tests(source: str) -> str:
    """The source without its hidden-test regions: what the release notebook shows."""
    return HIDDEN_REGION.sub("", source)


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


def sanitized_markdown(source: str) -> str:
    """A markdown cell's source as inert HTML: rendered with MathML formulas, then cleaned by nh3.

    Links keep http, https and mailto; MathML keeps the elements and attributes latex2mathml writes.
    """
    return nh3.clean(markdown_to_html(source), tags=SANITIZED_TAGS, attributes=SANITIZED_ATTRIBUTES,
                     url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer nofollow")


class SanitizeMarkdown(Preprocessor):
    """Markdown and raw cells rendered to HTML and sanitised (a submission's HTML never runs in a browser)."""

    enabled = Bool(True).tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "markdown":
            cell.source = sanitized_markdown(cell.source)
        elif cell.cell_type == "raw":
            cell.source = nh3.clean(cell.source)
            cell.metadata.pop("raw_mimetype", None)
            cell.metadata.pop("format", None)
        return cell, resources


class FeedbackPageStyle(CSSHTMLHeaderPreprocessor):
    """nbconvert's inlined CSS (code highlighting), and output lines that wrap inside their box."""

    enabled = Bool(True).tag(config=True)  # plain nbgrader registers preprocessors as they come, not enabled

    def preprocess(self, nb, resources):
        nb, resources = super().preprocess(nb, resources)
        resources["inlining"]["css"].append(WRAP_OUTPUT_LINES)
        return nb, resources


FORMGRADER = os.path.join(os.path.dirname(nbgrader.__file__), "server_extensions", "formgrader")


def feedback_template_basedirs() -> list[str]:
    """Where nbconvert looks for the feedback template (nbgrader's), the MathJax-free macro first; plain
    nbgrader generate_feedback is given the same (grading/nbgrader_config.py)."""
    return [NO_MATHJAX_TEMPLATES, os.path.join(FORMGRADER, "templates")]


@lru_cache(maxsize=1)
def _exporter() -> HTMLExporter:
    """nbgrader's feedback template, with hidden tests redacted and no MathJax."""
    config = Config()
    config.HTMLExporter.template_name = "feedback"
    config.HTMLExporter.sanitize_html = True  # outputs come from a submission: no scripts in a reader's browser
    config.HTMLExporter.extra_template_basedirs = feedback_template_basedirs()
    config.HTMLExporter.extra_template_paths = [
        os.path.join(FORMGRADER, "static", "node_modules", "bootstrap", "dist", "css")]
    exporter = HTMLExporter(config=config)
    exporter.register_preprocessor(RedactHiddenTests(), enabled=True)
    exporter.register_preprocessor(SanitizeMarkdown(), enabled=True)
    exporter.register_preprocessor(FeedbackPageStyle(), enabled=True)
    return exporter


def feedback_html(nb, scores: dict[str, float], student: str, module: str, notebook: str) -> str:
    """The feedback page of one graded notebook; scores maps each graded cell's grade id to its points."""
    nb = copy.deepcopy(nb)
    max_score = 0.0
    for cell in nb.cells:
        role = cell.metadata.get("nbgrader", {})
        if role.get("grade"):
            role["score"] = scores.get(role["grade_id"])
            max_score += float(role.get("points", 0))
        if role.get("solution") or role.get("grade"):
            role.setdefault("comment", None)
            role.setdefault("task", False)
    resources = {"nbgrader": {"notebook": notebook, "student": student, "assignment": module, "late_penalty": 0,
                              "score": sum(s for s in scores.values() if s is not None), "max_score": max_score}}
    body, _ = _exporter().from_notebook_node(nb, resources=resources)
    return body
