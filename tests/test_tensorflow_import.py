"""TensorFlow is imported quietly, and an unsupported Python or TensorFlow gets one clear message."""
from __future__ import annotations

import subprocess
import sys

import pytest

from dlcourse import environment


def test_tensorflow_import_is_silent_on_stderr():
    code = "from dlcourse.environment import import_tensorflow; tf, keras = import_tensorflow(); print(tf.__version__)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.startswith("2.21")
    assert result.stderr == ""


def test_unsupported_tensorflow_names_the_fix(monkeypatch):
    monkeypatch.setattr(environment, "SUPPORTED_TENSORFLOW", "9.99")
    with pytest.raises(environment.EnvironmentProblem, match=r"TensorFlow 9\.99.*bash run\.sh setup"):
        environment.import_tensorflow()


def test_unsupported_python_names_the_fix(monkeypatch):
    monkeypatch.setattr(environment, "SUPPORTED_PYTHON", (3, 99))
    with pytest.raises(environment.EnvironmentProblem, match=r"Python 3\.99.*bash run\.sh setup"):
        environment.require_python()
