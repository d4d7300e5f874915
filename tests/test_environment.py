"""environment.yml and pyproject.toml pin the same versions."""
from __future__ import annotations

import re
import tomllib

import yaml

from dlcourse import paths

PIN = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*==\s*([^\s;#]+)")


def pins(requirements: list[str]) -> dict[str, str]:
    found = {}
    for line in requirements:
        match = PIN.match(line)
        assert match, f"not pinned with ==: {line!r}"
        found[match.group(1).lower().replace("_", "-")] = match.group(2)
    return found


def pyproject_pins() -> dict[str, str]:
    project = tomllib.loads((paths.project_root() / "pyproject.toml").read_text())["project"]
    extras = [req for group in project["optional-dependencies"].values() for req in group]
    return pins(project["dependencies"] + extras)


def conda_pins() -> dict[str, str]:
    env = yaml.safe_load((paths.project_root() / "environment.yml").read_text())
    pip_section = next(item["pip"] for item in env["dependencies"] if isinstance(item, dict))
    return pins(pip_section)


def conda_python() -> str:
    env = yaml.safe_load((paths.project_root() / "environment.yml").read_text())
    return next(item for item in env["dependencies"] if isinstance(item, str) and item.startswith("python"))


def test_same_pins_in_both_files():
    assert pyproject_pins() == conda_pins()


def test_same_python():
    project = tomllib.loads((paths.project_root() / "pyproject.toml").read_text())["project"]
    assert conda_python() == "python=3.11"
    assert project["requires-python"] == ">=3.11,<3.12"


def test_core_libraries_are_pinned():
    assert {"tensorflow", "keras", "tensorflow-datasets", "nbgrader", "matplotlib", "pytest"} <= set(pyproject_pins())


def test_pin_parser_rejects_a_range():
    try:
        pins(["numpy>=2"])
    except AssertionError:
        return
    raise AssertionError("an unpinned requirement was accepted")
