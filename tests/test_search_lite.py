"""Queries without TensorFlow: the index's LiteRT copy of the default embedder, and what happens without one.

One small folder is indexed once with the real ImageNet embedder (which also writes the .tflite copy, about
15 s of CPU); the tests copy that index when they need to damage it.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from dlcourse.cli import main
from dlcourse.datasets import make_near_duplicates
from dlcourse.search.embedders import BackboneEmbedder
from dlcourse.search.images import read_image
from dlcourse.search.index import MANIFEST, index_folder, load_index, query_embedder, query_image
from dlcourse.search.lite import LiteEmbedder, LiteModelError


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    """(photo folder, index) of 16 photos, indexed with the default embedder."""
    folder = tmp_path_factory.mktemp("lite") / "photos"
    folder.mkdir()
    data = make_near_duplicates(n_originals=6, copies_per_original=1, n_distractors=4, size=96, seed=5)
    for i, image in enumerate(data.images):
        Image.fromarray((image * 255).round().astype(np.uint8)).save(folder / f"p{i:02d}.png")
    index, report = index_folder(folder, progress=False)
    assert report.lite_seconds is not None
    return folder, index


def copy_of(indexed, tmp_path):
    """A copy of the photo folder with its index, re-rooted (the manifest points at the copy)."""
    folder = shutil.copytree(indexed[0], tmp_path / "photos")
    manifest_path = folder / ".dlcourse-search" / MANIFEST
    manifest = json.loads(manifest_path.read_text())
    manifest["root"] = str(folder)
    manifest_path.write_text(json.dumps(manifest))
    return folder, load_index(folder / ".dlcourse-search")


def test_lite_embeddings_match_the_keras_ones(indexed):
    folder, index = indexed
    embedder, note = query_embedder(index)
    assert isinstance(embedder, LiteEmbedder) and note is None and embedder.name == index.embedder
    images = np.stack([read_image(folder / f"p{i:02d}.png", embedder.image_size) for i in (0, 3, 7)])
    lite, keras = embedder(images), BackboneEmbedder()(images)
    cosine = np.sum(lite * keras, axis=1) / np.linalg.norm(lite, axis=1) / np.linalg.norm(keras, axis=1)
    assert lite.shape == keras.shape and cosine.min() >= 0.9999, cosine
    for i in (1, 8):
        query = folder / f"p{i:02d}.png"
        assert query_image(index, query, k=1, embedder=embedder)[0].path == \
            query_image(index, query, k=1, embedder=BackboneEmbedder())[0].path == query


def test_a_query_from_the_command_line_imports_no_tensorflow(indexed):
    folder, _ = indexed
    code = ("import sys; from dlcourse.cli import main; rc = main(['search', 'query', sys.argv[1], '--index', "
            "sys.argv[2], '-k', '2']); print('heavy:', sorted({m.split('.')[0] for m in sys.modules} & "
            "{'tensorflow', 'keras', 'nbformat', 'scipy'})); sys.exit(rc)")
    run = subprocess.run([sys.executable, "-c", code, str(folder / "p02.png"), str(folder)], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("  1. 1.000") and lines[0].endswith("p02.png")
    assert lines[-1] == "heavy: []" and run.stderr == ""


def test_a_damaged_lite_copy_falls_back_with_a_note_and_reindexing_repairs_it(indexed, tmp_path, capsys):
    folder, index = copy_of(indexed, tmp_path)
    lite_file = index.directory / index.lite["file"]
    data = bytearray(lite_file.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one changed byte still loads in LiteRT: only the sha256 tells
    lite_file.write_bytes(bytes(data))
    assert main(["search", "query", str(folder / "p04.png"), "--index", str(folder), "-k", "1"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("  1. 1.000") and out.rstrip().endswith("p04.png")
    assert "is damaged" in err and f"`dlcourse search index {folder}` writes the fast copy again" in err
    with pytest.raises(LiteModelError, match="has changed since it was written"):
        LiteEmbedder(lite_file, index.lite["sha256"], index.embedder, index.lite["image_size"])
    repaired, report = index_folder(folder, progress=False)
    assert report.lite_seconds is not None and report.added == 0 and query_embedder(repaired)[1] is None
    assert not lite_file.exists(), "the damaged copy is removed once a new one is written"


@pytest.mark.parametrize("record", [None, "embedder.tflite", {"file": "embedder.tflite"}])
def test_an_index_from_before_lite_copies_or_with_a_malformed_record_still_answers(indexed, tmp_path, record):
    folder, index = copy_of(indexed, tmp_path)
    manifest_path = index.directory / MANIFEST
    manifest = json.loads(manifest_path.read_text())
    if record is None:
        del manifest["lite"]
    else:
        manifest["lite"] = record
    manifest_path.write_text(json.dumps(manifest))
    old = load_index(index.directory)
    with pytest.warns(UserWarning, match=r"no LiteRT copy of its embedder \(it was written by an older dlcourse\)"):
        matches = query_image(old, folder / "p05.png", k=1)
    assert matches[0].path == folder / "p05.png"


def test_a_file_that_is_not_a_model_is_refused(tmp_path):
    from dlcourse.models.backbones import sha256_of

    fake = tmp_path / "embedder-x.tflite"
    fake.write_bytes(b"not a flatbuffer" * 10)
    with pytest.raises(LiteModelError, match="LiteRT cannot load"):
        LiteEmbedder(fake, sha256_of(fake), "x", 32)
    with pytest.raises(LiteModelError, match="is missing"):
        LiteEmbedder(tmp_path / "gone.tflite", "0" * 64, "x", 32)
