"""Set-up repairs what it finds: installed versions are verified against pyproject.toml (no stamp), the fixes
name this environment's pip, and a failed environment check exits non-zero."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from dlcourse import cli, environment, paths
from dlcourse.environment import Finding, declared_pins, pin_problems


def test_the_installed_environment_matches_its_pins():
    assert pin_problems(declared_pins(paths.project_root() / "pyproject.toml")) == []


def test_a_downgraded_package_is_reported(monkeypatch):
    real_version = metadata.version
    monkeypatch.setattr(metadata, "version", lambda name: "1.26.4" if name == "numpy" else real_version(name))
    problems = pin_problems(declared_pins(paths.project_root() / "pyproject.toml"))
    assert problems == [f"numpy: 1.26.4 installed, pinned {environment.course_pins()['numpy']}"]


def test_the_dev_extras_are_verified_too():
    assert "pytest" in declared_pins(paths.project_root() / "pyproject.toml")


def test_the_fix_names_this_environments_pip(monkeypatch):
    real_version = metadata.version
    monkeypatch.setattr(metadata, "version", lambda name: "0.0" if name == "scipy" else real_version(name))
    scipy = next(f for f in environment.check_environment() if f.name == "scipy")
    assert f"{sys.executable} -m pip install \"scipy==" in scipy.fix


def test_a_failed_environment_check_exits_1(monkeypatch, capsys):
    monkeypatch.setattr(environment, "check_environment", lambda: [Finding("numpy", False, "1.26.4", "fix it")])
    assert cli.main(["env"]) == 1
    monkeypatch.setattr(environment, "check_environment", lambda: [Finding("numpy", True, "2.4.6")])
    assert cli.main(["env"]) == 0


FAKE_PYTHON = """#!/bin/bash
echo "$*" >> "$LOG"
case "$*" in
  *"-c import sys"*) exit 0 ;;
  *"dlcourse.environment --verify"*) [ -f "$INSTALLED" ] && exit 0; exit 1 ;;
  *"pip install --quiet -e"*) touch "$INSTALLED" ;;
esac
exit 0
"""


def test_setup_reinstalls_when_the_installed_versions_are_wrong(tmp_path):
    """run.sh setup with a stand-in interpreter: a failed verification triggers pip, a passing one does not."""
    course = tmp_path / "course"
    course.mkdir()
    shutil.copy(paths.project_root() / "run.sh", course)
    fake = course / ".venv" / "bin" / "python"
    fake.parent.mkdir(parents=True)
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)
    tools = tmp_path / "tools"
    tools.mkdir()
    for tool in ("bwrap", "chromium", "chromedriver"):
        (tools / tool).write_text("#!/bin/sh\n")
        (tools / tool).chmod(0o755)
    env = {"PATH": f"{tools}:/usr/bin:/bin", "LOG": str(tmp_path / "log"), "INSTALLED": str(tmp_path / "ok")}

    first = subprocess.run(["bash", "run.sh", "setup"], cwd=course, env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert "pip install --quiet -e .[dev]" in (tmp_path / "log").read_text()
    assert "-m dlcourse.workspace" in (tmp_path / "log").read_text()

    (tmp_path / "log").unlink()
    second = subprocess.run(["bash", "run.sh", "setup"], cwd=course, env=env, capture_output=True, text=True)
    assert second.returncode == 0 and "pip install" not in (tmp_path / "log").read_text()
