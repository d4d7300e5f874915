"""Atomic replacement: the old content survives a failed write, and no temporary file is left behind."""
import pytest

from dlcourse.files import replacing, write_bytes_atomically, write_text_atomically


def test_write_replaces_content_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "labels.jsonl"
    write_text_atomically(target, "first\n")
    write_text_atomically(target, "second\n")
    assert target.read_text() == "second\n"
    assert [p.name for p in tmp_path.iterdir()] == ["labels.jsonl"]


def test_failed_writer_keeps_the_old_file(tmp_path):
    target = tmp_path / "index.faiss"
    write_bytes_atomically(target, b"old")
    with pytest.raises(RuntimeError, match="disk full"):
        with replacing(target) as temporary:
            temporary.write_bytes(b"half")
            raise RuntimeError("disk full")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["index.faiss"]


def test_temporary_has_the_suffix_a_writer_needs(tmp_path):
    with replacing(tmp_path / "lite0.weights.h5", suffix=".weights.h5") as temporary:
        assert temporary.name.endswith(".weights.h5") and temporary.parent == tmp_path
        temporary.write_bytes(b"weights")
    assert (tmp_path / "lite0.weights.h5").read_bytes() == b"weights"
