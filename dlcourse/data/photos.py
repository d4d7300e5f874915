"""Real photos that ship inside scikit-image and scikit-learn, plus the pixel helpers built on them."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image

# name -> (package, loader or file name, licence as the package states it)
PHOTOS = {
    "astronaut": ("skimage", "astronaut", "public domain (NASA)"),
    "brick": ("skimage", "brick", "CC0 (CC0Textures)"),
    "camera": ("skimage", "camera", "CC0 (Lav Varshney)"),
    "cell": ("skimage", "cell", "CC0"),
    "chelsea": ("skimage", "chelsea", "CC0 (Stefan van der Walt)"),
    "china": ("sklearn", "china.jpg", "CC BY 2.0 (danielbuechele, Flickr)"),
    "clock": ("skimage", "clock", "public domain (Stefan van der Walt)"),
    "coffee": ("skimage", "coffee", "CC0 (Rachel Michetti)"),
    "coins": ("skimage", "coins", "no known copyright restrictions (Brooklyn Museum)"),
    "flower": ("sklearn", "flower.jpg", "CC BY 2.0 (vultilion, Flickr)"),
    "grass": ("skimage", "grass", "CC0 (linolafett, DeviantArt)"),
    "gravel": ("skimage", "gravel", "CC0 (CC0Textures)"),
    "hubble_deep_field": ("skimage", "hubble_deep_field", "public domain (NASA)"),
    "immunohistochemistry": ("skimage", "immunohistochemistry", "no known copyright restrictions (CMMI)"),
    "microaneurysms": ("skimage", "microaneurysms", "CC0 (Andreas Maier, HRF database)"),
    "moon": ("skimage", "moon", "not stated by scikit-image"),
    "motorcycle": ("skimage", "stereo_motorcycle", "not stated by scikit-image (Middlebury 2014 stereo)"),
    "page": ("skimage", "page", "not stated by scikit-image"),
    "retina": ("skimage", "retina", "CC0 (Mikael Häggström, Wikimedia)"),
    "rocket": ("skimage", "rocket", "public domain (SpaceX)"),
    "text": ("skimage", "text", "public domain (Wikipedia)"),
}

# A tile is used only when it shows detail and is neither very dark nor very bright, so that blur,
# compression and exposure changes stay visible on it (grey levels in [0, 1]).
MIN_TILE_DETAIL = 0.03  # mean absolute difference between neighbouring grey pixels
TILE_BRIGHTNESS_RANGE = (0.2, 0.8)  # allowed mean grey level


def photo_names() -> list[str]:
    """Names of the bundled photos, sorted (list of str)."""
    return sorted(PHOTOS)


def load_photos(names=None) -> dict[str, np.ndarray]:
    """Bundled photos by name: dict of (H, W, 3) uint8 RGB arrays, greyscale turned into RGB."""
    names = photo_names() if names is None else list(names)
    unknown = sorted(set(names) - set(PHOTOS))
    if unknown:
        raise ValueError(f"Unknown photo name(s) {unknown}; choose from photo_names(): {photo_names()}")
    return {name: as_rgb_uint8(read_photo(name)) for name in names}


def read_photo(name: str) -> np.ndarray:
    """One bundled photo as its package returns it: (H, W) or (H, W, 3) uint8."""
    package, key, _ = PHOTOS[name]
    if package == "sklearn":
        from sklearn.datasets import load_sample_image

        return load_sample_image(key)
    import skimage.data

    image = getattr(skimage.data, key)()
    return image[0] if isinstance(image, tuple) else image  # stereo pair: keep the left view


def as_rgb_uint8(image: np.ndarray) -> np.ndarray:
    """Any uint8 greyscale, RGB or RGBA image -> (H, W, 3) uint8 RGB."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    return np.ascontiguousarray(image[:, :, :3].astype(np.uint8))


def to_float(images: np.ndarray) -> np.ndarray:
    """uint8 images -> float32 in [0, 1], same shape."""
    scaled = images.astype(np.float32)
    scaled /= 255
    return scaled


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Float images in [0, 1] (values outside are clipped) -> uint8, same shape."""
    return np.clip(np.rint(np.asarray(images) * 255), 0, 255).astype(np.uint8)


def jpeg_roundtrip(image: np.ndarray, quality: int) -> np.ndarray:
    """JPEG-encode and decode in memory with Pillow: (H, W, 3) uint8 -> (H, W, 3) uint8."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=int(quality))
    return np.asarray(Image.open(buffer).convert("RGB"))


def is_usable_tile(gray: np.ndarray) -> bool:
    """True when a grey tile (S, S) in [0, 1] has detail and a mid-range brightness (see MIN_TILE_DETAIL)."""
    detail = np.abs(np.diff(gray, axis=0)).mean() + np.abs(np.diff(gray, axis=1)).mean()
    low, high = TILE_BRIGHTNESS_RANGE
    return bool(detail >= MIN_TILE_DETAIL and low <= gray.mean() <= high)


def usable_tile_corners(photo: np.ndarray, size: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """Top-left corners of the usable non-overlapping size x size tiles of photo (H, W, 3) uint8, shuffled."""
    gray = photo.mean(axis=2) / 255
    height, width = gray.shape
    top, left = rng.integers(0, height % size + 1), rng.integers(0, width % size + 1)
    corners = [(y, x) for y in range(top, height - size + 1, size) for x in range(left, width - size + 1, size)]
    usable = [(y, x) for y, x in corners if is_usable_tile(gray[y:y + size, x:x + size])]
    return [usable[i] for i in rng.permutation(len(usable))]


def draw_tiles(names, size: int, count: int, rng: np.random.Generator):
    """Up to `count` usable non-overlapping tiles of the named photos, round robin: (N, size, size, 3) uint8, names."""
    photos = load_photos(names)
    queues = {name: usable_tile_corners(photo, size, rng) for name, photo in photos.items()}
    picks = [
        (name, corners[round_])
        for round_ in range(max(map(len, queues.values()), default=0))
        for name, corners in queues.items()
        if round_ < len(corners)
    ][:count]
    tiles = np.array([photos[name][y:y + size, x:x + size] for name, (y, x) in picks], np.uint8)
    return tiles.reshape(-1, size, size, 3), [name for name, _ in picks]
