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
# takes its cell limit from here too, as CPU time of the submission's processes (--cell-timeout overrides it);
# plain nbgrader counts it as wall-clock time.
c.Execute.timeout = 120

# Hidden cases are drawn from the instructor's secret: $DLCOURSE_HIDDEN_SECRET, else this file outside the
# repository (`dlcourse grade` creates it on first use). Set here for plain `nbgrader autograde` too, whose
# kernels then draw the same hidden cases; note that a plain nbgrader kernel has no sandbox, so a submission
# could read the secret from its environment there (`dlcourse grade` never gives it to a submission).
HIDDEN_SECRET_FILE = os.path.join(os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config"),
                                  "dlcourse", "hidden_secret")
if not os.environ.get("DLCOURSE_HIDDEN_SECRET") and os.path.isfile(HIDDEN_SECRET_FILE):
    with open(HIDDEN_SECRET_FILE, encoding="utf-8") as handle:
        os.environ["DLCOURSE_HIDDEN_SECRET"] = handle.read().strip()

# Feedback shows students their own work and the check messages, never the hidden tests' source; the HTML
# of their outputs is sanitized (no script from a submission runs in the browser of whoever reads it), formulas
# are MathML (no MathJax from a network) and long output lines wrap: the same page as `dlcourse grade` writes.
from dlcourse.grading.feedback import feedback_template_basedirs  # noqa: E402

c.HTMLExporter.sanitize_html = True
c.HTMLExporter.extra_template_basedirs = feedback_template_basedirs()
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "dlcourse.grading.feedback.RedactHiddenTests",
    "dlcourse.grading.feedback.SanitizeMarkdown",
    "dlcourse.grading.feedback.FeedbackPageStyle",
]
