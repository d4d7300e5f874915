"""nbgrader configuration of the course: run plain nbgrader commands from this folder.

source  = ../solutions/<module>/   (instructor notebooks with solutions and hidden tests)
release = ../exercises/<module>/   (student notebooks, generated; never edit by hand)
submitted, autograded, feedback and the gradebook live here, in grading/ (git-ignored).
"""
import os

c = get_config()  # noqa: F821  (provided by traitlets when this file is loaded)

GRADING_DIR = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.root = os.path.dirname(GRADING_DIR)
c.CourseDirectory.course_id = "dlcourse"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
c.CourseDirectory.submitted_directory = os.path.join("grading", "submitted")
c.CourseDirectory.autograded_directory = os.path.join("grading", "autograded")
c.CourseDirectory.feedback_directory = os.path.join("grading", "feedback")
c.CourseDirectory.solution_directory = os.path.join("grading", "released_solutions")
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(GRADING_DIR, "gradebook.db")
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".*"]

# Student code must finish: a cell that runs longer than this is stopped and scores zero. `dlcourse grade`
# takes its cell time limit from here too (--cell-timeout overrides it).
c.Execute.timeout = 120

# Feedback shows students their own work and the check messages, never the hidden tests' source; the HTML
# of their outputs is sanitized (no script from a submission runs in the browser of whoever reads it).
c.HTMLExporter.sanitize_html = True
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "dlcourse.grading.feedback.RedactHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
