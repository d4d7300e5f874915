"""Intake: folders, LMS zips and single notebooks become one submission per student, safely."""
from __future__ import annotations

import os
import zipfile

import pytest

from dlcourse.grading.intake import IntakeError, place, submissions

EXPECTED = ["01_perceptron.ipynb"]
NB = b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'


def collect(source, pattern=None):
    with submissions(source, EXPECTED, *([pattern] if pattern else [])) as found:
        return {s.student: (sorted(s.notebooks), s.notes, {n: p.read_bytes() for n, p in s.notebooks.items()})
                for s in found}


def write(path, data=NB):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_nbgrader_layout_and_student_folders(tmp_path):
    write(tmp_path / "alice" / "01_perceptron" / "01_perceptron.ipynb")
    write(tmp_path / "bob" / "01_perceptron.ipynb")
    write(tmp_path / "bob" / "numpy.py", b"raise SystemExit")
    write(tmp_path / "carol" / "notes.txt", b"no notebook")
    found = collect(tmp_path)
    assert found["alice"][0] == EXPECTED and found["bob"][0] == EXPECTED
    assert found["carol"][0] == [] and "01_perceptron.ipynb is missing" in found["carol"][1]


def test_lms_zip_with_ids_in_file_names_and_a_wrapper_folder(tmp_path):
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("submissions/s123_01_perceptron.ipynb", NB)
        zf.writestr("submissions/s456_my copy.ipynb", NB)
        zf.writestr("submissions/__MACOSX/._s123_01_perceptron.ipynb", b"junk")
        zf.writestr("submissions/s789_notes.pdf", b"%PDF")
    found = collect(archive)
    assert sorted(found) == ["s123", "s456"]
    assert found["s123"][0] == EXPECTED and found["s123"][1] == []
    assert found["s456"][0] == EXPECTED and found["s456"][1] == []  # an LMS file name is not a rename


def test_wrapper_folder_of_student_folders_is_looked_into(tmp_path):
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("course-export/alice/01_perceptron/01_perceptron.ipynb", NB)
        zf.writestr("course-export/bob/01_perceptron.ipynb", NB)
    assert sorted(collect(archive)) == ["alice", "bob"]


def test_a_single_student_class_is_not_mistaken_for_a_wrapper(tmp_path):
    archive = tmp_path / "one.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("alice/01_perceptron/01_perceptron.ipynb", NB)
        zf.writestr("alice/old/01_perceptron.ipynb", NB)
    assert sorted(collect(archive)) == ["alice"]


def test_moodle_folder_names_with_a_pattern(tmp_path):
    write(tmp_path / "Jane Doe_4711_assignsubmission_file_" / "01_perceptron.ipynb")
    with pytest.raises(IntakeError, match="--student-pattern"):
        collect(tmp_path)
    assert list(collect(tmp_path, r"_(?P<student>\d+)_assignsubmission")) == ["4711"]


def test_unsafe_zip_paths_are_refused(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../../outside_01_perceptron.ipynb", NB)
    with pytest.raises(IntakeError, match="unsafe path"):
        collect(archive)
    assert not (tmp_path.parent / "outside_01_perceptron.ipynb").exists()


def test_duplicates_grade_the_newest(tmp_path):
    old = write(tmp_path / "alice" / "v1" / "01_perceptron.ipynb", NB.replace(b"[]", b"[ ]"))
    write(tmp_path / "alice" / "v2" / "01_perceptron.ipynb")
    os.utime(old, (1, 1))
    notebooks, notes, data = collect(tmp_path)["alice"]
    assert data["01_perceptron.ipynb"] == NB and "2 files named 01_perceptron.ipynb; graded the newest" in notes


def test_single_notebook_sources(tmp_path):
    assert list(collect(write(tmp_path / "bob" / "01_perceptron" / "01_perceptron.ipynb"))) == ["bob"]
    assert list(collect(write(tmp_path / "s99_01_perceptron.ipynb"))) == ["s99"]


def test_bad_sources_say_what_to_do(tmp_path):
    with pytest.raises(IntakeError, match="does not exist"):
        collect(tmp_path / "nowhere")
    with pytest.raises(IntakeError, match="neither a folder, a notebook nor a zip"):
        collect(write(tmp_path / "grades.csv", b"a,b"))
    with pytest.raises(IntakeError, match="group named 'student'"):
        collect(tmp_path, r"^\w+")
    write(tmp_path / "class" / "01_perceptron.ipynb")
    with pytest.raises(IntakeError, match="cannot tell whose notebook"):
        collect(tmp_path / "class")


def test_place_copies_into_nbgrader_submitted_layout(tmp_path):
    write(tmp_path / "class" / "alice_my copy.ipynb")
    with submissions(tmp_path / "class", EXPECTED) as found:
        placed = place(found[0], tmp_path / "submitted", "01_perceptron")
    target = tmp_path / "submitted" / "alice" / "01_perceptron" / "01_perceptron.ipynb"
    assert placed.notebooks["01_perceptron.ipynb"] == target
    assert placed.notebooks["01_perceptron.ipynb"].read_bytes() == NB


def test_a_moodle_style_file_name_is_taken_without_a_note(tmp_path):
    write(tmp_path / "s123_4567_assignsubmission_file_01_perceptron.ipynb")
    found = collect(tmp_path)
    assert found["s123"][0] == EXPECTED and found["s123"][1] == []


def zip_bomb_of_overlapping_entries(path, entries=200, size=2**20):
    """A small zip whose entries all point at the same compressed bytes (a few KB expanding to entries x size)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("s1_01_perceptron.ipynb", b"0" * size)
    data = path.read_bytes()
    with zipfile.ZipFile(path) as zf:
        info = zf.infolist()[0]
    local = data[:info.header_offset + 30 + len(info.filename) + info.compress_size]
    central_start = data.index(b"PK\x01\x02")
    central_entry = data[central_start:data.index(b"PK\x05\x06")]
    central = central_entry * entries
    end = (b"PK\x05\x06" + b"\0" * 4 + entries.to_bytes(2, "little") * 2 + len(central).to_bytes(4, "little")
           + len(local).to_bytes(4, "little") + b"\0\0")
    path.write_bytes(local + central + end)


def test_zip_bombs_are_refused_before_anything_is_unpacked(tmp_path):
    overlapping = tmp_path / "overlapping.zip"
    zip_bomb_of_overlapping_entries(overlapping)
    with pytest.raises(IntakeError, match="overlap, a zip bomb"):
        collect(overlapping)
    ratio = tmp_path / "ratio.zip"
    with zipfile.ZipFile(ratio, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("s1_01_perceptron.ipynb", b"0" * 50 * 2**20)
    with pytest.raises(IntakeError, match="compressed .* times .* a zip bomb"):
        collect(ratio)
    assert not list(tmp_path.glob("**/s1_01_perceptron.ipynb"))


def test_symbolic_links_are_never_followed_and_a_submission_of_links_is_nothing(tmp_path):
    solutions = tmp_path / "elsewhere" / "01_perceptron.ipynb"
    write(solutions, NB)
    classroom = tmp_path / "class"
    (classroom / "mallory" / "01_perceptron").mkdir(parents=True)
    os.symlink(solutions, classroom / "mallory" / "01_perceptron" / "01_perceptron.ipynb")
    os.symlink(tmp_path / "elsewhere", classroom / "mallory" / "solutions")
    os.symlink("/etc/passwd", classroom / "mallory" / "passwd.ipynb")
    os.symlink(tmp_path / "elsewhere", classroom / "trent")
    found = collect(classroom)
    for student in ("mallory", "trent"):
        notebooks, notes, _ = found[student]
        assert notebooks == [] and "01_perceptron.ipynb is missing" in notes
        assert any("not followed: only files of the submission's own are graded" in note for note in notes), notes
