"""The `dlcourse` command: build exercises, grade a class, check a notebook, check the environment."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import paths

EXAMPLE_MODULE = "01_perceptron"


def cmd_build(args: argparse.Namespace) -> None:
    """Regenerate exercises/ from solutions/ through nbgrader."""
    from .build import build_exercises

    for notebook in build_exercises(args.modules or None):
        print(f"built {notebook.relative_to(paths.project_root())}")


def cmd_grade(args: argparse.Namespace) -> None:
    """Grade every submission of a module; print the table and write the CSV files."""
    from .grading.autograde import Course, grade_class
    from .grading.report import export_gradebook, format_table, write_csv

    results = grade_class(args.module, Path(args.submissions), pattern=args.student_pattern)
    print(format_table(args.module, results))
    reports = paths.grading_dir() / "reports"
    reports.mkdir(exist_ok=True)
    write_csv(args.module, results, reports / f"{args.module}_grades.csv")
    export_gradebook(Course.default(), reports / "gradebook_export.csv")
    print(f"Grades with reasons: {reports / f'{args.module}_grades.csv'}; nbgrader export: "
          f"{reports / 'gradebook_export.csv'}; feedback: {paths.grading_dir() / 'feedback'}")


def cmd_demo(args: argparse.Namespace) -> None:
    """Build the exercises and grade the bundled example class of module 01."""
    cmd_build(argparse.Namespace(modules=[]))
    example = paths.grading_dir() / "example_class"
    cmd_grade(argparse.Namespace(module=EXAMPLE_MODULE, submissions=str(example),
                                 student_pattern=args.student_pattern))


def cmd_check(args: argparse.Namespace) -> None:
    """Run one notebook as grading will and report its visible tests."""
    from .grading.student_check import check_notebook, format_outcomes

    path = Path(args.notebook)
    outcomes = check_notebook(path)
    print(format_outcomes(path, outcomes))
    if not all(o.passed for o in outcomes):
        raise SystemExit(1)


def cmd_env(args: argparse.Namespace) -> None:
    """Report versions, hardware and bundled data, with what to do about each problem."""
    from .environment import print_environment_report

    print_environment_report()


def cmd_clean(args: argparse.Namespace) -> None:
    """Strip outputs and volatile metadata from notebooks (all of the course's by default)."""
    from .notebooks import read_notebook, write_notebook

    for path in [Path(p) for p in args.notebooks] or paths.all_notebooks():
        write_notebook(read_notebook(path), path)
        print(f"cleaned {path}")


def build_parser() -> argparse.ArgumentParser:
    """The command line: one sub-command per task."""
    from .grading.intake import DEFAULT_STUDENT_PATTERN

    parser = argparse.ArgumentParser(prog="dlcourse", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help=cmd_build.__doc__)
    build.add_argument("modules", nargs="*", help="modules to build (default: all)")
    build.set_defaults(run=cmd_build)
    for name, handler in (("grade", cmd_grade), ("demo", cmd_demo)):
        command = sub.add_parser(name, help=handler.__doc__)
        if name == "grade":
            command.add_argument("module", help="e.g. 01_perceptron")
            command.add_argument("submissions", help="a folder of submissions or the zip an LMS exported")
        command.add_argument("--student-pattern", default=DEFAULT_STUDENT_PATTERN,
                             help="regular expression with a group 'student' that finds the id in a file name")
        command.set_defaults(run=handler)
    check = sub.add_parser("check", help=cmd_check.__doc__)
    check.add_argument("notebook")
    check.set_defaults(run=cmd_check)
    sub.add_parser("env", help=cmd_env.__doc__).set_defaults(run=cmd_env)
    clean = sub.add_parser("clean", help=cmd_clean.__doc__)
    clean.add_argument("notebooks", nargs="*")
    clean.set_defaults(run=cmd_clean)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; known problems print one clear line (with what to do) instead of a traceback."""
    from .environment import EnvironmentProblem
    from .grading.intake import IntakeError
    from .nbgrader_tools import NbgraderError
    from .notebooks import NotebookError

    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (NotebookError, IntakeError, NbgraderError, EnvironmentProblem, FileNotFoundError) as err:
        print(f"dlcourse {args.command}: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
