"""The `dlcourse` command: build exercises, grade a class, check a notebook, check the environment, package the
course for students."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import paths

EXAMPLE_MODULE = "01_perceptron"


def cmd_build(args: argparse.Namespace) -> None:
    """Regenerate exercises/ from solutions/ through nbgrader; edited notebooks are kept unless --force."""
    from .build import build_exercises

    result = build_exercises(args.modules or None, force=args.force)
    for copy in result.backups:
        print(f"replaced an edited file; its copy is kept in {_shown(copy)}")
    for notebook in result.written:
        print(f"built {_shown(notebook)}")


def _shown(path: Path) -> str:
    """A path relative to the course folder when inside it."""
    try:
        return str(path.relative_to(paths.project_root()))
    except ValueError:
        return str(path)


def cmd_grade(args: argparse.Namespace, course=None) -> None:
    """Grade every submission of a module in sandboxes; print the table and summary, write the reports."""
    from .grading.course import Course
    from .grading.engine import Options, grade_class
    from .grading.report import class_summary, format_table, write_reports
    from .grading.sandbox import Limits, choose_isolation, default_cell_timeout

    isolation = choose_isolation(args.unsafe_no_sandbox)
    limits = Limits(memory_bytes=int(args.memory_limit * 2**30), cell_seconds=args.cell_timeout or
                    default_cell_timeout(), notebook_seconds=args.notebook_timeout)
    options = Options(workers=args.workers, limits=limits, students=tuple(args.student), force=args.force,
                      pattern=args.student_pattern)
    course = course or Course.default()
    result = grade_class(args.module, Path(args.submissions), isolation, course, options)
    print(format_table(result))
    print()
    print(class_summary(result))
    written = write_reports(course, result)
    print(f"Grades with reasons: {written['grades']}; class summary: {written['summary']}; nbgrader export: "
          f"{written['export']}; feedback: {course.feedback}")


def cmd_demo(args: argparse.Namespace) -> None:
    """Grade the bundled example class in grading/demo/ (its own release and reports; exercises/ untouched)."""
    from .build import build_exercises
    from .grading.course import Course

    release = paths.demo_dir() / "release"
    demo = Course.under(paths.demo_dir(), release)
    build_exercises([EXAMPLE_MODULE], target=release, db_url=demo.db_url, force=True)
    print(f"built the release of {EXAMPLE_MODULE} in {_shown(release)} (exercises/ is not touched)")
    args.module, args.submissions = EXAMPLE_MODULE, str(paths.grading_dir() / "example_class")
    cmd_grade(args, demo)


def cmd_check(args: argparse.Namespace) -> int:
    """Run one notebook as grading will (visible tests only) and report its tests; 1 when one fails."""
    from .grading.student_check import find_notebook, run_check

    return 0 if run_check(find_notebook(args.notebook)) else 1


def cmd_env(args: argparse.Namespace) -> int:
    """Report versions, hardware and bundled data, with what to do about each problem; 1 when a check fails."""
    from .environment import print_environment_report

    return 0 if print_environment_report() else 1


def cmd_distribute(args: argparse.Namespace) -> None:
    """Write the students' copy of the course as a zip: no solutions/, tests or gradebook."""
    from .distribute import write_distribution

    output = write_distribution(Path(args.output) if args.output else None)
    print(f"wrote {output}: exercises/, course/, the dlcourse package and the set-up files, without solutions/")


def cmd_clean(args: argparse.Namespace) -> None:
    """Strip outputs and volatile metadata from notebooks (all of the course's by default)."""
    from .notebooks import read_notebook, write_notebook

    for path in [Path(p) for p in args.notebooks] or paths.all_notebooks():
        write_notebook(read_notebook(path), path)
        print(f"cleaned {path}")


def add_grading_options(command: argparse.ArgumentParser, default_pattern: str) -> None:
    """Options of `grade` (and `demo`): intake, parallelism, resuming, limits, the sandbox."""
    command.add_argument("--student-pattern", default=default_pattern,
                         help="regular expression with a group 'student' that finds the id in a file name")
    command.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)),
                         help="submissions graded at once (default: one per core)")
    command.add_argument("--student", action="append", default=[], metavar="ID",
                         help="grade only this student (again, even if unchanged); repeat for several")
    command.add_argument("--force", action="store_true", help="grade every submission again, changed or not")
    command.add_argument("--cell-timeout", type=float, default=None,
                         help="CPU seconds a cell may use, all its processes together (default: Execute.timeout "
                              "of grading/nbgrader_config.py; the wall clock is only a generous backstop)")
    command.add_argument("--notebook-timeout", type=float, default=900.0,
                         help="CPU seconds the student's cells of a notebook may use together")
    command.add_argument("--memory-limit", type=float, default=6.0, help="GiB of address space per notebook run")
    command.add_argument("--unsafe-no-sandbox", action="store_true",
                         help="run submissions without bubblewrap (only where it cannot be installed)")


def build_parser() -> argparse.ArgumentParser:
    """The command line: one sub-command per task."""
    from .grading.intake import DEFAULT_STUDENT_PATTERN

    parser = argparse.ArgumentParser(prog="dlcourse", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help=cmd_build.__doc__)
    build.add_argument("modules", nargs="*", help="modules to build (default: all)")
    build.add_argument("--force", action="store_true",
                       help="replace notebooks edited since the last build (a copy goes to backups/)")
    build.set_defaults(run=cmd_build)
    for name, handler in (("grade", cmd_grade), ("demo", cmd_demo)):
        command = sub.add_parser(name, help=handler.__doc__)
        if name == "grade":
            command.add_argument("module", help="e.g. 01_perceptron")
            command.add_argument("submissions", help="a folder of submissions, the zip an LMS exported, or one notebook")
        add_grading_options(command, DEFAULT_STUDENT_PATTERN)
        command.set_defaults(run=handler)
    check = sub.add_parser("check", help=cmd_check.__doc__)
    check.add_argument("notebook", nargs="?", default=None,
                       help="the notebook, its module folder or its module (01_perceptron); default: the notebook "
                            "of the module folder you are in, else the exercise saved last")
    check.set_defaults(run=cmd_check)
    sub.add_parser("env", help=cmd_env.__doc__).set_defaults(run=cmd_env)
    distribute = sub.add_parser("distribute", help=cmd_distribute.__doc__)
    distribute.add_argument("--output", help="the zip to write (default: dist/dlcourse-students.zip)")
    distribute.set_defaults(run=cmd_distribute)
    clean = sub.add_parser("clean", help=cmd_clean.__doc__)
    clean.add_argument("notebooks", nargs="*")
    clean.set_defaults(run=cmd_clean)
    from .search.command import add_search_command

    add_search_command(sub)
    return parser


def known_errors() -> tuple[type[Exception], ...]:
    """The errors main() prints as one line; imported only once one is raised (nbformat alone takes seconds,
    longer than a whole `dlcourse search query` should)."""
    from .environment import EnvironmentProblem
    from .grading.intake import IntakeError
    from .grading.sandbox import SandboxUnavailable
    from .nbgrader_tools import NbgraderError
    from .notebooks import NotebookError

    return NotebookError, IntakeError, NbgraderError, EnvironmentProblem, SandboxUnavailable, FileNotFoundError


def main(argv: list[str] | None = None) -> int:
    """Entry point; known problems print one clear line (with what to do) instead of a traceback."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args) or 0
    except KeyboardInterrupt as err:
        print(f"dlcourse {args.command}: {err or 'interrupted'}", file=sys.stderr)
        return 130
    except Exception as err:
        if not isinstance(err, known_errors()):
            raise
        print(f"dlcourse {args.command}: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
