"""Grading a whole class in sandboxes: the example class and the hostile submissions, with exact grades.

The class (grading/example_class plus every case of tests/hostile) is graded once per test session into a
temporary course (its own release, gradebook and folders), shared by the xdist workers through a lock file;
the tests never touch grading/.
"""
from __future__ import annotations

import csv
import fcntl
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from dlcourse import paths
from dlcourse.build import build_exercises
from dlcourse.grading.course import Course
from dlcourse.grading.engine import ClassResult, Options, grade_class
from dlcourse.grading.report import class_summary, format_table, write_reports
from dlcourse.grading.results import SubmissionResult
from dlcourse.grading.sandbox import Isolation, Limits, sandbox_problem
from dlcourse.grading.state import GradeState
from dlcourse.nbgrader_tools import run_nbgrader
from hostile.cases import CASES, write_class
from hostile.kit import MODULE, NOTEBOOK, Kit, solution_answers

pytestmark = pytest.mark.xdist_group("grading")

LIMITS = Limits(cell_seconds=15, kill_grace_seconds=2, notebook_seconds=180)
EXAMPLE_GRADES = {"alice": 9, "bob": 6, "carol": 0, "dave": 0, "erin": 9}


@dataclass
class GradedClass:
    """The graded course, the class folder it was graded from, and every student's result."""

    course: Course
    source: Path
    results: dict[str, SubmissionResult]


@contextmanager
def locked(path: Path):
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def grade_once(root: Path) -> None:
    """Build the release into root, write the class, grade it; a marker file says it is done."""
    if (root / "done").exists():
        return
    shutil.rmtree(root, ignore_errors=True)
    course = Course.under(root / "course", root / "release")
    build_exercises([MODULE], target=course.release, db_url=course.db_url)
    shutil.copytree(paths.grading_dir() / "example_class", root / "class", ignore=shutil.ignore_patterns("*.md"))
    write_class(Kit(course.release / MODULE / NOTEBOOK), root / "class")
    grade_class(MODULE, root / "class", Isolation(True), course, Options(workers=2, limits=LIMITS))
    (root / "done").touch()


@pytest.fixture(scope="session")
def graded(tmp_path_factory, worker_id) -> GradedClass:
    problem = sandbox_problem()
    if problem and shutil.which("bwrap") is None:
        pytest.skip(f"grading needs bubblewrap: {problem}")
    assert problem is None, f"bubblewrap is installed but cannot sandbox: {problem}"
    base = tmp_path_factory.getbasetemp()
    shared = base if worker_id == "master" else base.parent  # xdist workers share their session's folder
    root = shared / "dlcourse-graded-class"
    with locked(shared / "dlcourse-graded-class.lock"):
        grade_once(root)
    course = Course.under(root / "course", root / "release")
    state = GradeState(course.state / MODULE)
    results = {path.stem: state.load(path.stem) for path in sorted((course.state / MODULE).glob("*.json"))}
    return GradedClass(course, root / "class", results)


def reasons_of(result: SubmissionResult) -> str:
    return "; ".join(result.reasons())


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.student)
def test_hostile_submission_gets_its_exact_grade_and_reason(graded, case):
    result = graded.results[case.student]
    assert result.score == case.score, f"{case.what}: {reasons_of(result)}"
    for expected in case.reasons:
        assert expected in reasons_of(result), f"{case.what}: {reasons_of(result)}"
    if not case.reasons:
        assert result.reasons() == [], f"{case.what}: {reasons_of(result)}"


def test_example_class_gets_the_expected_grades(graded):
    assert {s: graded.results[s].score for s in EXAMPLE_GRADES} == EXAMPLE_GRADES
    bob = reasons_of(graded.results["bob"])
    assert "test_binary_cross_entropy 0/1" in bob and "test_perceptron_train 0/2" in bob
    assert "not valid JSON" in reasons_of(graded.results["dave"])
    assert "01_perceptron-Copy1.ipynb was renamed; graded as 01_perceptron.ipynb" in reasons_of(graded.results["erin"])
    assert graded.results["alice"].reasons() == []


def test_the_gradebook_holds_every_grade(graded):
    with Gradebook(graded.course.db_url) as gradebook:
        for student, result in graded.results.items():
            assert gradebook.find_submission(MODULE, student).score == result.score, student


def test_autograded_notebooks_are_in_nbgrader_layout_with_verdicts(graded):
    nb = nbformat.read(graded.course.autograded / "bob" / MODULE / NOTEBOOK, as_version=4)
    tests = {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")}
    assert "### BEGIN HIDDEN TESTS" in tests["test_sigmoid"].source
    assert "✔ sigmoid: all 3 public and 3 hidden checks passed." in tests["test_sigmoid"].outputs[-1]["text"]
    assert tests["test_perceptron_train"].outputs[-1]["ename"] == "CheckFailure"


def test_feedback_never_shows_hidden_tests_or_solution_code(graded):
    solution_lines = [line.strip() for source in solution_answers().values() for line in source.splitlines()
                      if line.strip().startswith(("e = np.exp", "update = y_i", "p = np.clip"))]
    assert len(solution_lines) == 3
    pages = list(graded.course.feedback.glob(f"*/{MODULE}/*.html"))
    assert len(pages) >= 30
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert "BEGIN HIDDEN TESTS" not in html and "hidden=True" not in html, page
    carol = (graded.course.feedback / "carol" / MODULE / f"{MODULE}.html").read_text(encoding="utf-8")
    assert "hidden tests ran here at grading" in carol
    assert not any(line in carol for line in solution_lines)


def test_huge_output_is_cut(graded):
    path = graded.course.autograded / "h-huge-output" / MODULE / NOTEBOOK
    assert path.stat().st_size < 2 * 2**20
    assert "characters of stdout were cut at grading" in path.read_text(encoding="utf-8")


def test_the_sandbox_hid_the_course_and_the_network_from_a_submission(graded):
    nb = nbformat.read(graded.course.autograded / "h-sandbox-probe" / MODULE / NOTEBOOK, as_version=4)
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "REACHED" not in printed
    assert printed.count("blocked") == 5
    assert not (paths.project_root() / "dlcourse" / "sneaky.txt").exists()


def test_plain_nbgrader_commands_work_on_the_result(graded, tmp_path):
    course = graded.course
    run_nbgrader("generate_feedback", MODULE, "--student=alice", "--force", *course.nbgrader_overrides())
    html = (course.feedback / "alice" / MODULE / f"{MODULE}.html").read_text(encoding="utf-8")
    assert "Score: 9.0 / 9.0" in html and "BEGIN HIDDEN TESTS" not in html
    assert "MathJax.Hub" not in html and "cdnjs" not in html and "<math" in html  # MathML, nothing from a network
    assert "white-space: pre-wrap" in html  # long output lines wrap, as on the pages dlcourse grade writes
    run_nbgrader("export", f"--to={tmp_path / 'export.csv'}", f"--CourseDirectory.db_url={course.db_url}")
    rows = {row["student_id"]: row for row in csv.DictReader(open(tmp_path / "export.csv"))}
    assert float(rows["alice"]["raw_score"]) == 9 and float(rows["bob"]["raw_score"]) == 6


def test_reports_table_csv_and_class_summary(graded, tmp_path):
    result = ClassResult(MODULE, [graded.results[s] for s in sorted(EXAMPLE_GRADES)], [], Isolation(True), 1.0)
    course = Course(tmp_path, tmp_path, tmp_path, tmp_path / "reports", tmp_path, graded.course.release,
                    graded.course.db_url)
    written = write_reports(course, result)
    rows = list(csv.DictReader(open(written["grades"])))
    assert [(r["student_id"], r["score"]) for r in rows] == [("alice", "9"), ("bob", "6"), ("carol", "0"),
                                                              ("dave", "0"), ("erin", "9")]
    summary = class_summary(result)
    assert written["summary"].read_text().strip() == summary
    assert "test_perceptron_train: mean 0.80/2, lost points: 3; most common (1x): " in summary
    assert "alice      9/9    full marks" in format_table(result)
    assert written["export"].is_file()


def test_resume_regrades_only_what_changed_and_the_chosen_student(graded, tmp_path):
    shutil.copytree(graded.course.state.parent, tmp_path / "course")
    shutil.copytree(graded.source, tmp_path / "class", symlinks=True)  # h-only-links: links copied as links
    course = Course.under(tmp_path / "course", graded.course.release)
    options = Options(workers=2, limits=LIMITS)

    assert grade_class(MODULE, tmp_path / "class", Isolation(True), course, options).graded_now == []

    changed = tmp_path / "class" / "h-correct" / MODULE / NOTEBOOK
    nb = nbformat.read(changed, as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("an afterthought"))
    nbformat.write(nb, changed)
    (course.state / MODULE / "h-wrong-kernel.json").unlink()  # as if the run had stopped before this one
    untouched = course.autograded / "alice" / MODULE / NOTEBOOK
    before = untouched.stat().st_mtime_ns
    result = grade_class(MODULE, tmp_path / "class", Isolation(True), course, options)
    assert sorted(result.graded_now) == ["h-correct", "h-wrong-kernel"]
    assert {r.student: r.score for r in result.results}["h-wrong-kernel"] == 9

    chosen = Options(workers=2, limits=LIMITS, students=("h-sys-exit",))
    assert grade_class(MODULE, tmp_path / "class", Isolation(True), course, chosen).graded_now == ["h-sys-exit"]
    assert untouched.stat().st_mtime_ns == before


def test_feedback_pages_render_a_submissions_markdown_inert(graded):
    page = (graded.course.feedback / "h-active-markdown" / MODULE / f"{MODULE}.html").read_text(encoding="utf-8")
    for active in ("onerror", "alert('img')", 'alert("script")', 'javascript:alert("link")', "javascript:alert('anchor')"):
        assert active not in page, active
    assert "anchor" in page and "a link" in page  # the text stays, inert


def test_csv_fields_and_terminal_lines_from_a_submission_are_inert(graded, tmp_path):
    chosen = [graded.results["h-ansi-name"], graded.results["h-formula-name"]]
    result = ClassResult(MODULE, chosen, [], Isolation(True), 1.0)
    course = Course(tmp_path, tmp_path, tmp_path, tmp_path / "reports", tmp_path, graded.course.release,
                    graded.course.db_url)
    rows = {r["student_id"]: r for r in csv.DictReader(open(write_reports(course, result)["grades"], encoding="utf-8"))}
    assert rows["h-formula-name"]["reasons"].startswith("'=2+5+cmd|")
    table = format_table(result) + class_summary(result)
    assert "\x1b" not in table and "\\x1b[2J\\x1b[31mred.ipynb was renamed" in table
