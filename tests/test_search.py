"""The photo search tool: indexing a folder, re-indexing, queries, duplicate reports, bad input, the command."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image

from dlcourse.cli import main
from dlcourse.datasets import make_near_duplicates
from dlcourse.search import index as search_index
from dlcourse.search.embedders import BackboneEmbedder, embedder_name
from dlcourse.search.images import find_images, read_image
from dlcourse.search.index import (IndexMismatch, SearchError, duplicate_groups, index_folder, load_index,
                                   query_embedder, query_image)
from dlcourse.search.report import write_duplicate_report


class ThumbnailEmbedder:
    """A fast stand-in for the backbone: 8x8 grey thumbnails minus their mean, (N, 64)."""

    name = "test/thumbnail8"
    image_size = 32

    def __init__(self):
        self.calls = 0
        self.images = 0

    def __call__(self, images):
        self.calls += 1
        self.images += len(images)
        grey = np.asarray(images).mean(axis=-1).reshape(len(images), 8, 4, 8, 4).mean(axis=(2, 4))
        flat = grey.reshape(len(images), -1)
        return (flat - flat.mean(axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def photos():
    return make_near_duplicates(n_originals=6, copies_per_original=2, n_distractors=6, size=64, seed=3)


def save(image: np.ndarray, path, **options):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((image * 255).round().astype(np.uint8)).save(path, **options)


@pytest.fixture
def folder(tmp_path, photos):
    """A folder of photos in three formats and a subfolder, plus a text file."""
    root = tmp_path / "photos"
    suffixes = [".jpg", ".png", ".webp"]
    for i, image in enumerate(photos.images):
        sub = "album" if i % 2 else ""
        save(image, root / sub / f"img{i:02d}{suffixes[i % 3]}", **({"quality": 95} if i % 3 == 0 else {}))
    (root / "notes.txt").write_text("not a photo")
    return root


def test_index_finds_every_format_recursively_and_queries_find_the_original(folder, photos):
    embedder = ThumbnailEmbedder()
    index, report = index_folder(folder, embedder=embedder, batch_size=5, progress=False)
    assert len(index) == len(photos) and report.added == len(photos) and report.ignored == 1
    assert embedder.calls == -(-len(photos) // 5), "files are embedded in batches of batch_size"
    assert np.allclose(np.linalg.norm(index.vectors, axis=1), 1, atol=1e-5)
    original = next(p for p in folder.rglob("img00.*"))
    matches = query_image(load_index(index.directory), original, k=3, embedder=embedder)
    assert matches[0].path == original and matches[0].score == pytest.approx(1, abs=1e-3)
    assert [m.score for m in matches] == sorted((m.score for m in matches), reverse=True)


def test_exif_orientation_is_applied(tmp_path):
    image = Image.new("RGB", (40, 20), "white")
    image.paste((255, 0, 0), (0, 0, 20, 20))  # left half red
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    path = tmp_path / "rotated.jpg"
    image.save(path, exif=exif, quality=95)
    upright = read_image(path, 32)
    assert upright[0, 16, 0] > 0.8 and upright[31, 16, 1] > 0.8, "the red half is on top once turned upright"


def test_a_large_sideways_jpeg_is_read_fast_upright_and_like_a_full_decode(tmp_path, photos):
    upright = Image.fromarray((photos.images[0] * 255).round().astype(np.uint8)).resize((1200, 800))
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "big.jpg"
    upright.transpose(Image.Transpose.ROTATE_90).save(path, exif=exif, quality=92)
    reference = np.asarray(upright.resize((48, 48), Image.Resampling.BICUBIC), dtype=np.float32) / 255
    assert np.abs(read_image(path, 48) - reference).mean() < 0.02


def test_reindexing_embeds_only_new_and_changed_files_and_drops_deleted_ones(folder, photos):
    index_folder(folder, embedder=ThumbnailEmbedder(), progress=False)
    (folder / "img02.webp").unlink()
    save(photos.images[0][::-1], folder / "img04.png")  # changed content
    save(photos.images[1], folder / "new" / "extra.png")
    (folder / "img06.jpg").touch()  # touched, same bytes: not embedded again
    embedder = ThumbnailEmbedder()
    index, report = index_folder(folder, embedder=embedder, progress=False)
    assert (report.added, report.changed, report.removed) == (1, 1, 1)
    assert embedder.images == 2
    assert len(index) == len(photos) and "img02.webp" not in {e.path for e in index.entries}
    fresh, _ = index_folder(folder, index_dir=folder.parent / "fresh", embedder=ThumbnailEmbedder(), progress=False)
    by_path = {e.path: row for row, e in enumerate(fresh.entries)}
    for row, entry in enumerate(load_index(index.directory).entries):
        assert np.allclose(index.vectors[row], fresh.vectors[by_path[entry.path]], atol=1e-6), entry.path


def test_corrupt_file_mid_batch_is_skipped_and_listed(folder):
    (folder / "album" / "img07.png").write_bytes((folder / "album" / "img07.png").read_bytes()[:200])  # truncated
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    index, report = index_folder(folder, embedder=ThumbnailEmbedder(), batch_size=4, progress=False)
    skipped = {path for path, _ in report.skipped}
    assert skipped == {"album/img07.png", "broken.jpg"}
    assert skipped.isdisjoint(e.path for e in index.entries)
    assert {path for path, _ in load_index(index.directory).skipped} == skipped


def test_empty_folder_and_folder_of_non_images_get_clear_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SearchError, match="no JPEG, PNG or WebP files"):
        index_folder(tmp_path / "empty", embedder=ThumbnailEmbedder(), progress=False)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("x")
    with pytest.raises(SearchError, match=r"1 other files ignored"):
        index_folder(tmp_path / "docs", embedder=ThumbnailEmbedder(), progress=False)
    (tmp_path / "fake").mkdir()
    (tmp_path / "fake" / "a.jpg").write_text("x")
    with pytest.raises(SearchError, match="none of the 1 image files"):
        index_folder(tmp_path / "fake", embedder=ThumbnailEmbedder(), progress=False)
    with pytest.raises(SearchError, match="not a folder"):
        index_folder(tmp_path / "missing", embedder=ThumbnailEmbedder(), progress=False)


def test_query_that_is_not_an_image(folder, tmp_path):
    index, _ = index_folder(folder, embedder=ThumbnailEmbedder(), progress=False)
    with pytest.raises(SearchError, match="not an image Pillow can read"):
        query_image(index, folder / "notes.txt", embedder=ThumbnailEmbedder())
    with pytest.raises(SearchError, match="not an image"):
        query_image(index, tmp_path / "nowhere.jpg", embedder=ThumbnailEmbedder())


def test_other_embedder_or_older_version_is_refused_with_the_fix(folder):
    index, _ = index_folder(folder, embedder=ThumbnailEmbedder(), progress=False)
    with pytest.raises(IndexMismatch, match="built with the embedder 'test/thumbnail8'.*--rebuild"):
        index_folder(folder, embedder=lambda images: np.ones((len(images), 3)), progress=False)
    with pytest.raises(IndexMismatch, match="searching it with"):
        query_image(index, index.file(0), embedder=BackboneEmbedder(layer=None))
    manifest_path = index.directory / search_index.MANIFEST
    manifest = json.loads(manifest_path.read_text())
    manifest["version"] = 0
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatch, match="another version of dlcourse.*--rebuild"):
        load_index(index.directory)
    rebuilt, report = index_folder(folder, embedder=ThumbnailEmbedder(), rebuild=True, progress=False)
    assert report.added == len(rebuilt) and load_index(rebuilt.directory).embedder == "test/thumbnail8"


def test_an_index_of_another_embedder_without_a_lite_copy_is_refused_without_a_note(folder, recwarn):
    index, _ = index_folder(folder, embedder=ThumbnailEmbedder(), progress=False)
    assert index.lite is None and query_embedder(index)[1] is None
    with pytest.raises(IndexMismatch, match="built with the embedder 'test/thumbnail8'"):
        query_image(index, index.file(0))
    assert not recwarn.list


def test_deleted_file_still_indexed_is_flagged_and_left_out_of_duplicates(folder, photos):
    index, _ = index_folder(folder, embedder=ThumbnailEmbedder(), progress=False)
    query = next(folder.rglob("img00.*"))
    copy = folder / "copy_of_0.png"
    save(photos.images[0], copy)
    index, _ = index_folder(folder, embedder=ThumbnailEmbedder(), progress=False)
    copy.unlink()
    matches = query_image(index, query, k=2, embedder=ThumbnailEmbedder())
    assert {m.path for m in matches} == {query, copy} and not next(m for m in matches if m.path == copy).exists
    rows = {row for group in duplicate_groups(index, 0.99) for row, _ in group}
    assert copy not in {index.file(row) for row in rows}


def test_an_interrupted_run_keeps_the_index_already_built(folder, photos, monkeypatch):
    index, _ = index_folder(folder, embedder=ThumbnailEmbedder(), progress=False)
    before = [e.path for e in index.entries]
    for i in range(3):
        save(photos.images[i], folder / "more" / f"n{i}.png")

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(search_index, "read_image", crash)
    with pytest.raises(KeyboardInterrupt):
        index_folder(folder, embedder=ThumbnailEmbedder(), progress=False)
    assert [e.path for e in load_index(index.directory).entries] == before
    assert len(list(index.directory.glob("vectors-*.faiss"))) == 1


def test_checkpoints_save_progress_during_a_long_run(folder, monkeypatch):
    saves = []
    original = search_index.save_index
    monkeypatch.setattr(search_index, "save_index", lambda index: (saves.append(len(index)), original(index)))
    index_folder(folder, embedder=ThumbnailEmbedder(), batch_size=4, checkpoint_images=8, progress=False)
    assert saves[:3] == [8, 16, 24] and saves[-1] == 24


def test_duplicate_report_csv_and_contact_sheet(folder, photos, tmp_path):
    index, _ = index_folder(folder, embedder=ThumbnailEmbedder(), progress=False)
    groups = duplicate_groups(index, 0.9)
    assert groups and all(len(group) >= 2 and group[0][1] == pytest.approx(1, abs=1e-4) for group in groups)
    csv_path, html_path = write_duplicate_report(index, groups, 0.9, tmp_path / "report")
    rows = list(csv.DictReader(csv_path.open()))
    assert len(rows) == sum(len(g) for g in groups) and {r["group"] for r in rows} == {str(i + 1) for i in range(len(groups))}
    page = html_path.read_text()
    assert page.count("data:image/jpeg;base64,") == len(rows) and f"{len(groups)} duplicate groups" in page
    truth = {frozenset(np.flatnonzero(photos.group == g)) for g in range(6)}
    names = {e.path: int(e.path.split("img")[1][:2]) for e in index.entries}
    found = {frozenset(names[index.entries[row].path] for row, _ in group) for group in groups}
    assert found & truth, "some true group of copies is found whole"


def test_command_line_index_query_duplicates(folder, capsys, monkeypatch):
    monkeypatch.setattr("dlcourse.search.index.default_embedder", ThumbnailEmbedder)
    assert main(["search", "index", str(folder), "--batch-size", "4"]) == 0
    assert f"indexed {len(find_images(folder)[0])} images" in capsys.readouterr().out
    query = next(folder.rglob("img03.*"))
    assert main(["search", "query", str(query), "--index", str(folder), "-k", "2"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("  1. 1.000") and str(query) in first
    assert main(["search", "duplicates", "--index", str(folder), "--threshold", "0.9"]) == 0
    assert "duplicate groups" in capsys.readouterr().out and (folder / ".dlcourse-search" / "duplicates.html").is_file()
    assert main(["search", "query", str(folder / "notes.txt"), "--index", str(folder)]) == 2
    assert "not an image" in capsys.readouterr().err
    assert main(["search", "query", str(query), "--index", str(folder.parent)]) == 2
    assert "no search index" in capsys.readouterr().err


def test_embedder_names():
    assert BackboneEmbedder().name == "efficientnet_lite0/block13_add/avg@160"
    assert embedder_name(ThumbnailEmbedder()) == "test/thumbnail8"
    assert embedder_name(test_embedder_names).endswith("test_search.test_embedder_names")
